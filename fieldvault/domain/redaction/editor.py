"""Read models of the review editor: a study's transcripts, and one transcript as it is reviewed.

Nothing here decides anything: review items come from ``review`` (the same numbers the CLI
prints), approval from ``approval``. This module only gathers what one screen shows — the
segments as reviewed, each with the transcription's suspect reasons and the review items that
fall in it, the recording's tracks, and the *version* (the redaction map's object id, which
every saved change replaces) that an editor sends back so that ``review`` can refuse a save
over someone else's. The texts are for the researcher's screen only, never for logs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.recordings import TranscriptNotFound
from fieldvault.domain.redaction import bundle, job
from fieldvault.domain.redaction.bundle import APPROVED, REVIEW
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.domain.redaction.review import ReviewItem, _items_of
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    Participant,
    PseudonymisedTranscript,
    Recording,
    RecordingTrack,
    Transcript,
)
from fieldvault.storage.services import Services

WAITING = "waiting"  # transcribed, not pseudonymised yet


@dataclass(frozen=True)
class TranscriptSummary:
    """One line of a study's transcript list (no text)."""

    transcript_id: int
    code: str
    recorded_at: dt.datetime
    duration_s: float
    segments: int
    suspect_segments: int
    state: str  # waiting | review | approved
    replacements: int
    suspects: int


@dataclass(frozen=True)
class EditorSegment:
    """A segment as reviewed, its transcription flags, and the review items inside it."""

    index: int
    start: float
    end: float
    speaker: str
    text: str
    flags: tuple[str, ...]
    items: tuple[ReviewItem, ...] = ()


@dataclass(frozen=True)
class TrackInfo:
    """One audio track of the transcript's recording."""

    position: int
    container: str
    duration_s: float


@dataclass(frozen=True)
class TranscriptEditor:
    """One transcript on the review screen."""

    transcript_id: int
    code: str
    state: str  # review | approved
    language: str
    version: str  # the redaction map's object id ("" once approved)
    segments: list[EditorSegment]
    tracks: list[TrackInfo]
    reviewing: int  # the participant's transcripts under review (approval takes them all)
    unchecked: int  # suspects of this transcript nobody has looked at
    items: int = field(default=0)
    edits: dict[int, str] = field(default_factory=dict)  # review number -> the text written in


def study_transcripts(session: Session, study_id: str) -> list[TranscriptSummary]:
    """The study's transcripts that can still be read, newest recording first."""
    rows = session.execute(
        select(
            Transcript, Recording, Participant.code, BlobObject.deleted_at, PseudonymisedTranscript
        )
        .join(Recording, Recording.id == Transcript.recording_id)
        .join(Participant, Participant.id == Recording.participant_id)
        .join(BlobObject, BlobObject.object_id == Transcript.object_id)
        .outerjoin(PseudonymisedTranscript, PseudonymisedTranscript.transcript_id == Transcript.id)
        .where(Recording.study_id == study_id)
        .order_by(Recording.created_at.desc(), Transcript.id.desc())
    ).all()
    out = []
    for transcript, recording, code, raw_deleted, pseudo in rows:
        state = WAITING if pseudo is None else pseudo.state
        if raw_deleted is not None and state != APPROVED:
            continue  # withdrawn or past its end date: nothing left to review
        out.append(
            TranscriptSummary(
                transcript_id=transcript.id,
                code=code,
                recorded_at=recording.created_at,
                duration_s=recording.duration_s,
                segments=transcript.segment_count,
                suspect_segments=transcript.suspect_count,
                state=state,
                replacements=pseudo.replacements if pseudo is not None else 0,
                suspects=pseudo.suspects if pseudo is not None else 0,
            )
        )
    return out


def transcript_of_study(session: Session, study_id: str, transcript_id: int) -> Transcript:
    """The transcript ``transcript_id`` if it belongs to ``study_id`` (else: not found)."""
    transcript = session.get(Transcript, transcript_id)
    recording = None if transcript is None else session.get(Recording, transcript.recording_id)
    if transcript is None or recording is None or recording.study_id != study_id:
        raise TranscriptNotFound(
            f"there is no transcript {transcript_id} in {study_id}",
            study_id=study_id,
            transcript_id=transcript_id,
        )
    return transcript


def participant_code(session: Session, transcript: Transcript) -> str:
    """The code of the participant whose recording ``transcript`` is."""
    recording = session.get(Recording, transcript.recording_id)
    assert recording is not None
    participant = session.get(Participant, recording.participant_id)
    assert participant is not None
    return participant.code


def audio_object(
    session: Session, study_id: str, transcript_id: int, position: int
) -> tuple[BlobObject, str]:
    """The live recording blob of track ``position`` of the transcript, and its container."""
    transcript = transcript_of_study(session, study_id, transcript_id)
    found = session.execute(
        select(BlobObject, RecordingTrack.container)
        .join(RecordingTrack, RecordingTrack.object_id == BlobObject.object_id)
        .where(
            RecordingTrack.recording_id == transcript.recording_id,
            RecordingTrack.position == position,
            BlobObject.study_id == study_id,
            BlobObject.kind == BlobKind.RECORDING.value,
            BlobObject.deleted_at.is_(None),
        )
    ).first()
    if found is None:
        raise TranscriptNotFound(
            f"transcript {transcript_id} has no recording track {position} any more",
            study_id=study_id,
            transcript_id=transcript_id,
        )
    return found[0], found[1]


def transcript_editor(
    services: Services, study_id: str, transcript_id: int, now: dt.datetime
) -> TranscriptEditor:
    """One transcript as its review stands, with the review numbers the CLI uses.

    Runs the pseudonymise job first if the worker has not yet (idempotent, like ``review``).
    """
    with transaction(services.research) as session:
        transcript_of_study(session, study_id, transcript_id)
    if not job.is_pseudonymised(services, transcript_id):
        job.pseudonymise_transcript(services, transcript_id, now)
    with transaction(services.research) as session:
        transcript = transcript_of_study(session, study_id, transcript_id)
        code = participant_code(session, transcript)
        rows = bundle.participant_rows(session, study_id, code)
        [row] = [r for r in rows if r.transcript_id == transcript_id]
        flags = _transcription_flags(services, session, transcript)
        tracks = _tracks(session, transcript.recording_id)
        reviewing = [r for r in rows if r.state == REVIEW]
        if row.state == APPROVED:
            document = row.document or {"language": row.language, "segments": []}
            segments = _segments(document, flags, [])
            return TranscriptEditor(
                transcript_id, code, APPROVED, row.language, "", segments, tracks, len(reviewing), 0
            )
        offset = _offset(services, session, reviewing, transcript_id)
        data = bundle.load(services, session, row)
        items = _items_of(data, first=offset + 1)
        edits = {offset + int(k): str(v) for k, v in data.get("edits", {}).items()}
        version = row.review_object_id or ""
    segments = _segments(bundle.reviewed_document(data), flags, items)
    unchecked = sum(1 for item in items if item.status == "suspect")
    return TranscriptEditor(
        transcript_id,
        code,
        REVIEW,
        str(data["language"]),
        version,
        segments,
        tracks,
        len(reviewing),
        unchecked,
        len(items),
        edits,
    )


@dataclass(frozen=True)
class ItemState:
    """A review item after a save: the new version, its status and its segment's line now."""

    version: str
    number: int
    status: str
    segment: int
    line: str


def item_state(services: Services, study_id: str, transcript_id: int, number: int) -> ItemState:
    """Where review item ``number`` of this transcript stands, and its segment's reviewed line."""
    with transaction(services.research) as session:
        transcript = transcript_of_study(session, study_id, transcript_id)
        code = participant_code(session, transcript)
        reviewing = bundle.participant_rows(session, study_id, code, REVIEW)
        [row] = [r for r in reviewing if r.transcript_id == transcript_id]
        offset = _offset(services, session, reviewing, transcript_id)
        data = bundle.load(services, session, row)
        version = row.review_object_id or ""
    [item] = [i for i in _items_of(data, first=offset + 1) if i.number == number]
    return ItemState(
        version, number, item.status, item.segment, bundle.reviewed_lines(data)[item.segment]
    )


def _offset(
    services: Services, session: Session, reviewing: list[PseudonymisedTranscript], tid: int
) -> int:
    """How many review items the participant's transcripts under review before ``tid`` hold."""
    offset = 0
    for earlier in reviewing:
        if earlier.transcript_id == tid:
            break
        data = bundle.load(services, session, earlier)
        offset += len(data["replacements"]) + len(data["suspects"])
    return offset


def review_numbers(services: Services, study_id: str, transcript_id: int) -> tuple[str, range]:
    """The participant's code and the review numbers of this transcript under review.

    NothingToReview when it is not under review (approved, or not pseudonymised yet).
    """
    with transaction(services.research) as session:
        transcript = transcript_of_study(session, study_id, transcript_id)
        code = participant_code(session, transcript)
        reviewing = bundle.participant_rows(session, study_id, code, REVIEW)
        mine = [r for r in reviewing if r.transcript_id == transcript_id]
        if not mine:
            raise NothingToReview(
                f"transcript {transcript_id} of {code} is not under review",
                code="review.not_under_review",
                study_id=study_id,
                participant=code,
            )
        offset = _offset(services, session, reviewing, transcript_id)
        data = bundle.load(services, session, mine[0])
        count = len(data["replacements"]) + len(data["suspects"])
    return code, range(offset + 1, offset + count + 1)


def current_version(services: Services, study_id: str, transcript_id: int) -> str:
    """The version of the transcript's review now (its redaction map's object id, or "")."""
    with transaction(services.research) as session:
        transcript_of_study(session, study_id, transcript_id)
        row = session.scalar(
            select(PseudonymisedTranscript).where(
                PseudonymisedTranscript.transcript_id == transcript_id
            )
        )
        return "" if row is None or row.state != REVIEW else row.review_object_id or ""


def _transcription_flags(
    services: Services, session: Session, transcript: Transcript
) -> list[tuple[str, ...]]:
    """Each raw segment's suspect reasons (empty once the raw transcript has been deleted)."""
    obj = session.get(BlobObject, transcript.object_id)
    if obj is None or obj.deleted_at is not None:
        return []
    document = bundle.read_raw(services, obj)
    return [tuple(str(r) for r in seg.get("suspect") or ()) for seg in document["segments"]]


def _tracks(session: Session, recording_id: int) -> list[TrackInfo]:
    rows = session.scalars(
        select(RecordingTrack)
        .join(BlobObject, BlobObject.object_id == RecordingTrack.object_id)
        .where(RecordingTrack.recording_id == recording_id, BlobObject.deleted_at.is_(None))
        .order_by(RecordingTrack.position)
    )
    return [TrackInfo(t.position, t.container, t.duration_s) for t in rows]


def _segments(
    document: dict[str, Any], flags: list[tuple[str, ...]], items: list[ReviewItem]
) -> list[EditorSegment]:
    by_segment: dict[int, list[ReviewItem]] = {}
    for item in items:
        by_segment.setdefault(item.segment, []).append(item)
    return [
        EditorSegment(
            index=i,
            start=float(seg["start"]),
            end=float(seg["end"]),
            speaker=str(seg.get("speaker") or "unknown"),
            text=str(seg["text"]),
            flags=flags[i] if i < len(flags) else (),
            items=tuple(by_segment.get(i, ())),
        )
        for i, seg in enumerate(document["segments"])
    ]


__all__ = [
    "EditorSegment",
    "ItemState",
    "NothingToReview",
    "TrackInfo",
    "TranscriptEditor",
    "TranscriptSummary",
    "audio_object",
    "current_version",
    "item_state",
    "participant_code",
    "review_numbers",
    "study_transcripts",
    "transcript_editor",
    "transcript_of_study",
]
