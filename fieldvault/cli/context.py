"""How commands reach the settings and services: built once per invocation, closed at exit."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import click

from fieldvault import metrics
from fieldvault.cli.logs import JsonFormatter
from fieldvault.config.settings import Settings, load_settings
from fieldvault.errors import ConfigError
from fieldvault.storage.services import Services, open_services


def settings_from(ctx: click.Context) -> Settings:
    """The settings of this invocation, loaded once."""
    root = ctx.find_root()
    root.meta.setdefault("fieldvault.settings", load_settings())
    settings: Settings = root.meta["fieldvault.settings"]
    return settings


def services_from(ctx: click.Context) -> Services:
    """The services of this invocation, opened once and closed when the command ends."""
    root = ctx.find_root()
    if "fieldvault.storage.services" not in root.meta:
        services = open_services(settings_from(ctx))
        root.call_on_close(services.close)
        root.meta["fieldvault.storage.services"] = services
    result: Services = root.meta["fieldvault.storage.services"]
    return result


def configure_logging(settings: Settings) -> None:
    """The log format and level of the long-running commands (serve, web, bot, worker, scheduler).

    ``log_format = json`` writes one JSON object a line (``cli/logs.py``).
    """
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.WARNING)


def serve_metrics(settings: Settings) -> None:
    """Serve /metrics on FIELDVAULT_METRICS_PORT when it is set (worker, scheduler, bot)."""
    if settings.metrics_port is None:
        return
    try:
        metrics.serve(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        raise ConfigError(
            f"the metrics server cannot listen on {settings.metrics_host}:{settings.metrics_port} "
            f"({exc.strerror or type(exc).__name__}); set FIELDVAULT_METRICS_PORT to a free port "
            "or unset it"
        ) from exc


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` on a new event loop; SIGINT or SIGTERM sets ``stop``."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
