"""Rights: ``/status`` (with "change my answers"), ``/copy`` (Art. 15), ``/web`` and ``/contact``.

``/web`` answers a new link to the informant's personal web page (``domain.personal_links``),
where the same rights are offered in a browser.

What is true comes from ``domain.rights``; this room only words it. "Change my answers" is a
``rc`` button, handled where consent is (``handlers/consent.py``).
"""

from __future__ import annotations

from telegram import Update

from fieldvault.bot import views
from fieldvault.bot.chat import enrolled, reply_with
from fieldvault.bot.context import BotContext
from fieldvault.bot.conversation import IDLE, RECONSENT, Enrolled, advance
from fieldvault.bot.replies import Choice, Document, Outcome, Reply
from fieldvault.bot.texts import Gettext
from fieldvault.domain import personal_links, rights
from fieldvault.domain.rights import InformantStatus
from fieldvault.domain.states import State
from fieldvault.domain.studies import load_definition


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


def _status(chat: Enrolled) -> Outcome:
    _, row = chat.gettext, chat.row
    status = rights.status(chat.session, chat.services.vault, chat.participant)
    text = _status_text(_, chat.lang, status)
    if status.holds_consent and row.step == IDLE:
        # Answers can change later (an optional item granted or refused): the informant
        # reads the current letter again and answers every item, as the first time.
        advance(row, RECONSENT, chat.now)
        buttons = ((Choice(_("Change my answers"), "rc"),),)
        return Outcome([Reply(text, buttons)], seq=row.seq)
    return Outcome([Reply(text)])


async def status(update: Update, context: BotContext) -> None:
    """``/status``: in plain words what is stored about the informant and until when."""
    await reply_with(update, context, enrolled(_status, views.nothing_held))


def _copy(chat: Enrolled) -> Outcome:
    _ = chat.gettext
    data = rights.data_copy(chat.session, chat.services.vault, chat.participant, chat.now)
    document = Document(data.filename, data.as_json())
    caption = _("All data we hold about you (not the audio itself).")
    return Outcome([Reply(caption, document=document)])


async def copy(update: Update, context: BotContext) -> None:
    """``/copy``: a file with all data held about the informant (not the audio)."""
    await reply_with(update, context, enrolled(_copy, views.nothing_held))


def _web(chat: Enrolled) -> Outcome:
    _ = chat.gettext
    if State(chat.participant.state) is State.WITHDRAWN:
        text = _("You have withdrawn from the study, so there is no personal page to open.")
        return Outcome([Reply(text)])
    definition = load_definition(chat.session, chat.study_id)
    language = chat.lang if chat.lang in definition.languages else None
    token = personal_links.create(chat.session, chat.participant, language=language, now=chat.now)
    url = f"{chat.services.settings.public_base_url.rstrip('/')}/p/{token}"
    text = "\n\n".join(
        [
            _("Your personal page on the web:"),
            url,
            _(
                "There you can see your status and deletion dates, take a copy, change your "
                "answers or withdraw, as here."
            ),
            _(
                "Keep this link private: whoever has it can open your page. Do not share or "
                "forward it. Send /web again for a new link at any time."
            ),
        ]
    )
    # No preview: Telegram would otherwise fetch the page, and the link is the key to it.
    return Outcome([Reply(text, preview=False)])


async def web(update: Update, context: BotContext) -> None:
    """``/web``: a new link to the informant's personal web page (status, copy, withdraw)."""
    await reply_with(update, context, enrolled(_web, views.nothing_held))


def _contact(chat: Enrolled) -> Outcome:
    definition = load_definition(chat.session, chat.study_id)
    return Outcome([Reply(views.contacts_text(definition, chat.gettext), html=True)])


async def contact(update: Update, context: BotContext) -> None:
    """``/contact``: researchers, supervisor, data-protection officer, complaint authority."""
    await reply_with(update, context, enrolled(_contact, views.not_enrolled))
