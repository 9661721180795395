"""``fieldvault researcher``: ``add`` (web accounts), ``link-code`` (bot), ``api-token`` (API)."""

from __future__ import annotations

import datetime as dt

import click

from fieldvault.cli.context import services_from, settings_from
from fieldvault.domain import second_factor
from fieldvault.domain.accounts import LINK_VALIDITY, add_researcher
from fieldvault.domain.api_tokens import create_token, revoke_token
from fieldvault.domain.permissions import Role
from fieldvault.domain.researcher_links import create_link_code
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow


@click.group()
def researcher() -> None:
    """Researchers' web accounts, Telegram accounts and API tokens."""


@researcher.command("add")
@click.argument("email")
@click.option("--study", "study_id", required=True, metavar="STUDY", help="The study's id.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="What they may do in the study (ARCHITECTURE.md 'Researcher web app').",
)
@click.pass_context
def add(ctx: click.Context, email: str, study_id: str, role: str) -> None:
    """Give EMAIL a role in a study; a new account gets a one-time set-password link."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        account, code = add_researcher(session, email, study_id, role, actor="cli", now=utcnow())
        address = account.email
    click.echo(f"{address} is {role} in {study_id}.")
    if code is None:
        click.echo("The account has a password already: it logs in as before.")
        return
    base = settings_from(ctx).public_base_url.rstrip("/")
    click.echo(f"{base}/set-password/{code}")
    click.echo(
        f"Send this link to them yourself; it works once and expires in {LINK_VALIDITY.days} "
        "days. It is shown only now and only its hash is kept.",
        err=True,
    )


@researcher.command("reset-second-factor")
@click.argument("email")
@click.pass_context
def reset_second_factor(ctx: click.Context, email: str) -> None:
    """Forget EMAIL's TOTP second factor (a lost phone) and log it out everywhere."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        second_factor.reset(session, email, actor="cli", now=utcnow())
    click.echo(
        f"{email.strip().lower()} logs in with the password alone now, and is asked to enrol "
        "again where a study requires a second factor."
    )


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


@researcher.command("api-token")
@click.argument("study_id", metavar="STUDY")
@click.option("--label", metavar="LABEL", help="Create a token with this label (e.g. 'IH laptop').")
@click.option("--revoke", "revoke_label", metavar="LABEL", help="Revoke the token with this label.")
@click.option(
    "--expires",
    "expires_days",
    type=click.IntRange(1, 3650),
    metavar="DAYS",
    help="Days until the new token expires (default FIELDVAULT_API_TOKEN_DAYS, 90).",
)
@click.pass_context
def api_token(
    ctx: click.Context,
    study_id: str,
    label: str | None,
    revoke_label: str | None,
    expires_days: int | None,
) -> None:
    """Create (shown once) or revoke a researcher's API token for one study."""
    if (label is None) == (revoke_label is None):
        raise click.UsageError("give --label LABEL to create a token or --revoke LABEL to revoke")
    services = services_from(ctx)
    with transaction(services.research) as session:
        if revoke_label is not None:
            revoke_token(session, study_id, revoke_label, utcnow())
            click.echo(f"API token {revoke_label.strip()!r} of {study_id} is revoked.")
            return
        assert label is not None
        days = expires_days or settings_from(ctx).api_token_days
        token = create_token(session, study_id, label, utcnow(), valid_for=dt.timedelta(days=days))
    click.echo(token)
    click.echo(
        f"This is the API token {label.strip()!r} for {study_id}; it is shown only now and only "
        f"its hash is kept. It expires in {days} days. Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )
