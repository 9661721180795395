"""The sweep on a schedule: in the worker loop at start and every ten minutes, one at a time.

The worker's clock is a plain object the test moves; the queue is the real SQLite huey queue.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from sqlalchemy import select

from fieldvault.domain import retention
from fieldvault.services import Services
from fieldvault.storage.models import Notice
from fieldvault.workers import jobs
from fieldvault.workers.queue import Worker, build_huey
from fieldvault.workers.transcription import Engine

from .test_retention import DEADLINE, FakeNotifier, add_informant, steps_of


@dataclasses.dataclass
class Clock:
    """A clock the test sets by hand."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


def no_engine() -> Engine:
    raise AssertionError("the sweep must not load a Whisper model")


def sweeping_worker(services: Services, clock: Clock) -> Worker:
    return Worker(services, build_huey(services.settings), no_engine, scheduler=True, clock=clock)


def test_the_worker_sweeps_at_start_and_then_at_every_tenth_minute_of_its_clock(
    services: Services, study_id: str
) -> None:
    code = add_informant(services, study_id, 1)
    clock = Clock(DEADLINE - dt.timedelta(minutes=25))  # 21:35 UTC, 23:35 in Oslo
    worker = sweeping_worker(services, clock)

    # At start: one sweep, before the deadline; it sends the 1-day reminder and deletes nothing.
    assert worker.run(until_idle=True, poll_s=0.01) == 1
    assert services.vault.get(study_id, code) is not None
    with services.research() as session:
        assert session.scalars(select(Notice.kind)).all() == ["reminder"]
    # 21:39: no tenth minute since the last look, so nothing runs.
    clock.now += dt.timedelta(minutes=4)
    assert worker.run(until_idle=True, poll_s=0.01) == 0
    # 22:03: 21:40, 21:50 and 22:00 have passed; one sweep catches up, as of now.
    clock.now = DEADLINE + dt.timedelta(minutes=3)
    assert worker.run(until_idle=True, poll_s=0.01) == 1
    assert services.vault.get(study_id, code) is None
    assert "deletion.shred" in steps_of(services, study_id, code)
    # A worker that only queues jobs (upload) never sweeps.
    plain = Worker(services, build_huey(services.settings), no_engine, clock=clock)
    assert plain.run(until_idle=True, poll_s=0.01) == 0


def test_a_sweep_runs_only_once_at_a_time_and_the_second_steps_aside(
    services: Services, study_id: str
) -> None:
    codes = [add_informant(services, study_id, n) for n in (1, 2)]
    inside, release = threading.Event(), threading.Event()
    notifier = FakeNotifier(services)

    def hold(step: str) -> None:
        if step == "reminders":
            inside.set()
            assert release.wait(30)

    first: list[retention.SweepReport] = []
    sweeper = threading.Thread(
        target=lambda: first.append(
            retention.run_sweep(services, DEADLINE, notifier=notifier, on_step=hold)
        )
    )
    sweeper.start()
    try:
        assert inside.wait(30)
        with pytest.raises(retention.SweepBusy, match="another retention sweep is running"):
            retention.run_sweep(services, DEADLINE, notifier=notifier)
        # The worker's task takes the same lock and leaves the work to the running sweep.
        assert jobs.run_retention_sweep(services, DEADLINE) == "busy"
        # A preview changes nothing, so it needs no lock.
        assert retention.run_sweep(services, DEADLINE, dry_run=True).deleted == {
            study_id: sorted(codes)
        }
    finally:
        release.set()
        sweeper.join(30)

    [report] = first
    assert sorted(report.deleted[study_id]) == sorted(codes)
    # Each informant was told once, and the lock is free again once the sweep has ended.
    assert sorted(c for _, c, _ in notifier.informants) == sorted(codes)
    assert jobs.run_retention_sweep(services, DEADLINE + dt.timedelta(minutes=10)) == (
        "nothing-to-do"
    )
