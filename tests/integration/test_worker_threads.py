"""FIELDVAULT_WORKER_THREADS: one worker process runs that many jobs side by side."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from huey.api import Task
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR
from sqlalchemy import select, update

from fieldvault.config.settings import load_settings
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Transcript, TranscriptionJob, utcnow
from fieldvault.storage.services import Services
from fieldvault.workers import leases
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


class TakeOver:
    """The first thread to hear is held, the second waits in its engine too, until released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first: tuple[str, threading.Thread] | None = None
        self.first_in, self.release_first = threading.Event(), threading.Event()
        self.second_in, self.release_second = threading.Event(), threading.Event()

    def hear(self, name: str) -> None:
        with self._lock:
            first = self.first is None
            if first:
                self.first = (name, threading.current_thread())
        arrived, released = (
            (self.first_in, self.release_first) if first else (self.second_in, self.release_second)
        )
        arrived.set()
        if not released.wait(BOUND_S):
            raise TimeoutError("never released")


@dataclasses.dataclass
class TakenOverEngine:
    """An engine of one worker thread, which the shared ``TakeOver`` holds."""

    stage: TakeOver
    name: str
    model_name: str = "test"

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> TranscribeResult:
        self.stage.hear(self.name)
        return TranscribeResult(language or "nb", len(audio) / 16000, self._segments())

    def _segments(self) -> Iterator[Segment]:
        yield Segment(0.0, 2.0, "Hei.", -0.2, 0.01, 1.1)


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_stuck_thread_whose_lease_ran_out_cannot_write_over_the_job_its_neighbour_took(
    services: Services, study_id: str
) -> None:
    _, job_id = consented_with_recording(services, study_id, 1)
    stage = TakeOver()
    engines = [TakenOverEngine(stage, f"thread-{n}") for n in (1, 2)]
    workers = [
        Worker(services, build_huey(services.settings), lambda e=engine: e) for engine in engines
    ]
    first_finished = threading.Event()
    errors: list[BaseException] = []

    def finished(signal: str, task: Task, exc: BaseException | None = None) -> None:
        if exc is not None:
            errors.append(exc)
        if (
            task.name == "transcribe"
            and stage.first
            and stage.first[1] is threading.current_thread()
        ):
            first_finished.set()

    for worker in workers:
        worker.huey.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)(finished)
    stop = threading.Event()
    loops = threading.Thread(target=run_threads, args=(workers,), kwargs={"stop": stop})
    loops.start()
    try:
        assert stage.first_in.wait(BOUND_S)
        # The first thread is stuck inside its engine and its lease runs out: the other
        # thread's dispatch queues the job again and takes it over.
        with transaction(services.research) as session:
            session.execute(
                update(TranscriptionJob)
                .where(TranscriptionJob.id == job_id)
                .values(lease_until=utcnow() - dt.timedelta(seconds=1))
            )
        assert stage.second_in.wait(BOUND_S)
        # The first comes back while the second holds the job: its result is refused.
        stage.release_first.set()
        assert first_finished.wait(BOUND_S)
        with transaction(services.research) as session:
            assert session.scalars(select(Transcript)).all() == []
            job = session.get(TranscriptionJob, job_id)
            assert job is not None
            assert (job.state, job.attempts) == ("running", 2)
        stage.release_second.set()

        def done() -> bool:
            with transaction(services.research) as session:
                return (
                    session.scalar(
                        select(TranscriptionJob.state).where(TranscriptionJob.id == job_id)
                    )
                    == "done"
                )

        _wait_for(done, "the second thread's transcript")
    finally:
        stop.set()
        stage.release_first.set()
        stage.release_second.set()
        loops.join(BOUND_S)
    assert not errors
    assert stage.first is not None
    with transaction(services.research) as session:
        engines_heard = session.scalars(select(Transcript.engine)).all()
    second = next(e.name for e in engines if e.name != stage.first[0])
    assert engines_heard == [second]  # exactly one transcript: the second thread's


def test_threads_of_one_process_claim_apart_and_a_gone_thread_is_a_gone_holder() -> None:
    claims: list[str] = []
    thread = threading.Thread(target=lambda: claims.append(leases.worker_id()))
    thread.start()
    thread.join()
    assert claims[0] != leases.worker_id()
    host, pid, _ = leases.worker_id().split(":")
    assert (host, pid) == (socket.gethostname(), str(os.getpid()))
    assert leases._holder_gone(claims[0])  # its thread has ended
    assert not leases._holder_gone(leases.worker_id())
    assert not leases._holder_gone(f"{host}:{pid}")  # a claim from before: this process lives
