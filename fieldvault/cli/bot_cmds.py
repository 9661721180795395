"""``fieldvault bot``: the Telegram bot alone."""

from __future__ import annotations

import click

from fieldvault.bot.runner import run_bot
from fieldvault.cli.context import (
    configure_logging,
    run_until_signalled,
    serve_metrics,
    services_from,
    settings_from,
)
from fieldvault.errors import ConfigError


@click.command()
@click.pass_context
def bot(ctx: click.Context) -> None:
    """Run the Telegram bot alone (long polling, or the webhook when configured)."""
    settings = settings_from(ctx)
    configure_logging(settings)
    if settings.telegram_token is None:
        raise ConfigError("FIELDVAULT_TELEGRAM_TOKEN is not set; the bot cannot start")
    services = services_from(ctx)
    serve_metrics(settings)
    run_until_signalled(lambda stop: run_bot(services, stop))
