"""``fieldvault transcript``: show, approve, approved; speakers and speaker (their roles)."""

from __future__ import annotations

import json
from typing import Any

import click

from fieldvault.cli.context import services_from
from fieldvault.config.text_checks import too_long, unsafe_character
from fieldvault.domain.recordings import format_text
from fieldvault.domain.redaction.approval import approve as approve_transcripts
from fieldvault.domain.redaction.bundle import APPROVED
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.domain.redaction.reading import (
    approved_documents,
    pseudonymised_documents,
    raw_documents,
)
from fieldvault.domain.speakers import DISPLAY_MAX, ROLES, set_speaker, speakers_of
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
@click.option(
    "--by",
    "actor",
    default="researcher",
    show_default=True,
    metavar="LABEL",
    help="Who approves: a researcher's label such as initials (the QDPX project's user).",
)
@click.pass_context
def approve(ctx: click.Context, study_id: str, code: str, actor: str) -> None:
    """Approve the reviewed pseudonymised transcripts: they become exportable research data."""
    problem = unsafe_character(actor, multiline=False) or too_long(actor.strip(), 64)
    if problem or not actor.strip():
        raise click.BadParameter(problem or "is empty", param_hint="--by")
    count = approve_transcripts(services_from(ctx), study_id, code, utcnow(), actor.strip())
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


@transcript.command("speakers")
@click.argument("transcript_id", metavar="TRANSCRIPT_ID", type=int)
@click.pass_context
def speakers(ctx: click.Context, transcript_id: int) -> None:
    """List a transcript's speakers: label, role, display label, and whether it is confirmed."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        infos = speakers_of(session, transcript_id)
    for info in infos:
        state = "confirmed" if info.confirmed else f"guessed: {info.guessed_because}"
        display = f"  “{info.display}”" if info.display else ""
        click.echo(f"{info.label:<12} {info.role:<12}{display}  ({state})")
    if not all(info.confirmed for info in infos):
        click.echo(
            f"confirm or change with `fieldvault transcript speaker {transcript_id} LABEL "
            f"--role {'|'.join(ROLES)} [--display TEXT]`",
            err=True,
        )


@transcript.command("speaker")
@click.argument("transcript_id", metavar="TRANSCRIPT_ID", type=int)
@click.argument("label", metavar="LABEL")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The speaker's role.")
@click.option(
    "--display",
    metavar="TEXT",
    help=f"The label shown for the speaker (at most {DISPLAY_MAX} characters; never a name).",
)
@click.pass_context
def speaker(
    ctx: click.Context, transcript_id: int, label: str, role: str, display: str | None
) -> None:
    """Set a speaker's role (interviewer, informant, other) and display label; confirms it."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        info = set_speaker(
            session,
            transcript_id,
            label,
            role=role,
            display=display,
            actor="researcher",
            now=utcnow(),
        )
    shown = f" shown as “{info.display}”" if info.display else ""
    click.echo(f"transcript {transcript_id}: {info.label} is the {info.role}{shown} (confirmed)")


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
