"""The audit chain: append-only, keyed, hash-chained events that never hold a direct identifier.

Each event's hash covers a canonical JSON document of its fields and the hash of the event
before it (``prev_hash``; the first event links to 64 zeros). Since the audit key exists
(``keys/audit.key``, apart from the linkage and content keys) the hash is an HMAC-SHA256 under
it (``hash_version`` 2), so whoever can write the database but lacks the key cannot recompute
it after changing an event. Events written before the key existed keep their unkeyed SHA-256
(``hash_version`` 1) and still verify; once a keyed event exists every later one must be keyed,
and the checkpoints record from which event on the chain is keyed.

:func:`verify` walks the chain in ``seq`` order and finds an edited row (its hash no longer
matches), a deleted row (a gap in ``seq``), reordered or replaced rows (a ``prev_hash`` that
does not match) and an event rewritten without the key (an unkeyed one where the chain is
keyed). What a chain alone cannot show is that events were deleted *from the end*, because the
shorter chain is still a valid chain: that is what the signed checkpoints kept outside the
database are for (``storage.audit_checkpoints``; ``verify(session, checkpoints=...)`` checks
each one's event is still there with the same hash). ``expected_head`` does the same for a head
recorded by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.errors import ConfigError
from fieldvault.storage.keys import KeySet
from fieldvault.storage.locks import LockKey, transaction_lock
from fieldvault.storage.models import AuditEvent, as_utc, utcnow

__all__ = [
    "GENESIS_HASH",
    "HASH_KEYED",
    "HASH_UNKEYED",
    "AuditEvent",
    "AuditKeyMissing",
    "Checkpoint",
    "Event",
    "VerifyResult",
    "append",
    "bind_key",
    "event_hash",
    "event_mac",
    "first_keyed_seq",
    "hash_at",
    "head",
    "lock_chain",
    "verify",
]

GENESIS_HASH = "0" * 64
HASH_UNKEYED = 1  # SHA-256 of the canonical event: events from before the audit key
HASH_KEYED = 2  # HMAC-SHA256 under the audit key
_MAC_LABEL = b"fieldvault/audit/event/v2\x00"
# Where a research session factory keeps the audit key (``Session.info``), see :func:`bind_key`.
_KEYS_INFO = "fieldvault.audit_keys"

_LIMITS = {"actor": 64, "study_id": 63, "participant_code": 32}


class Event(StrEnum):
    """Every kind of audit event; the value is what is stored and hashed."""

    STUDY_REGISTERED = "study.registered"
    STUDY_UPDATED = "study.updated"
    STUDY_EXTENDED = "study.extended"
    STUDY_ENDED = "study.ended"
    INVITE_CREATED = "invite.created"
    INVITE_REDEEMED = "invite.redeemed"
    INVITE_REVOKED = "invite.revoked"
    PARTICIPANT_ADDED = "participant.added"
    PARTICIPANT_UPDATED = "participant.updated"
    CONSENT_GIVEN = "consent.given"
    CONSENT_REFUSED = "consent.refused"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    UPLOAD_ACCEPTED = "upload.accepted"
    UPLOAD_REJECTED = "upload.rejected"
    TRANSCRIPT_CREATED = "transcript.created"
    TRANSCRIPT_APPROVED = "transcript.approved"
    TRANSCRIPT_PSEUDONYMISED = "transcript.pseudonymised"
    TRANSCRIPT_REVIEWED = "transcript.reviewed"
    TRANSCRIPT_DISCARDED = "transcript.discarded"  # a job's result the participant withdrew
    TERM_ADDED = "term.added"
    EXPORT_CREATED = "export.created"
    DELETION_SHRED = "deletion.shred"
    DELETION_PURGE = "deletion.purge"
    DELETION_SCHEDULED = "deletion.scheduled"
    DELETION_NOTICE = "deletion.notice"
    RETENTION_REMINDER = "retention.reminder"
    KEYS_ROTATED = "keys.rotated"
    API_TOKEN_CREATED = "api_token.created"
    API_TOKEN_REVOKED = "api_token.revoked"
    ACCOUNT_ADDED = "account.added"  # a researcher account, or its role in a study
    ACCOUNT_PASSWORD_SET = "account.password_set"
    ACCOUNT_SECOND_FACTOR = "account.second_factor"  # a TOTP second factor was enrolled
    STUDY_SECURITY = "study.security"  # an owner changed what the study's logins require
    IDENTITY_REVEALED = "identity.revealed"  # a researcher looked up a participant's name
    SPEAKER_SET = "speaker.set"  # a transcript speaker's role confirmed or changed
    RECORDING_UPDATED = "recording.updated"  # interview metadata (date, interviewer, mode)


# Detail keys that name or reach a person. Compared after lower-casing and dropping everything
# but letters and digits, so "E-mail", "phoneNumber" and "telegram_user_id" are all caught.
IDENTIFIER_KEYS = frozenset(
    {
        "name",
        "fullname",
        "firstname",
        "lastname",
        "surname",
        "givenname",
        "familyname",
        "username",
        "email",
        "emailaddress",
        "mail",
        "phone",
        "phonenumber",
        "mobile",
        "telephone",
        "tel",
        "telegramuserid",
        "telegramid",
        "telegramusername",
        "tguserid",
        "chatid",
        "address",
        "streetaddress",
        "postaddress",
        "homeaddress",
        "ip",
        "ipaddress",
        "birthdate",
        "dateofbirth",
        "dob",
        "ssn",
        "nationalid",
        "personnummer",
        "fodselsnummer",
        "fødselsnummer",
    }
)


class AuditKeyMissing(ConfigError):
    """The chain is keyed, but this process was not given the audit key."""

    code = "audit.key_missing"


@dataclass(frozen=True)
class Checkpoint:
    """A head recorded outside the database: event ``seq`` had hash ``head`` at ``at``.

    ``keyed_from`` is the first event that must be keyed (None: no key existed yet); ``line``
    is where it stands in its file, ``reason`` what wrote it (init, sweep, verify, command).
    """

    seq: int
    head: str
    at: dt.datetime
    keyed_from: int | None = None
    reason: str = ""
    line: int = 0

    @property
    def label(self) -> str:
        """How a report names it: its line and time."""
        if not self.line:
            return "the expected head"
        return (
            f"checkpoint {self.line} ({self.at.astimezone(dt.UTC).isoformat(timespec='seconds')})"
        )


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`; the head is that of the intact part of the chain."""

    ok: bool
    checked: int  # events that verified (the intact prefix when the chain is broken)
    first_broken_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str
    checkpoints: int = 0  # checkpoints the chain was compared with
    checkpoint: Checkpoint | None = None  # the one the chain contradicts, when it does
    keyed: int = 0  # of ``checked``, the events with a keyed hash


def bind_key(factory: sessionmaker[Session], keys: KeySet) -> None:
    """Give every session of ``factory`` the audit key: its appends are keyed from now on."""
    info = dict(factory.kw.get("info") or {})
    info[_KEYS_INFO] = keys
    factory.configure(info=info)


def _session_keys(session: Session) -> KeySet | None:
    keys = session.info.get(_KEYS_INFO)
    return keys if isinstance(keys, KeySet) else None


def append(
    session: Session,
    event: str,
    *,
    actor: str,
    study_id: str | None = None,
    participant_code: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Add an event at the end of the chain, inside the caller's transaction, and return it."""
    kind = Event(event)  # unknown event names are a programming error: ValueError
    clean = _canonical_details(details or {})
    _refuse_identifiers(clean)
    for field, value in (
        ("actor", actor),
        ("study_id", study_id),
        ("participant_code", participant_code),
    ):
        if value is not None and len(value) > _LIMITS[field]:
            raise ValueError(f"audit {field} is longer than {_LIMITS[field]} characters")
    if at is not None and at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    # Stored and hashed in UTC: SQLite keeps the wall time only, so any other offset would be lost.
    when = (at or utcnow()).astimezone(dt.UTC)

    keys = _session_keys(session)
    _serialise_appends(session)
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.hash_version)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    last_seq, last_hash = (0, GENESIS_HASH) if last is None else (last.seq, last.hash)
    if keys is None and last is not None and last.hash_version == HASH_KEYED:
        raise AuditKeyMissing(
            "the audit chain is keyed, and this process has no audit key: it cannot add an event"
        )
    row = AuditEvent(
        seq=last_seq + 1,
        at=when,
        event=kind.value,
        study_id=study_id,
        participant_code=participant_code,
        actor=actor,
        details=clean,
        prev_hash=last_hash,
        hash_version=HASH_UNKEYED if keys is None else HASH_KEYED,
    )
    fields: dict[str, Any] = {
        "seq": row.seq,
        "at": when,
        "event": row.event,
        "study_id": study_id,
        "participant_code": participant_code,
        "actor": actor,
        "details": clean,
        "prev_hash": last_hash,
    }
    row.hash = event_hash(**fields) if keys is None else event_mac(keys.current, **fields)
    session.add(row)
    # Flush now so a clash shows here, at the append, rather than at some later commit.
    session.flush()
    return row


def _serialise_appends(session: Session) -> None:
    """Hold, until the transaction ends, a lock that every other append must wait for.

    Without it two writers could both read head N and both write N+1. The chain still could not
    fork then (``seq`` is the primary key, so the second insert fails), but one business
    transaction would fail for nothing; the lock makes the second writer wait and then read the
    first one's event as its head.
    """
    transaction_lock(session, LockKey.AUDIT)


def head(session: Session) -> tuple[int, str]:
    """The last event's (seq, hash), or (0, 64 zeros) for an empty chain; record it elsewhere."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS_HASH) if row is None else (row.seq, row.hash)


def hash_at(session: Session, seq: int) -> str | None:
    """The stored hash of event ``seq`` (64 zeros for 0), or None when there is no such event."""
    if seq == 0:
        return GENESIS_HASH
    return session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))


def first_keyed_seq(session: Session) -> int | None:
    """The first event with a keyed hash, or None when there is none yet."""
    return session.scalar(
        select(func.min(AuditEvent.seq)).where(AuditEvent.hash_version == HASH_KEYED)
    )


def lock_chain(session: Session) -> None:
    """Hold the append lock until the transaction ends (a checkpoint reads a head no one moves)."""
    _serialise_appends(session)


def verify(
    session: Session,
    expected_head: tuple[int, str] | None = None,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    keys: KeySet | None = None,
) -> VerifyResult:
    """Walk the whole chain and compare it with ``checkpoints`` (and ``expected_head``).

    Keyed events are checked with ``keys``, by default the audit key the session's factory
    was given (:func:`bind_key`); without one a keyed event fails to verify.
    """
    recorded = list(checkpoints)
    if expected_head is not None:
        recorded.append(Checkpoint(expected_head[0], expected_head[1], dt.datetime.now(dt.UTC)))
    walk = _Walk(recorded, keys if keys is not None else _session_keys(session))
    # Plain columns rather than ORM objects: the identity map could hand back a row as this
    # session loaded it earlier, not as it is stored now.
    columns = select(
        AuditEvent.seq,
        AuditEvent.at,
        AuditEvent.event,
        AuditEvent.study_id,
        AuditEvent.participant_code,
        AuditEvent.actor,
        AuditEvent.details,
        AuditEvent.prev_hash,
        AuditEvent.hash,
        AuditEvent.hash_version,
    ).order_by(AuditEvent.seq)
    rows = session.execute(columns.execution_options(yield_per=1000))
    try:
        for row in rows:
            failure = walk.step(row)
            if failure is not None:
                return failure
    finally:
        # An early return leaves rows unread; on PostgreSQL that is a server-side cursor.
        rows.close()
    failure = walk.check_tail()
    if failure is not None:
        return failure
    return walk.result()


class _Walk:
    """Where a walk along the chain stands: the last good event and the checkpoints to meet."""

    def __init__(self, checkpoints: list[Checkpoint], keys: KeySet | None) -> None:
        """Start before the first event."""
        self.prev_seq, self.prev_hash = 0, GENESIS_HASH
        self.checked = 0
        self.keyed = 0
        self.keys = keys
        self.checkpoints = checkpoints
        self.at_seq: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            self.at_seq.setdefault(checkpoint.seq, []).append(checkpoint)
        marks = [c.keyed_from for c in checkpoints if c.keyed_from is not None]
        self.keyed_from = min(marks) if marks else None
        self.keyed_seen = False

    def result(
        self, failure: tuple[int, str] | None = None, by: Checkpoint | None = None
    ) -> VerifyResult:
        """The outcome: intact, or broken at ``failure`` = (seq, reason), perhaps ``by`` one."""
        seq, reason = failure if failure is not None else (None, None)
        return VerifyResult(
            failure is None,
            self.checked,
            seq,
            reason,
            self.prev_seq,
            self.prev_hash,
            checkpoints=len(self.checkpoints),
            checkpoint=by,
            keyed=self.keyed,
        )

    def broken(self, seq: int, reason: str, by: Checkpoint | None = None) -> VerifyResult:
        """The chain breaks at ``seq`` for ``reason``; the last good event is reported too."""
        return self.result((seq, reason), by)

    def step(self, row: Row[Any]) -> VerifyResult | None:
        """Check the next event against the last good one; None when it holds."""
        expected = self.prev_seq + 1
        if row.seq != expected:
            return self.broken(
                min(expected, row.seq),
                f"expected event {expected} but the next one is {row.seq}: events were deleted",
            )
        if row.prev_hash != self.prev_hash:
            return self.broken(
                row.seq,
                f"its prev_hash does not match event {self.prev_seq}: "
                "events were reordered, replaced or deleted",
            )
        failure = self._check_hash(row)
        if failure is not None:
            return self.broken(row.seq, failure)
        for checkpoint in self.at_seq.get(row.seq, ()):
            if not hmac.compare_digest(checkpoint.head, row.hash):
                return self.broken(
                    row.seq,
                    f"event {row.seq} differs from {checkpoint.label}: the chain was rewritten",
                    checkpoint,
                )
        self.checked += 1
        self.prev_seq, self.prev_hash = row.seq, row.hash
        return None

    def _check_hash(self, row: Row[Any]) -> str | None:
        """Why the event's own hash is wrong, or None when it matches."""
        fields = {
            "seq": row.seq,
            "at": row.at,
            "event": row.event,
            "study_id": row.study_id,
            "participant_code": row.participant_code,
            "actor": row.actor,
            "details": row.details,
            "prev_hash": row.prev_hash,
        }
        if row.hash_version == HASH_KEYED:
            if self.keys is None:
                return "it is keyed and no audit key was given to check it"
            if not any(
                hmac.compare_digest(event_mac(key, **fields), row.hash) for _, key in self.keys.keys
            ):
                return (
                    "its content does not match its keyed hash: the event was edited, or "
                    "written without the audit key"
                )
            self.keyed_seen = True
            self.keyed += 1
            return None
        if row.hash_version != HASH_UNKEYED:
            return f"it has an unknown hash version {row.hash_version}: the event was edited"
        if self.keyed_seen or (self.keyed_from is not None and row.seq >= self.keyed_from):
            since = self.keyed_from if self.keyed_from is not None else "an earlier event"
            return (
                f"it has an unkeyed hash where the chain is keyed (from event {since}): the "
                "chain was rewritten without the audit key"
            )
        if not hmac.compare_digest(event_hash(**fields), row.hash):
            return "its content does not match its hash: the event was edited"
        return None

    def check_tail(self) -> VerifyResult | None:
        """After the last event: a failure when a checkpoint lies beyond it, else None."""
        beyond = [c for c in self.checkpoints if c.seq > self.prev_seq]
        if beyond:
            last = max(beyond, key=lambda c: (c.seq, c.line))
            return self.broken(
                self.prev_seq + 1,
                f"the chain ends at event {self.prev_seq} but {last.label} recorded event "
                f"{last.seq}: events were deleted from the end (the chain was truncated)",
                last,
            )
        for checkpoint in self.at_seq.get(0, ()):
            if checkpoint.head != GENESIS_HASH:
                return self.broken(0, f"{checkpoint.label} does not start at the genesis hash")
        return None


def event_hash(
    *,
    seq: int,
    at: dt.datetime,
    event: str,
    study_id: str | None,
    participant_code: str | None,
    actor: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of one event's fields and the previous hash."""
    document = {
        "seq": seq,
        # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones in its zone.
        "at": as_utc(at).astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "event": str(event),
        "study_id": study_id,
        "participant_code": participant_code,
        "actor": actor,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_canonical_json(document).encode("utf-8")).hexdigest()


def event_mac(
    key: bytes,
    *,
    seq: int,
    at: dt.datetime,
    event: str,
    study_id: str | None,
    participant_code: str | None,
    actor: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """HMAC-SHA256 (hex) under the audit key of the same document, marked as version 2."""
    document = {
        "hash_version": HASH_KEYED,
        "seq": seq,
        "at": as_utc(at).astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "event": str(event),
        "study_id": study_id,
        "participant_code": participant_code,
        "actor": actor,
        "details": details,
        "prev_hash": prev_hash,
    }
    message = _MAC_LABEL + _canonical_json(document).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_details(details: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON so what is hashed is exactly what the JSON column gives back:
    # tuples become lists, non-string keys strings; NaN (which PostgreSQL refuses) is rejected.
    try:
        clean = json.loads(json.dumps(details, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be plain JSON: {exc}") from None
    if not isinstance(clean, dict):
        raise ValueError("audit details must be a JSON object")
    return clean


def _refuse_identifiers(value: Any, path: str = "details") -> None:
    # Identities live in the linkage vault only; the audit is kept forever and must name nobody.
    if isinstance(value, dict):
        for key, inner in value.items():
            normalised = "".join(ch for ch in key.lower() if ch.isalnum())
            if normalised in IDENTIFIER_KEYS:
                raise ValueError(
                    f"audit {path} may not hold {key!r}: direct identifiers never enter the "
                    "audit; refer to the participant code instead"
                )
            _refuse_identifiers(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _refuse_identifiers(inner, f"{path}[{index}]")
