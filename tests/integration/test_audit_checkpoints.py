"""The keyed audit chain and its signed checkpoints: a cut or rewritten tail no longer passes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.types import JSON

from fieldvault.config.settings import Settings
from fieldvault.domain import retention
from fieldvault.storage import audit
from fieldvault.storage.audit_checkpoints import (
    ChainContradictsCheckpoint,
    CheckpointInvalid,
    CheckpointsMissing,
)
from fieldvault.storage.db import make_engine, session_factory, transaction
from fieldvault.storage.services import Services, initialise, open_services

from .conftest import EXAMPLE, NOW
from .test_cli import Fieldvault

LATER = NOW + dt.timedelta(hours=1)


def _add_events(services: Services, count: int, *, actor: str = "researcher") -> None:
    for i in range(count):
        with transaction(services.research) as session:
            audit.append(
                session,
                audit.Event.CONSENT_GIVEN,
                actor=actor,
                study_id="nav-veileder",
                participant_code=f"P{i:03d}",
                details={"record": i},
                at=NOW + dt.timedelta(minutes=i),
            )


def _verify(services: Services) -> audit.VerifyResult:
    with services.research() as session:
        return audit.verify(session, checkpoints=services.audit.read())


def _rows(services: Services) -> list[Any]:
    with services.research() as session:
        return list(
            session.execute(select(audit.AuditEvent.__table__).order_by(audit.AuditEvent.seq))
        )


def _rehash_unkeyed_from(services: Services, start: int, *, version: int) -> None:
    """Recompute every hash from event ``start`` on with the old unkeyed formula, as someone
    with write access but without the audit key would."""
    prev = audit.GENESIS_HASH
    statement = text(
        "UPDATE audit_events SET prev_hash = :prev, hash = :hash, hash_version = :version, "
        "details = :details WHERE seq = :seq"
    ).bindparams(bindparam("details", type_=JSON))
    with transaction(services.research) as session:
        for row in _rows(services):
            if row.seq < start:
                prev = row.hash
                continue
            fields = {
                "seq": row.seq,
                "at": row.at,
                "event": row.event,
                "study_id": row.study_id,
                "participant_code": row.participant_code,
                "actor": row.actor,
                "details": row.details,
                "prev_hash": prev,
            }
            digest = audit.event_hash(**fields)
            # A placeholder first, so the unique hash column never holds two equal values.
            session.execute(
                text("UPDATE audit_events SET hash = :tmp WHERE seq = :seq"),
                {"tmp": f"tmp-{row.seq}", "seq": row.seq},
            )
            session.execute(
                statement,
                {
                    "prev": prev,
                    "hash": digest,
                    "version": version,
                    "details": row.details,
                    "seq": row.seq,
                },
            )
            prev = digest


def test_a_new_install_has_a_private_audit_key_and_keys_every_event(services: Services) -> None:
    key_file = services.settings.audit_key_path
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(key_file.read_text())["purpose"] == "audit"
    [first] = services.audit.read()
    assert (first.seq, first.head, first.keyed_from) == (0, audit.GENESIS_HASH, 1)
    _add_events(services, 4)
    assert {row.hash_version for row in _rows(services)} == {audit.HASH_KEYED}
    services.audit.record(services.research, LATER, "command")
    result = _verify(services)
    assert (result.ok, result.checked, result.keyed, result.checkpoints) == (True, 4, 4, 2)


def test_deleting_the_last_events_after_a_checkpoint_fails_verify_naming_the_truncation(
    services: Services,
) -> None:
    _add_events(services, 6)
    recorded = services.audit.record(services.research, LATER, "command")
    assert (recorded.seq, recorded.line) == (6, 2)
    with transaction(services.research) as session:
        session.execute(text("DELETE FROM audit_events WHERE seq > 3"))
    result = _verify(services)
    assert not result.ok
    assert result.first_broken_seq == 4 and result.checked == 3
    assert result.reason is not None and "truncated" in result.reason
    assert "recorded event 6" in result.reason and "checkpoint 2" in result.reason
    assert result.checkpoint == recorded
    # A sweep or a checkpoint command never blesses the shorter chain.
    with pytest.raises(ChainContradictsCheckpoint, match="deleted from the end"):
        services.audit.record(services.research, LATER, "sweep")
    assert len(services.audit.read()) == 2


def test_a_cut_tail_written_anew_differs_from_the_checkpoint(services: Services) -> None:
    _add_events(services, 5)
    services.audit.record(services.research, LATER, "command")
    with transaction(services.research) as session:
        session.execute(text("DELETE FROM audit_events WHERE seq >= 4"))
    # Written again through fieldvault itself (with the key): same length, other events.
    _add_events(services, 2, actor="someone else")
    result = _verify(services)
    assert (result.ok, result.first_broken_seq) == (False, 5)
    assert result.reason is not None and "rewritten" in result.reason


@pytest.mark.parametrize("version", [audit.HASH_KEYED, audit.HASH_UNKEYED])
def test_an_event_changed_and_the_rest_rehashed_without_the_key_fails_verify(
    services: Services, version: int
) -> None:
    _add_events(services, 5)
    with transaction(services.research) as session:
        session.execute(
            text("UPDATE audit_events SET actor = 'someone else' WHERE seq = 3"),
        )
    _rehash_unkeyed_from(services, 3, version=version)
    result = _verify(services)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 3, 2)
    assert result.reason is not None and "without the audit key" in result.reason


def test_a_whole_chain_rehashed_without_the_key_contradicts_the_checkpoints(
    services: Services,
) -> None:
    _add_events(services, 4)
    services.audit.record(services.research, LATER, "command")
    _rehash_unkeyed_from(services, 1, version=audit.HASH_UNKEYED)
    result = _verify(services)
    assert (result.ok, result.first_broken_seq) == (False, 1)
    assert result.reason is not None and "keyed (from event 1)" in result.reason


def test_a_forged_or_missing_checkpoint_file_is_refused(services: Services) -> None:
    _add_events(services, 2)
    services.audit.record(services.research, LATER, "command")
    path = services.audit.path
    lines = path.read_text().splitlines()
    forged = json.loads(lines[1])
    forged["seq"] = 1  # moved back, to cover a cut tail; its MAC no longer matches
    path.write_text(lines[0] + "\n" + json.dumps(forged) + "\n")
    with pytest.raises(CheckpointInvalid, match="line 2") as caught:
        services.audit.read()
    assert caught.value.facts["line"] == 2
    path.unlink()
    with pytest.raises(CheckpointsMissing):
        services.audit.read()
    with pytest.raises(CheckpointsMissing):
        services.audit.record(services.research, LATER, "sweep")
    started = services.audit.record(services.research, LATER, "command", start=True)
    assert (started.seq, started.line, started.keyed_from) == (2, 1, 1)


def test_an_install_from_before_the_audit_key_keeps_its_unkeyed_events_verifying(
    settings: Settings,
) -> None:
    initialise(settings)
    # As it was before: no audit key, no checkpoints, events hashed without a key.
    settings.audit_key_path.unlink()
    settings.audit_checkpoint_path.unlink()
    engine = make_engine(settings.research_url)
    try:
        for _ in range(3):
            with transaction(session_factory(engine)) as session:
                audit.append(session, audit.Event.EXPORT_CREATED, actor="researcher", at=NOW)
    finally:
        engine.dispose()
    services = open_services(settings)
    try:
        assert stat.S_IMODE(settings.audit_key_path.stat().st_mode) == 0o600
        [switch] = services.audit.read()
        assert (switch.seq, switch.keyed_from, switch.reason) == (3, 4, "key created")
        _add_events(services, 2)
        assert [row.hash_version for row in _rows(services)] == [1, 1, 1, 2, 2]
        result = _verify(services)
        assert (result.ok, result.checked, result.keyed) == (True, 5, 2)
        # Passing the keyed events off as unkeyed ones fails at the first of them.
        _rehash_unkeyed_from(services, 4, version=audit.HASH_UNKEYED)
        result = _verify(services)
        assert (result.ok, result.first_broken_seq) == (False, 4)
        assert result.reason is not None and "without the audit key" in result.reason
    finally:
        services.close()


def test_a_process_without_the_audit_key_cannot_extend_a_keyed_chain(services: Services) -> None:
    _add_events(services, 1)
    engine = make_engine(services.settings.research_url)
    try:
        with (
            pytest.raises(audit.AuditKeyMissing),
            transaction(session_factory(engine)) as session,
        ):
            audit.append(session, audit.Event.EXPORT_CREATED, actor="researcher", at=NOW)
    finally:
        engine.dispose()


def test_the_sweep_records_a_checkpoint_and_the_dpo_report_shows_the_latest(
    services: Services, study_id: str
) -> None:
    retention.run_sweep(services, LATER)
    latest = services.audit.latest()
    assert latest is not None and latest.reason == "sweep"
    with services.research() as session:
        assert latest.seq == audit.head(session)[0] > 0
    shown = retention.study_report(services, study_id).as_dict()["audit_checkpoint"]
    assert shown["seq"] == latest.seq and shown["head"] == latest.head
    assert (shown["reason"], shown["line"]) == ("sweep", 2)


@pytest.mark.slow
def test_the_audit_commands_record_checkpoints_and_exit_1_on_a_cut_chain(tmp_path: Path) -> None:
    fv = Fieldvault(tmp_path / "data")
    made = fv("init")
    assert "audit key" in made.stdout and "audit-checkpoints.jsonl" in made.stdout
    fv("study", "create", str(EXAMPLE))
    verified = fv("audit", "verify")
    assert "audit chain OK" in verified.stdout and "checkpoint recorded" in verified.stdout
    fv("audit", "checkpoint")
    report = fv("retention", "report", "nav-veileder")
    assert "audit checkpoint: event" in report.stdout
    db = sqlite3.connect(fv.data_dir / "research.sqlite3")
    with db:
        last = db.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
        db.execute("DELETE FROM audit_events WHERE seq = ?", (last,))
    db.close()
    broken = fv("audit", "verify", ok=False)
    assert broken.returncode == 1
    assert f"BROKEN at event {last}" in broken.stderr and "truncated" in broken.stderr
    assert "checkpoint 3" in broken.stderr
    refused = fv("audit", "checkpoint", ok=False)
    assert "deleted from the end" in refused.stderr
