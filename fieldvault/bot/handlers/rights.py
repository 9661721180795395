"""Rights: ``/status`` (with "change my answers"), ``/copy`` (Art. 15) and ``/contact``.

What is true comes from ``domain.rights``; this room only words it. "Change my answers" is a
``rc`` button, handled where consent is (``handlers/consent.py``).
"""

from __future__ import annotations

import datetime as dt

from telegram import Update

from fieldvault.bot import views
from fieldvault.bot.chat import reply_with
from fieldvault.bot.context import BotContext, FieldvaultApplication
from fieldvault.bot.conversation import (
    IDLE,
    RECONSENT,
    Sender,
    advance,
    chat_row,
    language_of,
    participant_of,
)
from fieldvault.bot.replies import Choice, Document, Outcome, Reply
from fieldvault.bot.texts import Gettext, gettext_for
from fieldvault.domain import rights
from fieldvault.domain.rights import InformantStatus
from fieldvault.domain.studies import load_definition
from fieldvault.storage.db import transaction


def _status_text(_: Gettext, lang: str, status: InformantStatus) -> str:
    lines = [
        _("Study: {title}").format(title=status.study_title),
        _("Your participant code: {code}").format(code=status.code),
        _("Status: {state}").format(state=views.state_name(_, status.state)),
        "",
    ]
    if status.answered:
        lines.append(_("Your answers:"))
        lines += [f"{views.mark(i.granted)} {i.text[lang]}" for i in status.items]
        lines.append("")
    lines.append(_("What we hold about you:"))
    if status.identity_held:
        lines.append(
            "• "
            + _(
                "your Telegram name, user name and ids, kept apart from everything else "
                "in a locked register (the linkage key)"
            )
        )
    lines.append("• " + _("your consent answers and when you gave them"))
    lines.append("• " + _("recordings of your interview: {n}").format(n=status.recordings))
    lines += [
        "",
        _(
            "Until {date}. Then recordings and the link to you are deleted; only "
            "anonymous material remains."
        ).format(date=status.processing_end.isoformat()),
        _("/copy sends you a copy of it all; /withdraw withdraws your consent."),
    ]
    return "\n".join(lines)


def _status(fv: FieldvaultApplication, sender: Sender, now: dt.datetime) -> Outcome:
    with transaction(fv.services.research) as session:
        row = chat_row(session, fv.keys, sender)
        lang = language_of(row, sender)
        _ = gettext_for(lang)
        participant = None if row is None else participant_of(session, row)
        if row is None or participant is None or row.study_id is None:
            return Outcome([Reply(views.nothing_held(_))])
        status = rights.status(session, fv.services.vault, participant)
        text = _status_text(_, lang, status)
        if status.holds_consent and row.step == IDLE:
            # Answers can change later (an optional item granted or refused): the informant
            # reads the current letter again and answers every item, as the first time.
            advance(row, RECONSENT, now)
            buttons = ((Choice(_("Change my answers"), "rc"),),)
            return Outcome([Reply(text, buttons)], seq=row.seq)
        return Outcome([Reply(text)])


async def status(update: Update, context: BotContext) -> None:
    """``/status``: in plain words what is stored about the informant and until when."""
    await reply_with(update, context, _status)


def _copy(fv: FieldvaultApplication, sender: Sender, now: dt.datetime) -> Outcome:
    with transaction(fv.services.research) as session:
        row = chat_row(session, fv.keys, sender)
        _ = gettext_for(language_of(row, sender))
        participant = None if row is None else participant_of(session, row)
        if row is None or participant is None or row.study_id is None:
            return Outcome([Reply(views.nothing_held(_))])
        data = rights.data_copy(session, fv.services.vault, participant, now)
        document = Document(data.filename, data.as_json())
        caption = _("All data we hold about you (not the audio itself).")
        return Outcome([Reply(caption, document=document)])


async def copy(update: Update, context: BotContext) -> None:
    """``/copy``: a file with all data held about the informant (not the audio)."""
    await reply_with(update, context, _copy)


def _contact(fv: FieldvaultApplication, sender: Sender, now: dt.datetime) -> Outcome:
    with transaction(fv.services.research) as session:
        row = chat_row(session, fv.keys, sender)
        _ = gettext_for(language_of(row, sender))
        if row is None or row.study_id is None:
            return Outcome([Reply(views.not_enrolled(_))])
        definition = load_definition(session, row.study_id)
        return Outcome([Reply(views.contacts_text(definition, _), html=True)])


async def contact(update: Update, context: BotContext) -> None:
    """``/contact``: researchers, supervisor, data-protection officer, complaint authority."""
    await reply_with(update, context, _contact)
