"""The informant conversation's persisted state, and the one way a pressed button is handled.

The state of each chat (step, answers so far, language) is a ``BotConversation`` row keyed by
an HMAC of the chat id, so a restarted bot resumes where the informant was. Every step change
bumps ``seq``, which signed buttons carry, so an older button no longer works. Nothing here
knows Telegram; the handlers in ``bot/handlers/`` turn updates into these calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from fieldvault.bot.replies import Outcome, Reply
from fieldvault.bot.security import BotKeys
from fieldvault.bot.texts import Gettext, gettext_for, pick_language
from fieldvault.config.languages import LANGUAGES
from fieldvault.config.study import StudyDefinition
from fieldvault.domain.studies import load_definition
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BotConversation, Participant
from fieldvault.storage.services import Services

# Conversation steps.
LANGUAGE = "language"  # choose the language of the letter (start of consent)
ITEM = "item"  # answering consent item data["i"]
SUMMARY = "summary"  # confirm or change the answers
IDLE = "idle"  # consented or declined; rights commands available
PICK_LANGUAGE = "pick_language"  # /language outside the consent steps
RECONSENT = "reconsent"  # the letter changed (or answers are to change): read it again
WITHDRAW = "withdraw"  # choosing what to withdraw
WITHDRAW_CONFIRM = "withdraw_confirm"  # second step of a withdrawal


@dataclass(frozen=True)
class Sender:
    """Who wrote: Telegram ids and names (they go to the vault only) and the client language."""

    chat_id: int
    user_id: int
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str | None:
        """First and last name as Telegram gives them."""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or None


def chat_row(session: Session, keys: BotKeys, sender: Sender) -> BotConversation | None:
    """The conversation row of ``sender``'s chat, if the chat ever took part."""
    return session.get(BotConversation, keys.chat_key(sender.chat_id))


def drop_chat(session: Session, chat_key: str) -> None:
    """Delete a chat's row: the chat key links the chat to a code, so it goes with the identity."""
    row = session.get(BotConversation, chat_key)
    if row is not None:
        session.delete(row)


def advance(row: BotConversation, step: str, now: dt.datetime, **data: Any) -> None:
    """Move to ``step`` (new seq, so older buttons expire) and merge ``data``."""
    row.step = step
    row.seq = (row.seq or 0) + 1
    row.data = {**(row.data or {}), **data}
    row.updated_at = now


def language_of(row: BotConversation | None, sender: Sender) -> str:
    """The chat's chosen language, else the one closest to the Telegram client's."""
    if row is not None and row.language:
        return row.language
    return pick_language(sender.language_code, LANGUAGES)


def participant_of(session: Session, row: BotConversation) -> Participant | None:
    """The participant this chat is enrolled as, if any."""
    if row.participant_id is None:
        return None
    return session.get(Participant, row.participant_id)


def delivered_at(row: BotConversation, now: dt.datetime) -> dt.datetime:
    """When the letter was delivered in this chat (``now`` when unknown)."""
    value = row.data.get("delivered_at")
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else now


@dataclass(frozen=True)
class Enrolled:
    """A command from a chat that redeemed an invite, inside its transaction."""

    session: Session
    row: BotConversation
    study_id: str
    participant: Participant
    lang: str  # the chat's language (``language_of``)
    gettext: Gettext  # in ``lang``
    now: dt.datetime
    services: Services


# What a command does in an enrolled chat.
EnrolledHandler = Callable[[Enrolled], Outcome]


def command(
    services: Services,
    keys: BotKeys,
    sender: Sender,
    now: dt.datetime,
    handler: EnrolledHandler,
    refusal: Callable[[Gettext], str],
) -> Outcome:
    """Run ``handler`` on ``sender``'s enrolled chat (one transaction); else answer ``refusal``."""
    with transaction(services.research) as session:
        row = chat_row(session, keys, sender)
        lang = language_of(row, sender)
        _ = gettext_for(lang)
        participant = None if row is None else participant_of(session, row)
        if row is None or participant is None or row.study_id is None:
            return Outcome([Reply(refusal(_))])
        return handler(Enrolled(session, row, row.study_id, participant, lang, _, now, services))


@dataclass
class Press:
    """A checked button pressed in an enrolled chat, inside its transaction, with who pressed it."""

    session: Session
    row: BotConversation
    action: str
    message_id: int | None
    callback_id: str
    now: dt.datetime
    services: Services
    keys: BotKeys
    participant: Participant
    study_id: str
    definition: StudyDefinition
    lang: str  # the chat's language, else the study's default
    gettext: Gettext  # in ``lang``


# A step's answer to a button: an outcome, or None when the button means nothing there.
StepHandler = Callable[[Press], Outcome | None]


@dataclass(frozen=True)
class PressedButton:
    """What the handler of a callback query hands over: who pressed what, where and when."""

    sender: Sender
    data: str | None
    message_id: int | None
    callback_id: str
    now: dt.datetime


def _press_in(
    session: Session,
    row: BotConversation,
    action: str,
    pressed: PressedButton,
    services: Services,
    keys: BotKeys,
) -> Press | None:
    """The press of ``action`` in ``row``'s chat; None when the chat is not enrolled."""
    participant = participant_of(session, row)
    if participant is None or row.study_id is None:
        return None
    definition = load_definition(session, row.study_id)
    lang = row.language or definition.default_language
    return Press(
        session,
        row,
        action,
        pressed.message_id,
        pressed.callback_id,
        pressed.now,
        services,
        keys,
        participant,
        row.study_id,
        definition,
        lang,
        gettext_for(lang),
    )


def press(
    services: Services,
    keys: BotKeys,
    pressed: PressedButton,
    steps: Mapping[str, StepHandler],
) -> Outcome:
    """Check a button's signature and step, then act on it exactly once (one transaction).

    ``steps`` names, for each conversation step, what this kind of button does there; a button
    pressed in any other step, or in a chat that is not enrolled, has expired.
    """
    sender, data = pressed.sender, pressed.data
    button = keys.verify(sender.chat_id, data)
    with transaction(services.research) as session:
        row = chat_row(session, keys, sender)
        _ = gettext_for(language_of(row, sender))
        expired = Outcome(notice=_("This button has expired."))
        if button is None or row is None:
            return expired
        if data == row.data.get("last_button"):
            # A double tap: the first tap was acted on; the second changes nothing.
            return Outcome()
        if button.seq != row.seq:
            return expired
        handler = steps.get(row.step)
        if handler is None:
            return expired
        context = _press_in(session, row, button.action, pressed, services, keys)
        if context is None:
            return expired
        outcome = handler(context)
        if outcome is None:
            return expired
        if row not in session.deleted:
            row.data = {**row.data, "last_button": data}
        return outcome
