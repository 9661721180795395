"""Research database models. Nothing here identifies a person: identities live in the vault."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
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
    # Set when a researcher withdrew the invite before it was used (migration 0013).
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


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
    # 1: unkeyed SHA-256 (events before the audit key existed); 2: HMAC-SHA256 under it.
    hash_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


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


# --- Telegram bot (research database; no Telegram id in the clear) -----------------------


class BotConversation(ResearchBase):
    """Where one Telegram chat is in the bot's conversation, keyed by an HMAC of the chat id."""

    __tablename__ = "bot_conversations"

    chat_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_id: Mapped[str | None] = mapped_column(ForeignKey("studies.id"), nullable=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id"), nullable=True, index=True
    )
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    step: Mapped[str] = mapped_column(String(32))
    # Bumped on every step change: a button carries it, so an older button no longer works.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResearcherLink(ResearchBase):
    """A researcher's Telegram account linked to one study through a one-time code."""

    __tablename__ = "researcher_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # HMAC of the researcher's Telegram user id (same scheme as the bot's chat keys).
    telegram_lookup: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


# --- recordings and transcription (issue 4) -------------------------------------------------


class Recording(ResearchBase):
    """One interview's recording: one or more audio tracks (e.g. Zoom's per-speaker files)."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # cli | telegram | web
    duration_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Interview metadata (issue 15, domain/interviews.py): the day the interview took place
    # (the container's creation time, else the researcher's), where that date came from
    # (container | researcher), the interviewer as a researcher's label (never an informant's
    # identity), the mode (in_person | video | phone), and which track is the interviewer's.
    interview_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    interview_date_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    interviewer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    interview_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    host_track: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # How many speakers the upload said a single-track interview has; None: the study's number.
    speakers: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)

    tracks: Mapped[list[RecordingTrack]] = relationship(
        back_populates="recording", order_by="RecordingTrack.position"
    )


class RecordingTrack(ResearchBase):
    """One encrypted audio file of a recording; file names are not kept (they may name people)."""

    __tablename__ = "recording_tracks"
    __table_args__ = (UniqueConstraint("recording_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    object_id: Mapped[str] = mapped_column(ForeignKey("blob_objects.object_id"))
    container: Mapped[str] = mapped_column(String(32))
    codec: Mapped[str] = mapped_column(String(32))
    duration_s: Mapped[float] = mapped_column(Float)

    recording: Mapped[Recording] = relationship(back_populates="tracks")


class TranscriptionJob(ResearchBase):
    """The transcription of a recording: state, lease and progress (the queue carries only ids)."""

    __tablename__ = "transcription_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), unique=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Which worker holds the job ("host:pid") and until when; an expired lease or a dead pid on
    # the same host lets another worker take it over after a crash.
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Transcript(ResearchBase):
    """A raw (not yet pseudonymised) transcript; its text is an encrypted blob."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique: however often a job is retried or taken over, a recording has one raw transcript.
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), unique=True)
    object_id: Mapped[str] = mapped_column(ForeignKey("blob_objects.object_id"))
    language: Mapped[str] = mapped_column(String(8))
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64))
    segment_count: Mapped[int] = mapped_column(Integer)
    suspect_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TranscriptSpeaker(ResearchBase):
    """A speaker of a raw transcript: its role in the interview and the label shown for it."""

    __tablename__ = "transcript_speakers"
    __table_args__ = (UniqueConstraint("transcript_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))  # as in the segments: speaker-1, unknown
    role: Mapped[str] = mapped_column(String(16))  # interviewer | informant | other
    display: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the first guess was made (counts and rules, never a word of the text).
    guessed_because: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


# --- retention: deletion deadlines, withdrawal purges, notices (issue 6) ----------------------


class Deletion(ResearchBase):
    """One participant's deletion, step by step, so an interrupted sweep resumes where it stopped.

    The steps run in this order and each is stamped when done: intent (``created_at``), notice,
    data keys destroyed, blobs deleted, identity deleted, done. Nothing identifies the person:
    the report is built from these rows (codes and counts only).
    """

    __tablename__ = "deletions"
    __table_args__ = (UniqueConstraint("participant_id", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    participant_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(16))  # deadline | withdrawal
    # The deadline (UTC) this deletion carries out; None for withdrawal purges.
    deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    step: Mapped[str] = mapped_column(String(16), index=True)
    # What was found to destroy at intent time: {"objects": {kind: n}, "identity": bool}.
    planned: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    notice_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    keys_destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    blobs_deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    identity_deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Notice(ResearchBase):
    """An outbox entry: a message to an informant (by code) or to a study's researchers.

    The text is rendered by the front end that delivers it (bot, web status page) from ``kind``
    and ``params``; neither holds an identity. ``dedupe_key`` makes each notice exist once.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    audience: Mapped[str] = mapped_column(String(16))  # informant | researchers
    participant_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))  # deletion | reminder | extension
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # When delivery was settled, and how: sent | unreachable | failed.
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class StudyExtension(ResearchBase):
    """A change of a study's processing end date, with the reason and the assessment behind it."""

    __tablename__ = "study_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    old_processing_end: Mapped[dt.date] = mapped_column(Date)
    new_processing_end: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    assessment_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- pseudonymisation (issue 5) -------------------------------------------------------------


class PseudonymisedTranscript(ResearchBase):
    """A transcript's pseudonymised version: under review, then approved.

    While under review the pseudonymised text lives only inside the encrypted redaction map
    (``review_object_id``, kind ``redaction_map``), because it may still hold what the
    automatic pass missed. Approval copies the reviewed, pseudonymised segments into
    ``document``: only then is it research data.
    """

    __tablename__ = "pseudonymised_transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id"), unique=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))  # review | approved
    review_object_id: Mapped[str | None] = mapped_column(
        ForeignKey("blob_objects.object_id"), nullable=True
    )
    replacements: Mapped[int] = mapped_column(Integer)
    suspects: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class VaultStudyDocument(VaultBase):
    """A sealed per-study document in the vault: the term list or the placeholder book."""

    __tablename__ = "study_documents"

    study_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- web API (issue 4) ----------------------------------------------------------------------


class ApiToken(ResearchBase):
    """A researcher's API token for one study; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PersonalLink(ResearchBase):
    """An informant's personal web page (a capability URL); only the SHA-256 of it is kept.

    The same row carries the web consent flow's state before consent (the language chosen,
    when the letter was shown), so the flow needs no cookie but the CSRF one.
    """

    __tablename__ = "personal_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A short code the informant may write down, to find the page again (hash only).
    recovery_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    letter_delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InformantChatLink(ResearchBase):
    """A one-time code that attaches an informant's Telegram chat to their participation."""

    __tablename__ = "informant_chat_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --- researcher accounts for the web app (issue 13) ----------------------------------------
# Researchers, never informants: the research database holds no identity of an informant, and
# a researcher's e-mail is the account name they log in with.


class ResearcherAccount(ResearchBase):
    """A researcher who logs in to the web app; the password is an argon2id hash."""

    __tablename__ = "researcher_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The TOTP secret, sealed (AES-256-GCM) under a key derived from the content key
    # ``totp_key_id`` (domain/second_factor.py); enrolled once a code from it was confirmed.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no replays


class StudySecurity(ResearchBase):
    """What a study's owner requires of its members' logins (a second factor)."""

    __tablename__ = "study_security"

    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    require_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StudyMember(ResearchBase):
    """An account's role in one study (owner, researcher, supervisor or dpo)."""

    __tablename__ = "study_members"

    account_id: Mapped[int] = mapped_column(ForeignKey("researcher_accounts.id"), primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccountLink(ResearchBase):
    """A one-time link that lets an account set its password; only its SHA-256 is kept."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("researcher_accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # set_password
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ResearcherSession(ResearchBase):
    """A logged-in browser: the cookie's SHA-256, its CSRF secret, when it was last used."""

    __tablename__ = "researcher_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("researcher_accounts.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    # "full": logged in; "totp": the password (or OIDC) was right, the second factor is awaited.
    stage: Mapped[str] = mapped_column(String(8), default="full", server_default="full")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
