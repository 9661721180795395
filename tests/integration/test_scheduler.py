"""`fieldvault scheduler` owns the periodic tasks; `fieldvault worker` only takes jobs.

The in-process tests move a plain clock; the process tests run the real commands on the real
SQLite huey queue and wait for their log lines, never for a fixed time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from fieldvault.storage.db import transaction
from fieldvault.storage.locks import LockKey, process_lock
from fieldvault.storage.models import Notice
from fieldvault.storage.services import Services
from fieldvault.workers.queue import Worker, build_huey
from fieldvault.workers.scheduler import Scheduler

from .test_retention import DEADLINE, add_informant, identity, identity_strings
from .test_retention_scheduler import Clock, no_engine

BOUND_S = 60.0


def notice_kinds(services: Services) -> list[str]:
    with transaction(services.research) as session:
        return list(session.scalars(select(Notice.kind)))


def test_the_scheduler_sweeps_at_start_and_every_tenth_minute_itself_and_queues_nothing(
    services: Services, study_id: str
) -> None:
    code = add_informant(services, study_id, 1)
    clock = Clock(DEADLINE - dt.timedelta(minutes=25))
    worker = Worker(services, build_huey(services.settings), no_engine, clock=clock)
    scheduler = Scheduler(worker)

    assert scheduler.tick() == ["retention-sweep"]  # at start: the 1-day reminder, no deletion
    assert notice_kinds(services) == ["reminder"]
    assert services.vault.get(study_id, code) is not None
    clock.now += dt.timedelta(minutes=4)
    assert scheduler.tick() == []  # no tenth minute since the last look
    clock.now = DEADLINE + dt.timedelta(minutes=3)
    assert scheduler.tick() == ["retention-sweep"]
    assert services.vault.get(study_id, code) is None
    # It ran them itself: nothing waits on the queue for a worker.
    assert worker.huey.pending_count() == 0


class Heard(logging.Handler):
    """Sets an event for each phrase once a log line holding it was written."""

    def __init__(self, *phrases: str) -> None:
        super().__init__(logging.INFO)
        self.events = {phrase: threading.Event() for phrase in phrases}

    def emit(self, record: logging.LogRecord) -> None:
        for phrase, event in self.events.items():
            if phrase in record.getMessage():
                event.set()


@contextmanager
def heard(caplog: pytest.LogCaptureFixture, *phrases: str) -> Iterator[dict[str, threading.Event]]:
    caplog.set_level(logging.INFO, logger="fieldvault")
    handler = Heard(*phrases)
    logger = logging.getLogger("fieldvault")
    logger.addHandler(handler)
    try:
        yield handler.events
    finally:
        logger.removeHandler(handler)


def test_a_second_scheduler_stands_by_while_another_acts_and_takes_over_when_it_ends(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    code = add_informant(services, study_id, 1)
    worker = Worker(
        services, build_huey(services.settings), no_engine, clock=Clock(DEADLINE + dt.timedelta(1))
    )
    stop = threading.Event()
    done: list[int] = []
    runner = threading.Thread(target=lambda: done.append(Scheduler(worker).run(stop, poll_s=0.05)))
    with heard(caplog, "standing by", "scheduler: acting", "retention sweep:") as events:
        try:
            # Another scheduler acts (it holds the lock): this one stands by and sweeps nothing.
            with process_lock(services.research_engine, LockKey.SCHEDULER):
                runner.start()
                assert events["standing by"].wait(BOUND_S)
                assert not events["scheduler: acting"].is_set()
                assert services.vault.get(study_id, code) is not None
            # The other one is gone: this one acts, and its sweep deletes what is due.
            assert events["scheduler: acting"].wait(BOUND_S)
            assert events["retention sweep:"].wait(BOUND_S)
        finally:
            stop.set()
            runner.join(BOUND_S)
    assert done == [1]
    assert services.vault.get(study_id, code) is None


# --- the real commands --------------------------------------------------------------------------


def environment(services: Services, **extra: str) -> dict[str, str]:
    settings = services.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDVAULT_")}
    env |= {
        "FIELDVAULT_DATA_DIR": str(settings.data_dir),
        "FIELDVAULT_DATABASE_URL": settings.research_url,
        "FIELDVAULT_VAULT_URL": settings.linkage_url,
        **extra,
    }
    return env


@contextmanager
def running(services: Services, *args: str, **extra: str) -> Iterator[queue.Queue[str]]:
    """Run ``fieldvault ARGS``; its stderr lines arrive on the queue; SIGTERM at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldvault", *args],
        env=environment(services, **extra),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(BOUND_S) == 0
        reader.join(BOUND_S)


def wait_for(lines: queue.Queue[str], phrase: str, seen: list[str]) -> None:
    """Collect lines into ``seen`` until one holds ``phrase`` (bounded in time)."""
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if phrase in line:
            return
    raise AssertionError(f"no line with {phrase!r} in {BOUND_S} s; got {seen}")


@pytest.mark.slow
@pytest.mark.parametrize("periodic", [False, True], ids=["default", "--periodic"])
def test_fieldvault_worker_sweeps_only_when_told_to(
    services: Services, study_id: str, periodic: bool
) -> None:
    # The example study ended in 2021: a sweep at today's date deletes its informant.
    code = add_informant(services, study_id, 1)
    huey = build_huey(services.settings)
    # A task the worker can run without a model: it shows the worker's loop has gone round.
    Worker(services, huey, no_engine).pseudonymise(999_999)
    seen: list[str] = []
    args = ["worker", "--periodic"] if periodic else ["worker"]
    with running(services, *args) as lines:
        wait_for(lines, "pseudonymise transcript 999999: nothing-to-do", seen)
        if periodic:
            wait_for(lines, "retention sweep:", seen)
    if periodic:
        assert services.vault.get(study_id, code) is None
    else:
        # Nothing swept and nothing queued to sweep: that is `fieldvault scheduler`'s work.
        assert huey.pending_count() == 0
        assert services.vault.get(study_id, code) is not None
        assert notice_kinds(services) == []
        assert any("fieldvault scheduler" in line for line in seen)


@pytest.mark.slow
def test_the_scheduler_command_sweeps_and_its_json_log_lines_name_no_one(
    services: Services, study_id: str
) -> None:
    codes = [add_informant(services, study_id, n) for n in (1, 2)]
    seen: list[str] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with running(
        services, "scheduler", FIELDVAULT_LOG_FORMAT="json", FIELDVAULT_METRICS_PORT=str(port)
    ) as lines:
        wait_for(lines, "retention sweep:", seen)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            scraped = response.read().decode()
    # Its own metrics port tells what the sweep did (two informants deleted).
    assert 'fieldvault_sweeps_total{outcome="done"} 1.0' in scraped
    assert 'fieldvault_sweep_items_total{kind="deleted"} 2.0' in scraped
    assert study_id not in scraped
    for code in codes:
        assert services.vault.get(study_id, code) is None
    entries = [json.loads(line) for line in seen]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any("participant(s) deleted" in e["message"] for e in entries)
    text = "\n".join(seen)
    needles = [*identity_strings([1, 2]), *(str(identity(n).telegram_chat_id) for n in (1, 2))]
    assert [needle for needle in needles if needle and needle in text] == []


@pytest.mark.slow
def test_the_scheduler_at_a_given_time_sweeps_as_of_it_and_says_so(
    services: Services, running_study_id: str
) -> None:
    # The study ends in 2199: at today's date nothing is due; as of its end, its data goes.
    code = add_informant(services, running_study_id, 1)
    seen: list[str] = []
    with running(services, "scheduler", "--at", "2199-07-02T00:00") as lines:
        wait_for(lines, "retention sweep:", seen)
    assert any("running as of 2199-07-02T00:00:00+00:00" in line for line in seen)
    assert any("1 participant(s) deleted" in line for line in seen)
    assert services.vault.get(running_study_id, code) is None
    refused = subprocess.run(
        [sys.executable, "-m", "fieldvault", "scheduler", "--at", "next tuesday"],
        env=environment(services),
        capture_output=True,
        text=True,
        timeout=BOUND_S,
    )
    assert refused.returncode == 2
    assert "is not an ISO date-time" in refused.stderr
