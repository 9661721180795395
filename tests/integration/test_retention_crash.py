"""A sweep killed (SIGKILL) at chosen steps, then run again: nothing is lost, everything goes.

The sweep runs in a child process with an ``on_step`` callback that kills the process at the
n-th time a step is reached (or while a notice is being delivered). Afterwards the claims of the
report must already hold, research data must be intact, and a rerun must finish the job.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from fieldvault.domain import retention
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Deletion, Notice, WrappedDataKey
from fieldvault.storage.services import Services

from .test_retention import (
    DEADLINE,
    FakeNotifier,
    add_informant,
    assert_copies_unreadable,
    counts,
    identity_strings,
    scan_for,
    scan_tables,
    snapshot,
    steps_of,
)

CHILD = """
import datetime as dt, os, signal, sys
from pathlib import Path
from fieldvault.config.settings import load_settings
from fieldvault.storage.services import open_services
from fieldvault.domain import retention

data_dir, research_url, vault_url, at, kill_step, kill_nth, log_path = sys.argv[1:]
settings = load_settings(
    environ={}, data_dir=Path(data_dir), database_url=research_url, vault_url=vault_url
)
services = open_services(settings)
seen = {}

def hook(step):
    seen[step] = seen.get(step, 0) + 1
    if step == kill_step and seen[step] == int(kill_nth):
        os.kill(os.getpid(), signal.SIGKILL)

class FileNotifier:
    def to_informant(self, notice, identity):
        with open(log_path, "a") as log:
            log.write(f"{notice.kind} {notice.participant_code}\\n")
        hook("deliver")
        return identity.telegram_chat_id is not None

    def to_researchers(self, notice):
        return True

retention.run_sweep(
    services, dt.datetime.fromisoformat(at), notifier=FileNotifier(), batch_size=2, on_step=hook
)
print("finished")
"""

KILL_POINTS = [
    ("intent", 2),  # some intents recorded, others not
    ("deliver", 2),  # a notice delivered, not yet recorded as delivered
    ("notified", 1),
    ("keys-destroyed", 1),  # keys gone in the vault, not yet recorded in the research db
    ("keys", 2),
    ("blobs", 1),
    ("identity-deleted", 2),  # identities gone, the batch not yet marked done
    ("done", 2),
]


@pytest.mark.slow
@pytest.mark.parametrize(("step", "nth"), KILL_POINTS, ids=[f"{s}-{n}" for s, n in KILL_POINTS])
def test_a_sweep_killed_at_any_step_is_completed_by_the_next(
    services: Services, study_id: str, tmp_path: Path, step: str, nth: int
) -> None:
    numbers = [1, 2, 3, 4, 5]
    codes = [add_informant(services, study_id, n, telegram=n != 3) for n in numbers]
    copies = snapshot(services, study_id)
    before = counts(services, study_id)
    log = tmp_path / "delivered.txt"
    settings = services.settings
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(settings.data_dir),
            settings.research_url,
            settings.linkage_url,
            DEADLINE.isoformat(),
            step,
            str(nth),
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    # What holds right after the kill: research data intact, the chain verifies, and whatever
    # counts as deleted has no identity and no key left.
    assert counts(services, study_id) == before
    with transaction(services.research) as session:
        assert audit.verify(session).ok
        rows = {d.participant_code: d for d in session.scalars(select(Deletion))}
        settled = {
            n.participant_code
            for n in session.scalars(select(Notice).where(Notice.settled_at.is_not(None)))
        }
    with services.vault_sessions() as vs:
        keyed = set(vs.scalars(select(WrappedDataKey.participant_code)))
    claimed = retention.study_report(services, study_id).deleted
    for entry in claimed:
        assert services.vault.get(study_id, entry["code"]) is None
        assert entry["code"] not in keyed
    for code in codes:
        if services.vault.get(study_id, code) is None:
            # Identity goes last: keys were gone and the notice settled before it.
            assert code not in keyed
            assert code in settled
            assert rows[code].step in (retention.BLOBS, retention.DONE)

    notifier = FakeNotifier(services)
    retention.run_sweep(services, DEADLINE + dt.timedelta(minutes=1), notifier=notifier)

    for code in codes:
        assert services.vault.get(study_id, code) is None
    assert_copies_unreadable(services, copies)
    assert counts(services, study_id) == before
    with transaction(services.research) as session:
        assert audit.verify(session).ok
        assert {d.step for d in session.scalars(select(Deletion))} == {retention.DONE}
    report = retention.study_report(services, study_id)
    assert sorted(d["code"] for d in report.deleted) == sorted(codes)
    assert report.objects == {"raw_transcript": 5, "recording": 5}
    # Every informant was offered the notice once at least, always before the identity went.
    delivered = log.read_text().split() if log.exists() else []
    offered = {c for kind, c in zip(delivered[::2], delivered[1::2], strict=True)} | {
        c for _, c, _ in notifier.informants
    }
    assert offered == set(codes)
    assert all(present for _, _, present in notifier.informants)
    for code in codes:
        mine = steps_of(services, study_id, code)
        assert mine.count("deletion.shred") == 1
        assert mine.index("deletion.notice") < mine.index("deletion.shred")
    assert scan_for(services.settings.data_dir, identity_strings(numbers)) == []
    assert scan_tables(services, identity_strings(numbers)) == []
    assert retention.run_sweep(services, DEADLINE + dt.timedelta(hours=1)).nothing_to_do
