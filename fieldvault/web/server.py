"""Serving the web app on host:port until told to stop (``fieldvault web`` and ``serve``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

# No client address or user agent in the access log: method, path (study id and participant
# code only), status, size and time.
ACCESS_LOG_FORMAT = '"%r" %s %b %Tfs'


async def run_web(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """Listen on ``host:port`` (0: any free port), report the URL, serve until ``stop`` is set."""
    runner = web.AppRunner(app, access_log_format=ACCESS_LOG_FORMAT)
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
