"""A local Bot API stand-in on loopback that the real python-telegram-bot talks to.

It serves the methods the bot uses (getMe, getUpdates with long polling, sendMessage,
editMessageText, answerCallbackQuery, sendDocument, getFile, file downloads, …) over HTTP, records
every call, and plays informants: a test sends text or presses a button that the bot actually
offered in that chat. Waiting is on events: an update counts as handled once the bot has asked
for the updates after it (so it is in PTB's queue) and PTB's update queue has drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

BOT_ID = 4242
BOT_USERNAME = "fieldvault_test_bot"
TOKEN = f"{BOT_ID}:TEST-token-not-real"

Settle = Callable[[], Awaitable[None]]


@dataclass
class Sent:
    """One message the bot sent (or its current text after edits)."""

    chat_id: int
    message_id: int
    method: str
    text: str
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    document: bytes | None = None
    filename: str | None = None
    parse_mode: str | None = None
    at: float = 0.0

    def labels(self) -> list[str]:
        """The labels of this message's buttons."""
        return [b["text"] for row in self.buttons for b in row]


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    at: float


class FakeTelegram:
    """The stand-in server and its recordings."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], Sent] = {}
        self.outbox: dict[int, list[Sent]] = {}
        self.answers: dict[str, str | None] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self._updates: list[dict[str, Any]] = []
        self._acked = 0  # highest offset the bot asked for (updates below it are in its queue)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.polls = 0  # getUpdates calls so far (a bot is polling once this is > 0)
        self.local_dir: Path | None = None
        self.port = 0
        self.settle: Settle | None = None
        self.sent_at: dict[int, float] = {}  # update id -> time its first reply arrived
        self._pushed_at: dict[int, float] = {}
        self._update_chat: dict[int, int] = {}
        # Waiters for one chat's messages: woken only by that chat, so that many simulated
        # users (the benchmark's 200) do not all re-check on every message to anyone.
        self._chat_waiters: dict[int, list[asyncio.Future[None]]] = {}

    # --- server ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Close the server, ending any long poll still open."""
        async with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What the bot's ``base_url`` setting should be."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """What the bot's ``base_file_url`` setting should be."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = (value.filename, value.file.read())
            else:
                params[key] = _decode(str(value))
        handler = getattr(self, f"_m_{method}", None)
        if method != "getUpdates":
            await self._record(Call(method, params, time.perf_counter()))
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not faked"},
                status=404,
            )
        result = await handler(params)
        return web.json_response({"ok": True, "result": result})

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        for file_path, content in self.files.values():
            if file_path == path:
                return web.Response(body=content)
        return web.Response(status=404)

    # --- Bot API methods ---------------------------------------------------------------------

    @staticmethod
    def _bot_user() -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Fieldvault",
            "username": BOT_USERNAME,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return self._bot_user()

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset", 0) or 0)
        timeout = float(params.get("timeout", 0) or 0)
        async with self._changed:
            self.polls += 1
            self._changed.notify_all()
            if offset > self._acked:
                # Like Telegram: asking from ``offset`` confirms, and forgets, every update below.
                self._acked = offset
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                self._changed.notify_all()

            def pending() -> list[dict[str, Any]]:
                return [u for u in self._updates if u["update_id"] >= self._acked]

            if not pending() and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(pending()) or self._closing), timeout
                    )
            return pending()[:100]

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        sent = Sent(
            chat_id=chat_id,
            message_id=next(self._message_ids),
            method="sendMessage",
            text=str(params["text"]),
            buttons=_buttons(params.get("reply_markup")),
            parse_mode=params.get("parse_mode"),
            at=time.perf_counter(),
        )
        await self._store(sent)
        return self._message_json(sent)

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        filename, content = params["document"]
        sent = Sent(
            chat_id=chat_id,
            message_id=next(self._message_ids),
            method="sendDocument",
            text=str(params.get("caption", "")),
            document=content,
            filename=filename,
            at=time.perf_counter(),
        )
        await self._store(sent)
        data = self._message_json(sent)
        data.pop("text", None)
        data["caption"] = sent.text
        data["document"] = {
            "file_id": f"doc-{sent.message_id}",
            "file_unique_id": f"u-doc-{sent.message_id}",
            "file_name": filename,
            "file_size": len(content),
        }
        return data

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        sent = self.messages[(chat_id, message_id)]
        sent.text = str(params["text"])
        sent.buttons = _buttons(params.get("reply_markup"))
        await self._record(Call("edited", {"chat_id": chat_id}, time.perf_counter()))
        return self._message_json(sent)

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        text = params.get("text")
        async with self._changed:
            self.answers[str(params["callback_query_id"])] = None if text is None else str(text)
            self._changed.notify_all()
        return True

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        path, content = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    async def _store(self, sent: Sent) -> None:
        async with self._changed:
            self.messages[(sent.chat_id, sent.message_id)] = sent
            self.outbox.setdefault(sent.chat_id, []).append(sent)
            self._changed.notify_all()
        for waiter in self._chat_waiters.pop(sent.chat_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def _message_json(self, sent: Sent) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {"id": sent.chat_id, "type": "private"},
            "from": self._bot_user(),
            "text": sent.text,
        }
        if sent.buttons:
            data["reply_markup"] = {"inline_keyboard": sent.buttons}
        return data

    # --- playing users -----------------------------------------------------------------------

    async def push(self, update: dict[str, Any], chat_id: int) -> int:
        """Queue an update for the bot; return its id."""
        update_id = next(self._update_ids)
        update["update_id"] = update_id
        async with self._changed:
            self._updates.append(update)
            self._pushed_at[update_id] = time.perf_counter()
            self._update_chat[update_id] = chat_id
            self._changed.notify_all()
        return update_id

    async def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on every recorded change)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def wait_chat(
        self, chat_id: int, predicate: Callable[[], bool], timeout: float = 20.0
    ) -> None:
        """Wait until ``predicate()`` holds, re-checked only when ``chat_id`` gets a message."""
        async with asyncio.timeout(timeout):
            while not predicate():
                waiter = asyncio.get_running_loop().create_future()
                self._chat_waiters.setdefault(chat_id, []).append(waiter)
                await waiter

    async def handled(self, update_id: int) -> None:
        """Wait until the bot has fetched ``update_id`` and finished handling it."""
        await self.wait(lambda: self._acked > update_id)
        if self.settle is not None:
            await self.settle()

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = "Person",
        username: str | None = None,
        language_code: str | None = "nb",
    ) -> FakeUser:
        """An informant or researcher in a private chat with the bot."""
        return FakeUser(self, user_id, first_name, last_name, username, language_code)

    def chat(self, chat_id: int) -> list[Sent]:
        """Everything the bot sent to ``chat_id``, oldest first."""
        return list(self.outbox.get(chat_id, []))

    def all_chats(self) -> dict[int, list[Sent]]:
        """Every chat's messages."""
        return {k: list(v) for k, v in self.outbox.items()}

    def add_file(self, content: bytes, path: str) -> str:
        """Make a file downloadable through getFile; return its file id.

        With ``local_dir`` set, the stand-in acts as a local Bot API server: the file is written
        there and getFile answers with its absolute path, as ``--local`` mode does.
        """
        file_id = f"file-{next(self._ids)}"
        if self.local_dir is not None:
            target = self.local_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            path = str(target)
        self.files[file_id] = (path, content)
        return file_id


@dataclass
class FakeUser:
    """One Telegram user talking to the bot in a private chat (chat id = user id)."""

    tg: FakeTelegram
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None

    def _from(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def _chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}

    @property
    def inbox(self) -> list[Sent]:
        """What the bot sent this user."""
        return self.tg.chat(self.id)

    def last(self) -> Sent:
        """The bot's latest message here."""
        return self.inbox[-1]

    async def send(self, text: str) -> list[Sent]:
        """Send a text (a command when it starts with /); return the bot's new messages."""
        message: dict[str, Any] = {
            "message_id": next(self.tg._message_ids),
            "date": int(time.time()),
            "chat": self._chat(),
            "from": self._from(),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return await self._deliver({"message": message})

    async def send_file(
        self,
        content: bytes,
        *,
        kind: str = "document",
        caption: str | None = None,
        filename: str = "interview.wav",
        size: int | None = None,
    ) -> list[Sent]:
        """Send an audio file, voice note, video or document."""
        file_id = self.tg.add_file(content, f"{kind}s/{filename}")
        attachment: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content) if size is None else size,
        }
        if kind == "document":
            attachment["file_name"] = filename
        else:
            attachment["duration"] = 1
        message: dict[str, Any] = {
            "message_id": next(self.tg._message_ids),
            "date": int(time.time()),
            "chat": self._chat(),
            "from": self._from(),
            kind: attachment,
        }
        if caption is not None:
            message["caption"] = caption
        return await self._deliver({"message": message})

    async def send_raw(self, message: dict[str, Any]) -> list[Sent]:
        """Send a message object with whatever else it holds (a sticker, a photo, …)."""
        body = {
            "message_id": next(self.tg._message_ids),
            "date": int(time.time()),
            "chat": self._chat(),
            "from": self._from(),
            **message,
        }
        return await self._deliver({"message": body})

    def find_button(self, label: str) -> tuple[Sent, str]:
        """The newest message here with a button ``label``, and that button's callback data."""
        for sent in reversed(self.inbox):
            for row in sent.buttons:
                for button in row:
                    if button["text"] == label:
                        return sent, str(button["callback_data"])
        offered = [s.labels() for s in self.inbox if s.buttons]
        raise AssertionError(f"no button {label!r}; buttons offered: {offered}")

    async def press(self, label: str) -> list[Sent]:
        """Press the newest button labelled ``label``; return the bot's new messages."""
        sent, data = self.find_button(label)
        return await self.press_data(sent, data)

    async def press_data(self, sent: Sent, data: str) -> list[Sent]:
        """Send a callback query with ``data`` from message ``sent`` (possibly forged)."""
        query_id = f"cq-{next(self.tg._ids)}"
        message = self.tg._message_json(sent)
        message["chat"] = self._chat()  # a user can press buttons only in their own chat
        update = {
            "callback_query": {
                "id": query_id,
                "from": self._from(),
                "chat_instance": f"ci-{self.id}",
                "message": message,
                "data": data,
            }
        }
        new = await self._deliver(update)
        assert query_id in self.tg.answers, "the bot did not answer the button press"
        return new

    def answer_to_last_press(self) -> str | None:
        """The notice text of the newest answered callback query."""
        return list(self.tg.answers.values())[-1]

    async def _deliver(self, update: dict[str, Any]) -> list[Sent]:
        before = len(self.inbox)
        update_id = await self.tg.push(update, self.id)
        await self.tg.handled(update_id)
        return self.inbox[before:]


def _decode(value: str) -> Any:
    # PTB sends objects (reply_markup, entities) JSON-encoded and plain values as they are.
    if not value.startswith(("{", "[")):
        return value
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def _buttons(markup: Any) -> list[list[dict[str, Any]]]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    return list(markup.get("inline_keyboard", []))
