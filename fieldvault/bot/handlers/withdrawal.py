"""Withdrawal: ``/withdraw``, what to withdraw, the second step, and the purge report.

Buttons: ``w.all`` / ``w.<item index>`` (what), ``wc`` (yes, withdraw), ``x`` (cancel). The
withdrawal and its purge are one domain call (``rights.withdraw``); the chat's row goes in the
same transaction as a whole withdrawal, since its key links this chat to the code.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from telegram import Update

from fieldvault.bot import views
from fieldvault.bot.chat import enrolled, press_with, reply_with
from fieldvault.bot.context import BotContext
from fieldvault.bot.conversation import (
    IDLE,
    WITHDRAW,
    WITHDRAW_CONFIRM,
    Enrolled,
    Press,
    advance,
    drop_chat,
)
from fieldvault.bot.replies import Announce, Choice, Outcome, Reply
from fieldvault.domain import rights
from fieldvault.domain.consent import State
from fieldvault.domain.errors import DomainError
from fieldvault.domain.studies import load_definition
from fieldvault.domain.withdrawal import WithdrawalRecorded


def _withdraw(chat: Enrolled) -> Outcome:
    _, lang = chat.gettext, chat.lang
    if State(chat.participant.state) is State.WITHDRAWN:
        return Outcome([Reply(views.no_consent_to_withdraw(_))])
    definition = load_definition(chat.session, chat.study_id)
    buttons: list[tuple[Choice, ...]] = [(Choice(_("Everything: leave the study"), "w.all"),)]
    for index in rights.withdrawable_items(chat.session, chat.participant):
        item = definition.consent_items[index]
        label = _("Only: {item}").format(item=views.short(item.text[lang]))
        buttons.append((Choice(label, f"w.{index}"),))
    buttons.append((Choice(_("Cancel"), "x"),))
    advance(chat.row, WITHDRAW, chat.now)
    question = Reply(_("What do you want to withdraw?"), tuple(buttons))
    return Outcome([question], seq=chat.row.seq)


async def withdraw(update: Update, context: BotContext) -> None:
    """``/withdraw``: offer the whole consent or one currently granted optional item."""
    await reply_with(update, context, enrolled(_withdraw, views.nothing_held))


def _on_cancel(press: Press) -> Outcome | None:
    if press.action != "x":
        return None
    _ = press.gettext
    advance(press.row, IDLE, press.now)
    return Outcome([Reply(_("Nothing was changed."), edit=True)], seq=press.row.seq)


async def cancel(update: Update, context: BotContext) -> None:
    """Button ``x``: withdraw nothing after all (either step)."""
    await press_with(update, context, {WITHDRAW: _on_cancel, WITHDRAW_CONFIRM: _on_cancel})


def _on_choice(press: Press) -> Outcome | None:
    row, definition, lang, _ = press.row, press.definition, press.lang, press.gettext
    scope = press.action.removeprefix("w.")
    if not press.action.startswith("w.") or not (
        scope == "all" or (scope.isdigit() and int(scope) < len(definition.consent_items))
    ):
        return None
    if scope == "all":
        what = _(
            "You are about to withdraw from the study. Your recordings, raw transcripts "
            "and the link between you and your code will be deleted. This cannot be undone."
        )
    else:
        item = definition.consent_items[int(scope)]
        what = _("You are about to withdraw this consent: {item}").format(item=item.text[lang])
        if item.id == definition.recording_item_id:
            what += "\n" + _("Your recordings and raw transcripts will be deleted.")
    buttons = ((Choice(_("Yes, withdraw"), "wc"), Choice(_("No, keep it"), "x")),)
    advance(row, WITHDRAW_CONFIRM, press.now, scope=scope)
    return Outcome(
        [Reply(_("Withdraw?"), edit=True), Reply(what + "\n\n" + _("Are you sure?"), buttons)],
        seq=row.seq,
    )


async def choose(update: Update, context: BotContext) -> None:
    """Buttons ``w.all`` / ``w.<index>``: what to withdraw; asks once more."""
    await press_with(update, context, {WITHDRAW: _on_choice})


def _on_confirm(press: Press) -> Outcome | None:
    if press.action != "wc":
        return None
    row, definition, lang, _ = press.row, press.definition, press.lang, press.gettext
    scope = str(row.data.get("scope", "all"))
    items = None if scope == "all" else frozenset({definition.consent_items[int(scope)].id})
    # The button is used up here; the withdrawal and its purge follow as one domain call.
    advance(row, IDLE, press.now)
    services, chat_key, study_id = press.services, row.chat_key, press.study_id
    code, now, seq = press.participant.code, press.now, row.seq

    def drop_if_whole(session: Session, recorded: WithdrawalRecorded) -> None:
        if recorded.whole:
            drop_chat(session, chat_key)

    def follow_up(announce: Announce) -> Outcome:
        def deleting(_recorded: WithdrawalRecorded) -> None:
            text = _("Your withdrawal is recorded. Deleting your data now…")
            announce(Outcome([Reply(text, edit=True)], seq=seq))

        try:
            done = rights.withdraw(
                services,
                study_id,
                code,
                channel="telegram",
                now=now,
                items=items,
                in_transaction=drop_if_whole,
                before_purge=deleting,
            )
        except DomainError as error:
            text = views.error_text(_, error, views.no_consent_to_withdraw)
            return Outcome([Reply(text, edit=True)], seq=seq)
        return Outcome([views.purge_done(lang, done.report)])

    return Outcome(seq=seq, follow_up=follow_up)


async def confirm(update: Update, context: BotContext) -> None:
    """Button ``wc``: withdraw what was chosen, purge it, and say what was deleted."""
    await press_with(update, context, {WITHDRAW_CONFIRM: _on_confirm})
