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
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fieldvault.domain import consent, retention
from fieldvault.domain.consent import State
from fieldvault.domain.notices import LogNotifier, Notifier
from fieldvault.domain.recordings import speaker_label
from fieldvault.media.decode import decode
from fieldvault.media.probe import StreamReader
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    Participant,
    Recording,
    RecordingTrack,
    Transcript,
    TranscriptionJob,
    as_utc,
    utcnow,
)
from fieldvault.storage.services import Services
from fieldvault.workers.transcription import Engine, Segment

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)
PROGRESS_EVERY_S = 2.0
MAX_ATTEMPTS = 5
# Longer than the longest retry back-off of the queue (see workers/queue.py).
STALE_ENQUEUE = dt.timedelta(minutes=15)
# Why a result is discarded, which is also the job's final state.
WITHDRAWN = "withdrawn"  # the participant no longer consents to holding the recording
DELETED = "deleted"  # the recording's ciphertext is gone (a purge or the deadline)
FINAL_STATES = frozenset({"done", "failed", WITHDRAWN, DELETED})


def worker_id() -> str:
    """Name this process ``host:pid``, so a worker on the same host sees a dead holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_gone(claimed_by: str | None) -> bool:
    if not claimed_by:
        return True
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _takeover_allowed(job: TranscriptionJob, now: dt.datetime) -> bool:
    if job.state != "running":
        return False
    expired = job.lease_until is None or as_utc(job.lease_until) < now
    return expired or _holder_gone(job.claimed_by)


def dispatch_pending(services: Services, enqueue: Callable[[int], None]) -> list[int]:
    """Queue jobs never queued and jobs whose worker died; return their ids."""
    now = utcnow()
    queued: list[int] = []
    with transaction(services.research) as session:
        jobs = session.scalars(
            select(TranscriptionJob).where(TranscriptionJob.state.in_(["queued", "running"]))
        ).all()
    for job in jobs:
        # A queued job whose message went missing (a worker killed between taking the message
        # and claiming the job) is queued again after a while; a duplicate message is harmless
        # because only one claim can win.
        if (
            job.state == "queued"
            and job.enqueued_at is not None
            and as_utc(job.enqueued_at) > now - STALE_ENQUEUE
        ):
            continue
        if job.state == "running" and not _takeover_allowed(job, now):
            continue
        with transaction(services.research) as session:
            # Compare-and-set on the attempt counter: of several sweeping workers one wins.
            won = session.execute(
                update(TranscriptionJob)
                .where(
                    TranscriptionJob.id == job.id,
                    TranscriptionJob.attempts == job.attempts,
                    TranscriptionJob.state == job.state,
                )
                .values(state="queued", claimed_by=None, lease_until=None, enqueued_at=now)
            ).rowcount  # type: ignore[attr-defined]
        if not won:
            continue
        try:
            enqueue(job.id)
        except Exception:
            # The queue is unreachable (Redis down): leave the job for the next sweep.
            with transaction(services.research) as session:
                session.execute(
                    update(TranscriptionJob)
                    .where(TranscriptionJob.id == job.id, TranscriptionJob.state == "queued")
                    .values(enqueued_at=None)
                )
            raise
        queued.append(job.id)
    return queued


def claim(services: Services, job_id: int, me: str, now: dt.datetime) -> bool:
    """Take job ``job_id`` for this worker; False when it is done, failed or held by a live one."""
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        if job is None or job.state in FINAL_STATES:
            return False
        if job.state == "running" and not _takeover_allowed(job, now):
            return False
        observed_attempts, observed_state = job.attempts, job.state
    with transaction(services.research) as session:
        won = session.execute(
            update(TranscriptionJob)
            .where(
                TranscriptionJob.id == job_id,
                TranscriptionJob.attempts == observed_attempts,
                TranscriptionJob.state == observed_state,
            )
            .values(
                state="running",
                claimed_by=me,
                lease_until=now + LEASE,
                attempts=observed_attempts + 1,
                started_at=now,
                progress=0.0,
                eta_s=None,
                error=None,
            )
        ).rowcount  # type: ignore[attr-defined]
    return bool(won)


class LostLease(Exception):
    """Another worker took the job over (this one was presumed dead)."""


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
    status: str  # done | skipped | already-done
    segments: int = 0
    suspects: int = 0
    transcript_id: int | None = None  # set when done: the pseudonymise job follows on it


def run_transcription(services: Services, engine: Engine, job_id: int) -> Outcome:
    """Claim and run one transcription job; raise to let the queue retry it."""
    me = worker_id()
    if not claim(services, job_id, me, utcnow()):
        return Outcome(job_id, "skipped")
    try:
        return _run_claimed(services, engine, job_id, me)
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


def _run_claimed(services: Services, engine: Engine, job_id: int, me: str) -> Outcome:
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
        reason = discard_reason(session, recording.id)
    if reason is not None:
        raise Discard(reason)
    if already is not None:
        _finish(services, job_id, me)
        return Outcome(job_id, "already-done")

    heartbeat = Heartbeat(services, job_id, me)
    heartbeat.start()
    try:
        return _transcribe(services, engine, job_id, me, heartbeat, recording, tracks, code)
    finally:
        heartbeat.stop()


class Heartbeat(threading.Thread):
    """Renews the job's lease while this worker holds it, even while an engine is busy."""

    def __init__(self, services: Services, job_id: int, me: str) -> None:
        """Renew every third of the lease."""
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self._services, self._job_id, self._me = services, job_id, me
        self._stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        """Renew until stopped or the lease is lost."""
        while not self._stopped.wait(LEASE.total_seconds() / 3):
            with transaction(self._services.research) as session:
                renewed = session.execute(
                    update(TranscriptionJob)
                    .where(
                        TranscriptionJob.id == self._job_id, TranscriptionJob.claimed_by == self._me
                    )
                    .values(lease_until=utcnow() + LEASE)
                ).rowcount  # type: ignore[attr-defined]
            if not renewed:
                self.lost = True
                return

    def stop(self) -> None:
        """Stop renewing."""
        self._stopped.set()


def _transcribe(
    services: Services,
    engine: Engine,
    job_id: int,
    me: str,
    heartbeat: Heartbeat,
    recording: Recording,
    tracks: Sequence[tuple[RecordingTrack, BlobObject]],
    code: str,
) -> Outcome:
    study_id, language = recording.study_id, recording.language
    total = sum(track.duration_s for track, _ in tracks) or 1.0
    done_before = 0.0
    started = time.monotonic()
    last_update = 0.0
    segments: list[Segment] = []
    detected = language
    for track, obj in tracks:
        reader = StreamReader(partial(services.content.read, obj), obj.plaintext_size)
        try:
            audio = decode(reader)  # type: ignore[arg-type]
        finally:
            reader.close()
        result = engine.transcribe(audio, language)
        del audio
        detected = detected or result.language
        for segment in result.segments:  # the lazy generator runs here, in this process
            segment.speaker = speaker_label(track.position, len(tracks))
            segments.append(segment)
            if heartbeat.lost:
                raise LostLease()
            if time.monotonic() - last_update >= PROGRESS_EVERY_S:
                last_update = time.monotonic()
                share = (done_before + segment.end) / total
                _progress(services, job_id, me, share, started, recording.id)
        done_before += track.duration_s
    segments.sort(key=lambda s: (s.start, s.speaker))
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
    object_id: str | None = None
    try:
        with transaction(services.research) as session:
            job = session.get(TranscriptionJob, job_id, with_for_update=True)
            if job is None or job.claimed_by != me:
                raise LostLease()
            now = utcnow()
            obj = services.content.put(
                session,
                study_id=study_id,
                participant_id=recording.participant_id,
                participant_code=code,
                kind="raw_transcript",
                source=[payload],
                now=now,
            )
            object_id = obj.object_id
            transcript = Transcript(
                recording_id=recording.id,
                object_id=obj.object_id,
                language=str(document["language"]),
                engine=engine.name,
                model=engine.model_name,
                segment_count=len(segments),
                suspect_count=suspects,
                created_at=now,
            )
            session.add(transcript)
            session.flush()
            transcript_id = transcript.id
            audit.append(
                session,
                audit.Event.TRANSCRIPT_CREATED,
                actor=f"worker:{engine.name}",
                study_id=study_id,
                participant_code=code,
                details={
                    "recording_id": recording.id,
                    "segments": len(segments),
                    "suspect_segments": suspects,
                    "model": engine.model_name,
                },
                at=now,
            )
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
    except Discard:
        if object_id is not None:
            services.content.blobs.delete(object_id)
        _drop_unused_key(services, recording, code)
        raise
    except LostLease:
        if object_id is not None:
            services.content.blobs.delete(object_id)
        raise
    except IntegrityError:
        # Another worker stored the transcript first: drop this copy's ciphertext.
        if object_id is not None:
            services.content.blobs.delete(object_id)
        _finish(services, job_id, None)
        return Outcome(job_id, "already-done")
    except BaseException:
        if object_id is not None:
            services.content.blobs.delete(object_id)
        raise
    return Outcome(job_id, "done", len(segments), suspects, transcript_id)


def _drop_unused_key(services: Services, recording: Recording, code: str) -> None:
    """Destroy the raw-transcript key a discarded result created, unless a live blob uses it."""
    with transaction(services.research) as session:
        live = session.scalar(
            select(func.count())
            .select_from(BlobObject)
            .where(
                BlobObject.participant_id == recording.participant_id,
                BlobObject.kind == "raw_transcript",
                BlobObject.deleted_at.is_(None),
            )
        )
    if not live:
        services.content.keys.shred(recording.study_id, code, ["raw_transcript"])


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


def run_retention_sweep(
    services: Services, now: dt.datetime, notifier: Notifier | None = None
) -> str:
    """The periodic sweep task: reminders, due deletions, unfinished purges; returns a status.

    ``notifier`` is what the composition root built (the bot's when a token is set); without
    one, notices go to the log. It is closed when the sweep ends.
    """
    notifier = LogNotifier() if notifier is None else notifier
    try:
        report = retention.run_sweep(services, now, notifier=notifier)
    except retention.SweepBusy:
        return "busy"  # another worker's sweep is doing the work
    finally:
        close = getattr(notifier, "close", None)
        if callable(close):
            close()
    if report.nothing_to_do:
        return "nothing-to-do"
    deleted = sum(len(codes) for codes in report.deleted.values())
    return (
        f"{len(report.reminders)} reminder(s), {deleted} participant(s) deleted, "
        f"{len(report.withdrawals)} withdrawal purge(s) completed, notices {dict(report.notices)}"
    )
