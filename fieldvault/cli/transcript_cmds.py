"""``fieldvault transcript show``: a raw transcript, decrypted for the researcher's screen."""

from __future__ import annotations

import json

import click

from fieldvault.cli.context import services_from
from fieldvault.domain.recordings import format_text, read_transcripts


@click.group("transcript")
def transcript() -> None:
    """Raw (not yet pseudonymised) transcripts."""


@transcript.command("show")
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.option(
    "--format", "fmt", type=click.Choice(["txt", "json"]), default="txt", show_default=True
)
@click.pass_context
def show(ctx: click.Context, study_id: str, code: str, fmt: str) -> None:
    """Print the participant's raw transcripts; suspect segments are marked for checking."""
    services = services_from(ctx)
    with services.research() as session:
        documents = read_transcripts(session, services.content, study_id, code)
    if fmt == "json":
        click.echo(json.dumps(documents, ensure_ascii=False, indent=2))
        return
    for doc in documents:
        click.echo(
            f"# recording {doc['recording_id']} · {doc['language']} · {doc['engine']} "
            f"{doc['model']} · {doc['suspect_count']} suspect segment(s)"
        )
        click.echo(format_text(doc))
