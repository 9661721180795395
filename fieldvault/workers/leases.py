"""Who runs a transcription job: claims by compare-and-set, leases, heartbeats, dispatch.

The database row is the truth and the queue only carries job ids. A job is claimed with a
compare-and-set on its attempt counter and a lease that a heartbeat renews; a worker that
dies (even by SIGKILL) leaves a lease that expires, or a pid on this host that is gone, and the
next dispatch queues the job again.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy import select, update

from fieldvault.storage.db import transaction
from fieldvault.storage.models import TranscriptionJob, as_utc, utcnow
from fieldvault.storage.services import Services

LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 5
# Longer than the longest retry back-off of the queue (see workers/queue.py).
STALE_ENQUEUE = dt.timedelta(minutes=15)
# Why a result is discarded, which is also the job's final state.
WITHDRAWN = "withdrawn"  # the participant no longer consents to holding the recording
DELETED = "deleted"  # the recording's ciphertext is gone (a purge or the deadline)
FINAL_STATES = frozenset({"done", "failed", WITHDRAWN, DELETED})


def worker_id() -> str:
    """Name the calling thread's claim ``host:pid:thread``.

    A worker on the same host sees a dead holder by its pid, and the threads of one process
    (`worker_threads`) never share a claim: a thread whose lease ran out while it was stuck
    cannot write over the job another thread of its process took over.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_native_id()}"


def _holder_gone(claimed_by: str | None) -> bool:
    if not claimed_by:
        return True
    # ``host:pid:thread``; ``host:pid`` from before threads had claims of their own.
    parts = claimed_by.split(":")
    if len(parts) not in (2, 3):
        return False
    host, pid, *thread = parts
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        # This process is alive: the holder is gone when its thread is.
        return bool(thread) and thread[0] not in {str(t.native_id) for t in threading.enumerate()}
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
