"""``fieldvault pseudonymise``: any text of a study (field notes too) through the engine."""

from __future__ import annotations

import json
from typing import TextIO

import click

from fieldvault.cli.context import services_from
from fieldvault.domain.redaction.numbering import pseudonymise_text


@click.command("pseudonymise")
@click.option(
    "--study",
    "study_id",
    required=True,
    metavar="STUDY",
    help="The study whose vault, terms and numbering apply.",
)
@click.option("--participant", "code", metavar="CODE", help="Whose text it is (checked to exist).")
@click.option(
    "--term", "terms", multiple=True, metavar="TEXT", help="Extra text to replace, this run only."
)
@click.option(
    "--language",
    type=click.Choice(["nb", "nn", "en"]),
    help="Language of the text; default: the study's first.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: text and spans (start, end, category, placeholder).",
)
@click.argument("source", metavar="FILE|-", type=click.File("r", encoding="utf-8"))
@click.pass_context
def pseudonymise_cmd(
    ctx: click.Context,
    study_id: str,
    code: str | None,
    terms: tuple[str, ...],
    language: str | None,
    as_json: bool,
    source: TextIO,
) -> None:
    """Pseudonymise a text (a transcript, field notes) and print it."""
    services = services_from(ctx)
    text = source.read()
    result = pseudonymise_text(
        services,
        study_id,
        text,
        language=language,
        participant_code=code,
        extra_terms=terms,
    )
    if as_json:
        # Spans point into the printed text; what they replaced stays out of the output.
        payload = {"text": result.text, "spans": [span.public() for span in result.spans]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(result.text, nl=not result.text.endswith("\n"))
    if result.suspects:
        click.echo(f"{len(result.suspects)} suspect(s) left in the text for you to check", err=True)
