"""Serving the web app on host:port until told to stop (``fieldvault web`` and ``serve``)."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from fieldvault.web.consent.security import AccessLogger
from fieldvault.web.keys import LIMITS

# No client address, user agent or path in the access log: the informant pages' paths hold
# invite codes and personal tokens, so it logs the method, the route's name, status and time.
# aiohttp's own server log gets the same care: see ServerLogFilter.
SERVER_LOG = "fieldvault.web.server"


class ServerLogFilter(logging.Filter):
    """aiohttp's server log without request data: its message, the error's type and place.

    aiohttp logs a request it cannot parse with the client's address and the raw request
    line (which may hold a personal link) over several lines; this keeps one line, without
    either, and logs a client's malformed request at INFO rather than ERROR.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drop it."""
        message = str(record.msg).split(" from ", 1)[0]
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            frames = traceback.extract_tb(error.__traceback__)
            place = frames[-1] if frames else None
            where = f" at {place.filename.rsplit('/', 1)[-1]}:{place.lineno}" if place else ""
            message = f"{message}: {type(error).__name__}{where}"
            if isinstance(error, HttpProcessingError):
                record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg, record.args = message, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner every server of the app uses: the privacy access log, the idle deadline."""
    # keepalive_timeout also closes a connection that has not finished a request's headers
    # in that time (aiohttp has no header timeout of its own): see web/limits.py.
    server_log = logging.getLogger(SERVER_LOG)
    if not any(isinstance(f, ServerLogFilter) for f in server_log.filters):
        server_log.addFilter(ServerLogFilter())
    return web.AppRunner(
        app,
        access_log_class=AccessLogger,
        logger=server_log,
        keepalive_timeout=app[LIMITS].idle_timeout,
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
