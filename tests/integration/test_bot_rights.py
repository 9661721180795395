"""Informants' rights through the bot: status, copy, contact, help, language, withdrawal."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from fieldvault.domain.consent import State, current_consent
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, BlobObject, BotConversation, Participant
from fieldvault.storage.services import Services
from tests.fakes.bot_harness import BotHarness, Clock
from tests.fakes.telegram_api import FakeUser
from tests.integration.conftest import NOW


@pytest.fixture
def bot(services: Services, study_id: str) -> BotHarness:
    return BotHarness(services, study_id, Clock(NOW))


async def _consent(user: FakeUser, code: str, answers: tuple[str, str] = ("Ja", "Ja")) -> None:
    await user.send(f"/start {code}")
    await user.press("Norsk bokmål")
    for answer in answers:
        await user.press(answer)
    await user.press("Bekreft")


def _participant(h: BotHarness) -> Participant:
    with transaction(h.services.research) as session:
        return session.scalars(select(Participant)).one()


def _store_content(h: BotHarness, kinds: tuple[str, ...]) -> None:
    """Put encrypted objects for the participant, as the upload and transcription would."""
    participant = _participant(h)
    with transaction(h.services.research) as session:
        for kind in kinds:
            h.services.content.put(
                session,
                study_id=h.study_id,
                participant_id=participant.id,
                participant_code=participant.code,
                kind=kind,
                source=[b"identifiable bytes of " + kind.encode()],
                now=h.clock(),
            )


def _live_kinds(h: BotHarness) -> list[str]:
    with transaction(h.services.research) as session:
        return sorted(
            session.scalars(select(BlobObject.kind).where(BlobObject.deleted_at.is_(None)))
        )


def test_status_copy_contact_and_help(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(601, "Kari", "Nordmann", username="kari_n")
        [nothing] = await kari.send("/status")
        assert "ingenting om deg" in nothing.text
        await _consent(kari, code)
        _store_content(h, ("recording",))
        [status] = await kari.send("/status")
        participant = _participant(h)
        assert participant.code in status.text and "samtykket" in status.text
        assert "opptak av intervjuet ditt: 1" in status.text and "2021-06-30" in status.text
        [copy] = await kari.send("/copy")
        assert copy.document is not None and copy.filename is not None
        data = json.loads(copy.document)
        assert data["participant_code"] == participant.code
        assert data["identity"]["name"] == "Kari Nordmann"
        assert data["identity"]["telegram_username"] == "kari_n"
        assert [r["kind"] for r in data["consent_history"]] == ["consent"]
        assert len(data["recordings"]) == 1 and "bytes" in data["recordings"][0]
        [contact] = await kari.send("/contact")
        assert "Tone Brekke" in contact.text and "Datatilsynet" in contact.text
        assert "Personvernombud" in contact.text
        [help_] = await kari.send("/help")
        assert "/withdraw" in help_.text
        [sticker] = await kari.send_raw(
            {
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "s",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            }
        )
        assert "/withdraw" in sticker.text
        [text] = await kari.send("hei?")
        assert "/status" in text.text

    bot.run(scenario)


def test_language_follows_telegram_and_can_be_changed(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        nils = h.tg.user(602, "Nils", language_code="nn")
        [welcome] = await nils.send(f"/start {code}")
        assert "Velkomen" in welcome.text
        letter = await nils.press("Norsk nynorsk")
        assert letter[0].text.startswith("<b>Førespurnad")
        await nils.press("Ja")
        await nils.press("Ja")
        await nils.press("Stadfest")
        await nils.send("/language")
        [changed] = [await nils.press("English")]
        assert nils.inbox[-1].text == "Language: English"
        [help_] = await nils.send("/help")
        assert help_.text.startswith("You can use these commands")
        assert changed == []

    bot.run(scenario)


def test_withdrawing_an_optional_item_keeps_the_rest(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        eva = h.tg.user(603, "Eva")
        await _consent(eva, code)
        _store_content(h, ("recording", "raw_transcript"))
        [choose] = await eva.send("/withdraw")
        assert choose.labels()[0] == "Alt: trekk meg fra studien"
        only = [label for label in choose.labels() if label.startswith("Bare:")]
        assert len(only) == 1  # the required item is not offered on its own
        [confirm] = await eva.press(only[0])
        assert confirm.labels() == ["Ja, trekk tilbake", "Nei, behold det"]
        message, data = eva.find_button("Ja, trekk tilbake")
        [done] = await eva.press_data(message, data)
        assert "ingenting å slette" in done.text
        # A double tap on the confirmation does nothing more.
        assert await eva.press_data(message, data) == []

    bot.run(scenario)
    participant = _participant(bot)
    assert participant.state == State.CONSENTED
    with transaction(bot.services.research) as session:
        state = current_consent(session, participant)
    assert state.granted("interview-recording") and not state.granted("identifiable-publication")
    assert _live_kinds(bot) == ["raw_transcript", "recording"]
    assert bot.services.vault.get(bot.study_id, participant.code) is not None


def test_withdrawing_everything_purges_and_says_what_was_deleted(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        liv = h.tg.user(604, "Liv", "Lie")
        await _consent(liv, code)
        _store_content(h, ("recording", "recording", "raw_transcript", "redaction_map"))
        await liv.send("/withdraw")
        # Cancel first: nothing changes.
        [cancelled] = [await liv.press("Avbryt")]
        assert cancelled == [] and liv.inbox[-1].text == "Ingenting ble endret."
        await liv.send("/withdraw")
        [confirm] = await liv.press("Alt: trekk meg fra studien")
        assert "kan ikke angres" in confirm.text
        [done] = await liv.press("Ja, trekk tilbake")
        assert "opptak: 2" in done.text and "rå transkripsjoner: 1" in done.text
        assert "andre filer om deg: 1" in done.text
        assert "Vi vet ikke lenger hvem du er" in done.text
        [after] = await liv.send("/status")
        assert "ingenting om deg" in after.text

    bot.run(scenario)
    participant = _participant(bot)
    assert participant.state == State.WITHDRAWN
    assert _live_kinds(bot) == []
    assert bot.services.vault.get(bot.study_id, participant.code) is None
    assert bot.services.vault.find_by_telegram(604) == []
    with transaction(bot.services.research) as session:
        assert session.scalars(select(BotConversation)).all() == []
        purge = session.scalars(
            select(AuditEvent).where(AuditEvent.event == "deletion.purge")
        ).one()
    assert purge.details["objects"] == {"raw_transcript": 1, "recording": 2, "redaction_map": 1}
    assert purge.details["identity_deleted"] is True
    assert "Lie" not in json.dumps(purge.details)


def test_withdrawing_the_recording_item_is_a_whole_withdrawal(bot: BotHarness) -> None:
    """The purge function itself: the recording item takes recordings and raw transcripts."""
    from fieldvault.domain import consent
    from fieldvault.domain.withdrawal import purge_after_withdrawal

    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        await _consent(h.tg.user(605, "Odd"), code)

    bot.run(scenario)
    _store_content(bot, ("recording", "evidence"))
    participant = _participant(bot)
    with transaction(bot.services.research) as session:
        person = session.get(Participant, participant.id)
        assert person is not None
        consent.withdraw(
            session, person, channel="telegram", now=NOW, items=frozenset({"interview-recording"})
        )
    report = purge_after_withdrawal(
        bot.services, bot.study_id, participant.code, frozenset({"interview-recording"}), NOW
    )
    assert report.whole and report.identity_deleted
    assert report.shredded == {"recording": 1, "evidence": 1}
    again = purge_after_withdrawal(
        bot.services, bot.study_id, participant.code, frozenset({"interview-recording"}), NOW
    )
    assert again.total == 0 and not again.identity_deleted
