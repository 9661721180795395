"""FIELDVAULT_WORKER_THREADS: one worker process runs that many jobs side by side."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select

from fieldvault.config.settings import load_settings
from fieldvault.storage.db import transaction
from fieldvault.storage.models import TranscriptionJob
from fieldvault.storage.services import Services
from fieldvault.workers.queue import Worker, build_huey, run_threads
from fieldvault.workers.transcription import Segment, TranscribeResult

from .test_retention_withdrawal import consented_with_recording

BOUND_S = 30.0


@dataclasses.dataclass
class MeetingEngine:
    """Hears one sentence, but only once as many transcriptions as the barrier's run at once."""

    barrier: threading.Barrier
    name: str = "meeting"
    model_name: str = "test"

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> TranscribeResult:
        self.barrier.wait()  # BrokenBarrierError after BOUND_S when the jobs run one by one
        return TranscribeResult(language or "nb", len(audio) / 16000, self._segments())

    def _segments(self) -> Iterator[Segment]:
        yield Segment(0.0, 2.0, "Hei.", -0.2, 0.01, 1.1)


def test_two_worker_threads_transcribe_two_recordings_at_the_same_time(
    services: Services, study_id: str
) -> None:
    jobs = [consented_with_recording(services, study_id, n)[1] for n in (1, 2)]
    barrier = threading.Barrier(2, timeout=BOUND_S)
    engines = [MeetingEngine(barrier), MeetingEngine(barrier)]  # a model per thread
    workers = [
        Worker(services, build_huey(services.settings), lambda e=engine: e) for engine in engines
    ]
    # Both transcriptions met inside the engine, then each queued and ran its pseudonymise task
    # (a job both threads' first dispatch queued runs once; its duplicate message is skipped).
    assert run_threads(workers, until_idle=True) >= 4
    assert not barrier.broken
    with transaction(services.research) as session:
        states = session.scalars(
            select(TranscriptionJob.state).where(TranscriptionJob.id.in_(jobs))
        ).all()
    assert states == ["done", "done"]


def test_a_worker_thread_that_fails_stops_the_others_and_its_error_is_raised(
    services: Services,
) -> None:
    class Broken(Worker):
        def run(self, **_: object) -> int:
            raise RuntimeError("the queue is gone")

    stop = threading.Event()
    healthy = Worker(services, build_huey(services.settings), lambda: MeetingEngine(None))  # type: ignore[arg-type]
    broken = Broken(services, build_huey(services.settings), lambda: MeetingEngine(None))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="the queue is gone"):
        run_threads([healthy, broken], stop=stop)  # the healthy loop would run until stopped
    assert stop.is_set()


def test_worker_threads_are_bounded() -> None:
    assert load_settings(environ={"FIELDVAULT_WORKER_THREADS": "4"}).worker_threads == 4
    with pytest.raises(Exception, match="FIELDVAULT_WORKER_THREADS"):
        load_settings(environ={"FIELDVAULT_WORKER_THREADS": "0"})
