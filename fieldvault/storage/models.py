"""Research database models. Nothing here identifies a person: identities live in the vault."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldvault.storage.db import ResearchBase, VaultBase


class UTCDateTime(DateTime):
    """Timezone-aware UTC datetimes on both SQLite and PostgreSQL."""

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)


def utcnow() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Treat a naive datetime read back from SQLite as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Study(ResearchBase):
    """A registered study and the definition it was registered with."""

    __tablename__ = "studies"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    definition_toml: Mapped[str] = mapped_column(Text)
    definition_sha256: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64))
    project_end: Mapped[dt.date] = mapped_column(Date)
    processing_end: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the end-of-processing sweep has destroyed identities and recordings.
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LetterVersion(ResearchBase):
    """The exact text of an information letter an informant was shown, kept per version."""

    __tablename__ = "letter_versions"

    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Participant(ResearchBase):
    """An informant in a study, known here only by a random code and a pseudonym."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    pseudonym: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    state_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    consent_records: Mapped[list[ConsentRecord]] = relationship(
        back_populates="participant", order_by="ConsentRecord.id"
    )


class Invite(ResearchBase):
    """A one-time recruitment invite; only the SHA-256 of its code is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), nullable=True)


class ConsentRecord(ResearchBase):
    """One consent event (given, changed or withdrawn), enough to demonstrate it under Art. 7(1)."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "consent" or "withdrawal"
    letter_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # telegram | web | paper | cli
    letter_delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # How it was given: message/button ids, or which researcher took paper consent.
    how: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    software_version: Mapped[str] = mapped_column(String(32))
    evidence_object_id: Mapped[str | None] = mapped_column(String(128), nullable=True)

    participant: Mapped[Participant] = relationship(back_populates="consent_records")
    decisions: Mapped[list[ConsentDecision]] = relationship(
        back_populates="record", order_by="ConsentDecision.item_id", cascade="all, delete-orphan"
    )


class ConsentDecision(ResearchBase):
    """One item of a consent record: granted or refused (or withdrawn)."""

    __tablename__ = "consent_decisions"

    record_id: Mapped[int] = mapped_column(ForeignKey("consent_records.id"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)

    record: Mapped[ConsentRecord] = relationship(back_populates="decisions")


class BlobObject(ResearchBase):
    """Metadata of an encrypted object in the blob store (recording, raw transcript, evidence)."""

    __tablename__ = "blob_objects"

    object_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    data_key_id: Mapped[str] = mapped_column(String(64))
    plaintext_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditEvent(ResearchBase):
    """An append-only, hash-chained audit event; never holds a direct identifier."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(48))
    study_id: Mapped[str | None] = mapped_column(String(63), nullable=True, index=True)
    participant_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- linkage vault -----------------------------------------------------------------------


class VaultIdentity(VaultBase):
    """Who a participant code is: every field sealed under the linkage key."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("study_id", "participant_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(String(63), index=True)
    participant_code: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # HMAC of the Telegram user id under the linkage key: lets the bot find "me" without
    # storing the id in the clear.
    telegram_lookup: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WrappedDataKey(VaultBase):
    """A per-participant data key, wrapped by the content key; deleting it shreds the data."""

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_id: Mapped[str] = mapped_column(String(63), index=True)
    participant_code: Mapped[str] = mapped_column(String(32), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
