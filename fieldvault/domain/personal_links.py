"""Informants' personal web pages: capability URLs, stored only as their SHA-256.

A token is ``secrets.token_urlsafe(32)`` (256 random bits), so a plain hash is enough: whoever
reads the database learns nothing that opens a page. The token is shown once, at the end of the
web consent flow; an unknown and a revoked token are refused with the same error, so a guess
learns nothing either. The same row keeps the flow's state before consent (the language chosen,
when the letter was shown), so the web page needs no session cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fieldvault.domain.consent import hash_invite_code
from fieldvault.domain.errors import InviteError
from fieldvault.errors import NotFoundError
from fieldvault.storage.models import Invite, Participant, PersonalLink, as_utc

TOKEN_BYTES = 32


class PersonalLinkNotFound(NotFoundError):
    """No such personal page: the token is unknown or revoked (the same answer for both)."""

    code = "personal_link.not_found"


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def create(
    session: Session, participant: Participant, *, language: str | None, now: dt.datetime
) -> str:
    """A new personal page for ``participant``; return its token (only its hash is stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        PersonalLink(
            study_id=participant.study_id,
            participant_id=participant.id,
            token_hash=token_hash(token),
            language=language,
            created_at=now,
        )
    )
    session.flush()
    return token


def resolve(session: Session, token: str) -> PersonalLink:
    """The live personal link of ``token``, or ``PersonalLinkNotFound``."""
    link = session.scalar(select(PersonalLink).where(PersonalLink.token_hash == token_hash(token)))
    if link is None or link.revoked_at is not None:
        raise PersonalLinkNotFound("this page does not exist")
    return link


def participant_of(session: Session, link: PersonalLink) -> Participant:
    """The participant whose page ``link`` is."""
    participant = session.get(Participant, link.participant_id)
    if participant is None:  # a foreign key guarantees it; kept for the type checker
        raise PersonalLinkNotFound("this page does not exist")
    return participant


def set_language(link: PersonalLink, language: str) -> None:
    """Remember the language the informant reads the flow in."""
    link.language = language


def letter_shown(link: PersonalLink, now: dt.datetime) -> dt.datetime:
    """Note when the letter was first shown on this page; return that time."""
    if link.letter_delivered_at is None:
        link.letter_delivered_at = now
    return link.letter_delivered_at


def revoke(session: Session, link: PersonalLink, now: dt.datetime) -> None:
    """Close the page (its token then answers "not found")."""
    link.revoked_at = now
    session.flush()


def invited_study(session: Session, code: str, now: dt.datetime) -> str:
    """The study an invite is for, without using it (link previewers must not burn invites).

    Raises the same ``InviteError`` codes as ``consent.redeem_invite`` (unknown, used, expired).
    """
    invite = session.scalar(select(Invite).where(Invite.code_hash == hash_invite_code(code)))
    if invite is None or invite.revoked_at is not None:  # revoked: refused as unknown
        raise InviteError("this invitation is not valid", code="invite.unknown")
    if invite.used_at is not None:
        raise InviteError("this invitation has already been used", code="invite.used")
    if as_utc(invite.expires_at) <= now:
        raise InviteError("this invitation has expired", code="invite.expired")
    return invite.study_id


# --- recovery codes ------------------------------------------------------------------------

# No 0/O, 1/I/L: a code is read from paper. 16 characters of 31 ≈ 79 bits; only the hash of the
# normalised code is stored, and failed attempts are throttled by the front end.
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RECOVERY_LENGTH = 16


def _normalise(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def new_recovery_code(session: Session, link: PersonalLink) -> str | None:
    """A recovery code for ``link`` the first time it is asked for (None after that)."""
    if link.recovery_hash is not None:
        return None
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    link.recovery_hash = token_hash(raw)
    session.flush()
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4))


def recover(session: Session, code: str) -> str:
    """A new token for the page of a recovery code; the old link stops working.

    Raises ``PersonalLinkNotFound`` for an unknown code or a revoked page.
    """
    normalised = _normalise(code)
    if len(normalised) != RECOVERY_LENGTH:
        raise PersonalLinkNotFound("this page does not exist")
    link = session.scalar(
        select(PersonalLink).where(PersonalLink.recovery_hash == token_hash(normalised))
    )
    if link is None or link.revoked_at is not None:
        raise PersonalLinkNotFound("this page does not exist")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link.token_hash = token_hash(token)
    session.flush()
    return token


def claim_reading(session: Session, link: PersonalLink) -> dt.datetime | None:
    """Use the letter's reading for one answer: when it was shown, or None if already used.

    A conditional UPDATE, so that of two simultaneous submissions of the same answers only one
    records them (the other waits for the row and then finds the reading used).
    """
    shown = link.letter_delivered_at
    if shown is None:
        return None
    claimed = session.execute(
        update(PersonalLink)
        .where(PersonalLink.id == link.id, PersonalLink.letter_delivered_at.is_not(None))
        .values(letter_delivered_at=None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return as_utc(shown)
