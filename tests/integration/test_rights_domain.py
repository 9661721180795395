"""The informant's rights and researchers' links as domain use cases, without any front end."""

from __future__ import annotations

import datetime as dt

import pytest

from fieldvault.bot import views
from fieldvault.bot.texts import gettext_for
from fieldvault.cli.advice import describe
from fieldvault.domain import consent, researcher_links, rights
from fieldvault.domain.consent import State
from fieldvault.domain.errors import ConsentError
from fieldvault.domain.participants import get_participant
from fieldvault.domain.withdrawal import withdraw_and_purge
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity
from tests.integration.conftest import NOW


def _consented(services: Services, study_id: str) -> str:
    """A participant who consented to both items by Telegram, with a (fictional) identity."""
    with transaction(services.research) as session:
        [invite] = consent.create_invites(session, study_id, 1, dt.timedelta(days=3), NOW)
        participant = consent.redeem_invite(session, invite, NOW)
        consent.mark_informed(session, participant, "nb", NOW)
        consent.record_consent(
            session,
            participant,
            {"interview-recording": True, "identifiable-publication": True},
            language="nb",
            channel="telegram",
            letter_delivered_at=NOW,
            now=NOW,
            how={},
        )
        code = participant.code
    services.vault.put(study_id, code, Identity(name="Test Person", telegram_chat_id=7), NOW)
    return code


def test_status_and_copy_are_plain_data(services: Services, study_id: str) -> None:
    code = _consented(services, study_id)
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        status = rights.status(session, services.vault, participant)
        copy = rights.data_copy(session, services.vault, participant, NOW)
        optional = rights.withdrawable_items(session, participant)
    assert status.state is State.CONSENTED and status.holds_consent and status.identity_held
    assert [i.granted for i in status.items] == [True, True] and status.recordings == 0
    assert copy.filename == f"{study_id}-{code}.json"
    assert copy.content["identity"] == {"name": "Test Person", "telegram_chat_id": 7}
    assert b'"participant_code": "' + code.encode() in copy.as_json()
    assert optional == [1]


def test_withdraw_and_purge_is_one_call_and_a_second_one_is_refused_by_code(
    services: Services, study_id: str
) -> None:
    code = _consented(services, study_id)
    seen: list[str] = []
    done = withdraw_and_purge(
        services,
        study_id,
        code,
        channel="web",
        now=NOW,
        in_transaction=lambda _session, recorded: seen.append(f"recorded {recorded.whole}"),
        before_purge=lambda _recorded: seen.append("before purge"),
    )
    assert seen == ["recorded True", "before purge"]
    assert done.recorded.whole and done.report.identity_deleted
    assert services.vault.get(study_id, code) is None
    with pytest.raises(ConsentError) as refused:
        withdraw_and_purge(services, study_id, code, channel="web", now=NOW)
    error = refused.value
    assert error.code == "consent.withdrawn"
    # Each front end words it: the CLI with a command, the bot in the informant's language.
    assert "fieldvault retention report" in describe(error)
    nb = views.error_text(gettext_for("nb"), error, views.nothing_held)
    assert nb == gettext_for("nb")("You have no consent to withdraw.") and "fieldvault" not in nb


def test_link_codes_are_hashed_used_once_and_speak_no_cli(
    services: Services, study_id: str
) -> None:
    with transaction(services.research) as session:
        code = researcher_links.create_link_code(
            session, study_id, "TP", dt.timedelta(hours=1), NOW
        )
    assert researcher_links.link_researcher(services, code, "account-hmac", 99, NOW) == study_id
    assert researcher_links.researcher_chats(services, study_id) == [99]
    assert researcher_links.linked_studies(services, "account-hmac") == [study_id]
    with pytest.raises(researcher_links.LinkError) as again:
        researcher_links.link_researcher(services, code, "other-hmac", 98, NOW)
    assert again.value.code == "researcher_link.invalid" and "CLI" not in str(again.value)
    assert "fieldvault researcher link-code" in describe(again.value)
    with (
        transaction(services.research) as session,
        pytest.raises(researcher_links.LinkLabelError) as label,
    ):
        researcher_links.create_link_code(session, study_id, " ", dt.timedelta(hours=1), NOW)
    assert label.value.code == "researcher_link.bad_label" and "--label" in describe(label.value)
