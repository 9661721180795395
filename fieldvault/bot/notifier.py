"""Retention notices through Telegram: the ``Notifier`` the sweep calls from synchronous code.

The sweep runs in a worker thread or process, not on the bot's event loop, so the notifier owns
a private event loop and a ``telegram.Bot`` of its own (same Bot API server settings as the
bot) and runs each call to completion on it; ``close()`` ends both. Texts come from the bot's
gettext catalogs, in the informant's language. Logs name the notice id and kind only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import BadRequest, Forbidden

from fieldvault.bot.logs import quiet_telegram_logs
from fieldvault.bot.security import BotKeys
from fieldvault.bot.texts import RESEARCHER_LANGUAGE, Gettext, gettext_for
from fieldvault.config.study import StudyDefinition
from fieldvault.domain.errors import DomainError
from fieldvault.domain.notices import LogNotifier, NoticeMessage, Notifier
from fieldvault.domain.researcher_links import researcher_chats
from fieldvault.domain.rights import informant_language
from fieldvault.domain.studies import load_definition
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

log = logging.getLogger("fieldvault.bot.notifier")
T = TypeVar("T")


class TelegramNotifier:
    """Delivers notices to informants' and researchers' Telegram chats."""

    def __init__(self, services: Services) -> None:
        """A Bot for ``services.settings``' token and Bot API server; nothing is sent yet."""
        settings = services.settings
        if settings.telegram_token is None:
            raise DomainError("FIELDVAULT_TELEGRAM_TOKEN is not set; notices cannot go by Telegram")
        quiet_telegram_logs()
        self._services = services
        self._keys = BotKeys(services.lookups)
        self._bot = Bot(
            settings.telegram_token.get_secret_value(),
            base_url=settings.telegram_base_url,
            base_file_url=settings.telegram_base_file_url,
            local_mode=settings.telegram_local_mode,
        )
        self._loop = asyncio.new_event_loop()
        # The loop runs one call at a time; threads of one sweep take turns.
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._closed:
                coroutine.close()
                raise RuntimeError("this notifier is closed")
            return self._loop.run_until_complete(coroutine)

    async def _send(self, chat_id: int, text: str) -> bool:
        """Send ``text``; False when Telegram says the chat cannot be reached."""
        if not self._started:
            await self._bot.initialize()
            self._started = True
        try:
            await self._bot.send_message(chat_id, text)
        except (Forbidden, BadRequest):
            # Blocked the bot, or the chat is gone: unreachable, not worth a retry.
            return False
        return True

    def to_informant(self, notice: NoticeMessage, identity: Identity) -> bool:
        """Send the notice to the informant's chat, in their language; False without a chat."""
        chat_id = identity.telegram_chat_id
        if chat_id is None:
            return False
        with transaction(self._services.research) as session:
            definition = load_definition(session, notice.study_id)
            # The language the informant chose in the bot, else the one they consented in.
            lang = informant_language(
                session,
                definition,
                chat_key=self._keys.chat_key(chat_id),
                participant_code=notice.participant_code,
            )
        text = render_informant(notice, definition, lang)
        if text is None:
            log.warning("notice %s: no informant text for kind %s", notice.id, notice.kind)
            return False
        return self._run(self._send(chat_id, text))

    def to_researchers(self, notice: NoticeMessage) -> bool:
        """Send the notice to every researcher linked to the study; False when there is none."""
        chats = researcher_chats(self._services, notice.study_id)
        if not chats:
            return False
        text = render_researchers(notice)
        if text is None:
            log.warning("notice %s: no researcher text for kind %s", notice.id, notice.kind)
            return False

        async def send_all() -> bool:
            reached = [await self._send(chat, text) for chat in chats]
            return any(reached)

        return self._run(send_all())

    def close(self) -> None:
        """Shut the Bot down and close the private event loop; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._started:
                    self._loop.run_until_complete(self._bot.shutdown())
            finally:
                self._loop.close()

    def __enter__(self) -> TelegramNotifier:
        """Use as a context manager that closes the notifier."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving the block."""
        self.close()


def build_notifier(services: Services) -> Notifier:
    """The notifier of this process: Telegram when a bot token is set, else the log."""
    if services.settings.telegram_token is None:
        return LogNotifier()
    return TelegramNotifier(services)


# --- texts -------------------------------------------------------------------------------------


def render_informant(notice: NoticeMessage, definition: StudyDefinition, lang: str) -> str | None:
    """The plain-words message to an informant for ``notice``, or None for an unknown kind."""
    _ = gettext_for(lang)
    params = notice.params
    title = definition.title
    if notice.kind == "deletion":
        date = _end_date(str(params.get("deadline", "")), definition)
        body = _(
            "The study “{title}” has ended: {date} was the last day data about you could be "
            "kept. We are now deleting your recordings, the raw transcripts of your interview "
            "and the link between you and your participant code (your name and Telegram "
            "details)."
        ).format(title=title, date=date or definition.processing_end.isoformat())
        kept = _(
            "What is kept: the anonymised transcripts, which name nobody, and your consent "
            "answers under your code. After that, nobody can tell they are about you."
        )
        parts = [body, kept]
    elif notice.kind == "extension":
        body = _(
            "The study “{title}” has been extended: your recordings and the link to you are now "
            "kept until {to} instead of {old}, and deleted then."
        ).format(title=title, to=params.get("to", ""), old=params.get("from", ""))
        rights = _("You can still withdraw at any time with /withdraw, without giving a reason.")
        parts = [body, rights]
    elif notice.kind == "letter-changed":
        body = _(
            "The information letter of “{title}” has changed since you consented. "
            "Please read the new version and answer again."
        ).format(title=title)
        parts = [body, _("Send /start to read it. Your earlier answers stand until then.")]
    elif notice.kind == "withdrawal":
        body = _(
            "Your withdrawal from “{title}” is complete: your recordings, raw transcripts and "
            "the link between you and your code are deleted."
        ).format(title=title)
        parts = [body]
    else:
        return None
    parts.append(_contact_line(definition, _))
    return "\n\n".join(parts)


def render_researchers(notice: NoticeMessage) -> str | None:
    """The message to a study's researchers for ``notice``, or None for an unknown kind."""
    _ = gettext_for(RESEARCHER_LANGUAGE)
    p = notice.params
    if notice.kind == "reminder":
        objects = p.get("objects") or {}
        held = ", ".join(f"{kind}: {n}" for kind, n in sorted(objects.items())) or _("none")
        lines = [
            _("Study {study}: deletion in {days} day(s), at {deadline}.").format(
                study=notice.study_id, days=p.get("days", "?"), deadline=p.get("deadline", "?")
            ),
            _("Participants: {n}. Files to delete: {objects}.").format(
                n=p.get("participants", 0), objects=held
            ),
        ]
        unapproved = list(p.get("unapproved_codes") or [])
        if unapproved:
            lines.append(
                _("Transcripts not yet approved (deleted with the recordings): {codes}").format(
                    codes=", ".join(unapproved)
                )
            )
        return "\n".join(lines)
    if notice.kind == "extension":
        text = _("Study {study}: processing end moved from {old} to {to}.").format(
            study=notice.study_id, old=p.get("from", "?"), to=p.get("to", "?")
        )
        if p.get("assessment_ref"):
            text += " " + _("Assessment: {ref}.").format(ref=p["assessment_ref"])
        return text
    if notice.kind == "deletion":
        return _("Study {study}: the end-date deletion has run.").format(study=notice.study_id)
    return None


def _end_date(deadline: str, definition: StudyDefinition) -> str | None:
    """The last day of processing, from a deadline (local midnight after it, in UTC)."""
    try:
        moment = dt.datetime.fromisoformat(deadline)
    except ValueError:
        return None
    local = moment.astimezone(ZoneInfo(definition.timezone))
    return (local - dt.timedelta(days=1)).date().isoformat()


def _contact_line(definition: StudyDefinition, _: Gettext) -> str:
    """Whom to ask: the researchers named in the letter (the chat may be gone by then)."""
    people = []
    for person in definition.contacts.researchers:
        reach = ", ".join(x for x in (person.email, person.phone) if x)
        people.append(f"{person.name} ({reach})" if reach else person.name)
    return _("Questions? Contact {people}.").format(people="; ".join(people))
