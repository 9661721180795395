"""``fieldvault study``: the group for study definitions, and ``study check``.

``create``, ``update`` and ``list`` live in ``study_admin_cmds`` and are attached to this group
by ``fieldvault.cli.commands.register``; ``check`` needs no database, so it stays here.
"""

from __future__ import annotations

from pathlib import Path

import click

from fieldvault.config.study import StudyDefinition, StudyValidationError, load_study


@click.group()
def study() -> None:
    """Check, register and list study definitions."""


@study.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def check(ctx: click.Context, file: Path) -> None:
    """Validate a study file and list every problem in it; nothing is stored."""
    try:
        definition = load_study(file)
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
