"""Consent: the letter, each item, the summary to confirm or change, and reading again.

Buttons: ``rc`` (read the letter again), ``y``/``n`` (an item), ``ok``/``chg`` (the summary).
Someone who already takes part confirms through ``rights.change_answers``, which purges when a
refused required item ends the participation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telegram import Update

from fieldvault.bot import views
from fieldvault.bot.chat import press_with
from fieldvault.bot.context import BotContext
from fieldvault.bot.conversation import (
    IDLE,
    ITEM,
    RECONSENT,
    SUMMARY,
    Press,
    advance,
    delivered_at,
    drop_chat,
)
from fieldvault.bot.replies import Announce, Document, Outcome, Reply
from fieldvault.bot.texts import gettext_for
from fieldvault.config.study import StudyDefinition
from fieldvault.domain import consent, rights
from fieldvault.domain.consent import HOLDS_CONSENT, State
from fieldvault.domain.withdrawal import WithdrawalRecorded


def deliver_letter(press: Press, lang: str, before: list[Reply]) -> Outcome:
    """Send the letter in ``lang`` (marking the participant informed) and ask the first item."""
    _, participant, definition = gettext_for(lang), press.participant, press.definition
    consent.mark_informed(press.session, participant, lang, press.now)
    advance(
        press.row,
        ITEM,
        press.now,
        i=0,
        answers={},
        messages={},
        delivered_at=press.now.isoformat(),
    )
    replies = list(before)
    replies += [Reply(chunk, html=True) for chunk in views.letter_messages(definition, lang, _)]
    held = State(participant.state) in HOLDS_CONSENT
    replies.append(views.item_question(definition, lang, 0, held=held))
    return Outcome(replies, seq=press.row.seq)


# --- read the letter again ---------------------------------------------------------------


def _on_reconsent(press: Press) -> Outcome | None:
    if press.action != "rc":
        return None
    definition, language = press.definition, press.row.language
    lang = language if language in definition.languages else definition.default_language
    return deliver_letter(press, lang, [])


async def read_again(update: Update, context: BotContext) -> None:
    """Button ``rc``: the letter changed, or the informant wants to change their answers."""
    await press_with(update, context, {RECONSENT: _on_reconsent})


# --- one item ------------------------------------------------------------------------------


def _on_item(press: Press) -> Outcome | None:
    if press.action not in {"y", "n"}:
        return None
    row, definition, lang, _ = press.row, press.definition, press.lang, press.gettext
    index = int(row.data.get("i", 0))
    item = definition.consent_items[index]
    granted = press.action == "y"
    answers = {**row.data.get("answers", {}), item.id: granted}
    messages = {**row.data.get("messages", {}), item.id: press.message_id}
    your_answer = _("Your answer: {answer}").format(answer=views.yes_no(_, granted))
    answered = Reply(f"{item.text[lang]}\n\n{your_answer}", edit=True)
    # Someone who already takes part sees the summary first: there, confirming a No to a
    # required item is a withdrawal, so it gets the same second step as /withdraw.
    held = State(press.participant.state) in HOLDS_CONSENT
    if item.required and not granted and not held:
        return _declined(press, answers, messages, answered)
    if index + 1 < len(definition.consent_items):
        advance(row, ITEM, press.now, i=index + 1, answers=answers, messages=messages)
        question = views.item_question(definition, lang, index + 1, held=held)
        return Outcome([answered, question], seq=row.seq)
    advance(row, SUMMARY, press.now, answers=answers, messages=messages)
    summary = views.summary(definition, lang, answers, row.seq, held=held)
    summary.replies.insert(0, answered)
    return summary


def _declined(
    press: Press, answers: dict[str, bool], messages: dict[str, Any], answered: Reply
) -> Outcome:
    """A No to a required item ends the consent as "declined"; nothing else is asked."""
    _ = press.gettext
    decisions = {i.id: answers.get(i.id, False) for i in press.definition.consent_items}
    consent.record_consent(
        press.session,
        press.participant,
        decisions,
        language=press.lang,
        channel="telegram",
        letter_delivered_at=delivered_at(press.row, press.now),
        now=press.now,
        how={"item_messages": messages, "callback_query": press.callback_id},
    )
    advance(press.row, IDLE, press.now, answers={}, messages={})
    text = _(
        "Thank you for reading. Without this consent you cannot take part, so we have "
        "noted that you declined. Nothing more will happen. If you change your mind, "
        "send /start to read the letter again."
    )
    return Outcome([answered, Reply(text)], seq=press.row.seq)


async def answer_item(update: Update, context: BotContext) -> None:
    """Buttons ``y``/``n``: the answer to the item being asked."""
    await press_with(update, context, {ITEM: _on_item})


# --- the summary ---------------------------------------------------------------------------


def _on_summary(press: Press) -> Outcome | None:
    if press.action not in {"ok", "chg"}:
        return None
    row, definition, lang, _ = press.row, press.definition, press.lang, press.gettext
    if press.action == "chg":
        # Nothing is pre-ticked: every item is asked again from the start.
        advance(row, ITEM, press.now, i=0, answers={}, messages={})
        again = Reply(_("Let us go through the questions again."), edit=True)
        return Outcome([again, views.item_question(definition, lang, 0, held=False)], seq=row.seq)
    given: dict[str, bool] = row.data.get("answers", {})
    answers = {i.id: bool(given.get(i.id, False)) for i in definition.consent_items}
    how = {
        "item_messages": row.data.get("messages", {}),
        "confirm_message": press.message_id,
        "callback_query": press.callback_id,
    }
    if State(press.participant.state) in HOLDS_CONSENT:
        return _change(press, answers, how)
    record = consent.record_consent(
        press.session,
        press.participant,
        answers,
        language=lang,
        channel="telegram",
        letter_delivered_at=delivered_at(row, press.now),
        now=press.now,
        how=how,
    )
    advance(row, IDLE, press.now, answers={}, messages={})
    return receipt(definition, lang, answers, record.letter_version, row.seq)


def _change(press: Press, answers: dict[str, bool], how: Mapping[str, Any]) -> Outcome:
    """Someone taking part confirms new answers: recorded (and purged, if they left) next."""
    _, definition, lang, row = press.gettext, press.definition, press.lang, press.row
    delivered = delivered_at(row, press.now)
    advance(row, IDLE, press.now, answers={}, messages={})
    services, chat_key, study_id = press.services, row.chat_key, press.study_id
    code, now, seq = press.participant.code, press.now, row.seq

    def drop(session: Any, _recorded: WithdrawalRecorded) -> None:
        drop_chat(session, chat_key)

    def follow_up(announce: Announce) -> Outcome:
        def leaving(_recorded: WithdrawalRecorded) -> None:
            text = _(
                "You answered no to a question that is needed to take part, so you have now "
                "left the study. Deleting your data now…"
            )
            announce(Outcome([Reply(_("Confirmed."), edit=True), Reply(text)]))

        changed = rights.change_answers(
            services,
            study_id,
            code,
            answers,
            language=lang,
            channel="telegram",
            letter_delivered_at=delivered,
            now=now,
            how=how,
            in_transaction=drop,
            before_purge=leaving,
        )
        if changed.withdrawal is None:
            return receipt(definition, lang, answers, changed.letter_version, seq)
        return Outcome([views.purge_done(lang, changed.withdrawal.report)])

    return Outcome(seq=seq, follow_up=follow_up)


def receipt(
    definition: StudyDefinition,
    lang: str,
    answers: Mapping[str, bool],
    letter_version: str | None,
    seq: int,
) -> Outcome:
    """The recorded consent, the end date, the rights, and the letter to keep."""
    _ = gettext_for(lang)
    granted = [i for i in definition.consent_items if answers.get(i.id)]
    refused = [i for i in definition.consent_items if not answers.get(i.id)]
    lines = [_("Thank you! Your consent is recorded."), ""]
    lines += [f"{views.mark(True)} {i.text[lang]}" for i in granted]
    lines += [f"{views.mark(False)} {i.text[lang]}" for i in refused]
    lines += [
        "",
        _("Recordings and the link between you and your answers are deleted by {date}.").format(
            date=definition.processing_end.isoformat()
        ),
        _("You can withdraw at any time with /withdraw, without giving a reason."),
        _("/status shows what we hold about you; /contact shows whom to ask."),
    ]
    letter = Document(
        filename=f"{definition.id}-letter-{lang}.txt",
        content=views.letter_document(definition, lang, letter_version or "", _).encode(),
    )
    return Outcome(
        [
            Reply(_("Confirmed."), edit=True),
            Reply("\n".join(lines)),
            Reply(_("The information letter, for you to keep."), document=letter),
        ],
        seq=seq,
    )


async def confirm_or_change(update: Update, context: BotContext) -> None:
    """Buttons ``ok``/``chg``: confirm the summary, or go through the items again."""
    await press_with(update, context, {SUMMARY: _on_summary})
