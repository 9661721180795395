"""The audit chain: append-only, hash-chained events that never hold a direct identifier.

Each event's hash is the SHA-256 of a canonical JSON document of its fields and the hash of the
event before it (``prev_hash``; the first event links to 64 zeros). :func:`verify` walks the chain
in ``seq`` order and finds an edited row (its hash no longer matches), a deleted row (a gap in
``seq``) and reordered or replaced rows (a ``prev_hash`` that does not match).

What a chain alone cannot show: that events were deleted *from the end*, because the shorter
chain is still a valid chain; nor that someone with write access rewrote every hash from some
event onwards, since the hash is unkeyed. Both are caught by comparing against a head recorded
somewhere the database's writers cannot change (a printed report, the DPO's mailbox, a ticket):
:func:`head` gives it, every :class:`VerifyResult` shows it, and ``verify(session,
expected_head=...)`` checks that the recorded event is still there with the same hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from fieldvault.storage.locks import LockKey, transaction_lock
from fieldvault.storage.models import AuditEvent, as_utc, utcnow

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "Event",
    "VerifyResult",
    "append",
    "event_hash",
    "head",
    "verify",
]

GENESIS_HASH = "0" * 64

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


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`; the head is that of the intact part of the chain."""

    ok: bool
    checked: int  # events that verified (the intact prefix when the chain is broken)
    first_broken_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str


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

    _serialise_appends(session)
    last_seq, last_hash = head(session)
    row = AuditEvent(
        seq=last_seq + 1,
        at=when,
        event=kind.value,
        study_id=study_id,
        participant_code=participant_code,
        actor=actor,
        details=clean,
        prev_hash=last_hash,
    )
    row.hash = event_hash(
        seq=row.seq,
        at=when,
        event=row.event,
        study_id=study_id,
        participant_code=participant_code,
        actor=actor,
        details=clean,
        prev_hash=last_hash,
    )
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


def verify(session: Session, expected_head: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the whole chain; with ``expected_head`` also detect that its tail was removed."""
    walk = _Walk(expected_head)
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
    if expected_head is not None:
        failure = walk.check_head(expected_head)
        if failure is not None:
            return failure
    return VerifyResult(True, walk.checked, None, None, walk.prev_seq, walk.prev_hash)


class _Walk:
    """Where a walk along the chain stands: the last good event and what was seen of the head."""

    def __init__(self, expected_head: tuple[int, str] | None) -> None:
        """Start before the first event; ``expected_head`` is the head recorded elsewhere."""
        self.prev_seq, self.prev_hash = 0, GENESIS_HASH
        self.checked = 0
        self.expected_head = expected_head
        self.seen_at_expected: str | None = (
            GENESIS_HASH if expected_head and expected_head[0] == 0 else None
        )

    def broken(self, seq: int, reason: str) -> VerifyResult:
        """The chain breaks at ``seq`` for ``reason``; the last good event is reported too."""
        return VerifyResult(False, self.checked, seq, reason, self.prev_seq, self.prev_hash)

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
        computed = event_hash(
            seq=row.seq,
            at=row.at,
            event=row.event,
            study_id=row.study_id,
            participant_code=row.participant_code,
            actor=row.actor,
            details=row.details,
            prev_hash=row.prev_hash,
        )
        if computed != row.hash:
            return self.broken(row.seq, "its content does not match its hash: the event was edited")
        self.checked += 1
        self.prev_seq, self.prev_hash = row.seq, row.hash
        if self.expected_head and row.seq == self.expected_head[0]:
            self.seen_at_expected = row.hash
        return None

    def check_head(self, expected_head: tuple[int, str]) -> VerifyResult | None:
        """After the last event: a failure when the recorded head is gone or changed, else None."""
        head_seq, head_hash = expected_head
        if head_seq > self.prev_seq:
            return self.broken(
                self.prev_seq + 1,
                f"the chain ends at event {self.prev_seq} but event {head_seq} was recorded as "
                "head: events were deleted from the end",
            )
        if self.seen_at_expected != head_hash:
            return self.broken(
                head_seq,
                f"event {head_seq} differs from the recorded head: the chain was rewritten",
            )
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
