"""The informant flow, message by message, against a golden file (``tests/data/bot_golden.json``).

Three informants walk every step an informant can take — invite, language, letter, each
consent item, confirmation, /status, /copy, changing an optional answer, a changed letter,
/language, /withdraw of one item and of everything — through PTB's real HTTP stack and the Bot
API stand-in. Every message text, parse mode, button layout (label, step and action of each
button), edit, button answer and document (name, caption, content) is compared with the golden
file, which was generated from the bot as it was before its handlers were split up.

Normalised, because they are random or differ by database backend and nothing else:

- participant codes (``P-`` + six random characters) become ``P-XXXXXX``;
- the MAC of a signed button is dropped (it depends on the per-test linkage key); its version,
  step and action are kept;
- ISO timestamps in the /copy document become ``<time>`` (SQLite can return them without the UTC
  offset, PostgreSQL with it; the clock is fixed, so the value itself never varies).

Everything else — the letter version hash included — is compared byte for byte. The names are
the fakes' fictional defaults ("Test Person") and the example study's invented contacts.

Regenerate (only when a change of the texts is intended): ``FIELDVAULT_REGENERATE_GOLDEN=1
.venv/bin/pytest tests/integration/test_bot_golden.py -k sqlite``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fieldvault.storage.db import transaction
from fieldvault.storage.models import Participant
from fieldvault.storage.services import Services
from tests.fakes.bot_harness import BotHarness, Clock
from tests.fakes.telegram_api import FakeUser, Sent
from tests.integration.conftest import NOW

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

GOLDEN = Path(__file__).parents[1] / "data" / "bot_golden.json"
REGENERATE = os.environ.get("FIELDVAULT_REGENERATE_GOLDEN") == "1"
CODE = re.compile(r"\bP-[0-9A-HJKMNP-TV-Z]{6}\b")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d)?")


def _text(value: str) -> str:
    return CODE.sub("P-XXXXXX", value)


def _buttons(buttons: list[list[dict[str, Any]]]) -> list[list[str]]:
    """Each button as ``label -> version:step:action`` (the MAC dropped)."""
    rows = []
    for row in buttons:
        cells = []
        for button in row:
            data = str(button.get("callback_data", ""))
            signed = ":".join(data.split(":")[:3])
            cells.append(f"{button['text']} -> {signed}")
        rows.append(cells)
    return rows


def _message(params: dict[str, Any]) -> dict[str, Any]:
    """A sent or edited message: its text, parse mode and buttons."""
    entry: dict[str, Any] = {"text": _text(str(params["text"]))}
    if params.get("parse_mode"):
        entry["parse_mode"] = params["parse_mode"]
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        entry["buttons"] = _buttons(markup["inline_keyboard"])
    return entry


def _document(filename: str, content: bytes) -> dict[str, Any]:
    text = _text(content.decode("utf-8"))
    if filename.endswith(".json"):
        text = TIMESTAMP.sub("<time>", text)
    return {"filename": _text(filename), "lines": text.split("\n")}


class Recorder:
    """Runs one informant's actions and writes down every Bot API call each one led to."""

    def __init__(self, h: BotHarness, user: FakeUser) -> None:
        self.h, self.user = h, user
        self.steps: list[dict[str, Any]] = []

    def _since(self, start: int, action: str) -> None:
        sent: list[dict[str, Any]] = []
        edited: list[dict[str, Any]] = []
        answers: list[str | None] = []
        for call in self.h.tg.calls[start:]:
            p = call.params
            if str(p.get("chat_id", self.user.id)) != str(self.user.id):
                continue
            if call.method == "sendMessage":
                sent.append(_message(p))
            elif call.method == "sendDocument":
                filename, content = p["document"]
                sent.append(
                    {"caption": _text(str(p.get("caption", ""))), **_document(filename, content)}
                )
            elif call.method == "editMessageText":
                edited.append(_message(p))
            elif call.method == "answerCallbackQuery":
                text = p.get("text")
                answers.append(None if text is None else str(text))
        step: dict[str, Any] = {"do": action, "sent": sent}
        if edited:
            step["edited"] = edited
        if answers:
            step["answer"] = answers
        self.steps.append(step)

    async def _record(self, action: str, done: Awaitable[list[Sent]]) -> None:
        """Run ``done`` and write down, as ``action``, the Bot API calls it led to."""
        start = len(self.h.tg.calls)
        await done
        self._since(start, action)

    async def send(self, *texts: str) -> None:
        """Send each of ``texts`` in turn."""
        for text in texts:
            await self._record(f"send {text}", self.user.send(text))

    async def send_as(self, text: str, shown: str) -> None:
        """Send ``text``, written down as ``shown`` (e.g. for an invite)."""
        await self._record(f"send {shown}", self.user.send(text))

    async def enrol(self, code: str, language: str) -> None:
        """Open the invite ``code`` and choose the letter's ``language``."""
        await self.send_as(f"/start {code}", "/start <invite>")
        await self.press(language)

    async def press(self, *labels: str) -> None:
        """Press the newest button labelled with each of ``labels`` in turn."""
        for label in labels:
            await self._record(f"press {label}", self.user.press(label))

    async def press_at(self, row: int, column: int = 0) -> None:
        """Press a button of the newest message with buttons, by position."""
        message = next(s for s in reversed(self.user.inbox) if s.buttons)
        button = message.buttons[row][column]
        pressed = self.user.press_data(message, str(button["callback_data"]))
        await self._record(f"press {button['text']}", pressed)

    async def press_data(self, sent: Sent, data: str, shown: str) -> None:
        """Press a button kept from earlier (a stale or repeated one)."""
        await self._record(f"press again {shown}", self.user.press_data(sent, data))

    def note(self, what: str) -> None:
        """Something the test did outside the chat (stored content, a changed letter)."""
        self.steps.append({"do": what})

    async def restart_bot(self) -> None:
        """Restart the bot in the middle of the conversation."""
        await self.h.restart_bot()
        self.note("the bot restarts")


def _store_recording(h: BotHarness) -> None:
    """An encrypted recording for the only participant, as an upload would leave it."""
    with transaction(h.services.research) as session:
        participant = session.scalars(select(Participant)).one()
        h.services.content.put(
            session,
            study_id=h.study_id,
            participant_id=participant.id,
            participant_code=participant.code,
            kind="recording",
            source=[b"recording bytes"],
            now=h.clock(),
        )


async def _bokmaal_whole_path(h: BotHarness, code: str) -> list[dict[str, Any]]:
    """Invite → letter → items → change → confirm → status → copy → change answers → withdraw."""
    r = Recorder(h, h.tg.user(701, username="test_person", language_code="nb"))
    await r.send("/status", "/copy", "/withdraw", "/help")
    await r.send_as("/start R-not-an-invite", "/start <unknown invite>")
    await r.enrol(code, "Norsk bokmål")
    first = r.user.find_button("Ja")
    await r.press("Ja", "Nei", "Endre", "Ja")
    await r.press_data(*first, shown="Ja (an earlier question)")
    await r.press("Nei")
    confirm = r.user.find_button("Bekreft")
    await r.press("Bekreft")
    await r.press_data(*confirm, shown="Bekreft (double tap)")
    _store_recording(h)
    r.note("a recording is stored")
    await r.send("/status", "/copy", "/contact", "/help", "hei?", "/start", "/status")
    await r.press("Endre svarene mine", "Ja", "Ja", "Bekreft")
    await r.send("/copy", "/withdraw")
    await r.press("Avbryt")
    # The optional item: first kept at the second step, then withdrawn.
    for answer in ("Nei, behold det", "Ja, trekk tilbake"):
        await r.send("/withdraw")
        await r.press_at(1)
        await r.press(answer)
    await r.send("/status", "/withdraw")
    await r.press("Alt: trekk meg fra studien", "Ja, trekk tilbake")
    await r.send("/status", "/copy", "/withdraw", "/start")
    return r.steps


async def _english_decline_then_consent(h: BotHarness, code: str) -> list[dict[str, Any]]:
    """English: a No to the required item declines; read again, consent, switch to nynorsk."""
    r = Recorder(h, h.tg.user(702, language_code="en-GB"))
    await r.enrol(code, "English")
    await r.press("No")
    await r.send("/status", "/help", "/start")
    await r.press("English", "Yes", "No", "Confirm")
    await r.send("/language")
    await r.press("Norsk nynorsk")
    await r.send("/status", "/copy", "/contact", "/withdraw")
    await r.press_at(0)
    await r.press_at(0, 0)
    await r.send("/status")
    return r.steps


async def _nynorsk_restart_and_changed_letter(h: BotHarness, code: str) -> list[dict[str, Any]]:
    """Nynorsk: a restart mid-consent, /language mid-consent, then a changed letter refused."""
    r = Recorder(h, h.tg.user(703, language_code="nn"))
    await r.enrol(code, "Norsk nynorsk")
    await r.restart_bot()
    await r.send("/start")
    await r.press("Ja")
    await r.send("/language")
    await r.press("Norsk bokmål", "Ja", "Ja")
    await r.restart_bot()
    await r.press("Bekreft")
    h.change_the_letter()
    r.note("the letter changes")
    await r.send("/status", "/start")
    await r.press("Les det nye skrivet", "Nei", "Ja", "Bekreft")
    await r.send("/status")
    return r.steps


SCENARIOS = {
    "bokmaal_whole_path": _bokmaal_whole_path,
    "english_decline_then_consent": _english_decline_then_consent,
    "nynorsk_restart_and_changed_letter": _nynorsk_restart_and_changed_letter,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_informant_flow_matches_the_golden_file(
    services: Services, study_id: str, name: str
) -> None:
    bot = BotHarness(services, study_id, Clock(NOW))
    [code] = bot.invites()
    recorded: list[dict[str, Any]] = []

    async def scenario(h: BotHarness) -> None:
        recorded.extend(await SCENARIOS[name](h, code))

    bot.run(scenario)
    golden: dict[str, Any] = (
        json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
    )
    if REGENERATE:
        golden[name] = recorded
        text = json.dumps(golden, ensure_ascii=False, indent=1, sort_keys=True)
        GOLDEN.write_text(text + "\n", encoding="utf-8")
        return
    assert name in golden, f"no golden for {name}; see the module docstring to generate it"
    expected = golden[name]
    # Step by step, so a failure names the first action whose messages differ.
    for number, (want, got) in enumerate(zip(expected, recorded, strict=False)):
        assert got == want, f"step {number} ({want.get('do')}) differs"
    assert len(recorded) == len(expected)
