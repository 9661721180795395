"""The task queue (huey) and the worker loop: SQLite in the data dir by default, Redis at scale.

The queue carries job ids only. Tasks are registered on a queue built per process, so importing
this module starts nothing; the worker process builds its services and engine once, lazily.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import Task

from fieldvault.config.settings import Settings
from fieldvault.services import Services
from fieldvault.workers import jobs, weights
from fieldvault.workers.transcription import Engine, FasterWhisperEngine, OpenAIWhisperEngine

log = logging.getLogger(__name__)

QUEUE_NAME = "fieldvault"
RETRIES = 4
RETRY_DELAY_S = 10
RETRY_BACKOFF = 3.0  # 10 s, 30 s, 90 s, 270 s


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
        model_name=settings.whisper_model,
    )


@dataclass
class Worker:
    """A queue with the transcription task, bound to one process's services and engine."""

    services: Services
    huey: Huey
    engine_factory: Callable[[], Engine]
    _engine: Engine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    transcribe: Any = None

    def __post_init__(self) -> None:
        @self.huey.task(
            retries=RETRIES,
            retry_delay=RETRY_DELAY_S,
            retry_backoff=RETRY_BACKOFF,
            name="transcribe",
        )
        def transcribe(job_id: int) -> str:
            outcome = jobs.run_transcription(self.services, self.engine(), job_id)
            log.info("job %s: %s", job_id, outcome.status)
            return outcome.status

        self.transcribe = transcribe

    def engine(self) -> Engine:
        """The engine, loaded on first use (uploading needs no model)."""
        with self._lock:
            if self._engine is None:
                self._engine = self.engine_factory()
            return self._engine

    def dispatch(self) -> list[int]:
        """Put new and orphaned jobs on the queue."""
        return jobs.dispatch_pending(self.services, lambda job_id: self.transcribe(job_id))

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
            self.dispatch()
            if self.run_once():
                done += 1
                continue
            # Retries wait in the schedule with back-off; idle means none of those either.
            if until_idle and self.huey.scheduled_count() == 0:
                break
            stop.wait(poll_s)
        return done
