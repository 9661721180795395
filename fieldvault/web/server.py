"""Serving the web app on host:port until told to stop (``fieldvault web`` and ``serve``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from fieldvault.web.consent.security import AccessLogger
from fieldvault.web.keys import LIMITS

# No client address, user agent or path in the access log: the informant pages' paths hold
# invite codes and personal tokens, so it logs the method, the route's name, status and time.


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner every server of the app uses: the privacy access log, the idle deadline."""
    # keepalive_timeout also closes a connection that has not finished a request's headers
    # in that time (aiohttp has no header timeout of its own): see web/limits.py.
    return web.AppRunner(
        app, access_log_class=AccessLogger, keepalive_timeout=app[LIMITS].idle_timeout
    )


async def run_web(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """Listen on ``host:port`` (0: any free port), report the URL, serve until ``stop`` is set."""
    runner = make_runner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        if on_started is not None:
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            on_started(f"http://{shown}:{bound_port}")
        await stop.wait()
    finally:
        await runner.cleanup()
