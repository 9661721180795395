"""Researchers' accounts linked to a study by one-time codes; what a linked researcher may do.

A link code is 96 random bits shown once, so the stored SHA-256 is useless to whoever reads
the database (as for API tokens). A linked account is known only by ``account_key``, an HMAC
the front end computes from the account id (the bot: ``BotKeys.user_key``), and the chat a
notice goes to is identity data, sealed in the vault as the study's ``researchers`` document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select, update
from sqlalchemy.orm import Session

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
MAX_LABEL = 64
# The vault document of a study that maps researcher link ids to their Telegram chats.
CHATS_DOCUMENT = "researchers"


class LinkError(DomainError):
    """A researcher link code is unknown, expired or used."""

    code = "researcher_link.invalid"


class LinkLabelError(DomainError):
    """A link code's label is empty or too long."""

    code = "researcher_link.bad_label"


def link_code_hash(code: str) -> str:
    """The SHA-256 (hex) under which a link code is stored and looked up."""
    return hashlib.sha256(code.strip().encode("ascii", errors="replace")).hexdigest()


def create_link_code(
    session: Session, study_id: str, label: str, expires_in: dt.timedelta, now: dt.datetime
) -> str:
    """A one-time code a researcher sends the bot to link their account to ``study_id``."""
    get_study(session, study_id)
    if not label.strip() or len(label) > MAX_LABEL:
        raise LinkLabelError(
            f"a link code's label must be 1 to {MAX_LABEL} characters "
            "(e.g. the researcher's initials)",
            study_id=study_id,
            max=MAX_LABEL,
        )
    code = "R-" + secrets.token_urlsafe(LINK_CODE_BYTES)
    session.add(
        ResearcherLink(
            study_id=study_id,
            label=label.strip(),
            code_hash=link_code_hash(code),
            created_at=now,
            expires_at=now + expires_in,
        )
    )
    session.flush()
    return code


def redeem_link_code(
    session: Session, code: str, account_key: str, now: dt.datetime
) -> ResearcherLink:
    """Link the account ``account_key`` to the code's study, once; return the link."""
    invalid = LinkError("this link code is unknown, expired or already used")
    link = session.scalar(
        select(ResearcherLink).where(ResearcherLink.code_hash == link_code_hash(code))
    )
    if link is None or link.linked_at is not None or as_utc(link.expires_at) <= now:
        raise invalid
    claimed = session.execute(
        update(ResearcherLink)
        .where(ResearcherLink.id == link.id, ResearcherLink.linked_at.is_(None))
        .values(linked_at=now, telegram_lookup=account_key)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise invalid  # another redemption won the race
    return link


def _documents(services: Services) -> StudyDocuments:
    return StudyDocuments(services.vault_sessions, services.keys.linkage)


def link_researcher(
    services: Services, code: str, account_key: str, chat_id: int, now: dt.datetime
) -> str:
    """Redeem a link code and keep the researcher's chat (sealed, in the vault); the study id.

    The research database holds only the account's HMAC; the chat is identity data, so it
    lives in the vault with the study's other sealed documents and goes with them at the end.
    """
    with transaction(services.research) as session:
        link = redeem_link_code(session, code, account_key, now)
        study_id, link_id = link.study_id, link.id
    documents = _documents(services)
    stored = documents.get(study_id, CHATS_DOCUMENT)
    chats: dict[str, int] = json.loads(stored) if stored else {}
    chats[str(link_id)] = chat_id
    documents.put(study_id, CHATS_DOCUMENT, json.dumps(chats, sort_keys=True).encode(), now)
    return study_id


def researcher_chats(services: Services, study_id: str) -> list[int]:
    """The chats of every researcher currently linked to ``study_id`` (for notices)."""
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


def linked_studies(services: Services, account_key: str) -> list[str]:
    """The studies this account is linked to as a researcher (empty: not a researcher)."""
    with transaction(services.research) as session:
        return _linked_studies(session, account_key)


def _linked_studies(session: Session, account_key: str) -> list[str]:
    rows = session.scalars(
        select(ResearcherLink.study_id)
        .where(ResearcherLink.telegram_lookup == account_key)
        .order_by(ResearcherLink.study_id)
    )
    return sorted(set(rows))


@dataclass(frozen=True)
class ParticipantLine:
    """A participant as a researcher sees it in the bot: code and state, never a name."""

    study_id: str
    code: str
    state: str


def participants_of(services: Services, account_key: str) -> list[ParticipantLine]:
    """Codes and states of every participant in the researcher's studies."""
    with transaction(services.research) as session:
        lines = []
        for study_id in _linked_studies(session, account_key):
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


def upload_target(services: Services, account_key: str, code: str) -> UploadTarget:
    """The participant ``code`` among the researcher's studies, checked by rule 1 before upload."""
    with transaction(services.research) as session:
        for study_id in _linked_studies(session, account_key):
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
                    "the recording was not accepted",
                    "no-consent",
                )
            return UploadTarget(study_id, code)
    # "Not yours" answers exactly like "not found".
    raise RecordingRefused(f"no participant {code} in your studies", "unknown-participant")


def store_upload(
    services: Services,
    target: UploadTarget,
    files: Sequence[tuple[str, BinaryIO]],
    now: dt.datetime,
    *,
    source: str,
) -> int:
    """Hand the downloaded file(s) to the recordings domain; return the recording id."""
    recording = accept_recording(
        services,
        study_id=target.study_id,
        code=target.code,
        files=files,
        language=None,
        source=source,
        now=now,
    )
    return recording.id
