"""The redaction map: a transcript's review bundle, stored encrypted per participant.

A bundle holds the source lines, the pseudonymised segments, every replacement with what it
replaced and where, the suspects left in, and the researcher's marks (``rejected``,
``accepted``, ``edits``: review numbers local to the bundle, replacements first, then
suspects). It is sealed under the participant's ``redaction_map`` data key: shredding the
participant destroys it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.participants import get_participant
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.pseudonymise import Result
from fieldvault.storage.content import BlobKind
from fieldvault.storage.models import BlobObject, Participant, PseudonymisedTranscript
from fieldvault.storage.services import Services

# The states of a pseudonymised transcript.
REVIEW = "review"
APPROVED = "approved"


def build(
    document: dict[str, Any],
    source_lines: list[str],
    result: Result,
    lines: list[str],
    rejected: Sequence[int] = (),
) -> dict[str, Any]:
    """The review bundle of a raw ``document`` the engine turned into ``lines``."""
    text = "\n".join(source_lines)
    starts = [0]
    for line in text.split("\n")[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def segment_of(offset: int) -> int:
        index = 0
        for i, start in enumerate(starts):
            if start <= offset:
                index = i
        return index

    return {
        "version": 1,
        "language": document["language"],
        "source_lines": source_lines,
        "segments": [
            {"start": s["start"], "end": s["end"], "speaker": s["speaker"], "text": line}
            for s, line in zip(document["segments"], lines, strict=True)
        ],
        "replacements": [
            {
                "segment": segment_of(span.source_start),
                "category": span.category.value,
                "placeholder": span.placeholder,
                "original": span.original,
                "source_start": span.source_start,
                "source_end": span.source_end,
            }
            for span in result.spans
        ],
        "suspects": [
            {
                "segment": segment_of(s.source_start),
                "reason": s.reason,
                "original": text[s.source_start : s.source_end],
                "source_start": s.source_start,
                "source_end": s.source_end,
            }
            for s in result.suspects
        ],
        "rejected": sorted(rejected),
    }


def read_raw(services: Services, obj: BlobObject) -> dict[str, Any]:
    """A raw transcript document, decrypted."""
    document: dict[str, Any] = json.loads(b"".join(services.content.read(obj)))
    return document


def store(
    services: Services,
    session: Session,
    participant: Participant,
    bundle: dict[str, Any],
    now: dt.datetime,
) -> BlobObject:
    """Seal ``bundle`` as a new redaction map of ``participant``."""
    payload = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    return services.content.put(
        session,
        study_id=participant.study_id,
        participant_id=participant.id,
        participant_code=participant.code,
        kind=BlobKind.REDACTION_MAP,
        source=[payload],
        now=now,
    )


def replace(
    services: Services,
    session: Session,
    row: PseudonymisedTranscript,
    bundle: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Store ``bundle`` as ``row``'s redaction map and delete the one it had."""
    participant = session.get(Participant, row.participant_id)
    assert participant is not None
    old = row.review_object_id
    blob = store(services, session, participant, bundle, now)
    row.review_object_id = blob.object_id
    if old is not None:
        services.content.blobs.delete(old)
        old_obj = session.get(BlobObject, old)
        if old_obj is not None:
            old_obj.deleted_at = now


def load(services: Services, session: Session, row: PseudonymisedTranscript) -> Any:
    """The redaction map of ``row``, decrypted; NothingToReview once it has been destroyed."""
    obj = None if row.review_object_id is None else session.get(BlobObject, row.review_object_id)
    if obj is None or obj.deleted_at is not None:
        raise NothingToReview(
            "the redaction map of this transcript has been destroyed",
            code="pseudonymisation.map_destroyed",
            transcript_id=row.transcript_id,
        )
    return json.loads(b"".join(services.content.read(obj)))


def participant_rows(
    session: Session, study_id: str, code: str, state: str | None = None
) -> list[PseudonymisedTranscript]:
    """The participant's pseudonymised transcripts (in ``state`` if given), oldest first."""
    participant = get_participant(session, study_id, code)
    stmt = (
        select(PseudonymisedTranscript)
        .where(PseudonymisedTranscript.participant_id == participant.id)
        .order_by(PseudonymisedTranscript.transcript_id)
    )
    if state is not None:
        stmt = stmt.where(PseudonymisedTranscript.state == state)
    return list(session.scalars(stmt))


def reviewed_lines(bundle: dict[str, Any]) -> list[str]:
    """The pseudonymised lines as reviewed: rejections put back, edits written in."""
    rejected = set(bundle.get("rejected", []))
    edits = {int(k): v for k, v in bundle.get("edits", {}).items()}
    lines = [seg["text"] for seg in bundle["segments"]]
    if not rejected and not edits:
        return lines
    # Rebuild each line from the source with only the accepted replacements.
    source = bundle.get("source_lines")
    if not source:
        return lines
    text = "\n".join(source)
    changes: list[tuple[int, int, str]] = []
    for number, rep in enumerate(bundle["replacements"], start=1):
        chosen = rep["original"] if number in rejected else rep["placeholder"]
        changes.append((rep["source_start"], rep["source_end"], edits.get(number, chosen)))
    first_suspect = len(bundle["replacements"]) + 1
    for number, sus in enumerate(bundle["suspects"], start=first_suspect):
        if number in edits:
            changes.append((sus["source_start"], sus["source_end"], edits[number]))
    out: list[str] = []
    pos = 0
    for start, end, replacement in sorted(changes):
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out).split("\n")


def reviewed_document(bundle: dict[str, Any]) -> dict[str, Any]:
    """The transcript as reviewed: its language and segments with the reviewed lines."""
    lines = reviewed_lines(bundle)
    return {
        "language": bundle["language"],
        "segments": [
            {"start": s["start"], "end": s["end"], "speaker": s["speaker"], "text": t}
            for s, t in zip(bundle["segments"], lines, strict=True)
        ],
    }
