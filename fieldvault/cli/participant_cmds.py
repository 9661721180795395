"""``fieldvault invite``, ``participant add`` and ``participants``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import segno
from rich.console import Console
from rich.table import Table

from fieldvault.cli.context import services_from
from fieldvault.domain import consent
from fieldvault.domain.participants import list_participants, register_participant
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow
from fieldvault.storage.vault import Identity


def telegram_link(bot_username: str, code: str) -> str:
    """The deep link that opens the bot with the invite code as start payload."""
    return f"https://t.me/{bot_username}?start={code}"


def web_link(base_url: str, code: str) -> str:
    """The web consent page for informants without Telegram."""
    return f"{base_url.rstrip('/')}/join/{code}"


@click.command()
@click.argument("study_id", metavar="STUDY")
@click.option("--count", "-n", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option(
    "--expires",
    "expires_days",
    type=click.IntRange(1, 365),
    default=30,
    show_default=True,
    help="Days until the invites expire.",
)
@click.option(
    "--qr",
    "qr_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a PNG QR code of each Telegram link into this folder (for posters).",
)
@click.pass_context
def invite(
    ctx: click.Context, study_id: str, count: int, expires_days: int, qr_dir: Path | None
) -> None:
    """Create one-time invite links (Telegram deep links and web links)."""
    services = services_from(ctx)
    settings = services.settings
    now = utcnow()
    with transaction(services.research) as session:
        codes = consent.create_invites(
            session, study_id, count, dt.timedelta(days=expires_days), now
        )
    expires = (now + dt.timedelta(days=expires_days)).date()
    if qr_dir is not None:
        qr_dir.mkdir(parents=True, exist_ok=True)
    for index, code in enumerate(codes, start=1):
        tg = telegram_link(settings.telegram_bot_username, code)
        click.echo(f"{tg}\t{web_link(settings.public_base_url, code)}")
        if qr_dir is not None:
            segno.make(tg, error="m").save(str(qr_dir / f"invite-{index:03d}.png"), scale=8)
    click.echo(
        f"{len(codes)} invite(s) for {study_id}, each usable once, until {expires}", err=True
    )


@click.group("participant")
def participant() -> None:
    """Register participants (identity goes to the linkage vault only)."""


@participant.command("add")
@click.argument("study_id", metavar="STUDY")
@click.option("--name", required=True, help="The informant's name (stored only in the vault).")
@click.option("--email", help="Contact e-mail (vault only).")
@click.option("--phone", help="Contact phone (vault only).")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="A research variable declared by the study, e.g. utdanning=sosionom.",
)
@click.pass_context
def add(
    ctx: click.Context,
    study_id: str,
    name: str,
    email: str | None,
    phone: str | None,
    variables: tuple[str, ...],
) -> None:
    """Register a participant and print the new participant code."""
    pairs: dict[str, str] = {}
    for item in variables:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--var")
        pairs[key.strip()] = value.strip()
    if not name.strip():
        raise click.BadParameter("the name is empty", param_hint="--name")
    services = services_from(ctx)
    code = register_participant(
        services,
        study_id,
        Identity(name=name.strip(), email=email, phone=phone),
        pairs,
        utcnow(),
    )
    click.echo(code)


@click.command()
@click.argument("study_id", metavar="STUDY")
@click.pass_context
def participants(ctx: click.Context, study_id: str) -> None:
    """List participants: codes, pseudonyms, states, consent, deadlines (never names)."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        study = get_study(session, study_id)
        definition = load_definition(session, study_id)
        table = Table("code", "pseudonym", "state", "consent", "re-consent", "deletion date")
        for person in list_participants(session, study_id):
            state = consent.current_consent(session, person)
            granted = ", ".join(i.id for i in definition.consent_items if state.granted(i.id))
            table.add_row(
                person.code,
                person.pseudonym or "-",
                person.state,
                granted or "-",
                "needed" if consent.needs_reconsent(session, person) else "",
                str(study.processing_end),
            )
    Console().print(table)
