"""Retention notices through Telegram: the notifier's real Bot against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from sqlalchemy import select

from fieldvault.bot.notifier import TelegramNotifier, build_notifier
from fieldvault.domain import notices
from fieldvault.domain.notices import LogNotifier, NoticeMessage
from fieldvault.domain.researcher_links import create_link_code
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Participant
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity
from tests.fakes.bot_harness import BotHarness, Clock
from tests.fakes.telegram_api import FakeUser
from tests.integration.conftest import NOW

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# Local midnight after the example study's processing end (2021-06-30, Oslo summer time).
DEADLINE = dt.datetime(2021, 6, 30, 22, 0, tzinfo=dt.UTC)
KARI, PER, INGRID, OLA = 880011201, 880011202, 880011203, 880011204


@pytest.fixture
def bot(services: Services, study_id: str) -> BotHarness:
    return BotHarness(services, study_id, Clock(NOW))


async def _consent(user: FakeUser, code: str, language: str, answers: tuple[str, ...]) -> None:
    await user.send(f"/start {code}")
    await user.press(language)
    for answer in answers:
        await user.press(answer)


def _code_of(h: BotHarness, index: int) -> str:
    with transaction(h.services.research) as session:
        return list(session.scalars(select(Participant.code).order_by(Participant.id)))[index]


def _notice(h: BotHarness, audience: str, kind: str, **params: object) -> NoticeMessage:
    code = _code_of(h, 0) if audience == notices.INFORMANT else None
    return NoticeMessage(1, h.study_id, audience, code, kind, dict(params))


def test_without_a_token_notices_go_to_the_log(services: Services) -> None:
    assert services.settings.telegram_token is None
    assert isinstance(build_notifier(services), LogNotifier)


def test_a_deletion_notice_reaches_only_its_informant_in_their_language(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    code_kari, code_per = bot.invites(2)

    async def scenario(h: BotHarness) -> None:
        # Kari's Telegram is in English, but she chose nynorsk in the bot: that is her language.
        kari = h.tg.user(KARI, "Kari", "Nordmann", language_code="en")
        per = h.tg.user(PER, "Per", "Bergqvist", language_code="en")
        await _consent(kari, code_kari, "Norsk nynorsk", ("Ja", "Ja", "Stadfest"))
        await _consent(per, code_per, "English", ("Yes", "Yes", "Confirm"))
        before = {KARI: len(kari.inbox), PER: len(per.inbox)}
        notifier = build_notifier(h.bot_services())
        assert isinstance(notifier, TelegramNotifier)
        identity = h.services.vault.get(h.study_id, _code_of(h, 0))
        assert identity is not None
        notice = _notice(h, notices.INFORMANT, "deletion", deadline=DEADLINE.isoformat())
        with caplog.at_level(logging.DEBUG):
            reached = await asyncio.to_thread(notifier.to_informant, notice, identity)
            await asyncio.to_thread(notifier.close)
        assert reached is True
        [message] = kari.inbox[before[KARI] :]
        assert "2021-06-30" in message.text and "slettar vi" in message.text
        assert "anonymiserte" in message.text and "Martin Solberg" in message.text
        assert len(per.inbox) == before[PER]

    bot.run(scenario)
    for secret in ("Kari", "Nordmann", str(KARI), "Bergqvist"):
        assert secret not in caplog.text


def test_a_researcher_reminder_reaches_linked_researchers_only(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(KARI, "Kari", "Nordmann", language_code="nb")
        await _consent(kari, code, "Norsk bokmål", ("Ja", "Ja", "Bekreft"))
        ingrid = h.tg.user(INGRID, "Ingrid", "Hauge", language_code="en")
        ola = h.tg.user(OLA, "Ola", "Nilsen", language_code="en")
        await ola.send("hello?")
        notifier = build_notifier(h.bot_services())
        reminder = _notice(
            h,
            notices.RESEARCHERS,
            "reminder",
            days=30,
            deadline=DEADLINE.isoformat(),
            participants=1,
            objects={"recording": 2},
            unapproved_codes=[_code_of(h, 0)],
        )
        # Nobody linked yet: nobody to reach.
        assert await asyncio.to_thread(notifier.to_researchers, reminder) is False
        with transaction(h.services.research) as session:
            link = create_link_code(session, h.study_id, "IH", dt.timedelta(hours=1), h.clock())
        await ingrid.send(f"/link {link}")
        before = {u.id: len(u.inbox) for u in (kari, ingrid, ola)}
        with caplog.at_level(logging.DEBUG):
            assert await asyncio.to_thread(notifier.to_researchers, reminder) is True
            await asyncio.to_thread(notifier.close)
        [message] = ingrid.inbox[before[INGRID] :]
        assert "deletion in 30 day(s)" in message.text and "recording: 2" in message.text
        assert _code_of(h, 0) in message.text  # codes, never names
        assert "Kari" not in message.text
        assert len(kari.inbox) == before[KARI] and len(ola.inbox) == before[OLA]

    bot.run(scenario)
    for secret in ("Ingrid", "Hauge", str(INGRID), "Nordmann"):
        assert secret not in caplog.text


def test_an_informant_without_a_telegram_chat_is_unreachable(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(KARI, "Kari", "Nordmann", language_code="nb")
        await _consent(kari, code, "Norsk bokmål", ("Ja", "Ja", "Bekreft"))
        before = len(h.tg.calls)
        notifier = build_notifier(h.bot_services())
        paper_only = Identity(name="Kari Nordmann", email="kari@example.org")

        def deliver() -> str | None:
            with transaction(h.services.research) as session:
                row = notices.add_notice(
                    session,
                    study_id=h.study_id,
                    audience=notices.INFORMANT,
                    participant_code=_code_of(h, 0),
                    kind="deletion",
                    dedupe_key="deletion:test",
                    params={"deadline": DEADLINE.isoformat()},
                    now=NOW,
                )
                return notices.deliver(notifier, row, paper_only, NOW, final=True)

        assert await asyncio.to_thread(deliver) == notices.UNREACHABLE
        await asyncio.to_thread(notifier.close)
        assert [c.method for c in h.tg.calls[before:]] == []

    bot.run(scenario)


def test_an_extension_notice_tells_the_informant_the_new_date(bot: BotHarness) -> None:
    [code] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(KARI, "Kari", "Nordmann", language_code="nb")
        await _consent(kari, code, "Norsk bokmål", ("Ja", "Ja", "Bekreft"))
        notice = _notice(
            h, notices.INFORMANT, "extension", **{"from": "2021-06-30"}, to="2021-12-31"
        )
        identity = h.services.vault.get(h.study_id, _code_of(h, 0))
        assert identity is not None
        notifier = build_notifier(h.bot_services())
        assert await asyncio.to_thread(notifier.to_informant, notice, identity)
        await asyncio.to_thread(notifier.close)
        text = kari.last().text
        assert "2021-12-31" in text and "2021-06-30" in text and "/withdraw" in text

    bot.run(scenario)


def test_a_closed_notifier_refuses_to_send(bot: BotHarness) -> None:
    async def scenario(h: BotHarness) -> None:
        notifier = build_notifier(h.bot_services())
        await asyncio.to_thread(notifier.close)
        await asyncio.to_thread(notifier.close)  # twice is fine
        notice = _notice(h, notices.RESEARCHERS, "extension", **{"from": "a"}, to="b")
        with pytest.raises(RuntimeError, match="closed"):
            await asyncio.to_thread(notifier.to_informant, notice, Identity(telegram_chat_id=1))

    bot.run(scenario)


def test_the_sweep_reminds_researchers_then_tells_informants_through_telegram(
    bot: BotHarness,
) -> None:
    from fieldvault.domain import retention

    code_kari, code_per = bot.invites(2)

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(KARI, "Kari", "Nordmann", language_code="nb")
        per = h.tg.user(PER, "Per", "Bergqvist", language_code="en")
        ingrid = h.tg.user(INGRID, "Ingrid", "Hauge", language_code="en")
        await _consent(kari, code_kari, "Norsk bokmål", ("Ja", "Ja", "Bekreft"))
        await _consent(per, code_per, "English", ("Yes", "Yes", "Confirm"))
        with transaction(h.services.research) as session:
            link = create_link_code(session, h.study_id, "IH", dt.timedelta(hours=1), h.clock())
        await ingrid.send(f"/link {link}")
        users = (kari, per, ingrid)
        notifier = build_notifier(h.bot_services())

        async def sweep(at: dt.datetime) -> dict[int, list[str]]:
            before = {u.id: len(u.inbox) for u in users}
            await asyncio.to_thread(retention.run_sweep, h.services, at, notifier=notifier)
            return {u.id: [m.text for m in u.inbox[before[u.id] :]] for u in users}

        try:
            # A month before: the researchers are reminded, by code and count; informants not.
            month = await sweep(DEADLINE - dt.timedelta(days=29, hours=12))
            [reminder] = month[INGRID]
            assert "deletion in 30 day(s)" in reminder and "Participants: 2" in reminder
            assert "Kari" not in reminder and "Bergqvist" not in reminder
            assert month[KARI] == [] and month[PER] == []
            # At the deadline: each informant, in their own language, and nobody else.
            end = await sweep(DEADLINE)
        finally:
            await asyncio.to_thread(notifier.close)
        [to_kari] = end[KARI]
        [to_per] = end[PER]
        assert "sletter vi" in to_kari
        assert "2021-06-30" in to_kari and "now deleting" in to_per and "2021-06-30" in to_per
        assert end[INGRID] == []

    bot.run(scenario)
    # The identities are gone now: the notices went out while they still existed.
    assert bot.services.vault.find_by_telegram(KARI) == []
    assert bot.services.vault.find_by_telegram(PER) == []


def test_a_changed_letter_sends_consented_informants_a_notice_to_read_it_again(
    bot: BotHarness,
) -> None:
    from fieldvault.config.study import parse_study
    from fieldvault.domain.study_updates import update_study
    from fieldvault.storage.models import Notice
    from tests.integration.conftest import EXAMPLE

    code_kari, code_per = bot.invites(2)

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(KARI, "Kari", "Nordmann", language_code="nb")
        per = h.tg.user(PER, "Per", "Bergqvist", language_code="en")
        await _consent(kari, code_kari, "Norsk bokmål", ("Ja", "Ja", "Bekreft"))
        await per.send(f"/start {code_per}")  # Per reads the letter but has not consented
        text = EXAMPLE.read_text(encoding="utf-8")
        first_line = parse_study(text).letter_text("nb").splitlines()[0]
        changed = text.replace(first_line, first_line + " (revidert)", 1)
        with transaction(h.services.research) as session:
            update_study(session, parse_study(changed), changed, h.clock())
        with transaction(h.services.research) as session:  # again: the notice is queued only once
            update_study(session, parse_study(changed), changed, h.clock())
        with transaction(h.services.research) as session:
            [row] = session.scalars(select(Notice).where(Notice.kind == "letter-changed"))
            assert row.participant_code == _code_of(h, 0)
        before = {KARI: len(kari.inbox), PER: len(per.inbox)}
        notifier = build_notifier(h.bot_services())
        identity = h.services.vault.get(h.study_id, _code_of(h, 0))
        assert identity is not None

        def deliver() -> str | None:
            with transaction(h.services.research) as session:
                [row] = session.scalars(select(Notice).where(Notice.kind == "letter-changed"))
                return notices.deliver(notifier, row, identity, h.clock(), final=False)

        assert await asyncio.to_thread(deliver) == notices.SENT
        await asyncio.to_thread(notifier.close)
        [message] = kari.inbox[before[KARI] :]
        assert "er endret" in message.text and "/start" in message.text
        assert len(per.inbox) == before[PER]
        [prompt] = await kari.send("/start")
        assert prompt.labels() == ["Les det nye skrivet"]

    bot.run(scenario)
