"""``fieldvault transcript``: ``show`` (pseudonymised, or ``--raw``), ``approve``, ``approved``."""

from __future__ import annotations

import json
from typing import Any

import click

from fieldvault.cli.context import services_from
from fieldvault.domain.recordings import format_text
from fieldvault.domain.redaction.approval import approve as approve_transcripts
from fieldvault.domain.redaction.bundle import APPROVED
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.domain.redaction.reading import (
    approved_documents,
    pseudonymised_documents,
    raw_documents,
)
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow


@click.group("transcript")
def transcript() -> None:
    """Transcripts: show them (pseudonymised or raw), approve the reviewed ones."""


@transcript.command("show")
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.option(
    "--format", "fmt", type=click.Choice(["txt", "json"]), default="txt", show_default=True
)
@click.option(
    "--raw",
    is_flag=True,
    help="The raw transcript (identifiable; while it still exists) instead of the pseudonymised.",
)
@click.pass_context
def show(ctx: click.Context, study_id: str, code: str, fmt: str, raw: bool) -> None:
    """Print the participant's pseudonymised transcripts: approved, or as review stands now."""
    services = services_from(ctx)
    if raw:
        _show_raw(raw_documents(services, study_id, code), fmt)
        return
    view = pseudonymised_documents(services, study_id, code)
    if fmt == "json":
        click.echo(json.dumps(view.documents, ensure_ascii=False, indent=2))
    else:
        for doc in view.documents:
            click.echo(_heading(doc, study_id, code))
            click.echo(format_segments(doc))
    if view.waiting:
        click.echo(
            f"{view.waiting} more transcript(s) of {code} not pseudonymised yet; run "
            f"`fieldvault worker` or `fieldvault review {study_id} {code}`",
            err=True,
        )


@transcript.command("approve")
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.pass_context
def approve(ctx: click.Context, study_id: str, code: str) -> None:
    """Approve the reviewed pseudonymised transcripts: they become exportable research data."""
    count = approve_transcripts(services_from(ctx), study_id, code, utcnow())
    click.echo(f"{count} pseudonymised transcript(s) of {code} approved")


@transcript.command("approved")
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.option(
    "--format", "fmt", type=click.Choice(["txt", "json"]), default="txt", show_default=True
)
@click.pass_context
def approved(ctx: click.Context, study_id: str, code: str, fmt: str) -> None:
    """Print only the approved pseudonymised transcripts (research data); see `transcript show`."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        documents = approved_documents(session, study_id, code)
    if not documents:
        raise NothingToReview(
            f"{code} has no approved transcript in {study_id}",
            code="pseudonymisation.none_approved",
            study_id=study_id,
            participant=code,
        )
    if fmt == "json":
        click.echo(json.dumps(documents, ensure_ascii=False, indent=2))
        return
    for doc in documents:
        click.echo(f"# transcript {doc['transcript_id']} · {doc['language']} · approved")
        click.echo(format_segments(doc))


def format_segments(doc: dict[str, Any]) -> str:
    """Pseudonymised segments as plain text: ``[h:mm:ss] speaker: text`` per line."""
    lines = []
    for seg in doc["segments"]:
        start = int(seg["start"])
        speaker = f" {seg['speaker']}:" if seg["speaker"] != "unknown" else ""
        stamp = f"[{start // 3600:d}:{start // 60 % 60:02d}:{start % 60:02d}]"
        lines.append(f"{stamp}{speaker} {seg['text']}")
    return "\n".join(lines)


def _heading(doc: dict[str, Any], study_id: str, code: str) -> str:
    """One line naming the transcript and where it stands."""
    head = f"# transcript {doc['transcript_id']} · {doc['language']} · "
    if doc["state"] == APPROVED:
        return head + "approved"
    return head + (
        f"under review: {doc['replacements']} replacement(s), {doc['suspects']} suspect(s) "
        f"left; `fieldvault review {study_id} {code}`"
    )


def _show_raw(documents: list[dict[str, Any]], fmt: str) -> None:
    """The raw transcripts; suspect segments are marked for checking."""
    if fmt == "json":
        click.echo(json.dumps(documents, ensure_ascii=False, indent=2))
        return
    for doc in documents:
        click.echo(
            f"# recording {doc['recording_id']} · {doc['language']} · {doc['engine']} "
            f"{doc['model']} · {doc['suspect_count']} suspect segment(s) · raw"
        )
        click.echo(format_text(doc))
