"""``fieldvault export``: approved, pseudonymised transcripts for coding tools."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fieldvault.cli.context import services_from
from fieldvault.export import FORMATS, write_export
from fieldvault.export.qdpx import TIMESTAMPS
from fieldvault.storage.models import utcnow

_STAGES = {
    "build": "building files",
    "check": "leak guard and schema",
    "write": "writing",
}


@click.command("export")
@click.argument("study_id", metavar="STUDY")
@click.option(
    "--format",
    "-f",
    "formats",
    multiple=True,
    default=("all",),
    show_default=True,
    metavar="FORMAT",
    help=f"{'|'.join(FORMATS)}|all; repeat or separate with commas.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new (or empty) folder to write the export into.",
)
@click.option(
    "--qdpx-timestamps",
    type=click.Choice(TIMESTAMPS),
    default="maxqda",
    show_default=True,
    help="Time stamps in the QDPX text: MAXQDA's #hh:mm:ss-d# at each paragraph's end, "
    "[hh:mm:ss] in front of it (QualCoder), or none.",
)
@click.pass_context
def export(
    ctx: click.Context,
    study_id: str,
    formats: tuple[str, ...],
    out_dir: Path,
    qdpx_timestamps: str,
) -> None:
    """Export approved, pseudonymised transcripts (QDPX, QDC, DOCX, TXT, SRT/VTT, CSV)."""
    services = services_from(ctx)
    names = [part for value in formats for part in value.split(",") if part.strip()]
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("collecting", total=None)

        def report(stage: str, done: int, total: int) -> None:
            progress.update(
                task, description=_STAGES.get(stage, stage), completed=done, total=total
            )

        result = write_export(
            services,
            study_id,
            names,
            out_dir,
            utcnow(),
            progress=report,
            qdpx_timestamps=qdpx_timestamps,
        )
    click.echo(
        f"exported {result.transcripts} approved transcript(s) of {result.participants} "
        f"participant(s) to {result.out_dir} ({len(result.files)} files)"
    )
    for name in result.files:
        click.echo(f"  {name}")
