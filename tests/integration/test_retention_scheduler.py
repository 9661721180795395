"""The sweep on a schedule: in the worker loop at start and every ten minutes, one at a time.

The worker's clock is a plain object the test moves; the queue is the real SQLite huey queue.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select

from fieldvault.domain import retention, studies
from fieldvault.domain.recordings import read_transcripts
from fieldvault.domain.redaction import approval
from fieldvault.export.bundle import write_export
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, Notice, PseudonymisedTranscript
from fieldvault.storage.services import Services
from fieldvault.workers import sweep
from fieldvault.workers.queue import Worker, build_huey
from fieldvault.workers.transcription import Engine, Segment, TranscribeResult

from .conftest import EXAMPLE
from .test_retention import (
    DEADLINE,
    FakeNotifier,
    add_informant,
    assert_copies_unreadable,
    counts,
    events,
    identity_strings,
    remaining_keys,
    scan_for,
    scan_tables,
    snapshot,
    steps_of,
)
from .test_retention_withdrawal import DATA, consented_with_recording


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
    with transaction(services.research) as session:
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
        assert sweep.run_retention_sweep(services, DEADLINE) == "busy"
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
    assert sweep.run_retention_sweep(services, DEADLINE + dt.timedelta(minutes=10)) == (
        "nothing-to-do"
    )


# --- the whole path, driven by the worker's clock -----------------------------------------------


@dataclasses.dataclass
class ScriptEngine:
    """An engine (the Engine protocol) that hears the reference text of the clip it is given."""

    name: str = "script"
    model_name: str = "test"
    script: str = ""

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> TranscribeResult:
        return TranscribeResult(language or "en", len(audio) / 16000, self._segments())

    def _segments(self) -> Iterator[Segment]:
        sentences = [s for s in re.split(r"(?<=[.?!])\s+", self.script.strip()) if s]
        for n, sentence in enumerate(sentences):
            yield Segment(3.0 * n, 3.0 * n + 3, sentence, -0.2, 0.01, 1.1)


def test_after_the_deadline_sweep_no_word_of_an_unapproved_recording_is_left_anywhere(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    kept_text = (DATA / "track_informant.txt").read_text(encoding="utf-8")
    spoken = (DATA / "interview_en.txt").read_text(encoding="utf-8")
    engine = ScriptEngine()
    clock = Clock(DEADLINE - dt.timedelta(days=2))
    worker = Worker(
        services, build_huey(services.settings), lambda: engine, scheduler=True, clock=clock
    )
    # Informant 1: transcribed, pseudonymised and approved; informant 2 never approved.
    approved, _ = consented_with_recording(services, study_id, 1, "track_informant.ogg")
    engine.script = kept_text
    assert worker.run(until_idle=True, poll_s=0.01) == 3  # sweep at start, transcribe, pseudonymise
    assert approval.approve(services, study_id, approved, clock.now) == 1
    unapproved, _ = consented_with_recording(services, study_id, 2, "interview_en.ogg")
    engine.script = spoken
    assert worker.run(until_idle=True, poll_s=0.01) == 2
    with transaction(services.research) as session:
        [heard] = read_transcripts(session, services.content, study_id, unapproved)
    assert "welfare office" in " ".join(seg["text"] for seg in heard["segments"])
    copies = snapshot(services, study_id)
    before = counts(services, study_id)

    clock.now = DEADLINE + dt.timedelta(minutes=1)  # 00:01 in Oslo on 1 July
    assert worker.run(until_idle=True, poll_s=0.01) == 1

    for code in (approved, unapproved):
        assert services.vault.get(study_id, code) is None
    # (2) no key is left, and none opens any copy of the ciphertext taken before the sweep.
    assert remaining_keys(services) == []
    assert_copies_unreadable(services, copies)
    with transaction(services.research) as session:
        assert (
            session.scalars(select(BlobObject).where(BlobObject.deleted_at.is_(None))).all() == []
        )
        states = sorted(session.scalars(select(PseudonymisedTranscript.state)))
        assert states == ["approved", "review"]
        assert studies.load_definition(session, study_id).codebook.codes
        assert audit.verify(session).ok
    # (3) participants, variables and consent records stay; the approved text still exports.
    assert counts(services, study_id) == before
    out = tmp_path / "export"
    assert write_export(services, study_id, ["all"], out, clock.now).transcripts == 1
    exported = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert b"seven years" in exported
    # (1) not one distinctive word the unapproved informant said, nor any identity string, in
    # any file of the data dir (databases, their WAL files, the queue, the blobs) or any row.
    elsewhere = (kept_text + EXAMPLE.read_text(encoding="utf-8")).casefold()
    words = sorted(
        {w for w in re.findall(r"[A-Za-z]{7,}", spoken) if w.casefold() not in elsewhere}
    )
    assert len(words) >= 5, words  # counselor, welfare, meetings…
    needles = [*words, *identity_strings([1, 2])]
    assert scan_for(services.settings.data_dir, needles) == []
    assert scan_tables(services, needles) == []
    names = [e.event for e in events(services, study_id)]
    for event in (
        "transcript.created",
        "transcript.pseudonymised",
        "transcript.approved",
        "deletion.scheduled",
        "deletion.notice",
        "deletion.shred",
        "study.ended",
    ):
        assert event in names
