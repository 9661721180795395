"""``fieldvault web``: the web app alone."""

from __future__ import annotations

import asyncio
import logging

import click

from fieldvault.cli.context import (
    configure_logging,
    run_until_signalled,
    services_from,
    settings_from,
)
from fieldvault.compose import build_web_app
from fieldvault.web.server import run_web

log = logging.getLogger("fieldvault.web")


@click.command()
@click.pass_context
def web(ctx: click.Context) -> None:
    """Run the web app (researcher upload API) alone on FIELDVAULT_WEB_HOST:WEB_PORT."""
    settings = settings_from(ctx)
    configure_logging(settings)
    services = services_from(ctx)

    async def main(stop: asyncio.Event) -> None:
        await run_web(
            build_web_app(services),
            settings.web_host,
            settings.web_port,
            stop,
            lambda url: log.info("web: listening on %s (API at /api/openapi.json)", url),
        )

    run_until_signalled(main)
    log.info("web: stopped")
