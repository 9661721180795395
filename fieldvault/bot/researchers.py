"""The researcher side of the bot: one-time link codes, participant lists, recording uploads."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fieldvault.bot.security import BotKeys
from fieldvault.domain import consent
from fieldvault.domain.errors import DomainError
from fieldvault.domain.participants import list_participants
from fieldvault.domain.recordings import RecordingRefused, accept_recording
from fieldvault.domain.studies import get_study
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Participant, ResearcherLink, as_utc
from fieldvault.storage.services import Services
from fieldvault.storage.study_documents import StudyDocuments

LINK_CODE_BYTES = 12
# The vault document of a study that maps researcher link ids to their Telegram chats.
CHATS_DOCUMENT = "researchers"
CODE_IN_CAPTION = re.compile(r"\bP-[0-9A-HJKMNP-TV-Z]{6}\b", re.IGNORECASE)
# What the hosted Bot API lets a bot download.
HOSTED_DOWNLOAD_LIMIT = 20 * 1024 * 1024


class LinkError(DomainError):
    """A researcher link code is unknown, expired or used."""


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode("ascii", errors="replace")).hexdigest()


def create_link_code(
    session: Session, study_id: str, label: str, expires_in: dt.timedelta, now: dt.datetime
) -> str:
    """A one-time code a researcher sends the bot (``/link <code>``) to link their account."""
    get_study(session, study_id)
    if not label.strip() or len(label) > 64:
        raise DomainError("give a label of 1 to 64 characters (e.g. the researcher's initials)")
    code = "R-" + secrets.token_urlsafe(LINK_CODE_BYTES)
    session.add(
        ResearcherLink(
            study_id=study_id,
            label=label.strip(),
            code_hash=_hash(code),
            created_at=now,
            expires_at=now + expires_in,
        )
    )
    session.flush()
    return code


def redeem_link_code(
    session: Session, keys: BotKeys, code: str, user_id: int, now: dt.datetime
) -> ResearcherLink:
    """Link the Telegram account ``user_id`` (stored as an HMAC) to a study; return the link."""
    link = session.scalar(select(ResearcherLink).where(ResearcherLink.code_hash == _hash(code)))
    if link is None or link.linked_at is not None or as_utc(link.expires_at) <= now:
        raise LinkError("this link code is not valid; create a new one with the CLI")
    claimed = session.execute(
        update(ResearcherLink)
        .where(ResearcherLink.id == link.id, ResearcherLink.linked_at.is_(None))
        .values(linked_at=now, telegram_lookup=keys.user_key(user_id))
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkError("this link code is not valid; create a new one with the CLI")
    return link


def _documents(services: Services) -> StudyDocuments:
    return StudyDocuments(services.vault_sessions, services.keys.linkage)


def link_researcher(
    services: Services, keys: BotKeys, code: str, user_id: int, chat_id: int, now: dt.datetime
) -> str:
    """Redeem a link code and keep the researcher's chat (sealed, in the vault); the study id.

    The research database holds only an HMAC of the account, which cannot be written to; the
    chat a notice goes to is identity data, so it lives in the vault with the study's other
    sealed documents and is destroyed with them at the end date.
    """
    with transaction(services.research) as session:
        link = redeem_link_code(session, keys, code, user_id, now)
        study_id, link_id = link.study_id, link.id
    documents = _documents(services)
    stored = documents.get(study_id, CHATS_DOCUMENT)
    chats: dict[str, int] = json.loads(stored) if stored else {}
    chats[str(link_id)] = chat_id
    documents.put(study_id, CHATS_DOCUMENT, json.dumps(chats, sort_keys=True).encode(), now)
    return study_id


def researcher_chats(services: Services, study_id: str) -> list[int]:
    """The Telegram chats of every researcher currently linked to ``study_id``."""
    with transaction(services.research) as session:
        linked = set(
            session.scalars(
                select(ResearcherLink.id).where(
                    ResearcherLink.study_id == study_id,
                    ResearcherLink.linked_at.is_not(None),
                    ResearcherLink.telegram_lookup.is_not(None),
                )
            )
        )
    stored = _documents(services).get(study_id, CHATS_DOCUMENT)
    chats: dict[str, int] = json.loads(stored) if stored else {}
    return sorted({chat for link_id, chat in chats.items() if int(link_id) in linked})


def linked_studies(session: Session, keys: BotKeys, user_id: int) -> list[str]:
    """The studies this Telegram account is linked to as a researcher (empty: not a researcher)."""
    rows = session.scalars(
        select(ResearcherLink.study_id)
        .where(ResearcherLink.telegram_lookup == keys.user_key(user_id))
        .order_by(ResearcherLink.study_id)
    )
    return sorted(set(rows))


@dataclass(frozen=True)
class ParticipantLine:
    """A participant as a researcher sees it in the bot: code and state, never a name."""

    study_id: str
    code: str
    state: str


def participants_of(services: Services, keys: BotKeys, user_id: int) -> list[ParticipantLine]:
    """Codes and states of every participant in the researcher's studies."""
    with transaction(services.research) as session:
        lines = []
        for study_id in linked_studies(session, keys, user_id):
            lines += [
                ParticipantLine(study_id, p.code, p.state)
                for p in list_participants(session, study_id)
            ]
        return lines


@dataclass(frozen=True)
class UploadTarget:
    """Where an upload goes: a participant of one of the researcher's studies."""

    study_id: str
    code: str


def upload_target(
    services: Services, keys: BotKeys, user_id: int, caption: str | None
) -> UploadTarget:
    """Find the participant named in ``caption`` and check rule 1 before any download."""
    match = CODE_IN_CAPTION.search(caption or "")
    if match is None:
        raise RecordingRefused(
            "put the participant code (such as P-7K3QXM) in the caption of the file"
        )
    code = match.group(0).upper()
    with transaction(services.research) as session:
        for study_id in linked_studies(session, keys, user_id):
            participant = session.scalar(
                select(Participant).where(
                    Participant.study_id == study_id, Participant.code == code
                )
            )
            if participant is None:
                continue
            if not consent.may_hold_recording(session, participant):
                raise RecordingRefused(
                    f"participant {code} has no current consent to be recorded; "
                    "the recording was not accepted"
                )
            return UploadTarget(study_id, code)
    # "Not yours" answers exactly like "not found".
    raise RecordingRefused(f"no participant {code} in your studies")


def store_upload(
    services: Services,
    target: UploadTarget,
    files: Sequence[tuple[str, BinaryIO]],
    now: dt.datetime,
) -> int:
    """Hand the downloaded file(s) to the recordings domain; return the recording id."""
    recording = accept_recording(
        services.research,
        services.content,
        study_id=target.study_id,
        code=target.code,
        files=files,
        language=None,
        source="telegram",
        now=now,
    )
    return recording.id
