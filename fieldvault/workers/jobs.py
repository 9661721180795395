"""The transcription job: claim by id, decode in memory, transcribe, store encrypted, once.

The database row is the truth and the queue only carries job ids. A job is claimed with a
compare-and-set on its attempt counter and a lease that progress updates renew; a worker that
dies (even by SIGKILL) leaves a lease that expires, or a pid on this host that is gone, and the
next sweep queues the job again. The transcript row is unique per recording and written in the
same transaction that marks the job done, so a job run twice still yields one transcript.

A job must not bring back what a withdrawal (or the deadline) destroyed. It asks whether the
recording may still be held before it starts, at every progress update and, last, inside the
transaction that stores the transcript, after the audit append has taken the lock that every
audited write (a withdrawal too) waits for: a withdrawal is then either seen by that check, or
commits after the transcript and its purge destroys it. A job that may not keep its result
discards it (no transcript row, no ciphertext), ends in state ``withdrawn`` or ``deleted`` and
leaves a ``transcript.discarded`` audit event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.recordings import diarization_speakers, recording_limits, speaker_label
from fieldvault.domain.speakers import guess_roles
from fieldvault.media.decode import Piece, decode_pieces
from fieldvault.media.probe import AudioProblem, AudioTooLong, AudioTooManyStreams, StreamReader
from fieldvault.storage import audit
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    Participant,
    Recording,
    RecordingTrack,
    Transcript,
    TranscriptionJob,
    utcnow,
)
from fieldvault.storage.services import Services
from fieldvault.workers.diarization import Diarizer, Listening
from fieldvault.workers.leases import (
    DELETED,
    LEASE,
    MAX_ATTEMPTS,
    WITHDRAWN,
    Heartbeat,
    LostLease,
    claim,
    worker_id,
)
from fieldvault.workers.transcription import Engine, Segment, hear_pieces
from fieldvault.workers.turns import label_speakers

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 2.0


class Discard(Exception):
    """The recording may no longer be held: the job's result must not be stored."""

    def __init__(self, reason: str) -> None:
        """``reason`` is WITHDRAWN or DELETED."""
        super().__init__(reason)
        self.reason = reason


def discard_reason(session: Session, recording_id: int) -> str | None:
    """Why a result of this recording may not be stored now, or None when it may."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        return DELETED
    # Read the participant afresh: the session may hold it as loaded before a withdrawal.
    participant = session.scalars(
        select(Participant)
        .where(Participant.id == recording.participant_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if participant is None or not consent.may_hold_recording(session, participant):
        return WITHDRAWN
    gone = session.scalar(
        select(func.count())
        .select_from(RecordingTrack)
        .join(BlobObject, BlobObject.object_id == RecordingTrack.object_id)
        .where(RecordingTrack.recording_id == recording_id, BlobObject.deleted_at.is_not(None))
    )
    return DELETED if gone else None


@dataclass(frozen=True)
class Outcome:
    """What running a job did."""

    job_id: int
    status: str  # done | skipped | already-done | failed (over a limit)
    segments: int = 0
    suspects: int = 0
    transcript_id: int | None = None  # set when done: the pseudonymise job follows on it


def run_transcription(
    services: Services, engine: Engine, job_id: int, diarizer: Diarizer | None = None
) -> Outcome:
    """Claim and run one transcription job; raise to let the queue retry it.

    With a ``diarizer``, a single-track recording's speakers are told apart (per-speaker
    tracks keep their track's speaker).
    """
    me = worker_id()
    if not claim(services, job_id, me, utcnow()):
        return Outcome(job_id, "skipped")
    try:
        return _run_claimed(services, engine, job_id, me, diarizer)
    except LostLease:
        return Outcome(job_id, "skipped")
    except Discard as stop:
        return _discard(services, job_id, me, stop.reason)
    except Exception as exc:
        # Reading a recording whose keys a purge just destroyed fails: that is no error to retry.
        with transaction(services.research) as session:
            job = session.get(TranscriptionJob, job_id)
            reason = discard_reason(session, job.recording_id) if job is not None else None
        if reason is not None:
            return _discard(services, job_id, me, reason)
        if isinstance(exc, AudioProblem):  # over a limit: retrying cannot help
            return _refuse(services, job_id, me, exc)
        _record_failure(services, job_id, me, exc)
        raise


def _discard(services: Services, job_id: int, me: str, reason: str) -> Outcome:
    """End a job whose result may not be kept: final state ``reason``, and an audit event."""
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        if job is None or job.claimed_by != me:
            return Outcome(job_id, "skipped")
        recording = session.get(Recording, job.recording_id)
        assert recording is not None
        participant = session.get(Participant, recording.participant_id)
        now = utcnow()
        job.state, job.finished_at, job.claimed_by, job.lease_until = reason, now, None, None
        job.eta_s, job.error = None, None
        audit.append(
            session,
            audit.Event.TRANSCRIPT_DISCARDED,
            actor="worker",
            study_id=recording.study_id,
            participant_code=participant.code if participant is not None else None,
            details={"recording_id": recording.id, "job": job_id, "reason": reason},
            at=now,
        )
    log.info("job %s: result discarded (%s)", job_id, reason)
    return Outcome(job_id, reason)


def _refuse(services: Services, job_id: int, me: str, problem: AudioProblem) -> Outcome:
    """End a job whose recording is over a limit: state ``failed``, the reason, no retry."""
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        if job is None or job.claimed_by != me:
            return Outcome(job_id, "skipped")
        job.state, job.finished_at, job.claimed_by, job.lease_until = "failed", utcnow(), None, None
        job.eta_s = None
        # The limits' own words (durations and counts), never a decoder's.
        job.error = f"attempt {job.attempts}: refused: {problem}"
    log.warning("job %s: refused (%s)", job_id, problem)
    return Outcome(job_id, "failed")


def _over_limits(
    services: Services, tracks: Sequence[tuple[RecordingTrack, BlobObject]]
) -> AudioProblem | None:
    """Why a recording (kept before today's limits) may not be decoded, or None when it may."""
    limits = recording_limits(services.settings)
    if len(tracks) > limits.max_streams:
        return AudioTooManyStreams(
            f"has {len(tracks)} tracks; a recording may have at most {limits.max_streams}",
            streams=len(tracks),
            limit=limits.max_streams,
        )
    for track, _ in tracks:
        if track.duration_s > limits.max_duration_s:
            over = limits.too_long(track.duration_s)
            return AudioTooLong(
                f"track {track.position + 1} {over}",
                duration_s=round(track.duration_s, 1),
                limit_s=limits.max_duration_s,
            )
    return None


def _record_failure(services: Services, job_id: int, me: str, exc: Exception) -> None:
    # Only the exception type: messages of decoders and engines may quote file content.
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        if job is None or job.claimed_by != me:
            return
        job.error = f"attempt {job.attempts}: {type(exc).__name__}"
        job.state = "failed" if job.attempts >= MAX_ATTEMPTS else "queued"
        job.claimed_by = None
        job.lease_until = None
        # Left queued with enqueued_at set: the queue's own retry (with back-off) runs it again.


def _run_claimed(
    services: Services, engine: Engine, job_id: int, me: str, diarizer: Diarizer | None
) -> Outcome:
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        assert job is not None
        recording = session.get(Recording, job.recording_id)
        assert recording is not None
        participant = session.get(Participant, recording.participant_id)
        assert participant is not None
        rows = session.execute(
            select(RecordingTrack, BlobObject)
            .join(BlobObject, BlobObject.object_id == RecordingTrack.object_id)
            .where(RecordingTrack.recording_id == recording.id)
            .order_by(RecordingTrack.position)
        ).all()
        tracks = list(rows)
        already = session.scalar(select(Transcript).where(Transcript.recording_id == recording.id))
        code = participant.code
        speakers = diarization_speakers(session, recording)
        reason = discard_reason(session, recording.id)
    if reason is not None:
        raise Discard(reason)
    if already is not None:
        _finish(services, job_id, me)
        return Outcome(job_id, "already-done")
    over = _over_limits(services, tracks)
    if over is not None:
        raise over

    heartbeat = Heartbeat(services, job_id, me)
    heartbeat.start()
    try:
        run = _Run(services, engine, job_id, me, heartbeat, recording, code, diarizer, speakers)
        return _transcribe(run, tracks)
    finally:
        heartbeat.stop()


@dataclass(frozen=True)
class _Run:
    """One claimed run of a job: what every step of transcribing and storing it needs."""

    services: Services
    engine: Engine
    job_id: int
    me: str
    heartbeat: Heartbeat
    recording: Recording
    code: str
    diarizer: Diarizer | None = None  # for a single track: who speaks when
    speakers: int = 2  # how many voices the diarizer finds


def _transcribe(run: _Run, tracks: Sequence[tuple[RecordingTrack, BlobObject]]) -> Outcome:
    services, engine, job_id, recording, code = (
        run.services,
        run.engine,
        run.job_id,
        run.recording,
        run.code,
    )
    segments, detected = _hear(run, tracks)
    suspects = sum(1 for s in segments if s.suspect)
    document = {
        "recording_id": recording.id,
        "language": detected or "unknown",
        "engine": engine.name,
        "model": engine.model_name,
        "duration_s": recording.duration_s,
        "suspect_count": suspects,
        "segments": [s.as_dict() for s in segments],
    }
    payload = json.dumps(document, ensure_ascii=False).encode("utf-8")
    written: list[str] = []
    try:
        transcript_id = _store_transcript(run, document, payload, written)
    except Discard:
        _delete(services, written)
        _drop_unused_key(services, recording, code)
        raise
    except IntegrityError:
        # Another worker stored the transcript first: drop this copy's ciphertext.
        _delete(services, written)
        _finish(services, job_id, None)
        return Outcome(job_id, "already-done")
    except BaseException:  # LostLease and anything else: the ciphertext must not stay
        _delete(services, written)
        raise
    return Outcome(job_id, "done", len(segments), suspects, transcript_id)


def _delete(services: Services, object_ids: list[str]) -> None:
    """Remove the ciphertext a failed store wrote."""
    for object_id in object_ids:
        services.content.blobs.delete(object_id)


def _hear(
    run: _Run, tracks: Sequence[tuple[RecordingTrack, BlobObject]]
) -> tuple[list[Segment], str | None]:
    """Decode and transcribe each track in turn; the segments by time, and the language.

    A single track is diarized too, piece by piece as it is decoded (only voice prints are
    kept), and its segments are split and labelled by speaker at the end of the track.
    """
    services, engine, recording = run.services, run.engine, run.recording
    total = sum(track.duration_s for track, _ in tracks) or 1.0
    done_before = 0.0
    started = time.monotonic()
    last_update = 0.0
    segments: list[Segment] = []
    detected = recording.language
    limits = recording_limits(services.settings)
    for track, obj in tracks:
        reader = StreamReader(partial(services.content.read, obj), obj.plaintext_size)
        # Piece by piece (about ten minutes each), so memory does not grow with the duration.
        pieces = decode_pieces(reader, limits=limits)  # type: ignore[arg-type]
        listening = run.diarizer.listen() if run.diarizer and len(tracks) == 1 else None
        heard: list[Segment] = []
        try:
            # The lazy generator runs here, in this process.
            pieces_heard = pieces if listening is None else _listened(pieces, listening)
            for segment, language in hear_pieces(engine, pieces_heard, recording.language):
                detected = detected or language
                segment.speaker = speaker_label(track.position, len(tracks))
                heard.append(segment)
                if run.heartbeat.lost:
                    raise LostLease()
                if time.monotonic() - last_update >= PROGRESS_EVERY_S:
                    last_update = time.monotonic()
                    share = (done_before + segment.end) / total
                    _progress(services, run.job_id, run.me, share, started, recording.id)
        finally:
            pieces.close()
            reader.close()
        if listening is not None:
            heard = label_speakers(heard, listening.turns(run.speakers))
        segments.extend(heard)
        done_before += track.duration_s
    # By the first word's start (segments are trimmed to their words): Whisper's own segment
    # start can be seconds early after a silence, which put answers before their questions.
    segments.sort(key=lambda s: (s.start, s.speaker))
    return segments, detected


def _listened(pieces: Iterable[Piece], listening: Listening) -> Iterator[Piece]:
    """The pieces, each heard by the diarizer before the engine transcribes it."""
    for piece in pieces:
        listening.add(piece.samples, piece.offset_s)
        yield piece


def _store_transcript(
    run: _Run, document: dict[str, Any], payload: bytes, written: list[str]
) -> int:
    """Store the raw transcript once, in the job's own transaction; return its id.

    ``written`` gets the blob's id as soon as it exists, so the caller can remove it when
    this raises (LostLease, Discard, IntegrityError, anything).
    """
    services, engine, recording, code = run.services, run.engine, run.recording, run.code
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, run.job_id, with_for_update=True)
        if job is None or job.claimed_by != run.me:
            raise LostLease()
        now = utcnow()
        obj = services.content.put(
            session,
            study_id=recording.study_id,
            participant_id=recording.participant_id,
            participant_code=code,
            kind=BlobKind.RAW_TRANSCRIPT,
            source=[payload],
            now=now,
        )
        written.append(obj.object_id)
        transcript = Transcript(
            recording_id=recording.id,
            object_id=obj.object_id,
            language=str(document["language"]),
            engine=engine.name,
            model=engine.model_name,
            segment_count=len(document["segments"]),
            suspect_count=document["suspect_count"],
            created_at=now,
        )
        session.add(transcript)
        session.flush()
        # The first guess of who is the interviewer, from the text in memory: only roles and
        # counts are stored (domain/speakers.py); the researcher confirms it in review.
        guess_roles(session, transcript.id, document["segments"], now=now)
        _audit_transcript(session, run, document, now)
        # The append holds the audit lock until commit, and a withdrawal appends too: what
        # this check sees stays true until the transcript is committed (module docstring).
        reason = discard_reason(session, recording.id)
        if reason is not None:
            raise Discard(reason)
        job.state, job.progress, job.eta_s = "done", 1.0, 0.0
        job.finished_at, job.claimed_by, job.lease_until = now, None, None
        participant_row = session.get(Participant, recording.participant_id)
        if participant_row is not None and State(participant_row.state) is State.INTERVIEWED:
            consent.transition(participant_row, State.TRANSCRIBED, now)
        transcript_id: int = transcript.id
    return transcript_id


def _audit_transcript(
    session: Session, run: _Run, document: dict[str, Any], now: dt.datetime
) -> None:
    """Append ``transcript.created``: counts and the model, never a word of the text."""
    audit.append(
        session,
        audit.Event.TRANSCRIPT_CREATED,
        actor=f"worker:{run.engine.name}",
        study_id=run.recording.study_id,
        participant_code=run.code,
        details={
            "recording_id": run.recording.id,
            "segments": len(document["segments"]),
            "suspect_segments": document["suspect_count"],
            "model": run.engine.model_name,
        },
        at=now,
    )


def _drop_unused_key(services: Services, recording: Recording, code: str) -> None:
    """Destroy the raw-transcript key a discarded result created, unless a live blob uses it."""
    with transaction(services.research) as session:
        live = session.scalar(
            select(func.count())
            .select_from(BlobObject)
            .where(
                BlobObject.participant_id == recording.participant_id,
                BlobObject.kind == BlobKind.RAW_TRANSCRIPT,
                BlobObject.deleted_at.is_(None),
            )
        )
    if not live:
        services.content.keys.shred(recording.study_id, code, [BlobKind.RAW_TRANSCRIPT])


def _progress(
    services: Services, job_id: int, me: str, share: float, started: float, recording_id: int
) -> None:
    share = min(max(share, 0.0), 0.999)
    elapsed = time.monotonic() - started
    eta = elapsed * (1 - share) / share if share > 0 else None
    now = utcnow()
    with transaction(services.research) as session:
        renewed = session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job_id, TranscriptionJob.claimed_by == me)
            .values(progress=share, eta_s=eta, lease_until=now + LEASE)
        ).rowcount  # type: ignore[attr-defined]
        reason = discard_reason(session, recording_id) if renewed else None
    if not renewed:
        raise LostLease()
    if reason is not None:
        raise Discard(reason)  # stop at once: a withdrawn recording is not worth finishing


def _finish(services: Services, job_id: int, me: str | None) -> None:
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        if job is not None and job.state != "done" and (me is None or job.claimed_by == me):
            job.state, job.progress, job.claimed_by, job.lease_until = "done", 1.0, None, None
            job.finished_at = utcnow()
