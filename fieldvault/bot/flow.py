"""The informant conversation: one function per kind of input, each one database transaction.

Handlers turn a Telegram update into a call here and render the ``Outcome``; nothing in this
module knows Telegram. The state of each chat (step, answers so far, language) is a
``BotConversation`` row keyed by an HMAC of the chat id, so a restarted bot resumes where the
informant was. Every rule (invites, consent, withdrawal) is the consent domain's.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.bot.replies import Choice, Document, Outcome, Reply, split_text
from fieldvault.bot.security import BotKeys
from fieldvault.bot.texts import Gettext, gettext_for, pick_language
from fieldvault.config.study import Contact, StudyDefinition
from fieldvault.domain import consent
from fieldvault.domain.consent import HOLDS_CONSENT, State
from fieldvault.domain.errors import DomainError, InviteError
from fieldvault.domain.studies import load_definition
from fieldvault.domain.withdrawal import PurgeReport, PurgeRequest
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, BotConversation, ConsentRecord, Participant
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

LANGUAGE_NAMES = {"nb": "Norsk bokmål", "nn": "Norsk nynorsk", "en": "English"}

# Conversation steps.
LANGUAGE = "language"  # choose the language of the letter (start of consent)
ITEM = "item"  # answering consent item data["i"]
SUMMARY = "summary"  # confirm or change the answers
IDLE = "idle"  # consented or declined; rights commands available
PICK_LANGUAGE = "pick_language"  # /language outside the consent steps
RECONSENT = "reconsent"  # the letter changed: asked to read it again
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


class Conversation:
    """The informant side of the bot, bound to the process's services and keys."""

    def __init__(self, services: Services, keys: BotKeys) -> None:
        """Use ``services`` for every database and ``keys`` for chat keys."""
        self.services = services
        self.keys = keys

    # --- helpers -------------------------------------------------------------------------

    def _row(self, session: Session, sender: Sender) -> BotConversation | None:
        return session.get(BotConversation, self.keys.chat_key(sender.chat_id))

    @staticmethod
    def _advance(row: BotConversation, step: str, now: dt.datetime, **data: Any) -> None:
        """Move to ``step`` (new seq, so older buttons expire) and merge ``data``."""
        row.step = step
        row.seq = (row.seq or 0) + 1
        row.data = {**(row.data or {}), **data}
        row.updated_at = now

    def _language(self, row: BotConversation | None, sender: Sender) -> str:
        if row is not None and row.language:
            return row.language
        return pick_language(sender.language_code, ("nb", "nn", "en"))

    @staticmethod
    def _participant(session: Session, row: BotConversation) -> Participant | None:
        if row.participant_id is None:
            return None
        return session.get(Participant, row.participant_id)

    # --- /start --------------------------------------------------------------------------

    def start(self, sender: Sender, payload: str | None, now: dt.datetime) -> Outcome:
        """``/start [invite]``: redeem an invite and ask for the language, or resume."""
        if not payload:
            return self.resume(sender, now)
        written: tuple[str, str] | None = None
        try:
            with transaction(self.services.research) as session:
                row = self._row(session, sender)
                lang = self._language(row, sender)
                try:
                    participant = consent.redeem_invite(
                        session,
                        payload.strip(),
                        now,
                        pseudonym_avoid=frozenset(
                            n for n in (sender.first_name, sender.last_name) if n
                        ),
                    )
                except InviteError:
                    if row is None or row.participant_id is None:
                        return Outcome([Reply(_invite_refusal(gettext_for(lang)))], language=lang)
                    participant = None  # already taking part (the link opened twice)
                if participant is not None:
                    outcome, row = self._enrol(session, row, participant, sender, now)
                    identity = Identity(
                        name=sender.full_name,
                        telegram_user_id=sender.user_id,
                        telegram_chat_id=sender.chat_id,
                        telegram_username=sender.username,
                    )
                    # The vault is written last, and undone below if the research side fails.
                    written = (participant.study_id, participant.code)
                    self.services.vault.put(*written, identity, now)
        except BaseException:
            if written is not None:
                self.services.vault.delete(*written)
            raise
        if written is None:
            return self.resume(sender, now)
        return outcome

    def _enrol(
        self,
        session: Session,
        row: BotConversation | None,
        participant: Participant,
        sender: Sender,
        now: dt.datetime,
    ) -> tuple[Outcome, BotConversation]:
        definition = load_definition(session, participant.study_id)
        lang = pick_language(
            row.language if row is not None and row.language else sender.language_code,
            definition.languages,
        )
        if row is None:
            row = BotConversation(chat_key=self.keys.chat_key(sender.chat_id), seq=0, data={})
            session.add(row)
        row.study_id = participant.study_id
        row.participant_id = participant.id
        row.language = lang
        row.data = {}
        self._advance(row, LANGUAGE, now)
        session.flush()
        return self._ask_language(definition, lang, row.seq), row

    def _ask_language(self, definition: StudyDefinition, lang: str, seq: int) -> Outcome:
        _ = gettext_for(lang)
        text = _("Welcome! This is the study “{title}”.").format(title=definition.title)
        text += "\n\n" + _("Which language do you want to read the information in?")
        buttons = tuple(
            (Choice(LANGUAGE_NAMES.get(code, code), f"l.{code}"),) for code in definition.languages
        )
        return Outcome([Reply(text, buttons)], seq=seq, language=lang)

    def resume(self, sender: Sender, now: dt.datetime) -> Outcome:
        """Repeat the current question (fresh buttons), or say how to take part."""
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            participant = None if row is None else self._participant(session, row)
            if row is None or participant is None or row.study_id is None:
                return Outcome([Reply(_not_enrolled(_))], language=lang)
            definition = load_definition(session, row.study_id)
            state = State(participant.state)
            if state in HOLDS_CONSENT and consent.needs_reconsent(session, participant):
                self._advance(row, RECONSENT, now)
                return self._ask_reconsent(definition, lang, row.seq)
            if row.step == LANGUAGE or (row.step == IDLE and state is State.DECLINED):
                self._advance(row, LANGUAGE, now)
                return self._ask_language(definition, lang, row.seq)
            held = state in HOLDS_CONSENT
            if row.step == ITEM:
                self._advance(row, ITEM, now)
                index = int(row.data.get("i", 0))
                return Outcome(
                    [self._item_question(definition, lang, index, held=held)],
                    seq=row.seq,
                    language=lang,
                )
            if row.step == SUMMARY:
                self._advance(row, SUMMARY, now)
                answers = row.data.get("answers", {})
                return self._summary(definition, lang, answers, row.seq, held=held)
            self._advance(row, IDLE, now)
            return Outcome([Reply(_idle_help(_))], seq=row.seq, language=lang)

    def _ask_reconsent(self, definition: StudyDefinition, lang: str, seq: int) -> Outcome:
        _ = gettext_for(lang)
        text = _(
            "The information letter of “{title}” has changed since you consented. "
            "Please read the new version and answer again."
        ).format(title=definition.title)
        return Outcome(
            [Reply(text, ((Choice(_("Read the new letter"), "rc"),),))], seq=seq, language=lang
        )

    # --- buttons -------------------------------------------------------------------------

    def press(
        self,
        sender: Sender,
        data: str | None,
        message_id: int | None,
        callback_id: str,
        now: dt.datetime,
    ) -> Outcome:
        """A pressed button: check its signature and step, then act on it exactly once."""
        button = self.keys.verify(sender.chat_id, data)
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            expired = Outcome(notice=_("This button has expired."), language=lang)
            if button is None or row is None:
                return expired
            if data == row.data.get("last_button"):
                # A double tap: the first tap was acted on; the second changes nothing.
                return Outcome(language=lang)
            if button.seq != row.seq:
                return expired
            handler = {
                LANGUAGE: self._on_language,
                PICK_LANGUAGE: self._on_pick_language,
                RECONSENT: self._on_reconsent,
                ITEM: self._on_item,
                SUMMARY: self._on_summary,
                WITHDRAW: self._on_withdraw_choice,
                WITHDRAW_CONFIRM: self._on_withdraw_confirm,
            }.get(row.step)
            if handler is None:
                return expired
            context = _Press(session, row, button.action, message_id, callback_id, now)
            outcome = handler(context)
            if outcome is None:
                return expired
            if row not in session.deleted:
                row.data = {**row.data, "last_button": data}
            return outcome

    def _on_language(self, press: _Press) -> Outcome | None:
        code = press.action.removeprefix("l.")
        row, session = press.row, press.session
        participant = self._participant(session, row)
        if not press.action.startswith("l.") or participant is None or row.study_id is None:
            return None
        definition = load_definition(session, row.study_id)
        if code not in definition.languages:
            return None
        row.language = code
        _ = gettext_for(code)
        chosen = Reply(
            _("Language: {language}").format(language=LANGUAGE_NAMES.get(code, code)), edit=True
        )
        return self._deliver_letter(press, participant, definition, code, [chosen])

    def _on_reconsent(self, press: _Press) -> Outcome | None:
        row, session = press.row, press.session
        participant = self._participant(session, row)
        if press.action != "rc" or participant is None or row.study_id is None:
            return None
        definition = load_definition(session, row.study_id)
        lang = row.language if row.language in definition.languages else None
        lang = lang or definition.default_language
        return self._deliver_letter(press, participant, definition, lang, [])

    def _deliver_letter(
        self,
        press: _Press,
        participant: Participant,
        definition: StudyDefinition,
        lang: str,
        before: list[Reply],
    ) -> Outcome:
        _ = gettext_for(lang)
        consent.mark_informed(press.session, participant, lang, press.now)
        self._advance(
            press.row,
            ITEM,
            press.now,
            i=0,
            answers={},
            messages={},
            delivered_at=press.now.isoformat(),
        )
        replies = list(before)
        replies += [Reply(chunk, html=True) for chunk in letter_messages(definition, lang, _)]
        held = State(participant.state) in HOLDS_CONSENT
        replies.append(self._item_question(definition, lang, 0, held=held))
        return Outcome(replies, seq=press.row.seq, language=lang)

    def _item_question(
        self, definition: StudyDefinition, lang: str, index: int, *, held: bool = False
    ) -> Reply:
        _ = gettext_for(lang)
        item = definition.consent_items[index]
        head = _("Question {n} of {total}").format(n=index + 1, total=len(definition.consent_items))
        if item.required and held:
            note = _(
                "This one is needed to take part: if you answer no, you leave the study and "
                "your recordings and the link to you are deleted."
            )
        elif item.required:
            note = _(
                "This one is needed to take part: if you answer no, you will not be interviewed."
            )
        else:
            note = _("This one is optional: you can take part whatever you answer.")
        text = f"{head}\n\n{item.text[lang]}\n\n{note}"
        return Reply(text, ((Choice(_("Yes"), "y"), Choice(_("No"), "n")),))

    def _on_item(self, press: _Press) -> Outcome | None:
        row, session = press.row, press.session
        participant = self._participant(session, row)
        if press.action not in {"y", "n"} or participant is None or row.study_id is None:
            return None
        definition = load_definition(session, row.study_id)
        lang = row.language or definition.default_language
        _ = gettext_for(lang)
        index = int(row.data.get("i", 0))
        item = definition.consent_items[index]
        granted = press.action == "y"
        answers = {**row.data.get("answers", {}), item.id: granted}
        messages = {**row.data.get("messages", {}), item.id: press.message_id}
        your_answer = _("Your answer: {answer}").format(answer=_yes_no(_, granted))
        answered = Reply(f"{item.text[lang]}\n\n{your_answer}", edit=True)
        # Someone who already takes part sees the summary first: there, confirming a No to a
        # required item is a withdrawal, so it gets the same second step as /withdraw.
        held = State(participant.state) in HOLDS_CONSENT
        if item.required and not granted and not held:
            # A No to a required item ends the consent as "declined"; nothing else is asked.
            decisions = {i.id: answers.get(i.id, False) for i in definition.consent_items}
            consent.record_consent(
                session,
                participant,
                decisions,
                language=lang,
                channel="telegram",
                letter_delivered_at=_delivered_at(row, press.now),
                now=press.now,
                how={"item_messages": messages, "callback_query": press.callback_id},
            )
            self._advance(row, IDLE, press.now, answers={}, messages={})
            text = _(
                "Thank you for reading. Without this consent you cannot take part, so we have "
                "noted that you declined. Nothing more will happen. If you change your mind, "
                "send /start to read the letter again."
            )
            return Outcome([answered, Reply(text)], seq=row.seq, language=lang)
        if index + 1 < len(definition.consent_items):
            self._advance(row, ITEM, press.now, i=index + 1, answers=answers, messages=messages)
            return Outcome(
                [answered, self._item_question(definition, lang, index + 1, held=held)],
                seq=row.seq,
                language=lang,
            )
        self._advance(row, SUMMARY, press.now, answers=answers, messages=messages)
        summary = self._summary(definition, lang, answers, row.seq, held=held)
        summary.replies.insert(0, answered)
        return summary

    def _summary(
        self,
        definition: StudyDefinition,
        lang: str,
        answers: dict[str, bool],
        seq: int,
        *,
        held: bool = False,
    ) -> Outcome:
        _ = gettext_for(lang)
        lines = [_("Your answers:")]
        lines += [
            f"{_mark(answers.get(i.id, False))} {i.text[lang]}" for i in definition.consent_items
        ]
        if held and any(not answers.get(i) for i in definition.required_item_ids):
            lines += [
                "",
                _(
                    "You answered no to a question that is needed to take part. If you confirm, "
                    "you leave the study: your recordings, raw transcripts and the link between "
                    "you and your code will be deleted. This cannot be undone."
                ),
            ]
        lines += ["", _("Confirm to give your consent, or change your answers.")]
        buttons = ((Choice(_("Confirm"), "ok"), Choice(_("Change"), "chg")),)
        return Outcome([Reply("\n".join(lines), buttons)], seq=seq, language=lang)

    def _on_summary(self, press: _Press) -> Outcome | None:
        row, session = press.row, press.session
        participant = self._participant(session, row)
        if press.action not in {"ok", "chg"} or participant is None or row.study_id is None:
            return None
        definition = load_definition(session, row.study_id)
        lang = row.language or definition.default_language
        _ = gettext_for(lang)
        if press.action == "chg":
            # Nothing is pre-ticked: every item is asked again from the start.
            self._advance(row, ITEM, press.now, i=0, answers={}, messages={})
            return Outcome(
                [
                    Reply(_("Let us go through the questions again."), edit=True),
                    self._item_question(definition, lang, 0),
                ],
                seq=row.seq,
                language=lang,
            )
        answers: dict[str, bool] = row.data.get("answers", {})
        record = consent.record_consent(
            session,
            participant,
            {i.id: bool(answers.get(i.id, False)) for i in definition.consent_items},
            language=lang,
            channel="telegram",
            letter_delivered_at=_delivered_at(row, press.now),
            now=press.now,
            how={
                "item_messages": row.data.get("messages", {}),
                "confirm_message": press.message_id,
                "callback_query": press.callback_id,
            },
        )
        if State(participant.state) is State.WITHDRAWN:
            return self._left_on_reconsent(press, definition, lang)
        self._advance(row, IDLE, press.now, answers={}, messages={})
        granted = [i for i in definition.consent_items if answers.get(i.id)]
        refused = [i for i in definition.consent_items if not answers.get(i.id)]
        lines = [_("Thank you! Your consent is recorded."), ""]
        lines += [f"{_mark(True)} {i.text[lang]}" for i in granted]
        lines += [f"{_mark(False)} {i.text[lang]}" for i in refused]
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
            content=letter_document(definition, lang, record.letter_version or "", _).encode(),
        )
        return Outcome(
            [
                Reply(_("Confirmed."), edit=True),
                Reply("\n".join(lines)),
                Reply(_("The information letter, for you to keep."), document=letter),
            ],
            seq=row.seq,
            language=lang,
        )

    def _left_on_reconsent(self, press: _Press, definition: StudyDefinition, lang: str) -> Outcome:
        """A required item refused by someone who took part: withdrawn, so purge as /withdraw."""
        _ = gettext_for(lang)
        row = press.row
        assert row.study_id is not None and row.participant_id is not None
        participant = self._participant(press.session, row)
        assert participant is not None
        request = PurgeRequest(
            row.study_id, participant.code, frozenset(i.id for i in definition.consent_items)
        )
        seq = row.seq
        # The chat key links this chat to the code: it goes with the identity.
        press.session.delete(row)
        text = _(
            "You answered no to a question that is needed to take part, so you have now left "
            "the study. Deleting your data now…"
        )
        return Outcome(
            [Reply(_("Confirmed."), edit=True), Reply(text)],
            seq=seq,
            purge=request,
            language=lang,
        )

    # --- rights --------------------------------------------------------------------------

    def status(self, sender: Sender, now: dt.datetime) -> Outcome:
        """``/status``: in plain words what is stored about the informant and until when."""
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            participant = None if row is None else self._participant(session, row)
            if row is None or participant is None or row.study_id is None:
                return Outcome([Reply(_nothing_held(_))], language=lang)
            definition = load_definition(session, row.study_id)
            current = consent.current_consent(session, participant)
            objects = _objects(session, participant)
            identity = self.services.vault.get(row.study_id, participant.code)
            lines = [
                _("Study: {title}").format(title=definition.title),
                _("Your participant code: {code}").format(code=participant.code),
                _("Status: {state}").format(state=_state_name(_, State(participant.state))),
                "",
            ]
            if current.items:
                lines.append(_("Your answers:"))
                lines += [
                    f"{_mark(current.granted(i.id))} {i.text[lang]}"
                    for i in definition.consent_items
                ]
                lines.append("")
            lines.append(_("What we hold about you:"))
            if identity is not None:
                lines.append(
                    "• "
                    + _(
                        "your Telegram name, user name and ids, kept apart from everything else "
                        "in a locked register (the linkage key)"
                    )
                )
            lines.append("• " + _("your consent answers and when you gave them"))
            recordings = sum(1 for o in objects if o.kind == "recording" and o.deleted_at is None)
            lines.append("• " + _("recordings of your interview: {n}").format(n=recordings))
            lines += [
                "",
                _(
                    "Until {date}. Then recordings and the link to you are deleted; only "
                    "anonymous material remains."
                ).format(date=definition.processing_end.isoformat()),
                _("/copy sends you a copy of it all; /withdraw withdraws your consent."),
            ]
            if State(participant.state) in HOLDS_CONSENT and row.step == IDLE:
                # Answers can change later (an optional item granted or refused): the informant
                # reads the current letter again and answers every item, as the first time.
                self._advance(row, RECONSENT, now)
                buttons = ((Choice(_("Change my answers"), "rc"),),)
                return Outcome([Reply("\n".join(lines), buttons)], seq=row.seq, language=lang)
            return Outcome([Reply("\n".join(lines))], language=lang)

    def copy(self, sender: Sender, now: dt.datetime) -> Outcome:
        """``/copy``: a file with all data held about the informant (not the audio)."""
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            participant = None if row is None else self._participant(session, row)
            if row is None or participant is None or row.study_id is None:
                return Outcome([Reply(_nothing_held(_))], language=lang)
            definition = load_definition(session, row.study_id)
            identity = self.services.vault.get(row.study_id, participant.code)
            records = session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.participant_id == participant.id)
                .order_by(ConsentRecord.id)
            ).all()
            export: dict[str, Any] = {
                "study": {"id": definition.id, "title": definition.title},
                "participant_code": participant.code,
                "pseudonym": participant.pseudonym,
                "state": participant.state,
                "identity": _identity_fields(identity),
                "consent_history": [
                    {
                        "kind": r.kind,
                        "recorded_at": r.recorded_at.isoformat(),
                        "channel": r.channel,
                        "language": r.language,
                        "letter_version": r.letter_version,
                        "decisions": {d.item_id: d.granted for d in r.decisions},
                    }
                    for r in records
                ],
                "recordings": [
                    {
                        "kind": o.kind,
                        "received_at": o.created_at.isoformat(),
                        "bytes": o.plaintext_size,
                        "deleted_at": o.deleted_at.isoformat() if o.deleted_at else None,
                    }
                    for o in _objects(session, participant)
                    if o.kind == "recording"
                ],
                "deleted_by": definition.processing_end.isoformat(),
                "generated_at": now.isoformat(),
            }
            content = json.dumps(export, ensure_ascii=False, indent=2).encode()
            document = Document(f"{definition.id}-{participant.code}.json", content)
            return Outcome(
                [Reply(_("All data we hold about you (not the audio itself)."), document=document)],
                language=lang,
            )

    def contact(self, sender: Sender, now: dt.datetime) -> Outcome:
        """``/contact``: researchers, supervisor, data-protection officer, complaint authority."""
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            if row is None or row.study_id is None:
                return Outcome([Reply(_not_enrolled(_))], language=lang)
            definition = load_definition(session, row.study_id)
            return Outcome([Reply(contacts_text(definition, _), html=True)], language=lang)

    def help(self, sender: Sender, now: dt.datetime) -> Outcome:
        """``/help`` and anything the bot does not understand."""
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            if row is None or row.participant_id is None:
                return Outcome([Reply(_not_enrolled(_))], language=lang)
            return Outcome([Reply(_idle_help(_))], language=lang)

    def language(self, sender: Sender, now: dt.datetime) -> Outcome:
        """``/language``: offer the study's languages."""
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            if row is None or row.study_id is None:
                return Outcome([Reply(_not_enrolled(_))], language=lang)
            definition = load_definition(session, row.study_id)
            if row.step in {LANGUAGE, ITEM, SUMMARY}:
                # Before consent, a new language means reading the letter in that language.
                self._advance(row, LANGUAGE, now)
                return self._ask_language(definition, lang, row.seq)
            self._advance(row, PICK_LANGUAGE, now)
            buttons = tuple(
                (Choice(LANGUAGE_NAMES.get(c, c), f"l.{c}"),) for c in definition.languages
            )
            return Outcome(
                [Reply(_("Which language do you want?"), buttons)], seq=row.seq, language=lang
            )

    def _on_pick_language(self, press: _Press) -> Outcome | None:
        code = press.action.removeprefix("l.")
        row = press.row
        if row.study_id is None:
            return None
        definition = load_definition(press.session, row.study_id)
        if not press.action.startswith("l.") or code not in definition.languages:
            return None
        row.language = code
        self._advance(row, IDLE, press.now)
        _ = gettext_for(code)
        text = _("Language: {language}").format(language=LANGUAGE_NAMES.get(code, code))
        return Outcome([Reply(text, edit=True)], seq=row.seq, language=code)

    # --- withdrawal ----------------------------------------------------------------------

    def withdraw(self, sender: Sender, now: dt.datetime) -> Outcome:
        """``/withdraw``: offer the whole consent or one currently granted optional item."""
        with transaction(self.services.research) as session:
            row = self._row(session, sender)
            lang = self._language(row, sender)
            _ = gettext_for(lang)
            participant = None if row is None else self._participant(session, row)
            if row is None or participant is None or row.study_id is None:
                return Outcome([Reply(_nothing_held(_))], language=lang)
            if State(participant.state) is State.WITHDRAWN:
                return Outcome([Reply(_("You have no consent to withdraw."))], language=lang)
            definition = load_definition(session, row.study_id)
            current = consent.current_consent(session, participant)
            buttons: list[tuple[Choice, ...]] = [
                (Choice(_("Everything: leave the study"), "w.all"),)
            ]
            for index, item in enumerate(definition.consent_items):
                if not item.required and current.granted(item.id):
                    label = _("Only: {item}").format(item=_short(item.text[lang]))
                    buttons.append((Choice(label, f"w.{index}"),))
            buttons.append((Choice(_("Cancel"), "x"),))
            self._advance(row, WITHDRAW, now)
            return Outcome(
                [Reply(_("What do you want to withdraw?"), tuple(buttons))],
                seq=row.seq,
                language=lang,
            )

    def _on_withdraw_choice(self, press: _Press) -> Outcome | None:
        row = press.row
        if row.study_id is None:
            return None
        definition = load_definition(press.session, row.study_id)
        lang = row.language or definition.default_language
        _ = gettext_for(lang)
        if press.action == "x":
            self._advance(row, IDLE, press.now)
            return Outcome([Reply(_("Nothing was changed."), edit=True)], seq=row.seq)
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
        self._advance(row, WITHDRAW_CONFIRM, press.now, scope=scope)
        return Outcome(
            [Reply(_("Withdraw?"), edit=True), Reply(what + "\n\n" + _("Are you sure?"), buttons)],
            seq=row.seq,
            language=lang,
        )

    def _on_withdraw_confirm(self, press: _Press) -> Outcome | None:
        row, session = press.row, press.session
        participant = self._participant(session, row)
        if participant is None or row.study_id is None or press.action not in {"wc", "x"}:
            return None
        definition = load_definition(session, row.study_id)
        lang = row.language or definition.default_language
        _ = gettext_for(lang)
        if press.action == "x":
            self._advance(row, IDLE, press.now)
            return Outcome([Reply(_("Nothing was changed."), edit=True)], seq=row.seq)
        scope = str(row.data.get("scope", "all"))
        items = None if scope == "all" else frozenset({definition.consent_items[int(scope)].id})
        try:
            record = consent.withdraw(
                session, participant, channel="telegram", now=press.now, items=items
            )
        except DomainError:
            self._advance(row, IDLE, press.now)
            return Outcome([Reply(_("You have no consent to withdraw."), edit=True)], seq=row.seq)
        withdrawn = frozenset(d.item_id for d in record.decisions)
        request = PurgeRequest(row.study_id, participant.code, withdrawn)
        if State(participant.state) is State.WITHDRAWN:
            # The chat key links this chat to the code: it goes with the identity.
            session.delete(row)
        else:
            self._advance(row, IDLE, press.now)
        return Outcome(
            [Reply(_("Your withdrawal is recorded. Deleting your data now…"), edit=True)],
            seq=row.seq,
            purge=request,
            language=lang,
        )


@dataclass
class _Press:
    session: Session
    row: BotConversation
    action: str
    message_id: int | None
    callback_id: str
    now: dt.datetime


# --- rendering helpers ---------------------------------------------------------------------


def purge_done(lang: str, report: PurgeReport) -> Reply:
    """Tell the informant what the purge deleted."""
    _ = gettext_for(lang)
    lines = [_("Done. This is what was deleted:")]
    lines.append(
        "• " + _("recordings: {n}").format(n=report.shredded.get("recording", 0)),
    )
    lines.append(
        "• " + _("raw transcripts: {n}").format(n=report.shredded.get("raw_transcript", 0)),
    )
    other = report.total - report.shredded.get("recording", 0)
    other -= report.shredded.get("raw_transcript", 0)
    if other:
        lines.append("• " + _("other files about you: {n}").format(n=other))
    if report.identity_deleted:
        lines.append("• " + _("your name, Telegram ids and the link between you and your code"))
        lines += ["", _("We no longer know who you are. Thank you for your time.")]
    elif not report.total:
        lines = [_("Done. There was nothing to delete for this consent.")]
    return Reply("\n".join(lines))


def letter_messages(definition: StudyDefinition, lang: str, _: Gettext) -> list[str]:
    """The information letter as HTML messages under Telegram's limit, contacts last."""
    text = definition.letter_text(lang).strip()
    title, _sep, body = text.partition("\n")
    parts = [f"<b>{html.escape(title.strip())}</b>", html.escape(body.strip())]
    parts.append(html.escape(definition.legal_basis_sentence(lang)))
    parts.append(contacts_text(definition, _))
    # Split at paragraph breaks, which never fall inside a tag.
    return split_text("\n\n".join(parts))


def contacts_text(definition: StudyDefinition, _: Gettext) -> str:
    """Whom an informant can contact, as HTML."""
    c = definition.contacts
    rows: list[tuple[str, Contact]] = [(_("Researcher"), r) for r in c.researchers]
    if c.supervisor is not None:
        rows.append((_("Supervisor"), c.supervisor))
    rows.append((_("Data protection officer"), c.data_protection_officer))
    if c.assessment_body is not None:
        rows.append((_("Assessment"), c.assessment_body))
    rows.append((_("Complaints"), c.complaint_authority))
    heading = _("Contacts")
    lines = [f"<b>{html.escape(heading)}</b>"]
    for role, person in rows:
        reach = ", ".join(x for x in (person.email, person.phone) if x)
        lines.append(f"{html.escape(role)}: {html.escape(person.name)} ({html.escape(reach)})")
    return "\n".join(lines)


def letter_document(definition: StudyDefinition, lang: str, version: str, _: Gettext) -> str:
    """The letter as a text file to keep, with its version hash."""
    label = _("Letter version")
    return (
        f"{definition.letter_text(lang).strip()}\n\n"
        f"{definition.legal_basis_sentence(lang)}\n\n"
        f"{label}: {version}\n"
    )


def _invite_refusal(_: Gettext) -> str:
    return _(
        "Sorry, this invitation link does not work: it is unknown, expired or already used. "
        "Please ask the researcher for a new link. Nothing has been stored about you."
    )


def _not_enrolled(_: Gettext) -> str:
    return _(
        "This bot collects consent for research interviews. To take part, open the invitation "
        "link the researcher sent you."
    )


def _nothing_held(_: Gettext) -> str:
    return _("We hold nothing about you in this chat.")


def _idle_help(_: Gettext) -> str:
    return _(
        "You can use these commands:\n"
        "/status – what we hold about you and until when\n"
        "/copy – a copy of all data about you\n"
        "/withdraw – withdraw your consent, wholly or in part\n"
        "/contact – whom to contact, and where to complain\n"
        "/language – change the language\n"
        "/help – this list"
    )


def _yes_no(_: Gettext, value: bool) -> str:
    return _("Yes") if value else _("No")


def _mark(value: bool) -> str:
    return "✅" if value else "❌"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _state_name(_: Gettext, state: State) -> str:
    names = {
        State.INVITED: _("invited"),
        State.INFORMED: _("informed, not yet answered"),
        State.CONSENTED: _("consented"),
        State.DECLINED: _("declined"),
        State.WITHDRAWN: _("withdrawn"),
        State.INTERVIEWED: _("interviewed"),
        State.TRANSCRIBED: _("interview transcribed"),
        State.APPROVED: _("transcript approved"),
    }
    return names[state]


def _delivered_at(row: BotConversation, now: dt.datetime) -> dt.datetime:
    value = row.data.get("delivered_at")
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else now


def _objects(session: Session, participant: Participant) -> list[BlobObject]:
    return list(
        session.scalars(
            select(BlobObject)
            .where(BlobObject.participant_id == participant.id)
            .order_by(BlobObject.created_at)
        )
    )


def _identity_fields(identity: Identity | None) -> dict[str, Any]:
    if identity is None:
        return {}
    fields = {
        "name": identity.name,
        "email": identity.email,
        "phone": identity.phone,
        "telegram_user_id": identity.telegram_user_id,
        "telegram_chat_id": identity.telegram_chat_id,
        "telegram_username": identity.telegram_username,
    }
    return {k: v for k, v in fields.items() if v is not None}
