"""``fieldvault bot`` and ``fieldvault researcher link-code``."""

from __future__ import annotations

import datetime as dt

import click

from fieldvault.bot.runner import run_bot
from fieldvault.cli.context import (
    configure_logging,
    run_until_signalled,
    services_from,
    settings_from,
)
from fieldvault.domain.researcher_links import create_link_code
from fieldvault.errors import ConfigError
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow


@click.command()
@click.pass_context
def bot(ctx: click.Context) -> None:
    """Run the Telegram bot alone (long polling, or the webhook when configured)."""
    settings = settings_from(ctx)
    configure_logging(settings)
    if settings.telegram_token is None:
        raise ConfigError("FIELDVAULT_TELEGRAM_TOKEN is not set; the bot cannot start")
    services = services_from(ctx)

    run_until_signalled(lambda stop: run_bot(services, stop))


@click.group()
def researcher() -> None:
    """Researchers' Telegram accounts and API tokens."""


@researcher.command("link-code")
@click.argument("study_id", metavar="STUDY")
@click.option("--label", required=True, help="Who the code is for, e.g. initials (no e-mail).")
@click.option(
    "--expires",
    "expires_hours",
    type=click.IntRange(1, 24 * 14),
    default=24,
    show_default=True,
    help="Hours until the code expires.",
)
@click.pass_context
def link_code(ctx: click.Context, study_id: str, label: str, expires_hours: int) -> None:
    """Create a one-time code that links a researcher's Telegram account to a study."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        code = create_link_code(
            session, study_id, label, dt.timedelta(hours=expires_hours), utcnow()
        )
    click.echo(f"Send this to the bot from the researcher's Telegram account: /link {code}")
    click.echo(f"The code works once and expires in {expires_hours} hours.")
