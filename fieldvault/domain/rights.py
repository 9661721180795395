"""What an informant may see and ask: status, the Art. 15 data copy, changed answers, withdrawal.

One function per right, each returning plain data (no Telegram, no HTTP), so the bot and the
informant web page give the same answers. Texts are the front ends' business; these functions
say what is true. Withdrawal always purges (``withdrawal.withdraw_and_purge``), and a changed
answer that refuses a required item of someone taking part is a withdrawal that purges too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.config.study import StudyDefinition
from fieldvault.domain import consent, withdrawal
from fieldvault.domain.consent import HOLDS_CONSENT, State
from fieldvault.domain.participants import get_participant
from fieldvault.domain.studies import load_definition
from fieldvault.domain.withdrawal import (
    BeforePurge,
    InTransaction,
    WithdrawalDone,
    WithdrawalRecorded,
)
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, BotConversation, ConsentRecord, Participant
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity, LinkageVault


@dataclass(frozen=True)
class ItemAnswer:
    """One consent item as the informant answered it (texts per language)."""

    item_id: str
    text: Mapping[str, str]
    required: bool
    granted: bool


@dataclass(frozen=True)
class InformantStatus:
    """What is stored about an informant and until when."""

    study_title: str
    code: str
    state: State
    answered: bool  # whether any consent answer is on record
    items: tuple[ItemAnswer, ...]
    identity_held: bool
    recordings: int  # recordings still held (not deleted)
    processing_end: dt.date

    @property
    def holds_consent(self) -> bool:
        """Whether a consent is given and not withdrawn (answers can then be changed)."""
        return self.state in HOLDS_CONSENT


@dataclass(frozen=True)
class DataCopy:
    """The Art. 15 copy: everything held about the informant except the audio itself."""

    filename: str
    content: Mapping[str, Any]

    def as_json(self) -> bytes:
        """The copy as the UTF-8 JSON file an informant receives."""
        return json.dumps(self.content, ensure_ascii=False, indent=2).encode()


@dataclass(frozen=True)
class AnswersChanged:
    """Answers recorded again; ``withdrawal`` is set when they ended the participation."""

    letter_version: str | None
    withdrawal: WithdrawalDone | None = None


def _objects(session: Session, participant: Participant) -> list[BlobObject]:
    return list(
        session.scalars(
            select(BlobObject)
            .where(BlobObject.participant_id == participant.id)
            .order_by(BlobObject.created_at)
        )
    )


def status(session: Session, vault: LinkageVault, participant: Participant) -> InformantStatus:
    """In plain data what is stored about ``participant`` and until when."""
    definition = load_definition(session, participant.study_id)
    current = consent.current_consent(session, participant)
    objects = _objects(session, participant)
    return InformantStatus(
        study_title=definition.title,
        code=participant.code,
        state=State(participant.state),
        answered=bool(current.items),
        items=tuple(
            ItemAnswer(i.id, i.text, i.required, current.granted(i.id))
            for i in definition.consent_items
        ),
        identity_held=vault.get(participant.study_id, participant.code) is not None,
        recordings=sum(1 for o in objects if o.kind == BlobKind.RECORDING and o.deleted_at is None),
        processing_end=definition.processing_end,
    )


def data_copy(
    session: Session, vault: LinkageVault, participant: Participant, now: dt.datetime
) -> DataCopy:
    """The Art. 15 copy of all data held about ``participant`` (not the audio)."""
    definition = load_definition(session, participant.study_id)
    identity = vault.get(participant.study_id, participant.code)
    records = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant.id)
        .order_by(ConsentRecord.id)
    ).all()
    content: dict[str, Any] = {
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
            if o.kind == BlobKind.RECORDING
        ],
        "deleted_by": definition.processing_end.isoformat(),
        "generated_at": now.isoformat(),
    }
    return DataCopy(f"{definition.id}-{participant.code}.json", content)


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


def withdrawable_items(session: Session, participant: Participant) -> list[int]:
    """Indexes of the optional items currently granted: each can be withdrawn on its own."""
    definition = load_definition(session, participant.study_id)
    current = consent.current_consent(session, participant)
    return [
        index
        for index, item in enumerate(definition.consent_items)
        if not item.required and current.granted(item.id)
    ]


# The informant's withdrawal is the one use case every front door shares: record it, then purge
# what it covers (``withdrawal.withdraw_and_purge``); it is named here with the other rights.
withdraw = withdrawal.withdraw_and_purge


def change_answers(
    services: Services,
    study_id: str,
    code: str,
    decisions: Mapping[str, bool],
    *,
    language: str,
    channel: str,
    letter_delivered_at: dt.datetime,
    now: dt.datetime,
    how: Mapping[str, Any],
    in_transaction: InTransaction | None = None,
    before_purge: BeforePurge | None = None,
) -> AnswersChanged:
    """Record the answers of someone taking part again; a refused required item withdraws.

    That withdrawal is purged here, after its transaction commits, exactly as ``withdraw``
    purges; ``in_transaction`` runs inside the recording transaction only when it withdrew.
    """
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        definition = load_definition(session, study_id)
        record = consent.record_consent(
            session,
            participant,
            dict(decisions),
            language=language,
            channel=channel,
            letter_delivered_at=letter_delivered_at,
            now=now,
            how=dict(how),
        )
        letter_version = record.letter_version
        recorded = None
        if State(participant.state) is State.WITHDRAWN:
            recorded = WithdrawalRecorded(study_id, code, _all_items(definition), whole=True)
            if in_transaction is not None:
                in_transaction(session, recorded)
    if recorded is None:
        return AnswersChanged(letter_version)
    done = withdrawal.purge_recorded(services, recorded, now, before_purge)
    return AnswersChanged(letter_version, done)


def _all_items(definition: StudyDefinition) -> frozenset[str]:
    return frozenset(i.id for i in definition.consent_items)


def informant_language(
    session: Session,
    definition: StudyDefinition,
    *,
    chat_key: str,
    participant_code: str | None,
) -> str:
    """The language to write to an informant in: chosen in the chat, consented in, or default.

    ``chat_key`` names the informant's chat in the research database (an HMAC the front end
    computes), whose conversation row holds the language they last chose.
    """
    row = session.get(BotConversation, chat_key)
    if row is not None and row.language in definition.languages:
        return str(row.language)
    if participant_code is not None:
        participant = session.scalar(
            select(Participant).where(
                Participant.study_id == definition.id,
                Participant.code == participant_code,
            )
        )
        if participant is not None:
            language = consent.current_consent(session, participant).language
            if language in definition.languages:
                return str(language)
    return definition.default_language
