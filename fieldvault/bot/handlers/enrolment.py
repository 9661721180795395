"""Enrolment: ``/start`` with an invite, resuming where the chat was, languages, help.

Buttons: ``l.<code>`` — the letter's language (before consent) or the chat's (``/language``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session
from telegram import Update

from fieldvault.bot import views
from fieldvault.bot.chat import enrolled, press_with, reply_with
from fieldvault.bot.context import BotContext, FieldvaultApplication
from fieldvault.bot.conversation import (
    IDLE,
    ITEM,
    LANGUAGE,
    PICK_LANGUAGE,
    RECONSENT,
    SUMMARY,
    Enrolled,
    Press,
    Sender,
    advance,
    chat_row,
    language_of,
)
from fieldvault.bot.handlers.consent import deliver_letter
from fieldvault.bot.replies import Outcome, Reply
from fieldvault.bot.texts import gettext_for, pick_language
from fieldvault.domain import consent
from fieldvault.domain.consent import HOLDS_CONSENT, State
from fieldvault.domain.errors import InviteError
from fieldvault.domain.studies import load_definition
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BotConversation, Participant
from fieldvault.storage.vault import Identity

# --- /start ----------------------------------------------------------------------------------


def _start(fv: FieldvaultApplication, sender: Sender, payload: str, now: dt.datetime) -> Outcome:
    """Redeem the invite ``payload`` and ask for the language; a second open just resumes."""
    written: tuple[str, str] | None = None
    try:
        with transaction(fv.services.research) as session:
            row = chat_row(session, fv.keys, sender)
            lang = language_of(row, sender)
            try:
                participant = consent.redeem_invite(
                    session,
                    payload.strip(),
                    now,
                    pseudonym_avoid=frozenset(
                        n for n in (sender.first_name, sender.last_name) if n
                    ),
                )
            except InviteError as error:
                if row is None or row.participant_id is None:
                    _ = gettext_for(lang)
                    return Outcome([Reply(views.error_text(_, error, views.invite_refused))])
                participant = None  # already taking part (the link opened twice)
            if participant is not None:
                outcome = _enrol(fv, session, row, participant, sender, now)
                identity = Identity(
                    name=sender.full_name,
                    telegram_user_id=sender.user_id,
                    telegram_chat_id=sender.chat_id,
                    telegram_username=sender.username,
                )
                # The vault is written last, and undone below if the research side fails.
                written = (participant.study_id, participant.code)
                fv.services.vault.put(*written, identity, now)
    except BaseException:
        if written is not None:
            fv.services.vault.delete(*written)
        raise
    if written is None:
        return _resume_chat(fv, sender, now)
    return outcome


def _enrol(
    fv: FieldvaultApplication,
    session: Session,
    row: BotConversation | None,
    participant: Participant,
    sender: Sender,
    now: dt.datetime,
) -> Outcome:
    definition = load_definition(session, participant.study_id)
    lang = pick_language(
        row.language if row is not None and row.language else sender.language_code,
        definition.languages,
    )
    if row is None:
        row = BotConversation(chat_key=fv.keys.chat_key(sender.chat_id), seq=0, data={})
        session.add(row)
    row.study_id = participant.study_id
    row.participant_id = participant.id
    row.language = lang
    row.data = {}
    advance(row, LANGUAGE, now)
    session.flush()
    return views.ask_language(definition, lang, row.seq)


def _resume(chat: Enrolled) -> Outcome:
    """Repeat the current question (fresh buttons), or say how to take part."""
    row, lang, now = chat.row, chat.lang, chat.now
    definition = load_definition(chat.session, chat.study_id)
    state = State(chat.participant.state)
    held = state in HOLDS_CONSENT
    if held and consent.needs_reconsent(chat.session, chat.participant):
        advance(row, RECONSENT, now)
        return views.ask_reconsent(definition, lang, row.seq)
    if row.step == LANGUAGE or (row.step == IDLE and state is State.DECLINED):
        advance(row, LANGUAGE, now)
        return views.ask_language(definition, lang, row.seq)
    if row.step == ITEM:
        advance(row, ITEM, now)
        index = int(row.data.get("i", 0))
        question = views.item_question(definition, lang, index, held=held)
        return Outcome([question], seq=row.seq)
    if row.step == SUMMARY:
        advance(row, SUMMARY, now)
        answers = row.data.get("answers", {})
        return views.summary(definition, lang, answers, row.seq, held=held)
    advance(row, IDLE, now)
    return Outcome([Reply(views.idle_help(chat.gettext))], seq=row.seq)


_resume_chat = enrolled(_resume, views.not_enrolled)


async def start(update: Update, context: BotContext) -> None:
    """``/start [invite]``: redeem an invite and ask for the language, or resume."""
    payload = context.args[0] if context.args else None

    def step(fv: FieldvaultApplication, sender: Sender, now: dt.datetime) -> Outcome:
        return _start(fv, sender, payload, now) if payload else _resume_chat(fv, sender, now)

    await reply_with(update, context, step)


# --- languages -------------------------------------------------------------------------------


def _language(chat: Enrolled) -> Outcome:
    row, _ = chat.row, chat.gettext
    definition = load_definition(chat.session, chat.study_id)
    if row.step in {LANGUAGE, ITEM, SUMMARY}:
        # Before consent, a new language means reading the letter in that language.
        advance(row, LANGUAGE, chat.now)
        return views.ask_language(definition, chat.lang, row.seq)
    advance(row, PICK_LANGUAGE, chat.now)
    question = Reply(_("Which language do you want?"), views.language_buttons(definition))
    return Outcome([question], seq=row.seq)


async def language(update: Update, context: BotContext) -> None:
    """``/language``: offer the study's languages."""
    await reply_with(update, context, enrolled(_language, views.not_enrolled))


def _switch_language(press: Press) -> str | None:
    """Set the chat's language from an ``l.<code>`` button; None if the study has no such one."""
    code = press.action.removeprefix("l.")
    if not press.action.startswith("l.") or code not in press.definition.languages:
        return None
    press.row.language = code
    return code


def _on_letter_language(press: Press) -> Outcome | None:
    code = _switch_language(press)
    if code is None:
        return None
    return deliver_letter(press, code, [views.language_chosen(code)])


def _on_chat_language(press: Press) -> Outcome | None:
    code = _switch_language(press)
    if code is None:
        return None
    advance(press.row, IDLE, press.now)
    return Outcome([views.language_chosen(code)], seq=press.row.seq)


async def choose_language(update: Update, context: BotContext) -> None:
    """Buttons ``l.<code>``: the letter's language before consent, else the chat's."""
    await press_with(
        update, context, {LANGUAGE: _on_letter_language, PICK_LANGUAGE: _on_chat_language}
    )


# --- help ------------------------------------------------------------------------------------


def _help(chat: Enrolled) -> Outcome:
    return Outcome([Reply(views.idle_help(chat.gettext))])


async def help_(update: Update, context: BotContext) -> None:
    """``/help`` and anything the bot does not understand: what the informant can do."""
    await reply_with(update, context, enrolled(_help, views.not_enrolled))
