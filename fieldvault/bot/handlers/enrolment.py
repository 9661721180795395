"""Enrolment: ``/start`` with an invite or a chat link, resuming, languages, help.

A ``/start`` payload is tried as an invite first, then as a chat link (``domain.chat_links``,
made on the informant's web page): that attaches this chat to the participation the informant
already has, at the step their state is at. A payload that is neither gets the invite's answer.

Buttons: ``l.<code>`` — the letter's language (before consent) or the chat's (``/language``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from sqlalchemy import delete
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
    participant_of,
)
from fieldvault.bot.handlers.consent import deliver_letter
from fieldvault.bot.replies import Outcome, Reply
from fieldvault.bot.texts import Gettext, gettext_for, pick_language
from fieldvault.config.study import StudyDefinition
from fieldvault.domain import chat_links, consent
from fieldvault.domain.chat_links import ChatLinkError
from fieldvault.domain.consent import HOLDS_CONSENT, State
from fieldvault.domain.errors import InviteError
from fieldvault.domain.participants import telegram_name
from fieldvault.domain.studies import load_definition
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BotConversation, InformantChatLink, Participant
from fieldvault.storage.vault import Identity

# --- /start ----------------------------------------------------------------------------------


def _start(fv: FieldvaultApplication, sender: Sender, payload: str, now: dt.datetime) -> Outcome:
    """Redeem the invite (or chat link) ``payload``; a second open just resumes."""
    code = payload.strip()
    undo: Callable[[], object] | None = None
    try:
        with transaction(fv.services.research) as session:
            row = chat_row(session, fv.keys, sender)
            lang = language_of(row, sender)
            try:
                participant = consent.redeem_invite(
                    session,
                    code,
                    now,
                    pseudonym_avoid=frozenset(
                        n for n in (sender.first_name, sender.last_name) if n
                    ),
                )
            except InviteError as error:
                link = chat_links.find(session, code)
                if link is not None:
                    # Not an invite but a link from the informant's web page: the same
                    # participation, now in this chat too.
                    outcome, undo = _link(fv, session, row, sender, link, code, now)
                    return outcome
                if row is None or row.participant_id is None:
                    _ = gettext_for(lang)
                    return Outcome([Reply(views.error_text(_, error, views.invite_refused))])
                participant = None  # already taking part (the link opened twice)
            if participant is not None:
                outcome = _enrol(fv, session, row, participant, sender, now)
                identity = Identity(
                    name=_name_of(fv, sender),
                    telegram_user_id=sender.user_id,
                    telegram_chat_id=sender.chat_id,
                    telegram_username=sender.username,
                )
                # The vault is written last, and undone below if the research side fails.
                written = (participant.study_id, participant.code)
                fv.services.vault.put(*written, identity, now)
                undo = partial(fv.services.vault.delete, *written)
    except BaseException:
        if undo is not None:
            undo()
        raise
    if undo is None:
        return _resume_chat(fv, sender, now)
    return outcome


def _chat_link_refused(_: Gettext, error: ChatLinkError) -> str:
    if error.code == "chat_link.withdrawn":
        return _(
            "You have withdrawn from this study, so there is nothing to link this chat to. "
            "Nothing has been stored about you in this chat."
        )
    return _(
        "Sorry, this link to your participation does not work: it has expired or has already "
        "been used. Open your personal page on the web and ask for a new one."
    )


def _link(
    fv: FieldvaultApplication,
    session: Session,
    row: BotConversation | None,
    sender: Sender,
    link: InformantChatLink,
    code: str,
    now: dt.datetime,
) -> tuple[Outcome, Callable[[], object] | None]:
    """Attach this chat to the participant of chat link ``code`` (made on the web page).

    The chat gets the participant's study, the step their state is at and the language of
    their consent, and the vault their Telegram ids so that notices reach this chat. A chat
    that already takes part as someone else is refused, and the code stays unused.
    """
    _ = gettext_for(language_of(row, sender))
    other = None if row is None else participant_of(session, row)
    if (
        other is not None
        and other.id != link.participant_id
        and State(other.state) is not State.WITHDRAWN
    ):
        text = _(
            "This chat already takes part in a study as another participant, so it cannot be "
            "linked to this participation as well. Please contact the researcher."
        )
        return Outcome([Reply(text)]), None
    try:
        participant = chat_links.redeem(session, code, now)
    except ChatLinkError as error:
        if row is not None and other is not None and other.id == link.participant_id:
            # This chat is already linked to that participation (the link opened twice).
            lang = language_of(row, sender)
            chat = Enrolled(session, row, other.study_id, other, lang, _, now, fv.services)
            return _resume(chat), None
        return Outcome([Reply(_chat_link_refused(_, error))]), None
    definition = load_definition(session, participant.study_id)
    lang = _link_language(session, definition, participant, row, sender)
    row = _attach_chat(fv, session, row, sender, participant, lang, now)
    _ = gettext_for(lang)
    chat = Enrolled(session, row, participant.study_id, participant, lang, _, now, fv.services)
    resumed = _resume(chat)
    linked = _(
        "This chat is now linked to your participation in “{title}” (participant code "
        "{code}). /status shows what we hold about you, and /web gives you a link to your "
        "personal page on the web."
    ).format(title=definition.title, code=participant.code)
    undo = _link_identity(fv, participant, sender, now)
    return Outcome([Reply(linked), *resumed.replies], seq=resumed.seq), undo


def _attach_chat(
    fv: FieldvaultApplication,
    session: Session,
    row: BotConversation | None,
    sender: Sender,
    participant: Participant,
    lang: str,
    now: dt.datetime,
) -> BotConversation:
    """Give this chat's saved row the participant, at the step their state is at."""
    key = fv.keys.chat_key(sender.chat_id)
    # One participation, one chat: a chat linked before (another Telegram account) lets go.
    session.execute(
        delete(BotConversation).where(
            BotConversation.participant_id == participant.id, BotConversation.chat_key != key
        )
    )
    if row is None:
        row = BotConversation(chat_key=key, seq=0, data={})
        session.add(row)
    row.study_id = participant.study_id
    row.participant_id = participant.id
    row.language = lang
    row.data = {}
    before_consent = State(participant.state) in {State.INVITED, State.INFORMED}
    advance(row, LANGUAGE if before_consent else IDLE, now)
    session.flush()
    return row


def _link_language(
    session: Session,
    definition: StudyDefinition,
    participant: Participant,
    row: BotConversation | None,
    sender: Sender,
) -> str:
    """The language the informant last used (consent, web page), else the chat's or client's."""
    used = chat_links.language_of(session, participant)
    if used in definition.languages:
        return str(used)
    chosen = row.language if row is not None else None
    return pick_language(chosen or sender.language_code, definition.languages)


def _name_of(fv: FieldvaultApplication, sender: Sender) -> str | None:
    """The sender's Telegram name as the vault keeps it (no control characters, bounded)."""
    return telegram_name(sender.full_name, max_chars=fv.services.settings.identity_name_max_chars)


def _link_identity(
    fv: FieldvaultApplication, participant: Participant, sender: Sender, now: dt.datetime
) -> Callable[[], object]:
    """Put this chat's Telegram ids on the participant's identity; return how to undo it.

    Written last, after the research side, as at enrolment; what the identity held before
    (from another channel) is kept, and put back if the research side fails.
    """
    vault, study_id, code = fv.services.vault, participant.study_id, participant.code
    before = vault.get(study_id, code)
    held = before or Identity()
    vault.put(
        study_id,
        code,
        replace(
            held,
            name=held.name or _name_of(fv, sender),
            telegram_user_id=sender.user_id,
            telegram_chat_id=sender.chat_id,
            telegram_username=sender.username,
        ),
        now,
    )
    if before is None:
        return partial(vault.delete, study_id, code)
    return partial(vault.put, study_id, code, before, now)


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
