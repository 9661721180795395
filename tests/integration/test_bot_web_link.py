"""One informant, one participant across the web page and the bot (issue 14).

The web side is set up with the domain calls the web page makes (``redeem_invite``,
``mark_informed``, ``record_consent(channel="web")``, ``chat_links.create``, ``rights.withdraw``);
the bot side runs for real against the Bot API stand-in.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from fieldvault.compose import build_web_app
from fieldvault.domain import chat_links, consent, personal_links, rights
from fieldvault.domain.chat_links import ChatLinkError
from fieldvault.domain.consent import State
from fieldvault.domain.errors import InviteError
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BotConversation, InformantChatLink, Participant
from fieldvault.storage.services import Services
from tests.fakes.bot_harness import BotHarness, Clock
from tests.integration.conftest import NOW

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

RECORDING, PUBLICATION = "interview-recording", "identifiable-publication"
RECORDING_NB = "Jeg vil delta i et intervju, og jeg godtar at samtalen blir tatt opp med lyd."
PUBLICATION_NB = "Jeg godtar at oppgaven kan skrive om meg slik at jeg kan bli kjent igjen."
LINKED_NB = "Denne chatten er nå koblet til deltakelsen din"
LINK_REFUSED_NB = "denne lenken til deltakelsen din virker ikke"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def bot(services: Services, study_id: str) -> BotHarness:
    return BotHarness(services, study_id, Clock(NOW))


def _web_participant(
    h: BotHarness,
    *,
    language: str = "nb",
    answers: dict[str, bool] | None = None,
    consented: bool = True,
) -> str:
    """Someone who took part on the web (as the web page records it); their participant code."""
    [invite] = h.invites()
    now = h.clock()
    with transaction(h.services.research) as session:
        participant = consent.redeem_invite(session, invite, now)
        # The web page keeps the flow's language on the informant's personal link.
        personal_links.create(session, participant, language=language, now=now)
        consent.mark_informed(session, participant, language, now)
        if consented:
            consent.record_consent(
                session,
                participant,
                answers or {RECORDING: True, PUBLICATION: False},
                language=language,
                channel="web",
                letter_delivered_at=now,
                now=now,
            )
        return participant.code


def _chat_link(h: BotHarness, code: str, **valid: float) -> str:
    """A chat link code for participant ``code`` (the web page's "use Telegram" button)."""
    with transaction(h.services.research) as session:
        participant = session.scalars(select(Participant).where(Participant.code == code)).one()
        kwargs = {"valid_for": dt.timedelta(**valid)} if valid else {}
        return chat_links.create(session, participant, h.clock(), **kwargs)


def _participant(h: BotHarness, code: str) -> Participant:
    with transaction(h.services.research) as session:
        return session.scalars(select(Participant).where(Participant.code == code)).one()


def test_consented_on_the_web_then_linked_in_telegram_sees_the_same_status(
    bot: BotHarness,
) -> None:
    code = _web_participant(bot)
    link = _chat_link(bot, code)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", link), "fits a Telegram start payload"

    async def scenario(h: BotHarness) -> None:
        # Her Telegram client speaks English; the chat speaks the language she consented in.
        kari = h.tg.user(701, "Kari", "Nordmann", username="kari_n", language_code="en")
        linked = await kari.send(f"/start {link}")
        assert LINKED_NB in linked[0].text and code in linked[0].text
        assert "/web" in linked[0].text
        assert linked[-1].text.startswith("Du kan bruke disse kommandoene")
        [status] = await kari.send("/status")
        assert code in status.text and "Status: samtykket" in status.text
        assert f"✅ {RECORDING_NB}" in status.text and f"❌ {PUBLICATION_NB}" in status.text
        assert status.labels() == ["Endre svarene mine"]
        [copy] = await kari.send("/copy")
        assert copy.document is not None
        data = json.loads(copy.document)
        assert data["participant_code"] == code
        assert [r["channel"] for r in data["consent_history"]] == ["web"]
        assert data["identity"]["telegram_username"] == "kari_n"
        [choose] = await kari.send("/withdraw")
        assert choose.labels()[0] == "Alt: trekk meg fra studien"

    bot.run(scenario)
    participant = _participant(bot, code)
    assert participant.state == State.CONSENTED
    # Notices reach this chat: the vault knows the Telegram ids of the same participant.
    identity = bot.services.vault.get(bot.study_id, code)
    assert identity is not None and identity.telegram_chat_id == 701
    assert bot.services.vault.find_by_telegram(701) == [(bot.study_id, code)]
    with transaction(bot.services.research) as session:
        assert session.scalar(select(Participant.id).where(Participant.code != code)) is None
        row = session.scalars(select(BotConversation)).one()
        assert (row.participant_id, row.language) == (participant.id, "nb")
        stored = session.scalars(select(InformantChatLink)).one()
        assert stored.used_at is not None and link not in stored.code_hash


def test_a_chat_link_works_once_and_not_after_it_expired(bot: BotHarness) -> None:
    code = _web_participant(bot)
    link = _chat_link(bot, code)
    other = _chat_link(bot, _web_participant(bot), hours=1)

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(702, "Kari")
        await kari.send(f"/start {link}")
        # The same chat opening it again just resumes.
        [again] = await kari.send(f"/start {link}")
        assert again.text.startswith("Du kan bruke disse kommandoene")
        ola = h.tg.user(703, "Ola")
        [refused] = await ola.send(f"/start {link}")
        assert LINK_REFUSED_NB in refused.text
        [nothing] = await ola.send("/status")
        assert "ingenting om deg" in nothing.text
        h.clock.advance(hours=2)
        [expired] = await ola.send(f"/start {other}")
        assert LINK_REFUSED_NB in expired.text
        [unknown] = await ola.send("/start not-a-code-of-any-kind")
        assert "invitasjonslenken virker ikke" in unknown.text

    bot.run(scenario)
    assert bot.services.vault.find_by_telegram(703) == []


def test_an_invite_redeemed_on_the_web_is_refused_in_the_bot_and_vice_versa(
    bot: BotHarness,
) -> None:
    [on_web, in_bot] = bot.invites(2)
    with transaction(bot.services.research) as session:
        consent.redeem_invite(session, on_web, bot.clock())

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(704, "Kari")
        await kari.send(f"/start {in_bot}")
        ola = h.tg.user(705, "Ola")
        [reused] = await ola.send(f"/start {in_bot}")
        [from_web] = await ola.send(f"/start {on_web}")
        assert "invitasjonslenken virker ikke" in reused.text
        assert from_web.text == reused.text
        assert from_web.buttons == reused.buttons == []

    bot.run(scenario)
    with transaction(bot.services.research) as session:
        assert len(session.scalars(select(Participant)).all()) == 2
        with pytest.raises(InviteError) as refused:
            consent.redeem_invite(session, in_bot, bot.clock())
        assert refused.value.code == "invite.used"


def test_a_web_withdrawal_shows_in_the_linked_chat(bot: BotHarness) -> None:
    code = _web_participant(bot, answers={RECORDING: True, PUBLICATION: True})
    link = _chat_link(bot, code)

    async def scenario(h: BotHarness) -> None:
        eva = h.tg.user(706, "Eva")
        await eva.send(f"/start {link}")
        done = rights.withdraw(h.services, h.study_id, code, channel="web", now=h.clock())
        assert done.report.identity_deleted
        [status] = await eva.send("/status")
        assert "Status: trukket seg" in status.text and code in status.text
        assert status.buttons == []
        [withdraw] = await eva.send("/withdraw")
        assert withdraw.text == "Du har ikke noe samtykke å trekke tilbake."
        [web] = await eva.send("/web")
        assert "trukket deg" in web.text and "/p/" not in web.text

    bot.run(scenario)
    assert bot.services.vault.get(bot.study_id, code) is None
    assert bot.services.vault.find_by_telegram(706) == []
    with transaction(bot.services.research) as session:
        participant = session.scalars(select(Participant)).one()
        with pytest.raises(ChatLinkError) as refused:
            chat_links.create(session, participant, bot.clock())
        assert refused.value.code == "chat_link.withdrawn"


async def _withdraw_on_the_web_page(h: BotHarness, token: str) -> str:
    """Withdraw everything through the real web page's two forms; the result page's HTML."""
    runner = web.AppRunner(build_web_app(h.services, dispatch=lambda: None, clock=h.clock))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    page = f"http://127.0.0.1:{port}/p/{token}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            personal = await (await http.get(page)).text()
            csrf = CSRF.search(personal).group(1)  # type: ignore[union-attr]
            step = await http.post(f"{page}/withdraw", data={"scope": "all", "csrf": csrf})
            confirm = await step.text()
            csrf = CSRF.search(confirm).group(1)  # type: ignore[union-attr]
            done = await http.post(f"{page}/withdraw/confirm", data={"scope": "all", "csrf": csrf})
            assert done.status == 200, await done.text()
            return await done.text()
    finally:
        await runner.cleanup()


def test_a_withdrawal_on_the_personal_page_shows_in_the_linked_chat(bot: BotHarness) -> None:
    code = _web_participant(bot, answers={RECORDING: True, PUBLICATION: True})
    link = _chat_link(bot, code)
    with transaction(bot.services.research) as session:
        token = personal_links.create(
            session, _participant(bot, code), language="nb", now=bot.clock()
        )

    async def scenario(h: BotHarness) -> None:
        eva = h.tg.user(707, "Eva")
        await eva.send(f"/start {link}")
        [before] = await eva.send("/status")
        assert "Status: trukket seg" not in before.text
        destroyed = await _withdraw_on_the_web_page(h, token)
        assert "Du har trukket deg fra studien" in destroyed  # the page of what was destroyed
        [status] = await eva.send("/status")
        assert "Status: trukket seg" in status.text and code in status.text

    bot.run(scenario)
    assert bot.services.vault.get(bot.study_id, code) is None
    assert bot.services.vault.find_by_telegram(707) == []
    with transaction(bot.services.research) as session:
        assert _participant(bot, code).state == State.WITHDRAWN
        assert audit.verify(session).ok


def test_a_chat_link_of_a_withdrawn_participant_is_refused(bot: BotHarness) -> None:
    code = _web_participant(bot)
    link = _chat_link(bot, code)
    rights.withdraw(bot.services, bot.study_id, code, channel="web", now=bot.clock())

    async def scenario(h: BotHarness) -> None:
        ola = h.tg.user(707, "Ola")
        [refused] = await ola.send(f"/start {link}")
        assert "Du har trukket deg fra denne studien" in refused.text

    bot.run(scenario)
    assert bot.services.vault.get(bot.study_id, code) is None
    with transaction(bot.services.research) as session:
        assert session.scalars(select(InformantChatLink)).one().used_at is None
        assert session.scalars(select(BotConversation)).all() == []


def test_web_gives_a_personal_link_that_the_web_page_accepts(bot: BotHarness) -> None:
    [invite] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        nils = h.tg.user(708, "Nils", language_code="nn")
        [nothing] = await nils.send("/web")
        assert "ingenting om deg" in nothing.text
        # Consented in the bot; the web page then shows the same participation.
        await nils.send(f"/start {invite}")
        await nils.press("Norsk nynorsk")
        await nils.press("Ja")
        await nils.press("Nei")
        await nils.press("Stadfest")
        [web] = await nils.send("/web")
        assert web.text.startswith("Den personlege sida di på nettet:")
        assert "Hald denne lenkja for deg sjølv" in web.text
        base = re.escape(h.services.settings.public_base_url.rstrip("/"))
        [token] = re.findall(base + r"/p/([A-Za-z0-9_-]+)", web.text)
        [call] = [
            c for c in h.tg.calls if c.method == "sendMessage" and "/p/" in str(c.params["text"])
        ]
        assert call.params.get("link_preview_options") == {"is_disabled": True}
        with transaction(h.services.research) as session:
            page = personal_links.resolve(session, token)
            participant = personal_links.participant_of(session, page)
            assert page.language == "nn"
            status = rights.status(session, h.services.vault, participant)
            assert status.state is State.CONSENTED
            assert {i.item_id: i.granted for i in status.items} == {
                RECORDING: True,
                PUBLICATION: False,
            }
        # Each /web is a new link; both open the same page.
        [again] = await nils.send("/web")
        assert token not in again.text

    bot.run(scenario)


def test_informed_on_the_web_then_consents_in_the_bot(bot: BotHarness) -> None:
    code = _web_participant(bot, language="nn", consented=False)
    link = _chat_link(bot, code)

    async def scenario(h: BotHarness) -> None:
        per = h.tg.user(709, "Per")
        linked = await per.send(f"/start {link}")
        assert "Denne chatten er no kopla til deltakinga di" in linked[0].text
        assert linked[-1].text.startswith("Velkomen! Dette er studien")
        await per.press("Norsk bokmål")
        await per.press("Ja")
        await per.press("Ja")
        await per.press("Bekreft")
        [status] = await per.send("/status")
        assert code in status.text and "Status: samtykket" in status.text

    bot.run(scenario)
    participant = _participant(bot, code)
    assert participant.state == State.CONSENTED
    with transaction(bot.services.research) as session:
        assert len(session.scalars(select(Participant)).all()) == 1
        current = consent.current_consent(session, participant)
        assert current.language == "nb" and current.granted(PUBLICATION)


def test_a_chat_taking_part_as_someone_else_is_not_relinked(bot: BotHarness) -> None:
    [invite] = bot.invites()
    code = _web_participant(bot)
    link = _chat_link(bot, code)

    async def scenario(h: BotHarness) -> None:
        kari = h.tg.user(710, "Kari")
        await kari.send(f"/start {invite}")
        await kari.press("Norsk bokmål")
        await kari.press("Ja")
        await kari.press("Ja")
        await kari.press("Bekreft")
        [refused] = await kari.send(f"/start {link}")
        assert "Denne chatten deltar allerede" in refused.text
        # The code was not used up: the informant's own chat can still take it.
        ola = h.tg.user(711, "Ola")
        [linked, *_rest] = await ola.send(f"/start {link}")
        assert code in linked.text

    bot.run(scenario)
    assert bot.services.vault.find_by_telegram(711) == [(bot.study_id, code)]
    assert len(bot.services.vault.find_by_telegram(710)) == 1


def test_linking_a_second_chat_lets_the_first_go(bot: BotHarness) -> None:
    code = _web_participant(bot)
    first, second = _chat_link(bot, code), _chat_link(bot, code)

    async def scenario(h: BotHarness) -> None:
        old = h.tg.user(712, "Kari")
        await old.send(f"/start {first}")
        new = h.tg.user(713, "Kari")
        await new.send(f"/start {second}")
        [gone] = await old.send("/status")
        assert "ingenting om deg" in gone.text
        [status] = await new.send("/status")
        assert code in status.text

    bot.run(scenario)
    assert bot.services.vault.find_by_telegram(712) == []
    assert bot.services.vault.find_by_telegram(713) == [(bot.study_id, code)]
