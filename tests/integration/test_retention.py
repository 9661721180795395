"""Deletion deadlines: the sweep, reminders, extension, withdrawal catch-up and the DPO report.

Every test passes the time in (a controllable clock); nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fieldvault.config.study import parse_study
from fieldvault.domain import consent, retention, studies
from fieldvault.domain.errors import DomainError
from fieldvault.domain.notices import NoticeMessage
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.storage import audit
from fieldvault.storage.blobs import read_decrypted
from fieldvault.storage.content import blob_binding
from fieldvault.storage.crypto import DecryptionError
from fieldvault.storage.db import ResearchBase, VaultBase, transaction
from fieldvault.storage.models import (
    AuditEvent,
    BlobObject,
    ConsentRecord,
    Deletion,
    Notice,
    Participant,
    Study,
    WrappedDataKey,
)
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

from .conftest import EXAMPLE, NOW
from .recording_helpers import transcript_row

OSLO = ZoneInfo("Europe/Oslo")
# processing_end of the example study is 2021-06-30 (summer time, UTC+2).
DEADLINE = dt.datetime(2021, 6, 30, 22, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(microseconds=1)
SPOKEN = "Vi snakket om kollegaveiledning på Grünerløkka-kontoret"
APPROVED_TEXT = "Relasjonsbygging er det viktigste i veilederrollen, sier PERSON 1."


@dataclasses.dataclass
class FakeNotifier:
    """Records what it was asked to deliver; reaches informants who have a Telegram chat."""

    services: Services
    informants: list[tuple[str, str, bool]] = dataclasses.field(default_factory=list)
    researchers: list[NoticeMessage] = dataclasses.field(default_factory=list)
    fail: bool = False

    def to_informant(self, notice: NoticeMessage, identity: Identity) -> bool:
        if self.fail:
            raise ConnectionError("Telegram is down")
        assert notice.participant_code is not None
        # The identity the notice needs must still be in the vault when it is delivered.
        still_there = self.services.vault.get(notice.study_id, notice.participant_code)
        self.informants.append((notice.kind, notice.participant_code, still_there is not None))
        return identity.telegram_chat_id is not None

    def to_researchers(self, notice: NoticeMessage) -> bool:
        self.researchers.append(notice)
        return True


def identity(n: int, *, telegram: bool = True) -> Identity:
    return Identity(
        name=f"Solfrid Brennhaug{n}",
        email=f"solfrid{n}@nav-eksempel.no",
        phone=f"+47 91 23 45 {n:02d}",
        telegram_user_id=5550000 + n if telegram else None,
        telegram_chat_id=5550000 + n if telegram else None,
    )


def add_informant(
    services: Services,
    study_id: str,
    n: int,
    *,
    telegram: bool = True,
    state: str = "interviewed",
    evidence: bool = False,
) -> str:
    """A consented informant with identity, a recording and a raw transcript."""
    code = register_participant(services, study_id, identity(n, telegram=telegram), {}, NOW)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "nb", NOW)
        consent.record_consent(
            session,
            person,
            {"interview-recording": True, "identifiable-publication": False},
            language="nb",
            channel="telegram",
            letter_delivered_at=NOW,
            now=NOW,
        )
        for kind in ("recording", "raw_transcript", *(("evidence",) if evidence else ())):
            services.content.put(
                session,
                study_id=study_id,
                participant_id=person.id,
                participant_code=code,
                kind=kind,
                source=io.BytesIO(f"{kind}: {SPOKEN} ({identity(n).name})".encode()),
                now=NOW,
            )
        if state in ("interviewed", "transcribed", "approved"):
            consent.transition(person, consent.State.INTERVIEWED, NOW)
        if state in ("transcribed", "approved"):
            consent.transition(person, consent.State.TRANSCRIBED, NOW)
        if state == "approved":
            consent.transition(person, consent.State.APPROVED, NOW)
        person.variables = {"office": "urban"}
    return code


def register_variant(
    services: Services,
    study_id: str,
    processing_end: dt.date = dt.date(2021, 6, 30),
    *,
    optional_recording: bool = False,
    on_withdrawal_pseudonymised: str = "keep",
) -> str:
    """The example study under another id, ending processing on ``processing_end``."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^processing_end_reason = .*$", "", text)
    if optional_recording:
        text = text.replace("required = true", "required = false", 1)
    text = re.sub(
        r"(?m)^on_withdrawal_pseudonymised = .*$",
        f'on_withdrawal_pseudonymised = "{on_withdrawal_pseudonymised}"',
        text,
    )
    text = re.sub(r'(?m)^id = "nav-veileder"', f'id = "{study_id}"', text, count=1)
    text = re.sub(r"(?m)^project_end = .*$", f"project_end = {processing_end}", text)
    text = re.sub(r"(?m)^processing_end = .*$", f"processing_end = {processing_end}", text)
    definition = parse_study(text)
    with transaction(services.research) as session:
        studies.register_study(session, definition, text, NOW)
    return definition.id


Copies = dict[str, tuple[str, bytes, bytes]]


def snapshot(services: Services, study_id: str) -> Copies:
    """Every blob of a study as stored now: object id -> (data key id, ciphertext, binding)."""
    with transaction(services.research) as session:
        objects = session.scalars(select(BlobObject).where(BlobObject.study_id == study_id))
        copies = {}
        for obj in objects:
            with services.content.blobs.open(obj.object_id) as fh:
                binding = blob_binding(obj.study_id, obj.participant_id, obj.kind)
                copies[obj.object_id] = (obj.data_key_id, fh.read(), binding)
    return copies


def remaining_keys(services: Services) -> list[str]:
    with services.vault_sessions() as vs:
        return list(vs.scalars(select(WrappedDataKey.id)))


def assert_copies_unreadable(services: Services, copies: Copies) -> None:
    """No data key left in the vault opens any copy taken before the sweep."""

    class Copy:
        def __init__(self, blobs: dict[str, bytes]) -> None:
            self.blobs = blobs

        def open(self, object_id: str) -> io.BytesIO:
            return io.BytesIO(self.blobs[object_id])

    store = Copy({oid: data for oid, (_, data, _) in copies.items()})
    keys = [services.content.keys.get(key_id) for key_id in remaining_keys(services)]
    for object_id, (key_id, _, binding) in copies.items():
        with pytest.raises(DecryptionError):
            services.content.keys.get(key_id)
        for key in keys:
            with pytest.raises(DecryptionError):
                # With the right binding, so that a missing key is the only reason it fails.
                b"".join(
                    read_decrypted(store, object_id, key, associated_data=binding)  # type: ignore[arg-type]
                )


def scan_for(root: Path, needles: list[str]) -> list[tuple[Path, str]]:
    """Every (file, needle) where a needle occurs in a file under ``root`` (UTF-8 and UTF-16)."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for needle in needles:
            for encoding in ("utf-8", "utf-16-le"):
                if needle.encode(encoding) in data:
                    found.append((path, needle))
    return found


def scan_tables(services: Services, needles: list[str]) -> list[tuple[str, str]]:
    """Every (table, needle) where a needle occurs in a row of either database (any backend)."""
    found = []
    for factory, base in ((services.research, ResearchBase), (services.vault_sessions, VaultBase)):
        with factory() as session:
            for table in base.metadata.sorted_tables:
                for row in session.execute(select(table)):
                    text = repr(tuple(row))
                    raw = b"".join(v for v in row if isinstance(v, bytes))
                    for needle in needles:
                        if needle in text or needle.encode() in raw:
                            found.append((table.name, needle))
    return found


def identity_strings(numbers: list[int]) -> list[str]:
    strings = [SPOKEN, "Grünerløkka"]
    for n in numbers:
        who = identity(n)
        strings += [who.name or "", who.email or "", who.phone or ""]
    return strings


def events(services: Services, study_id: str) -> list[AuditEvent]:
    with transaction(services.research) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.study_id == study_id).order_by(AuditEvent.seq)
            )
        )


def steps_of(services: Services, study_id: str, code: str) -> list[str]:
    """The deletion events that concern ``code`` (batch events list the codes they cover)."""
    found = []
    for event in events(services, study_id):
        if not event.event.startswith("deletion."):
            continue
        d = event.details
        mentioned = (
            event.participant_code == code
            or code in d.get("codes", [])
            or code in d.get("outcomes", {})
            or code in d.get("participants", {})
        )
        if mentioned:
            found.append(event.event)
    return found


def counts(services: Services, study_id: str) -> dict[str, int]:
    """What must never be deleted: participants, consent records, variables, letters."""
    with transaction(services.research) as session:
        return {
            "participants": session.scalar(
                select(func.count())
                .select_from(Participant)
                .where(Participant.study_id == study_id)
            )
            or 0,
            "consent_records": session.scalar(
                select(func.count())
                .select_from(ConsentRecord)
                .join(Participant)
                .where(Participant.study_id == study_id)
            )
            or 0,
            "with_variables": sum(
                1
                for v in session.scalars(
                    select(Participant.variables).where(Participant.study_id == study_id)
                )
                if v
            ),
        }


# --- the deadline -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "zone", "expected"),
    [
        (dt.date(2021, 6, 30), "Europe/Oslo", dt.datetime(2021, 6, 30, 22, 0, tzinfo=dt.UTC)),
        (dt.date(2021, 1, 15), "Europe/Oslo", dt.datetime(2021, 1, 15, 23, 0, tzinfo=dt.UTC)),
        # The night summer time begins (28 March, 02:00 -> 03:00): midnight is still at +1.
        (dt.date(2021, 3, 27), "Europe/Oslo", dt.datetime(2021, 3, 27, 23, 0, tzinfo=dt.UTC)),
        (dt.date(2021, 3, 28), "Europe/Oslo", dt.datetime(2021, 3, 28, 22, 0, tzinfo=dt.UTC)),
        # The night it ends (31 October, 03:00 -> 02:00): midnight is still at +2.
        (dt.date(2021, 10, 30), "Europe/Oslo", dt.datetime(2021, 10, 30, 22, 0, tzinfo=dt.UTC)),
        (dt.date(2021, 10, 31), "Europe/Oslo", dt.datetime(2021, 10, 31, 23, 0, tzinfo=dt.UTC)),
        (dt.date(2021, 6, 30), "UTC", dt.datetime(2021, 7, 1, 0, 0, tzinfo=dt.UTC)),
        # Chile skips midnight: on 11 September 2022 clocks went from 00:00 to 01:00.
        (
            dt.date(2022, 9, 10),
            "America/Santiago",
            dt.datetime(2022, 9, 11, 4, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_the_deadline_is_the_first_instant_after_the_end_date_in_the_study_timezone(
    end: dt.date, zone: str, expected: dt.datetime
) -> None:
    deadline = retention.deadline_of(end, zone)
    assert deadline == expected
    local = ZoneInfo(zone)
    assert (deadline - TICK).astimezone(local).date() == end
    assert deadline.astimezone(local).date() == end + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("at", "deleted"),
    [
        (DEADLINE - TICK, False),  # 23:59:59.999999 in Oslo on 30 June
        (DEADLINE, True),  # 00:00 in Oslo on 1 July, still 30 June in UTC
        (dt.datetime(2021, 6, 30, 23, 59, tzinfo=dt.UTC), True),
        (dt.datetime(2021, 7, 1, 0, 0, tzinfo=OSLO), True),
        (dt.datetime(2021, 6, 30, 23, 59, tzinfo=OSLO), False),
    ],
    ids=["just-before", "oslo-midnight", "utc-still-30-june", "oslo-aware", "oslo-2359"],
)
def test_nothing_is_deleted_before_the_deadline_and_everything_at_it(
    services: Services, study_id: str, at: dt.datetime, deleted: bool
) -> None:
    code = add_informant(services, study_id, 1)
    report = retention.run_sweep(services, at, notifier=FakeNotifier(services))
    assert (services.vault.get(study_id, code) is None) is deleted
    with transaction(services.research) as session:
        live = session.scalars(select(BlobObject).where(BlobObject.deleted_at.is_(None))).all()
        ended = session.get(Study, study_id)
        assert ended is not None
        assert (ended.ended_at is not None) is deleted
    assert (len(live) == 0) is deleted
    assert report.deleted.get(study_id, []) == ([code] if deleted else [])


@pytest.mark.parametrize(
    ("end", "before", "at"),
    [
        (
            dt.date(2021, 3, 27),
            dt.datetime(2021, 3, 27, 22, 59, 59, tzinfo=dt.UTC),
            dt.datetime(2021, 3, 27, 23, 0, tzinfo=dt.UTC),
        ),
        (
            dt.date(2021, 10, 30),
            dt.datetime(2021, 10, 30, 21, 59, 59, tzinfo=dt.UTC),
            dt.datetime(2021, 10, 30, 22, 0, tzinfo=dt.UTC),
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_the_sweep_is_on_time_across_a_dst_change(
    services: Services, end: dt.date, before: dt.datetime, at: dt.datetime
) -> None:
    sid = register_variant(services, "dst-study", end)
    code = add_informant(services, sid, 2)
    retention.run_sweep(services, before)
    assert services.vault.get(sid, code) is not None
    retention.run_sweep(services, at)
    assert services.vault.get(sid, code) is None


# --- the whole sweep ----------------------------------------------------------------------------


def test_the_sweep_destroys_identity_and_content_and_keeps_research_data(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    from fieldvault.storage.study_documents import StudyDocuments

    term_list = StudyDocuments(services.vault_sessions, services.keys.linkage)
    term_list.put(study_id, "terms", "Solfrid Brennhaug1\nGrünerløkka".encode(), NOW)
    reachable = add_informant(services, study_id, 1, evidence=True)
    no_telegram = add_informant(services, study_id, 2, telegram=False)
    approved = add_informant(services, study_id, 3, state="approved")
    unapproved = add_informant(services, study_id, 4, state="transcribed")
    codes = sorted([reachable, no_telegram, approved, unapproved])
    copies = snapshot(services, study_id)
    before = counts(services, study_id)
    notifier = FakeNotifier(services)

    with caplog.at_level(logging.WARNING):
        report = retention.run_sweep(services, DEADLINE, notifier=notifier, batch_size=3)

    assert sorted(report.deleted[study_id]) == codes
    assert report.objects == {"recording": 4, "raw_transcript": 4, "evidence": 1}
    assert report.identities == 4
    assert report.studies_ended == [study_id]
    assert unapproved in report.unapproved[study_id]
    assert unapproved in caplog.text
    # Every informant with an identity was offered the notice while it still existed.
    assert sorted(c for _, c, _ in notifier.informants) == codes
    assert all(kind == "deletion" and present for kind, _, present in notifier.informants)
    assert report.notices == {"sent": 3, "unreachable": 1}
    for code in codes:
        assert services.vault.get(study_id, code) is None
    assert remaining_keys(services) == []
    assert report.study_documents == 1
    assert term_list.kinds(study_id) == []
    assert_copies_unreadable(services, copies)
    assert not any(services.content.blobs.exists(oid) for oid in copies)
    # Research data stays: participants, variables, consent records, letters, the codebook.
    assert counts(services, study_id) == before
    with transaction(services.research) as session:
        assert studies.load_definition(session, study_id).codebook.codes
        person = get_participant(session, study_id, approved)
        assert person.state == "approved" and person.pseudonym
        assert audit.verify(session).ok
    names = [e.event for e in events(services, study_id)]
    for step in ("deletion.scheduled", "deletion.notice", "deletion.shred", "study.ended"):
        assert step in names
    # Every shred comes after its notice, which comes after its intent.
    for code in codes:
        mine = steps_of(services, study_id, code)
        assert mine.index("deletion.scheduled") < mine.index("deletion.notice")
        assert mine.index("deletion.notice") < mine.index("deletion.shred")
    leaks = scan_for(services.settings.data_dir, identity_strings([1, 2, 3, 4]))
    assert leaks == []
    assert scan_tables(services, identity_strings([1, 2, 3, 4])) == []


def test_a_second_sweep_finds_nothing_to_do(services: Services, study_id: str) -> None:
    add_informant(services, study_id, 1)
    retention.run_sweep(services, DEADLINE)
    with transaction(services.research) as session:
        head = audit.head(session)
    again = retention.run_sweep(services, DEADLINE + dt.timedelta(days=1))
    assert again.nothing_to_do
    with transaction(services.research) as session:
        assert audit.head(session) == head


def test_a_dry_run_changes_nothing(services: Services, study_id: str) -> None:
    code = add_informant(services, study_id, 1)
    with transaction(services.research) as session:
        head = audit.head(session)
    report = retention.run_sweep(services, DEADLINE, dry_run=True)
    assert report.deleted == {study_id: [code]}
    assert report.objects == {"recording": 1, "raw_transcript": 1}
    assert services.vault.get(study_id, code) is not None
    with transaction(services.research) as session:
        assert audit.head(session) == head
        assert session.scalar(select(func.count()).select_from(Deletion)) == 0


def test_a_failing_channel_does_not_hold_the_deletion_back(
    services: Services, study_id: str
) -> None:
    code = add_informant(services, study_id, 1)
    notifier = FakeNotifier(services, fail=True)
    report = retention.run_sweep(services, DEADLINE, notifier=notifier)
    assert report.notices == {"failed": 1}
    assert services.vault.get(study_id, code) is None


def test_content_written_after_the_deadline_sweep_is_destroyed_by_the_next(
    services: Services, study_id: str
) -> None:
    code = add_informant(services, study_id, 1)
    retention.run_sweep(services, DEADLINE)
    # A transcription job that was still running at the deadline writes its result late.
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        late = services.content.put(
            session,
            study_id=study_id,
            participant_id=person.id,
            participant_code=code,
            kind="raw_transcript",
            source=io.BytesIO(SPOKEN.encode()),
            now=DEADLINE,
        ).object_id
    report = retention.run_sweep(services, DEADLINE + dt.timedelta(minutes=5))
    assert report.objects == {"raw_transcript": 1}
    assert not services.content.blobs.exists(late)
    assert remaining_keys(services) == []
    assert retention.run_sweep(services, DEADLINE + dt.timedelta(minutes=10)).nothing_to_do


# --- reminders ----------------------------------------------------------------------------------


def test_reminders_go_to_researchers_once_each_at_local_midnight(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    unapproved = add_informant(services, study_id, 1, state="transcribed")
    notifier = FakeNotifier(services)
    thirty = dt.datetime(2021, 6, 1, 0, 0, tzinfo=OSLO)  # 30 days before 1 July 00:00
    assert not retention.run_sweep(services, thirty - TICK, notifier=notifier).reminders
    with caplog.at_level(logging.WARNING):
        first = retention.run_sweep(services, thirty, notifier=notifier)
    [entry] = first.reminders
    assert entry["days"] == 30
    assert entry["objects"] == {"raw_transcript": 1, "recording": 1}
    assert entry["unapproved_codes"] == [unapproved]
    assert unapproved in caplog.text and "Solfrid" not in caplog.text
    assert [n.kind for n in notifier.researchers] == ["reminder"]
    assert not retention.run_sweep(services, thirty + dt.timedelta(hours=1)).reminders
    seven = dt.datetime(2021, 6, 24, 0, 0, tzinfo=OSLO)
    assert [r["days"] for r in retention.run_sweep(services, seven).reminders] == [7]
    one = dt.datetime(2021, 6, 30, 0, 0, tzinfo=OSLO)
    assert [r["days"] for r in retention.run_sweep(services, one).reminders] == [1]
    assert not retention.run_sweep(services, DEADLINE - TICK).reminders


def test_a_late_start_sends_only_the_most_urgent_reminder(
    services: Services, study_id: str
) -> None:
    add_informant(services, study_id, 1)
    three_days = dt.datetime(2021, 6, 28, 12, 0, tzinfo=OSLO)
    assert [r["days"] for r in retention.run_sweep(services, three_days).reminders] == [7]
    assert not retention.run_sweep(services, three_days + dt.timedelta(hours=1)).reminders


# --- extension ----------------------------------------------------------------------------------


def test_an_extension_needs_a_reason_and_a_later_date(services: Services, study_id: str) -> None:
    with transaction(services.research) as session, pytest.raises(DomainError, match="reason"):
        retention.extend(session, study_id, dt.date(2021, 9, 30), reason="  ", now=NOW)
    with transaction(services.research) as session, pytest.raises(DomainError, match="later"):
        retention.extend(session, study_id, dt.date(2021, 6, 1), reason="x", now=NOW)
    with transaction(services.research) as session, pytest.raises(DomainError, match="passed"):
        retention.extend(session, study_id, dt.date(2021, 9, 30), reason="x", now=DEADLINE)


def test_an_extension_moves_the_deadline_is_audited_and_tells_informants(
    services: Services, study_id: str
) -> None:
    code = add_informant(services, study_id, 1)
    notifier = FakeNotifier(services)
    with transaction(services.research) as session:
        retention.extend(
            session,
            study_id,
            dt.date(2021, 9, 30),
            reason="Sensur utsatt; Sikt har vurdert ny sluttdato",
            assessment_ref="123456",
            now=NOW,
        )
    report = retention.run_sweep(services, DEADLINE, notifier=notifier)
    assert report.deleted == {}
    assert services.vault.get(study_id, code) is not None
    assert ("extension", code, True) in notifier.informants
    assert [n.kind for n in notifier.researchers] == ["extension"]
    [event] = [e for e in events(services, study_id) if e.event == "study.extended"]
    assert event.details["reason"].startswith("Sensur utsatt")
    assert event.details["assessment_ref"] == "123456"
    assert event.details["to"] == "2021-09-30"
    new_deadline = dt.datetime(2021, 9, 30, 22, 0, tzinfo=dt.UTC)
    retention.run_sweep(services, new_deadline - TICK)
    assert services.vault.get(study_id, code) is not None
    retention.run_sweep(services, new_deadline)
    assert services.vault.get(study_id, code) is None
    # Once the deletion has begun there is nothing to extend.
    with transaction(services.research) as session, pytest.raises(DomainError, match="begun"):
        retention.extend(session, study_id, dt.date(2021, 12, 31), reason="x", now=NOW)
    result = retention.study_report(services, study_id)
    assert result.extensions[0]["assessment_ref"] == "123456"
    with transaction(services.research) as session:
        assert studies.load_definition(session, study_id).processing_end == dt.date(2021, 9, 30)


def test_an_extension_past_the_project_end_records_its_reason_in_the_definition(
    services: Services,
) -> None:
    sid = register_variant(services, "short-study", dt.date(2021, 5, 14))
    reason = 'Klage på sensur; Sikt-vurdering "ny dato" 😀'
    with transaction(services.research) as session:
        retention.extend(session, sid, dt.date(2021, 8, 31), reason=reason, now=NOW)
    with transaction(services.research) as session:
        definition = studies.load_definition(session, sid)
        assert definition.processing_end == dt.date(2021, 8, 31)
        assert definition.project_end == dt.date(2021, 5, 14)
        assert definition.processing_end_reason == reason
        study = session.get(Study, sid)
        assert study is not None and study.processing_end == dt.date(2021, 8, 31)


# --- withdrawal ---------------------------------------------------------------------------------


def test_the_sweep_finishes_a_withdrawal_purge_a_crash_interrupted(services: Services) -> None:
    study_id = register_variant(services, "opt-study", optional_recording=True)
    whole = add_informant(services, study_id, 1)
    partial = add_informant(services, study_id, 2)
    with transaction(services.research) as session:
        # Recorded, and then the process died before purge_after_withdrawal ran.
        consent.withdraw(
            session, get_participant(session, study_id, whole), channel="telegram", now=NOW
        )
        consent.withdraw(
            session,
            get_participant(session, study_id, partial),
            channel="telegram",
            now=NOW,
            items=frozenset({"interview-recording"}),
        )
    report = retention.run_sweep(services, NOW + dt.timedelta(minutes=1))
    assert sorted(report.withdrawals) == sorted([f"{study_id}/{whole}", f"{study_id}/{partial}"])
    assert services.vault.get(study_id, whole) is None
    assert services.vault.get(study_id, partial) is not None
    with transaction(services.research) as session:
        assert not session.scalars(select(BlobObject).where(BlobObject.deleted_at.is_(None))).all()
    assert retention.run_sweep(services, NOW + dt.timedelta(minutes=2)).nothing_to_do


# --- the report ---------------------------------------------------------------------------------


def test_the_report_names_codes_and_counts_never_identities(
    services: Services, study_id: str
) -> None:
    codes = sorted(add_informant(services, study_id, n) for n in (1, 2))
    gone = add_informant(services, study_id, 3)
    with transaction(services.research) as session:
        consent.withdraw(
            session, get_participant(session, study_id, gone), channel="telegram", now=NOW
        )
    from fieldvault.domain.withdrawal import purge_after_withdrawal

    purge_after_withdrawal(services, study_id, gone, frozenset(), NOW)
    retention.run_sweep(services, dt.datetime(2021, 6, 24, tzinfo=OSLO))
    retention.run_sweep(services, DEADLINE, notifier=FakeNotifier(services))
    result = retention.study_report(services, study_id).as_dict()
    assert sorted(d["code"] for d in result["deleted"]) == sorted([*codes, gone])
    assert result["objects_deleted"] == {"raw_transcript": 2, "recording": 2}
    assert result["identities_deleted"] == 2
    assert result["withdrawals"][0]["code"] == gone
    assert result["reminders"][0]["days"] == 7
    assert result["notices"] == {"sent": 2}
    assert result["ended_at"] == DEADLINE.isoformat()
    assert result["remaining"] == {"objects": {}}
    text = repr(result)
    for needle in identity_strings([1, 2, 3]):
        assert needle not in text
    with transaction(services.research) as session:
        notices = session.scalars(select(Notice)).all()
        assert all("Solfrid" not in repr(n.params) for n in notices)


def test_a_transcript_a_running_job_writes_after_a_withdrawal_is_purged_by_the_next_sweep(
    services: Services, study_id: str
) -> None:
    from fieldvault.domain.withdrawal import purge_after_withdrawal

    code = add_informant(services, study_id, 1)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.withdraw(session, person, channel="telegram", now=NOW)
    purge_after_withdrawal(services, study_id, code, frozenset(), NOW)
    # The job that was transcribing when the informant withdrew writes its result afterwards.
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        late = services.content.put(
            session,
            study_id=study_id,
            participant_id=person.id,
            participant_code=code,
            kind="raw_transcript",
            source=io.BytesIO(SPOKEN.encode()),
            now=NOW,
        ).object_id
    report = retention.run_sweep(services, NOW + dt.timedelta(minutes=1))
    assert report.withdrawals == [f"{study_id}/{code}"]
    assert not services.content.blobs.exists(late)
    assert remaining_keys(services) == []


def _pseudonymised(services: Services, study_id: str, code: str, *, approved: bool) -> None:
    """A recording, its raw transcript and a pseudonymised version (approved or in review)."""
    from fieldvault.storage.models import PseudonymisedTranscript

    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        raw = session.scalars(
            select(BlobObject).where(
                BlobObject.participant_id == person.id, BlobObject.kind == "raw_transcript"
            )
        ).one()
        transcript = transcript_row(
            session, study_id, person.id, raw.object_id, duration_s=60.0, segments=1
        )
        review = None
        if not approved:
            review = services.content.put(
                session,
                study_id=study_id,
                participant_id=person.id,
                participant_code=code,
                kind="redaction_map",
                source=io.BytesIO(f"{identity(9).name} -> PERSON 1".encode()),
                now=NOW,
            ).object_id
        session.add(
            PseudonymisedTranscript(
                transcript_id=transcript.id,
                study_id=study_id,
                participant_id=person.id,
                language="nb",
                state="approved" if approved else "review",
                review_object_id=review,
                replacements=1,
                suspects=0,
                document=(
                    {
                        "segments": [
                            {
                                "start": 1.0,
                                "end": 5.0,
                                "speaker": "informant",
                                "text": APPROVED_TEXT,
                            }
                        ]
                    }
                    if approved
                    else None
                ),
                created_at=NOW,
                approved_at=NOW if approved else None,
                approved_by="IH" if approved else None,
            )
        )


def test_approved_pseudonymised_transcripts_still_export_after_the_deadline(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    from fieldvault.export.bundle import write_export
    from fieldvault.storage.models import PseudonymisedTranscript

    approved = add_informant(services, study_id, 1, state="approved")
    in_review = add_informant(services, study_id, 2, state="transcribed")
    _pseudonymised(services, study_id, approved, approved=True)
    _pseudonymised(services, study_id, in_review, approved=False)
    report = retention.run_sweep(services, DEADLINE)
    assert report.objects == {"recording": 2, "raw_transcript": 2, "redaction_map": 1}
    with transaction(services.research) as session:
        rows = {p.state: p for p in session.scalars(select(PseudonymisedTranscript))}
        assert rows["approved"].document is not None
        review = session.get(BlobObject, rows["review"].review_object_id)
        assert review is not None and review.deleted_at is not None
    result = write_export(services, study_id, ["all"], tmp_path / "export", DEADLINE)
    assert result.transcripts == 1 and result.participants == 1
    texts = b"".join(p.read_bytes() for p in (tmp_path / "export").rglob("*") if p.is_file())
    assert APPROVED_TEXT.encode() in texts
    assert scan_for(tmp_path / "export", identity_strings([1, 2, 9])) == []
    assert scan_for(services.settings.data_dir, identity_strings([1, 2, 9])) == []


def test_the_scanners_find_a_name_written_in_the_clear(services: Services, study_id: str) -> None:
    # The leak checks above are only worth something if they can fail.
    name = identity(7).name or ""
    (services.settings.data_dir / "stray.log").write_text(f"hello {name}\n", encoding="utf-16-le")
    assert scan_for(services.settings.data_dir, [name]) == [
        (services.settings.data_dir / "stray.log", name)
    ]
    with transaction(services.research) as session:
        person = get_participant(session, study_id, add_informant(services, study_id, 7))
        person.variables = {"note": name}
    assert ("participants", name) in scan_tables(services, [name])
