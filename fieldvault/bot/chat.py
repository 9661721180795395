"""Telegram glue every room shares: who wrote, and sending an ``Outcome`` back to the chat.

A command handler is ``await reply_with(update, context, step)``: the sender is parsed, the
blocking ``step(fv, sender, now)`` runs in the database thread, and its outcome is rendered;
``enrolled(handler, refusal)`` is such a step for commands only an enrolled chat can use.
A button handler is ``await press_with(update, context, steps)`` with its step table.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Mapping

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError

from fieldvault.bot import conversation
from fieldvault.bot.context import BotContext, FieldvaultApplication
from fieldvault.bot.conversation import EnrolledHandler, PressedButton, Sender, StepHandler
from fieldvault.bot.replies import Outcome, Reply
from fieldvault.bot.security import BotKeys
from fieldvault.bot.texts import Gettext

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# A command's work: the application, who wrote and when → what to answer (blocking).
CommandStep = Callable[[FieldvaultApplication, Sender, dt.datetime], Outcome]


def sender_of(update: Update) -> Sender | None:
    """The private-chat sender of ``update``; None for groups, channels and strangers."""
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


def enrolled(handler: EnrolledHandler, refusal: Callable[[Gettext], str]) -> CommandStep:
    """A command step that runs ``handler`` in an enrolled chat; any other chat gets ``refusal``."""

    def step(fv: FieldvaultApplication, sender: Sender, now: dt.datetime) -> Outcome:
        return conversation.command(fv.services, fv.keys, sender, now, handler, refusal)

    return step


async def reply_with(update: Update, context: BotContext, step: CommandStep) -> None:
    """Run ``step`` for the sender of ``update`` and send its outcome."""
    sender = sender_of(update)
    if sender is None:
        return
    outcome = await context.fv.run(step, context.fv, sender, context.fv.clock())
    await render(context, sender, outcome)


async def press_with(update: Update, context: BotContext, steps: Mapping[str, StepHandler]) -> None:
    """A pressed inline button: checked and acted on by ``conversation.press`` with ``steps``."""
    query = update.callback_query
    sender = sender_of(update)
    if query is None or sender is None:
        return
    message = query.message if isinstance(query.message, Message) else None
    fv = context.fv
    pressed = PressedButton(
        sender, query.data, message.message_id if message else None, query.id, fv.clock()
    )
    outcome = await fv.run(conversation.press, fv.services, fv.keys, pressed, steps)
    # The answer only stops the client's spinner: it need not wait for the replies.
    await asyncio.gather(query.answer(outcome.notice), render(context, sender, outcome, message))


async def render(
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
            await bot.send_message(
                sender.chat_id,
                reply.text,
                reply_markup=markup,
                parse_mode=mode,
                link_preview_options=None if reply.preview else NO_PREVIEW,
            )
    await asyncio.gather(*edits)
    if outcome.follow_up is not None:
        await _follow_up(context, sender, outcome, message)


async def _follow_up(
    context: BotContext, sender: Sender, outcome: Outcome, message: Message | None
) -> None:
    """Run the outcome's follow-up in the database thread; it may announce progress first."""
    assert outcome.follow_up is not None
    loop = asyncio.get_running_loop()

    def announce(early: Outcome) -> None:
        # Called from the database thread: the loop sends, this thread waits until it did.
        asyncio.run_coroutine_threadsafe(render(context, sender, early, message), loop).result()

    final = await context.fv.run(outcome.follow_up, announce)
    await render(context, sender, final, message)


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
