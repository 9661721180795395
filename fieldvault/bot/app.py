"""Builds the python-telegram-bot Application from ``Services``; handlers are thin.

Each handler parses the update into a ``Sender``, calls one ``Conversation`` (or researcher)
function in a worker thread (the database calls are blocking), and renders the ``Outcome``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from fieldvault.bot import researchers
from fieldvault.bot.flow import Conversation, Sender, purge_done
from fieldvault.bot.logs import quiet_telegram_logs
from fieldvault.bot.replies import Outcome, Reply
from fieldvault.bot.security import BotKeys
from fieldvault.bot.texts import gettext_for, pick_language
from fieldvault.domain.errors import DomainError
from fieldvault.domain.recordings import RecordingRefused
from fieldvault.domain.withdrawal import purge_after_withdrawal
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services

log = logging.getLogger("fieldvault.bot")
T = TypeVar("T")

Clock = Callable[[], dt.datetime]


class FieldvaultApplication(Application[Any, Any, Any, Any, Any, Any]):
    """The PTB Application, carrying the process's services (no ``bot_data`` dict lookups)."""

    def __init__(self, *, services: Services, clock: Clock, **kwargs: Any) -> None:
        """Keep ``services``, the bot keys and the conversation next to PTB's state."""
        super().__init__(**kwargs)
        self.services = services
        self.clock = clock
        self.keys = BotKeys(services.keys.linkage.current)
        self.conversation = Conversation(services, self.keys)
        # SQLite takes one writer at a time and makes the others sleep and retry; one database
        # thread queues them instead. A server database gets a few threads.
        sqlite = services.settings.research_url.startswith("sqlite")
        self._database = ThreadPoolExecutor(max_workers=1 if sqlite else 8, thread_name_prefix="db")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the blocking ``fn(*args)`` (database work) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._database, fn, *args)

    async def shutdown(self) -> None:
        """Stop PTB, then the database thread."""
        await super().shutdown()
        self._database.shutdown(wait=True)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Callback context with typed access to the fieldvault application."""

    @property
    def fv(self) -> FieldvaultApplication:
        """The fieldvault application this update runs in."""
        app = self.application
        assert isinstance(app, FieldvaultApplication)
        return app


class PerChatProcessor(BaseUpdateProcessor):
    """Updates of one chat run in order; chats run concurrently; a flooding chat is capped.

    PTB's own semaphore is set high so that waiting updates of one chat hold no shared slot;
    the real limit on concurrent work is ``workers``, taken only once it is a chat's turn.
    """

    def __init__(self, workers: int = 32, per_chat_backlog: int = 20) -> None:
        """Run at most ``workers`` updates at once; drop a chat's updates beyond its backlog."""
        super().__init__(max_concurrent_updates=4096)
        self._workers = asyncio.Semaphore(workers)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._backlog = per_chat_backlog

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Serialise per chat, then take a worker slot."""
        chat = (
            update.effective_chat.id if isinstance(update, Update) and update.effective_chat else 0
        )
        if self._waiting.get(chat, 0) >= self._backlog:
            log.warning("dropping an update from a chat that floods the bot")
            if asyncio.iscoroutine(coroutine):
                coroutine.close()
            return
        self._waiting[chat] = self._waiting.get(chat, 0) + 1
        lock = self._locks.setdefault(chat, asyncio.Lock())
        try:
            async with lock, self._workers:
                await coroutine
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:
                del self._waiting[chat]
                self._locks.pop(chat, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _sender(update: Update) -> Sender | None:
    user, chat = update.effective_user, update.effective_chat
    # Private chats only; there the chat id is the user's id, so one cannot act for another.
    if user is None or chat is None or chat.type != "private" or chat.id != user.id:
        return None
    return Sender(
        chat_id=chat.id,
        user_id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )


async def _render(
    context: BotContext, sender: Sender, outcome: Outcome, message: Message | None = None
) -> None:
    """Send (or edit) the replies of ``outcome``, with buttons signed for its step."""
    bot, keys = context.bot, context.fv.keys

    async def edit(text: str, markup: InlineKeyboardMarkup | None, mode: str | None) -> None:
        assert message is not None
        with contextlib.suppress(TelegramError):  # e.g. "message is not modified"
            await bot.edit_message_text(
                text,
                chat_id=sender.chat_id,
                message_id=message.message_id,
                reply_markup=markup,
                parse_mode=mode,
            )

    # New messages must arrive in order, so they go one after the other; editing the message
    # whose button was pressed does not depend on them and runs alongside.
    edits: list[asyncio.Task[None]] = []
    for reply in outcome.replies:
        markup = _markup(keys, sender.chat_id, outcome.seq, reply)
        mode = ParseMode.HTML if reply.html else None
        if reply.document is not None:
            await bot.send_document(
                sender.chat_id,
                InputFile(reply.document.content, filename=reply.document.filename),
                caption=reply.text,
            )
        elif reply.edit and message is not None:
            edits.append(asyncio.create_task(edit(reply.text, markup, mode)))
        else:
            await bot.send_message(sender.chat_id, reply.text, reply_markup=markup, parse_mode=mode)
    await asyncio.gather(*edits)
    if outcome.purge is not None:
        request, services, now = outcome.purge, context.fv.services, context.fv.clock()
        report = await context.fv.run(
            purge_after_withdrawal,
            services,
            request.study_id,
            request.code,
            request.items_withdrawn,
            now,
        )
        done = purge_done(outcome.language, report)
        await bot.send_message(sender.chat_id, done.text)


def _markup(keys: BotKeys, chat_id: int, seq: int, reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(c.label, callback_data=keys.sign(chat_id, seq, c.action))
                for c in row
            ]
            for row in reply.buttons
        ]
    )


# --- informant handlers ----------------------------------------------------------------------


async def on_start(update: Update, context: BotContext) -> None:
    """``/start [invite]``."""
    sender = _sender(update)
    if sender is None:
        return
    payload = context.args[0] if context.args else None
    outcome = await context.fv.run(
        context.fv.conversation.start, sender, payload, context.fv.clock()
    )
    await _render(context, sender, outcome)


def _command(name: str) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    async def handler(update: Update, context: BotContext) -> None:
        sender = _sender(update)
        if sender is None:
            return
        method = getattr(context.fv.conversation, name)
        outcome = await context.fv.run(method, sender, context.fv.clock())
        await _render(context, sender, outcome)

    handler.__doc__ = f"``/{name}``."
    return handler


async def on_button(update: Update, context: BotContext) -> None:
    """A pressed inline button: the flow checks its signature and step."""
    query = update.callback_query
    sender = _sender(update)
    if query is None or sender is None:
        return
    message = query.message if isinstance(query.message, Message) else None
    outcome = await context.fv.run(
        context.fv.conversation.press,
        sender,
        query.data,
        message.message_id if message else None,
        query.id,
        context.fv.clock(),
    )
    # The answer only stops the client's spinner: it need not wait for the replies.
    await asyncio.gather(query.answer(outcome.notice), _render(context, sender, outcome, message))


async def on_other(update: Update, context: BotContext) -> None:
    """Anything else (text, stickers, photos, files from non-researchers): short help."""
    sender = _sender(update)
    if sender is None:
        return
    outcome = await context.fv.run(context.fv.conversation.help, sender, context.fv.clock())
    await _render(context, sender, outcome)


# --- researcher handlers ---------------------------------------------------------------------


async def on_link(update: Update, context: BotContext) -> None:
    """``/link <code>``: link this Telegram account to a study as a researcher."""
    sender = _sender(update)
    if sender is None:
        return
    _ = gettext_for("en")
    code = context.args[0] if context.args else ""
    fv = context.fv

    try:
        study_id = await context.fv.run(
            researchers.link_researcher,
            fv.services,
            fv.keys,
            code,
            sender.user_id,
            sender.chat_id,
            fv.clock(),
        )
    except DomainError:
        await on_other(update, context)
        return
    text = _("Linked as a researcher of {study}. /participants lists its participants.")
    await context.bot.send_message(sender.chat_id, text.format(study=study_id))


async def _researcher_studies(context: BotContext, sender: Sender) -> list[str]:
    fv = context.fv

    def studies() -> list[str]:
        with transaction(fv.services.research) as session:
            return researchers.linked_studies(session, fv.keys, sender.user_id)

    return await context.fv.run(studies)


async def on_participants(update: Update, context: BotContext) -> None:
    """``/participants``: codes and states (researchers only; others get the help text)."""
    sender = _sender(update)
    if sender is None:
        return
    if not await _researcher_studies(context, sender):
        await on_other(update, context)
        return
    _ = gettext_for("en")
    lines = await context.fv.run(
        researchers.participants_of, context.fv.services, context.fv.keys, sender.user_id
    )
    text = "\n".join(f"{p.study_id}  {p.code}  {p.state}" for p in lines)
    await context.bot.send_message(sender.chat_id, text or _("No participants yet."))


async def on_upload(update: Update, context: BotContext) -> None:
    """A file with a participant code in its caption: a recording upload (researchers only)."""
    sender, message = _sender(update), update.effective_message
    if sender is None or message is None:
        return
    if not await _researcher_studies(context, sender):
        await on_other(update, context)
        return
    _ = gettext_for("en")
    attachment = message.audio or message.voice or message.video or message.document
    if attachment is None:
        return
    fv = context.fv
    try:
        target = await context.fv.run(
            researchers.upload_target, fv.services, fv.keys, sender.user_id, message.caption
        )
    except (RecordingRefused, DomainError) as exc:
        await context.bot.send_message(
            sender.chat_id, _("Not accepted: {reason}").format(reason=exc)
        )
        return
    size = attachment.file_size or 0
    if size > researchers.HOSTED_DOWNLOAD_LIMIT and not fv.services.settings.telegram_local_mode:
        await context.bot.send_message(
            sender.chat_id,
            _(
                "This file is larger than 20 MB, the most a bot may download from Telegram. "
                "Upload it through the web page instead, or run a local Bot API server "
                "(see the README)."
            ),
        )
        return
    telegram_file = await attachment.get_file()
    name = Path(telegram_file.file_path or "recording").name
    local = _local_path(fv, telegram_file.file_path)
    source: BinaryIO
    if local is not None:
        source = local.open("rb")
    else:
        # Held in memory only (at most 20 MB here); never written to disk in plaintext.
        source = io.BytesIO(bytes(await telegram_file.download_as_bytearray()))
    try:
        recording_id = await context.fv.run(
            researchers.store_upload, fv.services, target, [(name, source)], fv.clock()
        )
    except (RecordingRefused, DomainError) as exc:
        await context.bot.send_message(
            sender.chat_id, _("Not accepted: {reason}").format(reason=exc)
        )
        return
    finally:
        source.close()
        if local is not None:
            # The local Bot API server keeps plaintext on its disk: remove it once stored.
            local.unlink(missing_ok=True)
    await context.bot.send_message(
        sender.chat_id,
        _("Recording {id} for {code} is stored encrypted and queued for transcription.").format(
            id=recording_id, code=target.code
        ),
    )


def _local_path(fv: FieldvaultApplication, file_path: str | None) -> Path | None:
    if not fv.services.settings.telegram_local_mode or not file_path:
        return None
    path = Path(file_path)
    return path if path.is_absolute() and path.is_file() else None


async def on_error(update: object, context: BotContext) -> None:
    """Log the kind of error only: updates and messages may hold personal data."""
    error = context.error
    log.error("error while handling an update: %s", type(error).__name__)
    if not isinstance(update, Update) or (sender := _sender(update)) is None:
        return
    _ = gettext_for(pick_language(sender.language_code, ("nb", "nn", "en")))
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer()
        # Every step runs in one transaction, so a failed step has changed nothing.
        await context.bot.send_message(
            sender.chat_id, _("Sorry, something went wrong and nothing was changed. Try again.")
        )


# --- building ----------------------------------------------------------------------------------


INFORMANT_COMMANDS = ("status", "copy", "withdraw", "contact", "language", "help")
# httpcore checks every pooled connection for expiry on each request (a syscall each), so PTB's
# 256-connection default costs more the busier the bot is; a few keep-alive connections carry
# the sends of all chats, and a send waits for a free one rather than fail.
HTTP_CONNECTIONS = 8
HTTP_POOL_TIMEOUT_S = 30.0


def build_application(
    services: Services,
    *,
    clock: Clock = utcnow,
    rate_limit: bool | None = None,
    workers: int = 32,
) -> FieldvaultApplication:
    """The bot's Application, configured from ``services.settings``; not started."""
    settings = services.settings
    quiet_telegram_logs()
    if settings.telegram_token is None:
        raise DomainError("FIELDVAULT_TELEGRAM_TOKEN is not set; the bot cannot start")
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .application_class(FieldvaultApplication, {"services": services, "clock": clock})
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .local_mode(settings.telegram_local_mode)
        .connection_pool_size(HTTP_CONNECTIONS)
        .pool_timeout(HTTP_POOL_TIMEOUT_S)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(PerChatProcessor(workers=workers))
        .post_init(_post_init)
    )
    if settings.telegram_rate_limit if rate_limit is None else rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    app = builder.build()
    assert isinstance(app, FieldvaultApplication)
    app.add_handler(CommandHandler("start", on_start))
    for name in INFORMANT_COMMANDS:
        app.add_handler(CommandHandler(name, _command(name)))
    app.add_handler(CommandHandler("link", on_link))
    app.add_handler(CommandHandler("participants", on_participants))
    app.add_handler(CallbackQueryHandler(on_button))
    uploads = filters.AUDIO | filters.VOICE | filters.VIDEO | filters.Document.ALL
    app.add_handler(MessageHandler(uploads & filters.ChatType.PRIVATE, on_upload))
    app.add_handler(MessageHandler(filters.ALL, on_other))
    app.add_error_handler(on_error)
    return app


async def _post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # Only the informant commands are advertised; researcher commands stay invisible.
    with contextlib.suppress(TelegramError):
        await app.bot.set_my_commands([BotCommand(name, name) for name in INFORMANT_COMMANDS])
    log.info("Telegram bot ready")
