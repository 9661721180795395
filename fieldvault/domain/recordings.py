"""Interview recordings: encrypted intake (rule 1 and 7), transcription jobs, raw transcripts.

Every front end (CLI, bot, web) hands uploads to ``accept_recording``. It encrypts each file
while reading it, probes the audio from the decrypted stream in memory, and either keeps all
files of the interview with a queued transcription job, or keeps nothing at all. It holds no
research-database write lock while a file streams in or is probed (see ``accept_recording``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from fieldvault.config.languages import UnknownLanguage, interview_language
from fieldvault.config.settings import Settings
from fieldvault.config.study import MAX_SPEAKERS, StudyDefinition
from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.errors import DomainError
from fieldvault.domain.interviews import (
    CONTAINER,
    InterviewError,
    InterviewFacts,
    apply_facts,
    check_facts,
    container_date,
)
from fieldvault.domain.participants import get_participant
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.states import HOLDS_CONSENT
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.errors import NotFoundError
from fieldvault.media.probe import AudioInfo, AudioLimits, AudioProblem, StreamReader, probe
from fieldvault.storage import audit
from fieldvault.storage.content import BlobKind, ContentStore
from fieldvault.storage.crypto import DecryptionError
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    ConsentDecision,
    ConsentRecord,
    Participant,
    Recording,
    RecordingTrack,
    Transcript,
    TranscriptionJob,
    as_utc,
)

if TYPE_CHECKING:  # storage.services brings alembic; the domain needs only the type
    from fieldvault.storage.services import Services

SOURCES = frozenset({"cli", "telegram", "web"})
log = logging.getLogger(__name__)


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
    interview: InterviewFacts | None = None,
    actor: str | None = None,
    speakers: int | None = None,
) -> Recording:
    """Encrypt and keep one interview's audio files and queue its transcription, or refuse.

    ``interview`` is what the upload says about the interview (date, interviewer, mode, host
    track); it is checked before anything is stored. Without a date, the first track's
    container creation time gives it when it has a usable one.
    The audit names ``actor`` (a logged-in researcher, ``researcher:<id>``), else ``source``.
    ``speakers`` is how many voices a single-track recording holds, for diarization (None:
    the study's ``[interviews] speakers``).

    No research-database transaction is open while a file arrives, is encrypted or is probed
    (a slow link or a long decode must not lock out consents, withdrawals or the sweep): each
    track's blob row is committed first in a short transaction of its own, its bytes are then
    written and checked, and one short last transaction checks consent and the study's end
    again and records the recording. A refusal or failure deletes the ciphertext, then the
    rows; a crash in between leaves a row (size 0, no track) that withdrawal, the end-date
    deletion and the sweep's clean-up of abandoned uploads all find.
    """
    research = services.research
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if not files:
        raise RecordingRefused("no audio file given")
    check_speakers(speakers)
    who = actor or source
    language = _check_intake(research, study_id, code, language, who, len(files), now)
    interview = _check_interview(research, study_id, interview, now)
    _check_track_count(services, study_id, code, who, len(files), now)
    reserved: list[BlobObject] = []
    try:
        tracks = _receive_tracks(services, study_id, code, files, reserved, now)
        try:
            return _record(
                research,
                study_id,
                code,
                tracks,
                language,
                source,
                now,
                interview,
                who,
                speakers=speakers,
            )
        except StaleDataError:
            # SQLite reads outside the write transaction, so the row lock above does not hold
            # there: a clean-up that deleted the row meanwhile shows as an update of no row.
            raise _cleaned_up_meanwhile(code) from None
    except BaseException as exc:
        _discard(services, reserved)
        if isinstance(exc, RecordingRefused):
            _audit_refusal(research, study_id, code, who, exc.reason, len(files), now)
        raise


def check_speakers(speakers: int | None) -> None:
    """Refuse a speaker count diarization cannot be asked for (1 to MAX_SPEAKERS)."""
    if speakers is not None and not 1 <= speakers <= MAX_SPEAKERS:
        raise RecordingRefused(
            f"{speakers} speakers: an interview has 1 to {MAX_SPEAKERS} speakers",
            "bad-speakers",
            limit=MAX_SPEAKERS,
        )


def diarization_speakers(session: Session, recording: Recording) -> int:
    """How many voices to find in a single-track recording: the upload's, else the study's."""
    if recording.speakers is not None:
        return recording.speakers
    return load_definition(session, recording.study_id).interviews.speakers


def recording_limits(settings: Settings) -> AudioLimits:
    """What one recording may hold (the settings' duration and track limits), for the probe."""
    return AudioLimits(
        max_duration_s=settings.max_recording_hours * 3600,
        max_streams=settings.max_recording_tracks,
    )


def _check_track_count(
    services: Services, study_id: str, code: str, source: str, file_count: int, now: dt.datetime
) -> None:
    """Refuse, before anything is stored, more files than a recording may have tracks."""
    most = services.settings.max_recording_tracks
    if file_count > most:
        _audit_refusal(
            services.research, study_id, code, source, "too-many-tracks", file_count, now
        )
        raise _too_many_tracks(str(file_count), most)


def _too_many_tracks(count: str, most: int) -> RecordingRefused:
    return RecordingRefused(
        f"{count} audio files; a recording may have at most {most} tracks (one file per speaker)",
        "too-many-tracks",
        limit=most,
    )


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
            raise ended
        if not consent.may_hold_recording(session, participant):
            item = load_definition(session, study_id).recording_item_id
            _audit_refusal(research, study_id, code, source, "no-consent", file_count, now)
            raise RecordingRefused(
                f"participant {code} has no current consent to {item!r}; "
                "no recording can be accepted",
                "no-consent",
            )
    return language


def _receive_tracks(
    services: Services,
    study_id: str,
    code: str,
    files: Sequence[tuple[str, BinaryIO]],
    reserved: list[BlobObject],
    now: dt.datetime,
) -> list[tuple[BlobObject, AudioInfo]]:
    """Encrypt each file as it is read and probe what was kept; ``reserved`` lists the blobs.

    Iterating ``files`` may wait for the next part of a web upload, and reading one waits for
    the network: only the row of each blob is written, in its own short transaction, first.
    """
    content = services.content
    tracks = []
    most = services.settings.max_recording_tracks
    for position, (name, fh) in enumerate(files):
        if position >= most:  # a streamed upload's files are counted as they arrive
            raise _too_many_tracks(f"more than {most}", most)
        with transaction(services.research) as session:
            participant = get_participant(session, study_id, code)
            obj = content.reserve(
                session,
                study_id=study_id,
                participant_id=participant.id,
                participant_code=code,
                kind=BlobKind.RECORDING,
                now=now,
            )
        reserved.append(obj)
        try:
            obj.plaintext_size = content.fill(obj, fh)
            info = _probe_stored(content, obj, recording_limits(services.settings))
        except AudioProblem as exc:
            raise RecordingRefused(f"file {name!r} {exc}", exc.reason, **exc.facts) from exc
        except DecryptionError:
            # The data key went while the file arrived: a withdrawal shredded it.
            raise _withdrawn_meanwhile(code) from None
        except NotFoundError:
            # Only the blob is looked up here: the sweep's clean-up took it as abandoned.
            raise _cleaned_up_meanwhile(code) from None
        tracks.append((obj, info))
    return tracks


def _record(
    research: sessionmaker[Session],
    study_id: str,
    code: str,
    tracks: list[tuple[BlobObject, AudioInfo]],
    language: str | None,
    source: str,
    now: dt.datetime,
    interview: InterviewFacts,
    actor: str,
    *,
    speakers: int | None = None,
) -> Recording:
    """The one short writing transaction: check again, then keep the recording and its job."""
    with transaction(research) as session:
        participant = get_participant(session, study_id, code)
        # Checked again: the study may have ended or consent been withdrawn meanwhile.
        ended = _ended(session, study_id, now)
        if ended is not None:
            raise ended
        if not consent.may_hold_recording(session, participant):
            raise _withdrawn_meanwhile(code)
        kept = []
        for obj, info in tracks:
            # Locked, so the sweep's clean-up of abandoned uploads cannot delete it before this
            # commits (it waits, then finds a track pointing at it); consent held above, so a
            # row gone now was cleaned up as abandoned, not purged by a withdrawal.
            row = session.get(BlobObject, obj.object_id, with_for_update=True)
            if row is None or row.deleted_at is not None:
                raise _cleaned_up_meanwhile(code)
            row.plaintext_size = obj.plaintext_size
            kept.append((row, info))
        recording = _add_rows(session, participant, kept, language, source, now)
        _interview_facts(session, recording, interview, kept, now)
        recording.speakers = speakers
        if State(participant.state) is State.CONSENTED:
            consent.transition(participant, State.INTERVIEWED, now)
        audit.append(
            session,
            audit.Event.UPLOAD_ACCEPTED,
            actor=actor,
            study_id=study_id,
            participant_code=code,
            details={
                "recording_id": recording.id,
                "tracks": len(kept),
                "duration_s": round(recording.duration_s, 1),
                "language": language or "detect",
            },
            at=now,
        )
        session.flush()
        session.refresh(recording, ["tracks"])
        return recording


def _check_interview(
    research: sessionmaker[Session],
    study_id: str,
    interview: InterviewFacts | None,
    now: dt.datetime,
) -> InterviewFacts:
    """The upload's interview facts checked against the study, before anything is stored."""
    if interview is None:
        return InterviewFacts()
    with transaction(research) as session:
        definition = load_definition(session, study_id)
    try:
        return check_facts(interview, definition, now)
    except InterviewError as exc:
        raise RecordingRefused(str(exc), "bad-interview", **exc.facts) from None


def _interview_facts(
    session: Session,
    recording: Recording,
    interview: InterviewFacts,
    tracks: list[tuple[BlobObject, AudioInfo]],
    now: dt.datetime,
) -> None:
    """Store the upload's interview facts, or the date the container was stamped with."""
    host = interview.host_track
    if host is not None and host >= len(tracks):
        raise RecordingRefused(
            f"host track {host + 1} does not exist: the upload has {len(tracks)} track(s)",
            "bad-interview",
        )
    apply_facts(recording, interview)
    if interview.date is None:
        definition = load_definition(session, recording.study_id)
        stamped = next((info.created_at for _, info in tracks if info.created_at), None)
        day = container_date(stamped, definition, now)
        if day is not None:
            apply_facts(recording, InterviewFacts(date=day), source=CONTAINER)


def _cleaned_up_meanwhile(code: str) -> RecordingRefused:
    return RecordingRefused(
        f"the upload for participant {code} was cleaned up as abandoned before it finished; "
        "nothing of it was kept",
        "interrupted",
    )


def _withdrawn_meanwhile(code: str) -> RecordingRefused:
    return RecordingRefused(
        f"participant {code} withdrew consent to recording while the upload arrived; "
        "nothing of it was kept",
        "no-consent",
    )


def _discard(services: Services, reserved: Sequence[BlobObject]) -> None:
    """Delete a refused upload's ciphertext, then its rows (so no file outlives its row)."""
    if not reserved:
        return
    for obj in reserved:
        services.content.blobs.delete(obj.object_id)
    ids = [obj.object_id for obj in reserved]
    try:
        with transaction(services.research) as session:
            session.execute(delete(BlobObject).where(BlobObject.object_id.in_(ids)))
    except Exception:
        # The error that brought us here is the one to report. The rows left (size 0, no
        # track, no file) are removed by the sweep's clean-up of abandoned uploads.
        log.warning("could not delete the rows of %d refused upload object(s)", len(ids))


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


def _ended(session: Session, study_id: str, now: dt.datetime) -> RecordingRefused | None:
    """Why the study may no longer take recordings (its processing has ended), or None."""
    study = get_study(session, study_id)
    if study.ended_at is not None:
        # The sweep ended it (and deleted what it held), whatever the clock says now.
        return RecordingRefused(
            f"study {study_id} has ended: the retention sweep deleted its recordings and "
            f"identities on {as_utc(study.ended_at).date().isoformat()}, so no recording can "
            "be accepted any more",
            "study-ended",
            study_id=study_id,
        )
    if now < study_deadline(study):
        return None
    return RecordingRefused(
        f"study {study_id} ended its processing on {study.processing_end.isoformat()}: "
        "no recording can be accepted after the end date, and what it held is being deleted",
        "study-ended",
        study_id=study_id,
        processing_end=study.processing_end.isoformat(),
    )


def _probe_stored(content: ContentStore, obj: BlobObject, limits: AudioLimits) -> AudioInfo:
    # Probing the stored ciphertext, decrypted in memory, checks exactly what was kept and works
    # for streams that cannot be rewound (bot and web uploads).
    reader = StreamReader(lambda: content.read(obj), obj.plaintext_size)
    try:
        return probe(reader, limits)  # type: ignore[arg-type]
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


def recordable_codes(session: Session, study_id: str) -> list[str]:
    """The codes of the study's participants whose recording may be accepted now (rule 1).

    The same answer as ``consent.may_hold_recording`` for each of them, in two queries: the
    current decision on the recording item is the last one in record order, as
    ``consent.current_consent`` folds it.
    """
    get_study(session, study_id)
    item = load_definition(session, study_id).recording_item_id
    held = [state.value for state in HOLDS_CONSENT]
    rows = session.execute(
        select(Participant.code, ConsentDecision.granted)
        .join(ConsentRecord, ConsentRecord.participant_id == Participant.id)
        .join(ConsentDecision, ConsentDecision.record_id == ConsentRecord.id)
        .where(
            Participant.study_id == study_id,
            Participant.state.in_(held),
            ConsentDecision.item_id == item,
        )
        .order_by(ConsentRecord.id)
    )
    granted: dict[str, bool] = {}
    for code, decision in rows:
        granted[code] = decision
    return sorted(code for code, yes in granted.items() if yes)
