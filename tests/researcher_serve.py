"""Serving the real app on 127.0.0.1 for the researcher auth tests: a clock, the access log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from yarl import URL

from fieldvault.storage.services import Services
from fieldvault.web.app import create_app
from fieldvault.web.consent.security import AccessLogger

Scenario = Callable[[aiohttp.ClientSession], Awaitable[None]]
ACCESS_LOG = logging.getLogger("fieldvault.web.access")


@dataclass
class Clock:
    """The app's clock, moved by the test."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        """The time now."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += dt.timedelta(**delta)


@dataclass
class Seen:
    """Every response body a scenario read (``remember``), to grep for what must not be there."""

    bodies: list[str] = field(default_factory=list)

    def remember(self, text: str) -> str:
        """Keep ``text`` and hand it back."""
        self.bodies.append(text)
        return text


def free_socket() -> socket.socket:
    """A listening-ready socket on a free port of 127.0.0.1 (its port known before the app)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve_app(
    app: web.Application,
    scenario: Scenario,
    *,
    sock: socket.socket | None = None,
    ssl_context: object = None,
    client_ssl: object = None,
) -> None:
    """Serve ``app`` with the production access logger and run ``scenario`` against it."""
    runner = web.AppRunner(app, access_log_class=AccessLogger, access_log=ACCESS_LOG)
    await runner.setup()
    sock = sock or free_socket()
    site = web.SockSite(runner, sock, ssl_context=ssl_context)  # type: ignore[arg-type]
    await site.start()
    port = sock.getsockname()[1]
    scheme = "https" if ssl_context is not None else "http"
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        base = URL.build(scheme=scheme, host="127.0.0.1", port=port)
        jar.update_cookies({"fv_lang": "en"}, base)  # the tests read the English texts
        connector = aiohttp.TCPConnector(ssl=client_ssl) if client_ssl is not None else None
        async with aiohttp.ClientSession(base, cookie_jar=jar, connector=connector) as http:
            await scenario(http)
    finally:
        await runner.cleanup()


def serve(services: Services, clock: Clock, scenario: Scenario, **kwargs: object) -> None:
    """Build the real app over ``services`` with ``clock`` and run ``scenario`` against it."""
    asyncio.run(serve_app(create_app(services, clock=clock), scenario, **kwargs))  # type: ignore[arg-type]


@contextlib.contextmanager
def in_thread(app: web.Application, sock: socket.socket | None = None) -> Iterator[int]:
    """Serve ``app`` on ``sock`` (or a free port) from a thread with its own loop; the port."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: list[asyncio.Event] = []
    failure: list[BaseException] = []
    sock = sock or free_socket()

    async def main() -> None:
        stop.append(asyncio.Event())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            started.set()
            await stop[0].wait()
        finally:
            await runner.cleanup()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # reported to the test, not lost in the thread
            failure.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="test-server", daemon=True)
    thread.start()
    assert started.wait(30), "the server did not start within 30 s"
    if failure:
        raise failure[0]
    try:
        yield sock.getsockname()[1]
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)
