"""``fieldvault study create|update|list``: registering study definitions."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fieldvault.cli.context import services_from
from fieldvault.config.study import load_study
from fieldvault.domain import studies, study_updates
from fieldvault.domain.participants import list_participants
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow


@click.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def create(ctx: click.Context, file: Path) -> None:
    """Validate a study file and register the study."""
    definition = load_study(file)
    services = services_from(ctx)
    with transaction(services.research) as session:
        study = studies.register_study(
            session, definition, file.read_text(encoding="utf-8"), utcnow()
        )
    click.echo(f"registered {study.id}: {study.title} (processing ends {study.processing_end})")


@click.command("update")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def update(ctx: click.Context, file: Path) -> None:
    """Replace a registered study's definition (letters, items, guide, codebook)."""
    definition = load_study(file)
    services = services_from(ctx)
    with transaction(services.research) as session:
        study, changed = study_updates.update_study(
            session, definition, file.read_text(encoding="utf-8"), utcnow()
        )
    click.echo(f"updated {study.id}")
    if changed:
        click.echo(
            f"information letter changed ({', '.join(changed)}): consented informants are "
            "told through the bot and asked to consent to the new text at their next /start"
        )


@click.command("list")
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
