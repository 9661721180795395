"""The audit chain on SQLite and PostgreSQL: it verifies, and tampering is found."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import JSON, bindparam, select, text
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import as_utc

T0 = dt.datetime(2021, 3, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)

Factory = sessionmaker[Session]


def _append_events(factory: Factory, count: int, *, actor: str = "researcher") -> None:
    for i in range(count):
        with transaction(factory) as session:
            audit.append(
                session,
                audit.Event.CONSENT_GIVEN,
                actor=actor,
                study_id="nav-veileder",
                participant_code=f"P{i:03d}",
                details={"record": i, "items": ["interview-recording"]},
                at=T0 + dt.timedelta(minutes=i),
            )


def _sql(factory: Factory, statement: str, **params: Any) -> None:
    clause = text(statement)
    if "details" in params:
        clause = clause.bindparams(bindparam("details", type_=JSON))
    with transaction(factory) as session:
        session.execute(clause, params)


def _verify(factory: Factory, expected_head: tuple[int, str] | None = None) -> audit.VerifyResult:
    with factory() as session:
        return audit.verify(session, expected_head=expected_head)


def _head(factory: Factory) -> tuple[int, str]:
    with factory() as session:
        return audit.head(session)


def test_an_empty_chain_verifies_and_its_head_is_the_genesis_hash(
    research_session: Factory,
) -> None:
    result = _verify(research_session)
    assert result == audit.VerifyResult(True, 0, None, None, 0, "0" * 64)
    assert _head(research_session) == (0, audit.GENESIS_HASH)


def test_a_chain_of_several_events_verifies_and_reports_its_head(
    research_session: Factory,
) -> None:
    _append_events(research_session, 3)
    # Several appends in one transaction chain onto each other before anything is committed.
    with transaction(research_session) as session:
        first = audit.append(session, audit.Event.EXPORT_CREATED, actor="researcher", at=T0)
        second = audit.append(session, "deletion.shred", actor="sweep", study_id="nav-veileder")
    assert (first.seq, second.seq) == (4, 5)
    assert second.prev_hash == first.hash
    result = _verify(research_session)
    assert result.ok and result.checked == 5 and result.first_broken_seq is None
    assert (result.head_seq, result.head_hash) == _head(research_session) == (5, second.hash)
    assert _verify(research_session, expected_head=(5, second.hash)).ok
    assert _verify(research_session, expected_head=(2, _hash_of(research_session, 2))).ok


def _hash_of(factory: Factory, seq: int) -> str:
    with factory() as session:
        return session.scalars(
            select(audit.AuditEvent.hash).where(audit.AuditEvent.seq == seq)
        ).one()


def test_details_times_and_unicode_survive_the_database_and_still_verify(
    research_session: Factory,
) -> None:
    oslo = dt.timezone(dt.timedelta(hours=2))
    # Tuples and non-string keys come back from a JSON column as lists and strings.
    mixed: dict[Any, Any] = {
        "codes": ("«relasjonsbygging»", "kollegaveiledning"),
        3: 0.1,
        "ok": None,
    }
    with transaction(research_session) as session:
        row = audit.append(
            session,
            audit.Event.TRANSCRIPT_APPROVED,
            actor="Student A",
            details=mixed,
            at=dt.datetime(2021, 3, 1, 11, 0, 0, 1, tzinfo=oslo),
        )
    assert row.details == {
        "codes": ["«relasjonsbygging»", "kollegaveiledning"],
        "3": 0.1,
        "ok": None,
    }
    with research_session() as session:
        stored = session.scalars(select(audit.AuditEvent)).one()
    assert as_utc(stored.at) == dt.datetime(2021, 3, 1, 9, 0, 0, 1, tzinfo=dt.UTC)
    assert _verify(research_session).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", {"record": 99, "items": ["interview-recording"]}),
        ("actor", "someone else"),
        ("event", "consent.refused"),
        ("participant_code", "P999"),
    ],
)
def test_editing_one_event_is_reported_at_that_seq(
    research_session: Factory, column: str, value: Any
) -> None:
    _append_events(research_session, 5)
    if column == "details":
        _sql(
            research_session,
            "UPDATE audit_events SET details = :details WHERE seq = 3",
            details=value,
        )
    else:
        _sql(
            research_session,
            f"UPDATE audit_events SET {column} = :value WHERE seq = 3",
            value=value,
        )
    result = _verify(research_session)
    assert not result.ok
    assert result.first_broken_seq == 3
    assert result.checked == 2
    assert result.reason is not None and "edited" in result.reason


def test_editing_an_events_time_is_reported_at_that_seq(research_session: Factory) -> None:
    _append_events(research_session, 4)
    with transaction(research_session) as session:
        row = session.get(audit.AuditEvent, 2)
        assert row is not None
        row.at = row.at + dt.timedelta(seconds=1)
    result = _verify(research_session)
    assert (result.ok, result.first_broken_seq) == (False, 2)


def test_deleting_an_event_in_the_middle_is_reported_as_missing(
    research_session: Factory,
) -> None:
    _append_events(research_session, 5)
    _sql(research_session, "DELETE FROM audit_events WHERE seq = 3")
    result = _verify(research_session)
    assert not result.ok
    assert result.first_broken_seq == 3
    assert result.reason is not None and "deleted" in result.reason


def test_deleting_an_event_and_renumbering_the_rest_is_still_reported(
    research_session: Factory,
) -> None:
    _append_events(research_session, 5)
    _sql(research_session, "DELETE FROM audit_events WHERE seq = 3")
    _sql(research_session, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
    _sql(research_session, "UPDATE audit_events SET seq = 4 WHERE seq = 5")
    result = _verify(research_session)
    assert (result.ok, result.first_broken_seq) == (False, 3)


def test_swapping_two_events_is_reported_as_a_reorder(research_session: Factory) -> None:
    _append_events(research_session, 5)
    _sql(research_session, "UPDATE audit_events SET seq = -1 WHERE seq = 2")
    _sql(research_session, "UPDATE audit_events SET seq = 2 WHERE seq = 3")
    _sql(research_session, "UPDATE audit_events SET seq = 3 WHERE seq = -1")
    result = _verify(research_session)
    assert not result.ok
    assert result.first_broken_seq == 2
    assert result.reason is not None and "reordered" in result.reason


def test_deleting_the_tail_passes_the_chain_alone_but_not_the_recorded_head(
    research_session: Factory,
) -> None:
    _append_events(research_session, 5)
    recorded = _head(research_session)
    _sql(research_session, "DELETE FROM audit_events WHERE seq >= 4")
    # The documented limit: a shorter chain is still a valid chain.
    assert _verify(research_session).ok
    result = _verify(research_session, expected_head=recorded)
    assert not result.ok
    assert result.first_broken_seq == 4
    assert result.reason is not None and "deleted from the end" in result.reason
    assert (result.head_seq, result.checked) == (3, 3)


def test_a_tail_deleted_and_written_again_differs_from_the_recorded_head(
    research_session: Factory,
) -> None:
    _append_events(research_session, 5)
    recorded = _head(research_session)
    _sql(research_session, "DELETE FROM audit_events WHERE seq >= 4")
    _append_events(research_session, 2, actor="someone else")
    assert _verify(research_session).ok
    result = _verify(research_session, expected_head=recorded)
    assert (result.ok, result.first_broken_seq) == (False, 5)
    assert result.reason is not None and "rewritten" in result.reason


@pytest.mark.parametrize(
    "details",
    [
        {"name": "Kari Nordmann"},
        {"email": "kari@example.org"},
        {"E-mail": "kari@example.org"},
        {"phone": "+47 900 00 000"},
        {"phoneNumber": "+47 900 00 000"},
        {"telegram_user_id": 123456789},
        {"chat_id": 123456789},
        {"address": "Storgata 1"},
        {"who": {"Name": "Kari"}},
        {"people": [{"record": 1}, {"fødselsnummer": "01010112345"}]},
    ],
)
def test_detail_keys_that_identify_a_person_are_refused_and_nothing_is_written(
    research_session: Factory, details: dict[str, Any]
) -> None:
    with (
        pytest.raises(ValueError, match="direct identifiers"),
        transaction(research_session) as session,
    ):
        audit.append(session, audit.Event.PARTICIPANT_ADDED, actor="researcher", details=details)
    assert _head(research_session) == (0, audit.GENESIS_HASH)


def test_field_names_as_values_and_ordinary_keys_are_accepted(research_session: Factory) -> None:
    with transaction(research_session) as session:
        audit.append(
            session,
            audit.Event.PARTICIPANT_ADDED,
            actor="researcher",
            details={"identity_fields": ["name", "email"], "variables": ["education"]},
        )
    assert _verify(research_session).checked == 1


@pytest.mark.parametrize(
    ("event", "kwargs", "message"),
    [
        ("consent.maybe", {}, "consent.maybe"),
        ("consent.given", {"at": dt.datetime(2021, 3, 1, 9, 0)}, "timezone-aware"),
        ("consent.given", {"details": {"when": T0}}, "plain JSON"),
        ("consent.given", {"details": {"x": float("nan")}}, "plain JSON"),
        ("consent.given", {"participant_code": "P" * 33}, "participant_code"),
    ],
)
def test_unknown_events_naive_times_and_non_json_details_are_refused(
    research_session: Factory, event: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message), research_session() as session:
        audit.append(session, event, actor="researcher", **kwargs)


def test_two_concurrent_appenders_leave_one_chain_of_a_hundred_events_that_verifies(
    research_session: Factory,
) -> None:
    start = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def writer(actor: str) -> None:
        try:
            start.wait()
            _append_events(research_session, 50, actor=actor)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"writer-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    result = _verify(research_session)
    assert (result.ok, result.checked, result.head_seq) == (True, 100, 100)
    with research_session() as session:
        actors = list(session.scalars(select(audit.AuditEvent.actor)))
    assert sorted(actors) == ["writer-1"] * 50 + ["writer-2"] * 50
