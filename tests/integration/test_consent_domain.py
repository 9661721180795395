"""The consent domain on real databases: invites, states, records, withdrawal, rule 1."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from sqlalchemy import func, select

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.errors import ConsentError, IllegalTransition, InviteError
from fieldvault.domain.participants import get_participant
from fieldvault.domain.studies import load_definition
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, ConsentRecord, LetterVersion, Participant
from fieldvault.storage.services import Services

from .conftest import NOW, change_the_letter

WEEK = dt.timedelta(days=7)


def _invite_and_redeem(services: Services, study_id: str) -> str:
    with transaction(services.research) as session:
        [code] = consent.create_invites(session, study_id, 1, WEEK, NOW)
    with transaction(services.research) as session:
        return consent.redeem_invite(session, code, NOW).code


def _consent(services: Services, study_id: str, code: str, **decisions: bool) -> None:
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "nb", NOW)
        consent.record_consent(
            session,
            person,
            {k.replace("_", "-"): v for k, v in decisions.items()},
            language="nb",
            channel="telegram",
            letter_delivered_at=NOW,
            now=NOW + dt.timedelta(minutes=5),
            how={"message_id": 42},
        )


def test_invite_codes_fit_a_telegram_start_payload(services: Services, study_id: str) -> None:
    with transaction(services.research) as session:
        codes = consent.create_invites(session, study_id, 5, WEEK, NOW)
    assert len(set(codes)) == 5
    for code in codes:
        assert len(code) <= 64
        assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def test_invite_codes_are_stored_only_as_hashes(services: Services, study_id: str) -> None:
    with transaction(services.research) as session:
        [code] = consent.create_invites(session, study_id, 1, WEEK, NOW)
    with transaction(services.research) as session:
        from fieldvault.storage.models import Invite

        [stored] = session.scalars(select(Invite)).all()
    assert stored.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in repr(stored.__dict__)


def test_an_invite_works_once_and_a_reused_invite_creates_nothing(
    services: Services, study_id: str
) -> None:
    with transaction(services.research) as session:
        [code] = consent.create_invites(session, study_id, 1, WEEK, NOW)
    with transaction(services.research) as session:
        first = consent.redeem_invite(session, code, NOW)
    assert first.state == State.INVITED
    with (
        pytest.raises(InviteError, match="already been used"),
        transaction(services.research) as session,
    ):
        consent.redeem_invite(session, code, NOW + dt.timedelta(minutes=1))
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_an_expired_invite_is_refused(services: Services, study_id: str) -> None:
    with transaction(services.research) as session:
        [code] = consent.create_invites(session, study_id, 1, WEEK, NOW)
    with pytest.raises(InviteError, match="expired"), transaction(services.research) as session:
        consent.redeem_invite(session, code, NOW + WEEK)
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_an_unknown_invite_is_refused_politely(services: Services, study_id: str) -> None:
    with pytest.raises(InviteError, match="not valid"), transaction(services.research) as session:
        consent.redeem_invite(session, "not-a-real-code", NOW)


def test_consent_to_all_items_makes_the_participant_consented(
    services: Services, study_id: str
) -> None:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=False)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == State.CONSENTED
        assert consent.may_hold_recording(session, person)
        state = consent.current_consent(session, person)
        assert state.granted("interview-recording")
        assert not state.granted("identifiable-publication")


def test_the_consent_record_keeps_the_exact_letter_text_of_its_version(
    services: Services, study_id: str
) -> None:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=True)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        [record] = session.scalars(
            select(ConsentRecord).where(ConsentRecord.participant_id == person.id)
        ).all()
        letter = session.get(LetterVersion, (study_id, record.letter_version))
        assert letter is not None
        assert hashlib.sha256(letter.text.encode("utf-8")).hexdigest() == record.letter_version
        assert letter.text == load_definition(session, study_id).letter_text("nb")
        assert record.channel == "telegram"
        assert record.how == {"message_id": 42}
        assert record.letter_delivered_at is not None


def test_refusing_a_required_item_means_declined_and_no_recording(
    services: Services, study_id: str
) -> None:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=False, identifiable_publication=True)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == State.DECLINED
        assert not consent.may_hold_recording(session, person)


def test_every_item_must_be_answered_explicitly(services: Services, study_id: str) -> None:
    code = _invite_and_redeem(services, study_id)
    with pytest.raises(ConsentError, match="no answer"):
        _consent(services, study_id, code, interview_recording=True)
    with pytest.raises(ConsentError, match="unknown consent item"):
        _consent(
            services,
            study_id,
            code,
            interview_recording=True,
            identifiable_publication=True,
            marketing=True,
        )
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 0


def test_withdrawing_an_optional_item_keeps_the_consent_to_record(
    services: Services, study_id: str
) -> None:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=True)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.withdraw(
            session,
            person,
            channel="telegram",
            now=NOW,
            items=frozenset({"identifiable-publication"}),
        )
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == State.CONSENTED
        assert consent.may_hold_recording(session, person)
        assert not consent.current_consent(session, person).granted("identifiable-publication")


def test_withdrawing_the_recording_item_withdraws_participation(
    services: Services, study_id: str
) -> None:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=True)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.withdraw(
            session, person, channel="web", now=NOW, items=frozenset({"interview-recording"})
        )
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == State.WITHDRAWN
        assert not consent.may_hold_recording(session, person)
        state = consent.current_consent(session, person)
        assert not any(state.items.values())


def test_a_withdrawn_participant_cannot_consent_again(services: Services, study_id: str) -> None:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=False)
    with transaction(services.research) as session:
        consent.withdraw(session, get_participant(session, study_id, code), channel="web", now=NOW)
    with pytest.raises(IllegalTransition, match="withdrawn"):
        _consent(services, study_id, code, interview_recording=True, identifiable_publication=True)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (State.INVITED, State.APPROVED),
        (State.INVITED, State.INTERVIEWED),
        (State.CONSENTED, State.DECLINED),
        (State.DECLINED, State.INTERVIEWED),
        (State.WITHDRAWN, State.CONSENTED),
        (State.WITHDRAWN, State.INFORMED),
        (State.APPROVED, State.CONSENTED),
    ],
)
def test_illegal_state_transitions_are_refused(start: State, target: State) -> None:
    person = Participant(code="P-TEST00", state=start.value)
    with pytest.raises(IllegalTransition):
        consent.transition(person, target, NOW)
    assert person.state == start.value


def test_the_normal_path_of_a_participant_is_allowed() -> None:
    person = Participant(code="P-TEST00", state=State.INVITED.value)
    for target in (
        State.INFORMED,
        State.CONSENTED,
        State.INTERVIEWED,
        State.TRANSCRIBED,
        State.APPROVED,
        State.WITHDRAWN,
    ):
        consent.transition(person, target, NOW)
        assert person.state == target.value


def test_a_changed_letter_asks_consented_informants_to_consent_again(
    services: Services, study_id: str
) -> None:
    from fieldvault.config.study import parse_study
    from fieldvault.domain.study_updates import update_study

    from .conftest import EXAMPLE

    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=False)
    with transaction(services.research) as session:
        assert not consent.needs_reconsent(session, get_participant(session, study_id, code))
    text = EXAMPLE.read_text(encoding="utf-8")
    definition = parse_study(text)
    old_letter = definition.letter_text("nb")
    changed = text.replace(
        old_letter.splitlines()[0], old_letter.splitlines()[0] + " (revidert)", 1
    )
    assert changed != text
    with transaction(services.research) as session:
        _, languages = update_study(session, parse_study(changed), changed, NOW)
    assert "nb" in languages
    with transaction(services.research) as session:
        assert consent.needs_reconsent(session, get_participant(session, study_id, code))


def test_consent_events_are_in_the_audit_chain_and_it_verifies(
    services: Services, study_id: str
) -> None:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=False)
    with transaction(services.research) as session:
        consent.withdraw(session, get_participant(session, study_id, code), channel="web", now=NOW)
    with transaction(services.research) as session:
        result = audit.verify(session)
        events = [
            e.event
            for e in session.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.seq))
        ]
    assert result.ok
    assert events == [
        "study.registered",
        "invite.created",
        "invite.redeemed",
        "consent.given",
        "consent.withdrawn",
    ]


def test_paper_consent_stores_the_scan_encrypted(services: Services, study_id: str) -> None:
    code = _invite_and_redeem(services, study_id)
    marker = b"SIGNED-BY-A-REAL-PERSON-" * 50
    scan = io.BytesIO(b"%PDF-1.7\n" + marker)
    record = consent.record_paper_consent(
        services,
        study_id=study_id,
        code=code,
        decisions={"interview-recording": True, "identifiable-publication": False},
        language="nb",
        signed_on=dt.date(2021, 2, 27),
        researcher="Student A",
        evidence=scan,
        now=NOW,
    )
    assert record.channel == "paper"
    with transaction(services.research) as session:
        [obj] = session.scalars(select(BlobObject)).all()
        assert obj.kind == "evidence"
        assert b"".join(services.content.read(obj)) == b"%PDF-1.7\n" + marker
    stored = [p for p in services.settings.blob_path.rglob("*") if p.is_file()]
    assert len(stored) == 1
    assert marker[:24] not in stored[0].read_bytes()


def test_a_refused_paper_consent_leaves_nothing_behind(services: Services, study_id: str) -> None:
    code = _invite_and_redeem(services, study_id)
    with pytest.raises(ConsentError, match="no answer"):
        consent.record_paper_consent(
            services,
            study_id=study_id,
            code=code,
            decisions={"interview-recording": True},
            language="nb",
            signed_on=dt.date(2021, 2, 27),
            researcher="Student A",
            evidence=io.BytesIO(b"%PDF-1.7\nform"),
            now=NOW,
        )
    assert [p for p in services.settings.blob_path.rglob("*") if p.is_file()] == []
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(BlobObject)) == 0
        assert get_participant(session, study_id, code).state == State.INVITED


def test_a_file_that_is_not_a_scan_is_refused_as_evidence(
    services: Services, study_id: str
) -> None:
    code = _invite_and_redeem(services, study_id)
    with pytest.raises(ConsentError, match="not a PDF"):
        consent.record_paper_consent(
            services,
            study_id=study_id,
            code=code,
            decisions={"interview-recording": True, "identifiable-publication": False},
            language="nb",
            signed_on=dt.date(2021, 2, 27),
            researcher="Student A",
            evidence=io.BytesIO(b"MZ\x90\x00 an executable"),
            now=NOW,
        )


def _interviewed(services: Services, study_id: str) -> str:
    code = _invite_and_redeem(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=False)
    with transaction(services.research) as session:
        consent.transition(get_participant(session, study_id, code), State.INTERVIEWED, NOW)
    return code


def test_an_interviewed_participant_who_consents_to_a_new_letter_stays_interviewed(
    services: Services, study_id: str
) -> None:
    code = _interviewed(services, study_id)
    change_the_letter(services, NOW)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=True)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == State.INTERVIEWED
        assert not consent.needs_reconsent(session, person)
        state = consent.current_consent(session, person)
        assert state.granted("identifiable-publication")
        assert state.letter_version == load_definition(session, study_id).letter_version("nb")
        records = session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
        assert [r.kind for r in records] == ["consent", "consent"]
        assert records[0].letter_version != records[1].letter_version
        assert consent.may_hold_recording(session, person)
        assert audit.verify(session).ok


def test_an_optional_item_can_be_granted_later_by_consenting_again(
    services: Services, study_id: str
) -> None:
    code = _interviewed(services, study_id)
    _consent(services, study_id, code, interview_recording=True, identifiable_publication=True)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == State.INTERVIEWED
        assert consent.current_consent(session, person).granted("identifiable-publication")


def test_refusing_a_required_item_on_reconsent_withdraws_the_participation(
    services: Services, study_id: str
) -> None:
    code = _interviewed(services, study_id)
    change_the_letter(services, NOW)
    _consent(services, study_id, code, interview_recording=False, identifiable_publication=True)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == State.WITHDRAWN
        assert not consent.may_hold_recording(session, person)
        assert not any(consent.current_consent(session, person).items.values())
        records = session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
        assert [r.kind for r in records] == ["consent", "consent", "withdrawal"]
        assert records[-1].how == {"scope": "all"}
        events = [
            e.event
            for e in session.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.seq))
        ]
        assert events[-2:] == ["consent.refused", "consent.withdrawn"]
        assert audit.verify(session).ok
    # Withdrawal is final: the participant cannot consent again afterwards.
    with pytest.raises(IllegalTransition, match="withdrawn"):
        _consent(services, study_id, code, interview_recording=True, identifiable_publication=True)
