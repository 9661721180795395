"""One-time codes that attach an informant's Telegram chat to the participation they already have.

An informant who took part on the web (or anywhere else) asks for a code there; the bot takes it
as a ``/start`` payload and links that chat to the same participant, so one informant stays one
participant whichever channel they use. A code is 192 random bits in Telegram's payload alphabet
(``A-Za-z0-9_-``, 32 characters), shown once; only its SHA-256 is stored, as for invites. It
works once (a conditional UPDATE decides between simultaneous redemptions) and only until it
expires, and never for a participant who has withdrawn.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fieldvault.domain import consent
from fieldvault.domain.errors import DomainError
from fieldvault.domain.states import State
from fieldvault.storage import audit
from fieldvault.storage.models import InformantChatLink, Participant, PersonalLink, as_utc

CODE_BYTES = 24  # 32 url-safe characters: fits a Telegram start payload (max 64, A-Za-z0-9_-)
VALID_FOR = dt.timedelta(days=1)


class ChatLinkError(DomainError):
    """A chat link code is unknown, used or expired, or its participant has withdrawn."""

    code = "chat_link.unknown"


def code_hash(code: str) -> str:
    """The SHA-256 (hex) under which a chat link code is stored and looked up."""
    return hashlib.sha256(code.strip().encode("ascii", errors="replace")).hexdigest()


def create(
    session: Session,
    participant: Participant,
    now: dt.datetime,
    *,
    valid_for: dt.timedelta = VALID_FOR,
) -> str:
    """A new one-time code that links a Telegram chat to ``participant``; only its hash is kept."""
    if valid_for <= dt.timedelta(0):
        raise ChatLinkError("a chat link must expire in the future", code="chat_link.bad_expiry")
    _refuse_withdrawn(participant)
    code = secrets.token_urlsafe(CODE_BYTES)
    session.add(
        InformantChatLink(
            study_id=participant.study_id,
            participant_id=participant.id,
            code_hash=code_hash(code),
            created_at=now,
            expires_at=now + valid_for,
        )
    )
    session.flush()
    return code


def find(session: Session, code: str) -> InformantChatLink | None:
    """The chat link of ``code`` whatever its state (None when unknown); nothing changes."""
    return session.scalar(
        select(InformantChatLink).where(InformantChatLink.code_hash == code_hash(code))
    )


def redeem(session: Session, code: str, now: dt.datetime) -> Participant:
    """Use a chat link code once; return the participant it links, or raise ``ChatLinkError``."""
    link = find(session, code)
    if link is None:
        raise ChatLinkError("this link code is not valid", code="chat_link.unknown")
    if link.used_at is not None:
        raise ChatLinkError("this link code has already been used", code="chat_link.used")
    if as_utc(link.expires_at) <= now:
        raise ChatLinkError("this link code has expired", code="chat_link.expired")
    participant = session.get(Participant, link.participant_id)
    if participant is None:  # a foreign key guarantees it; kept for the type checker
        raise ChatLinkError("this link code is not valid", code="chat_link.unknown")
    _refuse_withdrawn(participant)
    # Conditional update: of two simultaneous redemptions only one changes a row.
    claimed = session.execute(
        update(InformantChatLink)
        .where(InformantChatLink.id == link.id, InformantChatLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ChatLinkError("this link code has already been used", code="chat_link.used")
    link.used_at = now
    audit.append(
        session,
        audit.Event.PARTICIPANT_UPDATED,
        actor="informant",
        study_id=participant.study_id,
        participant_code=participant.code,
        details={"channel_linked": "telegram"},
        at=now,
    )
    return participant


def language_of(session: Session, participant: Participant) -> str | None:
    """The language the informant last used: their consent's, else their web page's, else None."""
    consented = consent.current_consent(session, participant).language
    if consented is not None:
        return consented
    return session.scalar(
        select(PersonalLink.language)
        .where(PersonalLink.participant_id == participant.id, PersonalLink.language.is_not(None))
        .order_by(PersonalLink.id.desc())
        .limit(1)
    )


def _refuse_withdrawn(participant: Participant) -> None:
    if State(participant.state) is State.WITHDRAWN:
        raise ChatLinkError(
            f"participant {participant.code} has withdrawn",
            code="chat_link.withdrawn",
            participant=participant.code,
        )
