"""The dashboard read models agree with the domain; invites are revoked; a reveal is audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from fieldvault.config.study_limits import StudyLimits
from fieldvault.domain import consent, dashboard, personal_links
from fieldvault.domain.errors import InviteError, InviteNotFound
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.domain.permissions import Role
from fieldvault.domain.reveal import reveal_name
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, Invite, Study
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

from .conftest import NOW, change_the_letter

WEEK = dt.timedelta(days=7)
BOTH = {"interview-recording": True, "identifiable-publication": True}


def _consent(services: Services, study_id: str, code: str, answers: dict[str, bool]) -> None:
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "nb", NOW)
        consent.record_consent(
            session, person, answers, language="nb", channel="web",
            letter_delivered_at=NOW, now=NOW,
        )  # fmt: skip


def test_the_list_folds_consent_exactly_as_current_consent_does(
    services: Services, study_id: str
) -> None:
    codes = [
        register_participant(services, study_id, Identity(name=f"N {i}"), {}, NOW) for i in range(4)
    ]
    _consent(services, study_id, codes[0], BOTH)
    _consent(services, study_id, codes[1], BOTH)
    _consent(services, study_id, codes[2], {**BOTH, "interview-recording": False})
    with transaction(services.research) as session:
        consent.withdraw(
            session, get_participant(session, study_id, codes[1]), channel="web", now=NOW,
            items=frozenset({"identifiable-publication"}),
        )  # fmt: skip
    change_the_letter(services, NOW)
    with transaction(services.research) as session:
        listed = dashboard.participant_page(session, study_id)
        assert [r.code for r in listed.rows] == codes and listed.total == 4
        for row in listed.rows:
            person = get_participant(session, study_id, row.code)
            state = consent.current_consent(session, person)
            assert dict(row.consent) == dict(state.items), row.code
            assert row.letter_version == state.letter_version
            assert row.reconsent_needed == consent.needs_reconsent(session, person)
        assert listed.rows[0].reconsent_needed and not listed.rows[3].consent


def test_a_revoked_invite_is_refused_like_an_unknown_one_and_a_used_one_cannot_be_revoked(
    services: Services, study_id: str
) -> None:
    with transaction(services.research) as session:
        kept, revoked = consent.create_invites(session, study_id, 2, WEEK, NOW, actor="t")
    with transaction(services.research) as session:
        ids = {
            code: session.scalar(
                select(Invite.id).where(Invite.code_hash == consent.hash_invite_code(code))
            )
            for code in (kept, revoked)
        }
        consent.revoke_invite(session, study_id, ids[revoked], actor="researcher:1", now=NOW)
    with transaction(services.research) as session:
        for refuse in (
            lambda: consent.redeem_invite(session, revoked, NOW),
            lambda: personal_links.invited_study(session, revoked, NOW),
            lambda: consent.open_invite(session, study_id, revoked, NOW),
        ):
            with pytest.raises(InviteError) as refused:
                refuse()
            assert refused.value.code == "invite.unknown"
        with pytest.raises(InviteError):
            consent.open_invite(session, "another-study", kept, NOW)
        consent.redeem_invite(session, kept, NOW)
    with transaction(services.research) as session:
        with pytest.raises(InviteError) as used:
            consent.revoke_invite(session, study_id, ids[kept], actor="researcher:1", now=NOW)
        assert used.value.code == "invite.used"
        with pytest.raises(InviteNotFound):
            consent.revoke_invite(session, "another-study", ids[kept], actor="x", now=NOW)
        with pytest.raises(InviteError) as again:
            consent.revoke_invite(session, study_id, ids[revoked], actor="x", now=NOW)
        assert again.value.code == "invite.revoked"
        rows = dashboard.invite_page(session, study_id, NOW + WEEK * 2)
    assert sorted(r.status for r in rows.rows) == ["revoked", "used"]


def test_a_reveal_without_a_name_is_audited_as_not_found(services: Services, study_id: str) -> None:
    with transaction(services.research) as session:
        (code,) = consent.create_invites(session, study_id, 1, WEEK, NOW)
        person = consent.redeem_invite(session, code, NOW)
        participant_code = person.code
    with transaction(services.research) as session:
        name = reveal_name(
            session, services.vault, study_id, participant_code, actor="researcher:7", now=NOW
        )
    assert name is None
    with transaction(services.research) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.event == "identity.revealed")
        ).one()
        assert event.actor == "researcher:7" and event.details == {"found": False}


def test_a_study_is_running_then_due_then_ended(services: Services, study_id: str) -> None:
    roles = {study_id: Role.OWNER}
    with transaction(services.research) as session:
        (running,) = dashboard.my_studies(session, roles, NOW)
        last_day = dt.datetime(2021, 6, 30, 12, tzinfo=dt.UTC)
        (last,) = dashboard.my_studies(session, roles, last_day)
        (due,) = dashboard.my_studies(session, roles, dt.datetime(2021, 7, 1, 8, tzinfo=dt.UTC))
        study = session.get(Study, study_id)
        assert study is not None
        study.ended_at = NOW
        session.flush()
        (ended,) = dashboard.my_studies(session, roles, NOW)
        session.rollback()
        assert dashboard.my_studies(session, {}, NOW) == []
    assert (running.phase, last.phase, due.phase, ended.phase) == (
        "running", "running", "deletion_due", "ended",
    )  # fmt: skip
    assert last.days_left == 1 and due.days_left == 0 and running.role is Role.OWNER


def test_events_are_filtered_by_type_and_code_and_paged_newest_first(
    services: Services, study_id: str
) -> None:
    codes = [
        register_participant(services, study_id, Identity(name=f"N {i}"), {}, NOW) for i in range(3)
    ]
    with transaction(services.research) as session:
        added = dashboard.study_events(session, study_id, event="participant.added", per_page=2)
        assert added.total == 3 and added.pages == 2
        assert [r.participant_code for r in added.rows] == [codes[2], codes[1]]
        one = dashboard.study_events(session, study_id, code=codes[0])
        assert {r.participant_code for r in one.rows} == {codes[0]}
        assert dashboard.study_events(session, study_id, event="no.such").total == 0
    check = dashboard.verify_chain(services)
    assert check.ok and check.checked >= 4 and check.checkpoints >= 1


def test_the_stored_study_file_is_checked_again_with_todays_limits(
    services: Services, study_id: str
) -> None:
    with transaction(services.research) as session:
        fine = dashboard.check_study(session, study_id, StudyLimits())
        tight = dashboard.check_study(session, study_id, StudyLimits(letter_max_bytes=100))
    assert fine.ok and fine.problems == []
    assert set(fine.letter_versions) == {"nb", "nn", "en"}
    assert not tight.ok and any(field.startswith("letter") for field, _ in tight.problems)
    assert tight.items == fine.items  # still described, as registered
