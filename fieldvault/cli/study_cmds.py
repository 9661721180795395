"""``fieldvault study``: ``check`` (no database), ``create``, ``update``, ``list``, ``extend``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fieldvault.cli.context import services_from, settings_from
from fieldvault.config.study import (
    StudyDefinition,
    StudyValidationError,
    load_study,
    parse_study,
    read_study_text,
)
from fieldvault.domain import retention, studies, study_updates
from fieldvault.domain.participants import list_participants
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Study, utcnow


@click.group()
def study() -> None:
    """Check, register and list study definitions."""


@study.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def check(ctx: click.Context, file: Path) -> None:
    """Validate a study file and list every problem in it; nothing is stored."""
    try:
        definition = load_study(file, limits=settings_from(ctx).study_limits)
    except StudyValidationError as exc:
        count = len(exc.problems)
        click.echo(f"{file}: {count} problem{'' if count == 1 else 's'}", err=True)
        for problem in exc.problems:
            click.echo(f"{problem.field}: {problem.message}", err=True)
        ctx.exit(1)
    click.echo(f"OK: {definition.id} — {definition.title}")
    for line in summary(definition):
        click.echo(f"  {line}")


def summary(definition: StudyDefinition) -> list[str]:
    """Return a few lines describing a valid study: languages, items, letters, deadlines."""
    items = ", ".join(
        f"{item.id} ({'required' if item.required else 'optional'}; {', '.join(item.permits)})"
        for item in definition.consent_items
    )
    letters = ", ".join(
        f"{lang} {definition.letter_version(lang)[:12]}" for lang in definition.languages
    )
    ends = f"project ends {definition.project_end}, processing ends {definition.processing_end}"
    if definition.processing_end_reason:
        ends += " (reason given)"
    return [
        f"languages: {', '.join(definition.languages)} (default {definition.default_language})",
        f"consent items: {items}",
        f"letter versions: {letters}",
        f"starts {definition.start_date}; {ends} ({definition.timezone})",
        f"legal basis: {definition.legal_basis}; withdrawal keeps pseudonymised data: "
        f"{'yes' if definition.policies.on_withdrawal_pseudonymised == 'keep' else 'no'}",
    ]


def _read(ctx: click.Context, file: Path) -> tuple[str, StudyDefinition]:
    """The study file's text as stored (NFC) and its definition, held to the settings' limits."""
    text = read_study_text(file)
    return text, parse_study(text, source=str(file), limits=settings_from(ctx).study_limits)


@study.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def create(ctx: click.Context, file: Path) -> None:
    """Validate a study file and register the study."""
    text, definition = _read(ctx, file)
    services = services_from(ctx)
    with transaction(services.research) as session:
        study = studies.register_study(session, definition, text, utcnow())
    click.echo(f"registered {study.id}: {study.title} (processing ends {study.processing_end})")


@study.command("update")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def update(ctx: click.Context, file: Path) -> None:
    """Replace a registered study's definition (letters, items, guide, codebook)."""
    text, definition = _read(ctx, file)
    services = services_from(ctx)
    with transaction(services.research) as session:
        study, changed = study_updates.update_study(session, definition, text, utcnow())
    click.echo(f"updated {study.id}")
    if changed:
        click.echo(
            f"information letter changed ({', '.join(changed)}): consented informants are "
            "told through the bot and asked to consent to the new text at their next /start"
        )


@study.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List registered studies with their deadlines."""
    services = services_from(ctx)
    table = Table("study", "title", "project end", "processing end", "participants")
    with transaction(services.research) as session:
        for study in studies.list_studies(session):
            count = len(list_participants(session, study.id))
            table.add_row(
                study.id, study.title, str(study.project_end), str(study.processing_end), str(count)
            )
    Console().print(table)


@study.command("extend")
@click.argument("study_id", metavar="STUDY")
@click.option(
    "--to",
    "new_end",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The new processing end date (YYYY-MM-DD).",
)
@click.option("--reason", required=True, help="Why the data are kept longer (recorded).")
@click.option(
    "--assessment-ref", metavar="REF", help="Reference of the new assessment (e.g. Sikt's)."
)
@click.pass_context
def extend(
    ctx: click.Context,
    study_id: str,
    new_end: dt.datetime,
    reason: str,
    assessment_ref: str | None,
) -> None:
    """Move the processing end date later, with a recorded reason; informants are told."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        row = retention.extend(
            session,
            study_id,
            new_end.date(),
            reason=reason,
            assessment_ref=assessment_ref,
            now=utcnow(),
            limits=settings_from(ctx).study_limits,
        )
        study = session.get(Study, study_id)
        assert study is not None
        deadline = retention.study_deadline(study)
    click.echo(
        f"{study_id}: processing end moved from {row.old_processing_end} to "
        f"{row.new_processing_end}; deletion now due {deadline.isoformat()}. "
        "Informants are told at the next sweep. Update processing_end in the study file too."
    )
