"""Builds the python-telegram-bot Application from ``Services``; every handler is listed here.

Commands and buttons are registered explicitly below (``grep -n '"status"'`` finds who handles
``/status``); each handler lives in the room of its concern: ``handlers/enrolment.py``
(``/start``, ``/language``, ``/help``), ``handlers/consent.py`` (letter, items, summary,
re-consent), ``handlers/rights.py`` (``/status``, ``/copy``, ``/web``, ``/contact``),
``handlers/withdrawal.py`` (``/withdraw``) and ``researchers.py`` (``/link``, ``/participants``,
uploads). Buttons are routed by the action in their signed callback data; the handler checks
the signature and the conversation step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from fieldvault import metrics
from fieldvault.bot import researchers
from fieldvault.bot.chat import press_with, sender_of
from fieldvault.bot.context import BotContext, Clock, FieldvaultApplication
from fieldvault.bot.handlers import consent, enrolment, rights, withdrawal
from fieldvault.bot.logs import quiet_telegram_logs
from fieldvault.bot.security import action_pattern
from fieldvault.bot.texts import gettext_for, pick_language
from fieldvault.config.languages import LANGUAGES
from fieldvault.domain.errors import DomainError
from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services

log = logging.getLogger("fieldvault.bot")

__all__ = ["FieldvaultApplication", "build_application"]


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
        arrived = time.monotonic()
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
            metrics.BOT_UPDATE_SECONDS.observe(time.monotonic() - arrived)
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:
                del self._waiting[chat]
                self._locks.pop(chat, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


async def on_error(update: object, context: BotContext) -> None:
    """Log the kind of error only: updates and messages may hold personal data."""
    error = context.error
    log.error("error while handling an update: %s", type(error).__name__)
    if not isinstance(update, Update) or (sender := sender_of(update)) is None:
        return
    _ = gettext_for(pick_language(sender.language_code, LANGUAGES))
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer()
        # Every step runs in one transaction, so a failed step has changed nothing.
        await context.bot.send_message(
            sender.chat_id, _("Sorry, something went wrong and nothing was changed. Try again.")
        )


# --- registration ------------------------------------------------------------------------------

# Advertised to informants (researcher commands stay invisible), in this order.
INFORMANT_COMMANDS = ("status", "copy", "web", "withdraw", "contact", "language", "help")

COMMANDS = (
    ("start", enrolment.start),
    ("status", rights.status),
    ("copy", rights.copy),
    ("web", rights.web),
    ("withdraw", withdrawal.withdraw),
    ("contact", rights.contact),
    ("language", enrolment.language),
    ("help", enrolment.help_),
    ("link", researchers.link),
    ("participants", researchers.participants),
)

# Button action (a regular expression) → handler; see each handler's room for the step it
# acts in. A button matching none of them (forged, or from an older bot) has expired.
BUTTONS = (
    (r"l\.[a-z]{2,3}", enrolment.choose_language),
    (r"rc", consent.read_again),
    (r"y|n", consent.answer_item),
    (r"ok|chg", consent.confirm_or_change),
    (r"w\.(?:all|\d+)", withdrawal.choose),
    (r"wc", withdrawal.confirm),
    (r"x", withdrawal.cancel),
)


async def expired_button(update: Update, context: BotContext) -> None:
    """Any other button: answered "expired", nothing changes."""
    await press_with(update, context, {})


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
    for name, command in COMMANDS:
        app.add_handler(CommandHandler(name, command))
    for actions, button in BUTTONS:
        app.add_handler(CallbackQueryHandler(button, pattern=action_pattern(actions)))
    app.add_handler(CallbackQueryHandler(expired_button))
    uploads = filters.AUDIO | filters.VOICE | filters.VIDEO | filters.Document.ALL
    app.add_handler(MessageHandler(uploads & filters.ChatType.PRIVATE, researchers.upload))
    # Text, stickers, photos, files from non-researchers: the short help.
    app.add_handler(MessageHandler(filters.ALL, enrolment.help_))
    app.add_error_handler(on_error)
    return app


async def _post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # Only the informant commands are advertised; researcher commands stay invisible.
    with contextlib.suppress(TelegramError):
        await app.bot.set_my_commands([BotCommand(name, name) for name in INFORMANT_COMMANDS])
    log.info("Telegram bot ready")
