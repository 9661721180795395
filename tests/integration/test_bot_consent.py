"""The informant conversation, end to end: real PTB Application ↔ the Bot API stand-in."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from fieldvault.domain.consent import State, current_consent
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, BotConversation, ConsentRecord, Participant
from fieldvault.storage.services import Services
from tests.fakes.bot_harness import BotHarness, Clock
from tests.fakes.telegram_api import FakeUser
from tests.integration.conftest import NOW

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def bot(services: Services, study_id: str) -> BotHarness:
    return BotHarness(services, study_id, Clock(NOW))


def _participants(h: BotHarness) -> list[Participant]:
    with transaction(h.services.research) as session:
        return list(session.scalars(select(Participant).order_by(Participant.id)))


def test_full_consent(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(501, "Kari", "Nordmann", username="kari_n", language_code="nb")
        [welcome] = await kari.send(f"/start {code}")
        assert welcome.labels() == ["Norsk bokmål", "Norsk nynorsk", "English"]
        letter = await kari.press("Norsk bokmål")
        assert letter[0].text.startswith("<b>Forespørsel om å delta")
        assert any("Personvernombud" in m.text for m in letter)
        assert all(len(m.text) < 4096 for m in letter)
        first = letter[-1]
        assert first.labels() == ["Ja", "Nei"]  # explicit, nothing pre-ticked
        assert "lydopptak" in first.text or "tatt opp" in first.text
        second = await kari.press("Ja")
        assert second[-1].labels() == ["Ja", "Nei"]
        summary = await kari.press("Ja")
        assert summary[-1].labels() == ["Bekreft", "Endre"]
        receipt = await kari.press("Bekreft")
        texts = "\n".join(m.text for m in receipt)
        assert "2021-06-30" in texts and "/withdraw" in texts
        document = receipt[-1]
        assert document.document is not None and "Forespørsel".encode() in document.document
        assert kari.last().filename == "nav-veileder-letter-nb.txt"

    bot.run(scenario)
    [participant] = _participants(bot)
    assert participant.state == State.CONSENTED
    with transaction(bot.services.research) as session:
        record = session.scalars(select(ConsentRecord)).one()
        assert record.channel == "telegram" and record.language == "nb"
        assert {d.item_id: d.granted for d in record.decisions} == {
            "interview-recording": True,
            "identifiable-publication": True,
        }
        assert record.letter_version and len(record.letter_version) == 64
        assert "confirm_message" in record.how and "item_messages" in record.how
        events = [e.event for e in session.scalars(select(AuditEvent))]
        assert "consent.given" in events
        # The research database keys the chat by an HMAC, never the Telegram id.
        row = session.scalars(select(BotConversation)).one()
        assert "501" not in row.chat_key and len(row.chat_key) == 64
    identity = bot.services.vault.get(bot.study_id, participant.code)
    assert identity is not None and identity.telegram_user_id == 501
    assert identity.name == "Kari Nordmann"
    assert bot.services.vault.find_by_telegram(501) == [(bot.study_id, participant.code)]


def test_no_name_or_telegram_id_reaches_the_log_even_at_debug_level(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(530_771_204, "Kari", "Nordmann", username="kari_n", language_code="nb")
        await _consent(kari, code)
        await kari.send("/status")

    with caplog.at_level(logging.DEBUG):
        bot.run(scenario)
    assert caplog.records  # the bot did log, just nothing identifying
    for secret in ("Kari", "Nordmann", "kari_n", "530771204"):
        assert secret not in caplog.text


async def _consent(user: FakeUser, code: str, answers: tuple[str, str] = ("Ja", "Ja")) -> None:
    await user.send(f"/start {code}")
    await user.press("Norsk bokmål")
    for answer in answers:
        await user.press(answer)
    await user.press("Bekreft")


def _code_of(h: BotHarness) -> str:
    [participant] = _participants(h)
    return participant.code


def test_no_to_the_required_item_ends_politely_as_declined(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        ola = h.tg.user(502, "Ola", language_code="nb")
        await ola.send(f"/start {code}")
        await ola.press("Norsk bokmål")
        [end] = await ola.press("Nei")
        assert "takket nei" in end.text and not end.buttons
        # No further item is asked, no recording may be held.
        assert not any(m.buttons for m in ola.inbox[-1:])
        # Declining leaves an identity in the vault; withdrawing erases it.
        [choose] = await ola.send("/withdraw")
        assert choose.labels() == ["Alt: trekk meg fra studien", "Avbryt"]
        await ola.press("Alt: trekk meg fra studien")
        [done] = await ola.press("Ja, trekk tilbake")
        assert "Vi vet ikke lenger hvem du er" in done.text

    bot.run(scenario)
    [participant] = _participants(bot)
    assert participant.state == State.WITHDRAWN
    assert bot.services.vault.find_by_telegram(502) == []
    with transaction(bot.services.research) as session:
        record = session.scalars(select(ConsentRecord).where(ConsentRecord.kind == "consent")).one()
        assert {d.item_id: d.granted for d in record.decisions} == {
            "interview-recording": False,
            "identifiable-publication": False,
        }


def test_refusing_the_optional_item_still_consents_to_the_interview(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        liv = h.tg.user(503, "Liv", language_code="nb")
        await _consent(liv, code, ("Ja", "Nei"))
        receipt = "\n".join(m.text for m in liv.inbox[-3:])
        assert "✅ Jeg vil delta" in receipt and "❌ Jeg godtar at oppgaven" in receipt

    bot.run(scenario)
    [participant] = _participants(bot)
    assert participant.state == State.CONSENTED
    with transaction(bot.services.research) as session:
        state = current_consent(session, participant)
    assert state.granted("interview-recording") and not state.granted("identifiable-publication")


def test_change_before_confirm_asks_every_item_again(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        eva = h.tg.user(504, "Eva", language_code="nb")
        await eva.send(f"/start {code}")
        await eva.press("Norsk bokmål")
        await eva.press("Ja")
        await eva.press("Ja")
        summary_message, confirm = eva.find_button("Bekreft")
        again = await eva.press("Endre")
        assert again[-1].text.startswith("Spørsmål 1 av 2")
        # The old summary's Confirm button is stale now and changes nothing.
        await eva.press_data(summary_message, confirm)
        assert eva.answer_to_last_press() == "Denne knappen er ikke lenger gyldig."
        await eva.press("Ja")
        await eva.press("Nei")
        await eva.press("Bekreft")

    bot.run(scenario)
    [participant] = _participants(bot)
    with transaction(bot.services.research) as session:
        assert len(session.scalars(select(ConsentRecord)).all()) == 1
        state = current_consent(session, participant)
    assert not state.granted("identifiable-publication")


def test_reused_and_expired_invites_are_refused_and_create_nothing(bot: BotHarness) -> None:
    [used] = bot.invites()
    [expiring] = bot.invites(days=1)

    async def scenario(h: BotHarness) -> None:
        first = h.tg.user(505, language_code="en")
        await first.send(f"/start {used}")
        # Opening the same link again carries on where the informant was.
        [again] = await first.send(f"/start {used}")
        assert again.labels() == ["Norsk bokmål", "Norsk nynorsk", "English"]
        other = h.tg.user(506, language_code="en")
        [refusal] = await other.send(f"/start {used}")
        assert "does not work" in refusal.text and not refusal.buttons
        h.clock.advance(days=2)
        [late] = await other.send(f"/start {expiring}")
        assert "does not work" in late.text
        [unknown] = await other.send("/start not-a-real-invite-code")
        assert "does not work" in unknown.text

    bot.run(scenario)
    assert len(_participants(bot)) == 1
    assert bot.services.vault.find_by_telegram(506) == []
    with transaction(bot.services.research) as session:
        assert len(session.scalars(select(BotConversation)).all()) == 1


def test_forged_and_stale_buttons_expire_and_change_nothing(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        lars = h.tg.user(507, "Lars", language_code="nb")
        await lars.send(f"/start {code}")
        await lars.press("Norsk bokmål")
        question, yes = lars.find_button("Ja")
        assert len(yes.encode()) < 64
        version, seq, action, mac = yes.split(":")
        forged = [
            f"{version}:{seq}:n:{mac}",  # another action under the same tag
            f"{version}:{int(seq) + 1}:{action}:{mac}",  # a future step
            "1:1:y:AAAAAAAAAAAAAAAA",
            "garbage",
            "x" * 64,
        ]
        for data in forged:
            new = await lars.press_data(question, data)
            assert new == []
            assert lars.answer_to_last_press() == "Denne knappen er ikke lenger gyldig."
        # A button signed for another chat does not work here either.
        mallory = h.tg.user(508, "Mallory", language_code="nb")
        await mallory.press_data(question, yes)
        assert mallory.answer_to_last_press() == "Denne knappen er ikke lenger gyldig."
        # The real button still works, once; a double tap changes nothing.
        await lars.press_data(question, yes)
        again = await lars.press_data(question, yes)
        assert again == []

    bot.run(scenario)
    with transaction(bot.services.research) as session:
        row = session.scalars(select(BotConversation)).one()
        assert row.step == "item" and row.data["i"] == 1
        assert row.data["answers"] == {"interview-recording": True}
        assert session.scalars(select(ConsentRecord)).all() == []


def test_restart_mid_conversation_resumes_at_the_same_step(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(509, "Kari", language_code="nb")
        await kari.send(f"/start {code}")
        await kari.press("Norsk bokmål")
        await kari.press("Ja")
        await h.restart_bot()
        # The button the informant already has still works after the restart.
        summary = await kari.press("Nei")
        assert summary[-1].labels() == ["Bekreft", "Endre"]
        await h.restart_bot()
        [repeat] = await kari.send("/start")
        assert repeat.labels() == ["Bekreft", "Endre"]
        await kari.press("Bekreft")

    bot.run(scenario)
    [participant] = _participants(bot)
    assert participant.state == State.CONSENTED
    with transaction(bot.services.research) as session:
        state = current_consent(session, participant)
    assert state.granted("interview-recording") and not state.granted("identifiable-publication")


def test_two_informants_interleaved_never_see_each_others_data(bot: BotHarness) -> None:
    code_a, code_b = bot.invites(2)

    async def scenario(h: BotHarness) -> None:
        anne = h.tg.user(510, "Anne", "Aasgaardli", language_code="nb")
        per = h.tg.user(511, "Per", "Bergqvist", language_code="en")
        await anne.send(f"/start {code_a}")
        await per.send(f"/start {code_b}")
        await per.press("English")
        await anne.press("Norsk bokmål")
        await anne.press("Ja")
        await per.press("Yes")
        # Anne cannot press Per's buttons.
        per_question, per_no = per.find_button("No")
        await anne.press_data(per_question, per_no)
        assert anne.answer_to_last_press() == "Denne knappen er ikke lenger gyldig."
        await per.press("No")
        await anne.press("Nei")
        await per.press("Confirm")
        await anne.press("Bekreft")
        await anne.send("/status")
        await per.send("/copy")
        anne_text = "\n".join(m.text + (m.document or b"").decode() for m in anne.inbox)
        per_text = "\n".join(m.text + (m.document or b"").decode() for m in per.inbox)
        [pa, pb] = _participants(h)
        assert pa.code in anne_text and pb.code not in anne_text
        assert "Bergqvist" not in anne_text
        assert pb.code in per_text and pa.code not in per_text and "Aasgaardli" not in per_text
        assert "Bergqvist" in per_text  # the copy holds Per's own identity fields

    bot.run(scenario)
    assert {p.state for p in _participants(bot)} == {State.CONSENTED}


def test_a_changed_letter_asks_for_consent_to_the_new_text(bot: BotHarness) -> None:
    from fieldvault.config.study import parse_study
    from fieldvault.domain.study_updates import update_study
    from tests.integration.conftest import EXAMPLE

    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(520, "Kari", language_code="nb")
        await _consent(kari, code, ("Ja", "Nei"))
        text = EXAMPLE.read_text(encoding="utf-8")
        first_line = parse_study(text).letter_text("nb").splitlines()[0]
        changed = text.replace(first_line, first_line + " (revidert)", 1)
        with transaction(h.services.research) as session:
            update_study(session, parse_study(changed), changed, h.clock())
        [prompt] = await kari.send("/start")
        assert "er endret" in prompt.text and prompt.labels() == ["Les det nye skrivet"]
        letter = await kari.press("Les det nye skrivet")
        assert "(revidert)" in letter[0].text
        await kari.press("Ja")
        await kari.press("Ja")
        receipt = await kari.press("Bekreft")
        assert "Samtykket ditt er registrert" in receipt[0].text

    bot.run(scenario)
    [participant] = _participants(bot)
    with transaction(bot.services.research) as session:
        from fieldvault.domain.consent import needs_reconsent

        assert not needs_reconsent(session, participant)
        assert current_consent(session, participant).granted("identifiable-publication")


def test_a_no_to_the_required_item_on_reconsent_is_a_withdrawal_with_purge(
    bot: BotHarness,
) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(521, "Kari", "Nordmann", language_code="nb")
        await _consent(kari, code)
        h.change_the_letter()
        await kari.send("/start")
        letter = await kari.press("Les det nye skrivet")
        assert "går du ut av studien" in letter[-1].text
        # Someone who takes part is not dropped at once: the summary warns, then confirms.
        await kari.press("Nei")
        summary = await kari.press("Ja")
        assert "går du ut av studien" in summary[-1].text and "kan ikke angres" in summary[-1].text
        assert summary[-1].labels() == ["Bekreft", "Endre"]
        left = await kari.press("Bekreft")
        texts = "\n".join(m.text for m in left)
        assert "du er nå ute av studien" in texts
        assert "Vi vet ikke lenger hvem du er" in left[-1].text

    bot.run(scenario)
    [participant] = _participants(bot)
    assert participant.state == State.WITHDRAWN
    assert bot.services.vault.get(bot.study_id, participant.code) is None
    assert bot.services.vault.find_by_telegram(521) == []
    with transaction(bot.services.research) as session:
        kinds = [r.kind for r in session.scalars(select(ConsentRecord).order_by(ConsentRecord.id))]
        assert kinds == ["consent", "consent", "withdrawal"]
        assert session.scalars(select(BotConversation)).all() == []
        events = [e.event for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert events[-3:] == ["consent.refused", "consent.withdrawn", "deletion.purge"]


def test_an_optional_item_refused_at_first_can_be_granted_later_from_status(
    bot: BotHarness,
) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        liv = h.tg.user(522, "Liv", language_code="nb")
        await _consent(liv, code, ("Ja", "Nei"))
        [status] = await liv.send("/status")
        assert status.labels() == ["Endre svarene mine"]
        letter = await liv.press("Endre svarene mine")
        assert letter[-1].labels() == ["Ja", "Nei"]
        await liv.press("Ja")
        await liv.press("Ja")
        receipt = await liv.press("Bekreft")
        assert "✅ Jeg godtar at oppgaven" in receipt[0].text

    bot.run(scenario)
    [participant] = _participants(bot)
    assert participant.state == State.CONSENTED
    with transaction(bot.services.research) as session:
        assert current_consent(session, participant).granted("identifiable-publication")
        assert len(session.scalars(select(ConsentRecord)).all()) == 2
