"""Researchers in the bot: link code, participant list, recording uploads; the webhook."""

from __future__ import annotations

import datetime as dt
import io
import wave
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from fieldvault.bot.runner import SECRET_HEADER, WEBHOOK_PATH, webhook_app
from fieldvault.domain.researcher_links import create_link_code
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, Participant
from fieldvault.storage.services import Services
from tests.fakes.bot_harness import BotHarness, Clock
from tests.fakes.telegram_api import FakeUser
from tests.integration.conftest import NOW


@pytest.fixture
def bot(services: Services, study_id: str) -> BotHarness:
    return BotHarness(services, study_id, Clock(NOW))


def _wav(seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x01" * int(16000 * seconds))
    return buffer.getvalue()


def _link_code(h: BotHarness) -> str:
    with transaction(h.services.research) as session:
        return create_link_code(session, h.study_id, "IH", dt.timedelta(hours=1), h.clock())


async def _consent(user: FakeUser, code: str, answers: tuple[str, str]) -> None:
    await user.send(f"/start {code}")
    await user.press("English")
    for answer in answers:
        await user.press(answer)
    await user.press("Confirm")


def _codes(h: BotHarness) -> list[str]:
    with transaction(h.services.research) as session:
        return list(session.scalars(select(Participant.code).order_by(Participant.id)))


def test_researcher_links_lists_and_uploads_with_consent(bot: BotHarness) -> None:
    consenting, declining = bot.invites(2)

    async def scenario(h: BotHarness) -> None:
        await _consent(h.tg.user(701, "Kari", language_code="en"), consenting, ("Yes", "No"))
        decliner = h.tg.user(702, "Ola", language_code="en")
        await decliner.send(f"/start {declining}")
        await decliner.press("English")
        await decliner.press("No")
        ok_code, declined_code = _codes(h)

        ingrid = h.tg.user(750, "Ingrid", language_code="en")
        # Not linked yet: researcher commands look like anything else unknown.
        [hidden] = await ingrid.send("/participants")
        assert ok_code not in hidden.text and "invitation link" in hidden.text
        [refused] = await ingrid.send_file(_wav(), caption=ok_code)
        assert "invitation link" in refused.text

        link = _link_code(h)
        [linked] = await ingrid.send(f"/link {link}")
        assert "nav-veileder" in linked.text
        [again] = await ingrid.send(f"/link {link}")  # one-time
        assert "invitation link" in again.text

        [listing] = await ingrid.send("/participants")
        assert f"{ok_code}  consented" in listing.text
        assert f"{declined_code}  declined" in listing.text
        assert "Kari" not in listing.text and "Ola" not in listing.text

        [no_consent] = await ingrid.send_file(_wav(), caption=f"{declined_code} interview")
        assert no_consent.text.startswith("Not accepted") and "consent" in no_consent.text
        [no_code] = await ingrid.send_file(_wav(), caption="the interview")
        assert "participant code" in no_code.text
        [too_big] = await ingrid.send_file(_wav(), caption=ok_code, size=25 * 1024 * 1024)
        assert "20 MB" in too_big.text
        [accepted] = await ingrid.send_file(_wav(), kind="audio", caption=ok_code)
        assert "stored encrypted" in accepted.text, accepted.text
        [voice] = await ingrid.send_file(_wav(), kind="voice", caption=ok_code.lower())
        assert "stored encrypted" in voice.text, voice.text

    bot.run(scenario)
    with transaction(bot.services.research) as session:
        kinds = session.scalars(select(BlobObject.kind)).all()
    assert kinds == ["recording", "recording"]


def test_webhook_refuses_requests_without_the_secret(bot: BotHarness) -> None:
    async def scenario(h: BotHarness) -> None:
        assert h.app is not None
        runner = web.AppRunner(webhook_app(h.app, "s3cret-token"))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        update = {
            "update_id": 99,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 801, "type": "private"},
                "from": {"id": 801, "is_bot": False, "first_name": "X"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        try:
            async with aiohttp.ClientSession() as client:
                async with client.post(url, json=update) as response:
                    assert response.status == 403
                headers = {SECRET_HEADER: "wrong"}
                async with client.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
                assert h.tg.chat(801) == []
                headers = {SECRET_HEADER: "s3cret-token"}
                async with client.post(url, json=update, headers=headers) as response:
                    assert response.status == 200
                await h.tg.wait(lambda: bool(h.tg.chat(801)))
                assert "invitation link" in h.tg.chat(801)[0].text
        finally:
            await runner.cleanup()

    bot.run(scenario)


def test_local_bot_api_copies_are_deleted_after_ingest(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    bot = BotHarness(services, study_id, Clock(NOW), extra_settings={"telegram_local_mode": True})
    bot.tg.local_dir = tmp_path / "bot-api-server"
    [invite] = bot.invites()

    async def scenario(h: BotHarness) -> None:
        await _consent(h.tg.user(711, "Kari", language_code="en"), invite, ("Yes", "Yes"))
        [code] = _codes(h)
        ingrid = h.tg.user(751, "Ingrid", language_code="en")
        await ingrid.send(f"/link {_link_code(h)}")
        # Over 20 MB is fine with a local server: the file is read from its disk.
        [stored] = await ingrid.send_file(_wav(), caption=code, size=25 * 1024 * 1024)
        assert "stored encrypted" in stored.text, stored.text
        [kept] = list(h.tg.files.values())
        assert not Path(kept[0]).exists()  # the plaintext copy on the server's disk is gone

    bot.run(scenario)
    with transaction(services.research) as session:
        assert session.scalars(select(BlobObject.kind)).all() == ["recording"]


def test_a_flooding_chat_does_not_starve_others(bot: BotHarness) -> None:
    async def scenario(h: BotHarness) -> None:
        flooder = h.tg.user(760, "Flood", language_code="en")
        calm = h.tg.user(761, "Calm", language_code="en")
        for i in range(60):
            await h.tg.push(
                {
                    "message": {
                        "message_id": 10_000 + i,
                        "date": 0,
                        "chat": {"id": flooder.id, "type": "private"},
                        "from": {"id": flooder.id, "is_bot": False, "first_name": "Flood"},
                        "text": f"spam {i}",
                    }
                },
                flooder.id,
            )
        [answer] = await calm.send("/help")
        assert "invitation link" in answer.text
        # The flood was capped (its backlog beyond the limit dropped), never answered 60 times.
        assert len(flooder.inbox) < 60

    bot.run(scenario)
