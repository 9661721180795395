"""Interview recordings: encrypted intake (rule 1 and 7), transcription jobs, raw transcripts.

Every front end (CLI, bot, web) hands uploads to ``accept_recording``. It encrypts each file
while reading it, probes the audio from the decrypted stream in memory, and either keeps all
files of the interview with a queued transcription job, or keeps nothing at all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.config.languages import UnknownLanguage, interview_language
from fieldvault.config.study import StudyDefinition
from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.errors import DomainError
from fieldvault.domain.participants import get_participant
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.errors import NotFoundError
from fieldvault.media.probe import AudioInfo, AudioProblem, StreamReader, probe
from fieldvault.storage import audit
from fieldvault.storage.content import BlobKind, ContentStore
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    Participant,
    Recording,
    RecordingTrack,
    Transcript,
    TranscriptionJob,
)

if TYPE_CHECKING:  # storage.services brings alembic; the domain needs only the type
    from fieldvault.storage.services import Services

SOURCES = frozenset({"cli", "telegram", "web"})


class RecordingRefused(DomainError):
    """An upload was refused; nothing of it was kept."""

    def __init__(self, message: str, reason: str = "bad-audio", **facts: object) -> None:
        """``reason`` goes to the audit chain (``no-consent``, ``study-ended``, ``bad-audio``)."""
        super().__init__(message, code=f"recording.{reason}", **facts)
        self.reason = reason


class TranscriptNotFound(NotFoundError):
    """No transcript (yet) for that participant."""

    code = "transcript.not_found"


def speaker_label(position: int, track_count: int) -> str:
    """The speaker of a track: per-speaker tracks are numbered, a single mixed track is unknown."""
    return f"speaker-{position + 1}" if track_count > 1 else "unknown"


def accept_recording(
    services: Services,
    *,
    study_id: str,
    code: str,
    files: Sequence[tuple[str, BinaryIO]],
    language: str | None,
    source: str,
    now: dt.datetime,
) -> Recording:
    """Encrypt and keep one interview's audio files and queue its transcription, or refuse."""
    research, content = services.research, services.content
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if not files:
        raise RecordingRefused("no audio file given")
    language = _check_intake(research, study_id, code, language, source, len(files), now)
    written: list[str] = []
    try:
        with transaction(research) as session:
            participant = get_participant(session, study_id, code)
            # Checked again inside the writing transaction: consent may have been withdrawn.
            if not consent.may_hold_recording(session, participant):
                raise RecordingRefused(
                    f"participant {code} has withdrawn consent to recording", "no-consent"
                )
            tracks = _store_tracks(session, content, participant, files, written, now)
            recording = _add_rows(session, participant, tracks, language, source, now)
            if State(participant.state) is State.CONSENTED:
                consent.transition(participant, State.INTERVIEWED, now)
            audit.append(
                session,
                audit.Event.UPLOAD_ACCEPTED,
                actor=source,
                study_id=study_id,
                participant_code=code,
                details={
                    "recording_id": recording.id,
                    "tracks": len(tracks),
                    "duration_s": round(recording.duration_s, 1),
                    "language": language or "detect",
                },
                at=now,
            )
            session.flush()
            session.refresh(recording, ["tracks"])
            return recording
    except BaseException as exc:
        # The transaction rolled back the rows; the ciphertext files must go too.
        for object_id in written:
            content.blobs.delete(object_id)
        if isinstance(exc, RecordingRefused):
            _audit_refusal(research, study_id, code, source, exc.reason, len(files), now)
        raise


def _check_intake(
    research: sessionmaker[Session],
    study_id: str,
    code: str,
    language: str | None,
    source: str,
    file_count: int,
    now: dt.datetime,
) -> str | None:
    """Refuse before anything is stored (ended study, no consent); return Whisper's language."""
    with transaction(research) as session:
        participant = get_participant(session, study_id, code)
        language = _whisper_language(language, load_definition(session, study_id))
        ended = _ended(session, study_id, now)
        if ended is not None:
            _audit_refusal(research, study_id, code, source, "study-ended", file_count, now)
            raise RecordingRefused(ended, "study-ended", study_id=study_id)
        if not consent.may_hold_recording(session, participant):
            item = load_definition(session, study_id).recording_item_id
            _audit_refusal(research, study_id, code, source, "no-consent", file_count, now)
            raise RecordingRefused(
                f"participant {code} has no current consent to {item!r}; "
                "no recording can be accepted",
                "no-consent",
            )
    return language


def _store_tracks(
    session: Session,
    content: ContentStore,
    participant: Participant,
    files: Sequence[tuple[str, BinaryIO]],
    written: list[str],
    now: dt.datetime,
) -> list[tuple[BlobObject, AudioInfo]]:
    """Encrypt each file as it is read and probe what was kept; ``written`` lists the blobs."""
    tracks = []
    for name, fh in files:
        obj = content.put(
            session,
            study_id=participant.study_id,
            participant_id=participant.id,
            participant_code=participant.code,
            kind=BlobKind.RECORDING,
            source=fh,
            now=now,
        )
        written.append(obj.object_id)
        try:
            info = _probe_stored(content, obj)
        except AudioProblem as exc:
            raise RecordingRefused(f"file {name!r} {exc}") from exc
        tracks.append((obj, info))
    return tracks


def _add_rows(
    session: Session,
    participant: Participant,
    tracks: list[tuple[BlobObject, AudioInfo]],
    language: str | None,
    source: str,
    now: dt.datetime,
) -> Recording:
    """Add the recording, its tracks and its queued transcription job."""
    recording = Recording(
        study_id=participant.study_id,
        participant_id=participant.id,
        language=language,
        source=source,
        duration_s=max(info.duration_s for _, info in tracks),
        created_at=now,
    )
    session.add(recording)
    session.flush()
    for position, (obj, info) in enumerate(tracks):
        session.add(
            RecordingTrack(
                recording_id=recording.id,
                position=position,
                object_id=obj.object_id,
                container=info.container,
                codec=info.codec,
                duration_s=info.duration_s,
            )
        )
    session.add(
        TranscriptionJob(
            recording_id=recording.id, study_id=participant.study_id, state="queued", created_at=now
        )
    )
    return recording


def _whisper_language(given: str | None, definition: StudyDefinition) -> str | None:
    """The language Whisper is told (None = detect): the upload's, else the study's."""
    try:
        return interview_language(given or definition.transcription_language)
    except UnknownLanguage as exc:
        raise RecordingRefused(f"language {exc}") from None


def _ended(session: Session, study_id: str, now: dt.datetime) -> str | None:
    """Why the study may no longer take recordings (its processing has ended), or None."""
    study = get_study(session, study_id)
    if now < study_deadline(study):
        return None
    return (
        f"study {study_id} ended its processing on {study.processing_end.isoformat()}: "
        "no recording can be accepted after the end date, and what it held is being deleted"
    )


def _probe_stored(content: ContentStore, obj: BlobObject) -> AudioInfo:
    # Probing the stored ciphertext, decrypted in memory, checks exactly what was kept and works
    # for streams that cannot be rewound (bot and web uploads).
    reader = StreamReader(lambda: content.read(obj), obj.plaintext_size)
    try:
        return probe(reader)  # type: ignore[arg-type]
    finally:
        reader.close()


def _audit_refusal(
    research: sessionmaker[Session],
    study_id: str,
    code: str,
    source: str,
    reason: str,
    files: int,
    now: dt.datetime,
) -> None:
    with transaction(research) as session:
        audit.append(
            session,
            audit.Event.UPLOAD_REJECTED,
            actor=source,
            study_id=study_id,
            participant_code=code,
            details={"reason": reason, "files": files},
            at=now,
        )


@dataclass(frozen=True)
class JobView:
    """A transcription job as listed by ``fieldvault jobs``."""

    job_id: int
    study_id: str
    participant_code: str
    recording_id: int
    state: str
    progress: float
    eta_s: float | None
    attempts: int
    duration_s: float
    error: str | None


def list_jobs(session: Session, study_id: str | None = None) -> list[JobView]:
    """Transcription jobs, newest last, optionally of one study."""
    stmt = (
        select(TranscriptionJob, Recording, Participant)
        .join(Recording, Recording.id == TranscriptionJob.recording_id)
        .join(Participant, Participant.id == Recording.participant_id)
        .order_by(TranscriptionJob.id)
    )
    if study_id is not None:
        get_study(session, study_id)
        stmt = stmt.where(TranscriptionJob.study_id == study_id)
    return [
        JobView(
            job_id=job.id,
            study_id=job.study_id,
            participant_code=participant.code,
            recording_id=recording.id,
            state=job.state,
            progress=job.progress,
            eta_s=job.eta_s,
            attempts=job.attempts,
            duration_s=recording.duration_s,
            error=job.error,
        )
        for job, recording, participant in session.execute(stmt).all()
    ]


def read_transcripts(
    session: Session, content: ContentStore, study_id: str, code: str
) -> list[dict[str, Any]]:
    """The participant's raw transcripts, decrypted in memory, oldest recording first."""
    participant = get_participant(session, study_id, code)
    rows = session.execute(
        select(Transcript, BlobObject)
        .join(Recording, Recording.id == Transcript.recording_id)
        .join(BlobObject, BlobObject.object_id == Transcript.object_id)
        .where(Recording.participant_id == participant.id, BlobObject.deleted_at.is_(None))
        .order_by(Recording.id)
    ).all()
    documents = [json.loads(b"".join(content.read(obj))) for _, obj in rows]
    if not documents:
        raise TranscriptNotFound(
            f"no transcript for {code} in {study_id} yet", study_id=study_id, participant=code
        )
    return documents


def format_text(document: dict[str, Any]) -> str:
    """A transcript as plain text: one line per segment with time, speaker and suspect marks."""
    lines = []
    for seg in document["segments"]:
        start = int(seg["start"])
        mark = "  [CHECK: " + "; ".join(seg["suspect"]) + "]" if seg["suspect"] else ""
        speaker = f" {seg['speaker']}:" if seg["speaker"] != "unknown" else ""
        lines.append(
            f"[{start // 3600:d}:{start // 60 % 60:02d}:{start % 60:02d}]{speaker} "
            f"{seg['text']}{mark}"
        )
    return "\n".join(lines)
