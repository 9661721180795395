"""The consent domain: participant states, invites, consent records and withdrawal.

Every front end (bot, web page, CLI for paper forms) calls these functions; none re-implements
them. Functions take the session and the time as parameters so tests control the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fieldvault import __version__
from fieldvault.config.study import StudyDefinition
from fieldvault.domain.errors import ConsentError, InviteError, InviteNotFound
from fieldvault.domain.participants import get_participant, new_participant
from fieldvault.domain.states import HOLDS_CONSENT, State, transition
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.storage import audit
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    ConsentDecision,
    ConsentRecord,
    Invite,
    LetterVersion,
    Participant,
    as_utc,
)

if TYPE_CHECKING:  # storage.services brings alembic; the domain needs only the type
    from fieldvault.storage.services import Services

CHANNELS = frozenset({"telegram", "web", "paper"})
INVITE_CODE_BYTES = (
    16  # 22 url-safe characters: fits a Telegram start payload (max 64, A-Za-z0-9_-)
)


# --- invites -----------------------------------------------------------------------------


def hash_invite_code(code: str) -> str:
    """The stored form of an invite code (codes are 128-bit random, so a plain hash suffices)."""
    return hashlib.sha256(code.encode("ascii", errors="replace")).hexdigest()


def create_invites(
    session: Session,
    study_id: str,
    count: int,
    expires_in: dt.timedelta,
    now: dt.datetime,
    *,
    actor: str = "researcher",
) -> list[str]:
    """Create ``count`` one-time invites; return the codes, which are never stored in the clear."""
    if count < 1 or count > 1000:
        raise InviteError(
            "the number of invites must be between 1 and 1000", code="invite.bad_count"
        )
    if expires_in <= dt.timedelta(0):
        raise InviteError(
            "an invite must expire in the future: a positive number of days",
            code="invite.bad_expiry",
        )
    get_study(session, study_id)
    codes = [secrets.token_urlsafe(INVITE_CODE_BYTES) for _ in range(count)]
    for code in codes:
        session.add(
            Invite(
                study_id=study_id,
                code_hash=hash_invite_code(code),
                created_at=now,
                expires_at=now + expires_in,
            )
        )
    session.flush()
    audit.append(
        session,
        audit.Event.INVITE_CREATED,
        actor=actor,
        study_id=study_id,
        details={"count": count, "expires_at": (now + expires_in).isoformat()},
        at=now,
    )
    return codes


def redeem_invite(
    session: Session, code: str, now: dt.datetime, *, pseudonym_avoid: frozenset[str] = frozenset()
) -> Participant:
    """Use an invite once: create the participant it invites, or raise InviteError."""
    invite = session.scalar(select(Invite).where(Invite.code_hash == hash_invite_code(code)))
    # A revoked invite is refused exactly like an unknown one: it is no longer an invitation.
    if invite is None or invite.revoked_at is not None:
        raise InviteError(
            "this invitation is not valid; ask the researcher for a new link", code="invite.unknown"
        )
    if invite.used_at is not None:
        raise InviteError(
            "this invitation has already been used; ask the researcher for a new one",
            code="invite.used",
        )
    if as_utc(invite.expires_at) <= now:
        raise InviteError(
            "this invitation has expired; ask the researcher for a new one", code="invite.expired"
        )
    # Conditional update: of two simultaneous redemptions only one changes a row.
    claimed = session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteError(
            "this invitation has already been used; ask the researcher for a new one",
            code="invite.used",
        )
    participant = new_participant(session, invite.study_id, now, avoid=pseudonym_avoid)
    invite.used_at = now
    invite.participant_id = participant.id
    audit.append(
        session,
        audit.Event.INVITE_REDEEMED,
        actor="informant",
        study_id=invite.study_id,
        participant_code=participant.code,
        at=now,
    )
    return participant


def open_invite(session: Session, study_id: str, code: str, now: dt.datetime) -> Invite:
    """The invite ``code`` of ``study_id`` while it can still be used, else InviteError (reads)."""
    invite = session.scalar(select(Invite).where(Invite.code_hash == hash_invite_code(code)))
    if invite is None or invite.study_id != study_id or invite.revoked_at is not None:
        raise InviteError("this invitation is not valid", code="invite.unknown")
    if invite.used_at is not None:
        raise InviteError("this invitation has already been used", code="invite.used")
    if as_utc(invite.expires_at) <= now:
        raise InviteError("this invitation has expired", code="invite.expired")
    return invite


def revoke_invite(
    session: Session, study_id: str, invite_id: int, *, actor: str, now: dt.datetime
) -> Invite:
    """Withdraw an unused invite of ``study_id`` so that it can no longer be redeemed."""
    invite = session.get(Invite, invite_id)
    if invite is None or invite.study_id != study_id:
        raise InviteNotFound(f"study {study_id!r} has no invite {invite_id}")
    if invite.used_at is not None:
        raise InviteError(
            "this invitation has already been used; withdraw the participant instead",
            code="invite.used",
        )
    if invite.revoked_at is not None:
        raise InviteError("this invitation has already been revoked", code="invite.revoked")
    # Conditional, like redeeming: a redemption racing the revocation wins or loses cleanly.
    changed = session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteError("this invitation was used or revoked a moment ago", code="invite.used")
    invite.revoked_at = now
    audit.append(
        session,
        audit.Event.INVITE_REVOKED,
        actor=actor,
        study_id=study_id,
        details={"invite": invite.id},
        at=now,
    )
    return invite


# --- consent -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentState:
    """The current consent of one participant, folded from all its records."""

    items: Mapping[str, bool]
    letter_version: str | None
    language: str | None

    def granted(self, item_id: str) -> bool:
        """Whether ``item_id`` is currently granted."""
        return self.items.get(item_id, False)


def mark_informed(
    session: Session, participant: Participant, language: str, now: dt.datetime
) -> str:
    """Record that the letter was delivered in ``language``; return its version hash."""
    definition = load_definition(session, participant.study_id)
    version = _ensure_letter_version(session, participant.study_id, definition, language, now)
    transition(participant, State.INFORMED, now)
    return version


def record_consent(
    session: Session,
    participant: Participant,
    decisions: Mapping[str, bool],
    *,
    language: str,
    channel: str,
    letter_delivered_at: dt.datetime,
    now: dt.datetime,
    how: Mapping[str, Any] | None = None,
    evidence_object_id: str | None = None,
    actor: str = "informant",
) -> ConsentRecord:
    """Record a consent given item by item; required items refused mean "declined".

    A participant who already holds consent (a new letter version, or a change of an optional
    item) keeps their state: an interviewed participant stays interviewed. Refusing a required
    item then ends their participation: the refusal is recorded and followed by a whole
    withdrawal, exactly as ``withdraw`` records it; the caller queues the purge as for any
    withdrawal (``participant.state`` is then ``withdrawn``).
    """
    definition = load_definition(session, participant.study_id)
    _check_answers(definition, decisions, language=language, channel=channel)
    if letter_delivered_at > now:
        raise ConsentError(
            "the letter cannot have been delivered after the consent was given",
            code="consent.delivered_after_consent",
        )
    version = _ensure_letter_version(session, participant.study_id, definition, language, now)
    declined = any(not decisions[i] for i in definition.required_item_ids)
    held = State(participant.state) in HOLDS_CONSENT
    if not held:
        transition(participant, State.DECLINED if declined else State.CONSENTED, now)
    record = _store_record(
        session,
        participant,
        decisions,
        version=version,
        language=language,
        channel=channel,
        letter_delivered_at=letter_delivered_at,
        now=now,
        how=how,
        evidence_object_id=evidence_object_id,
    )
    _audit_consent(session, participant, record, declined=declined, reconsent=held, actor=actor)
    if held and declined:
        # The study cannot go on without a required item: the same withdrawal as /withdraw.
        withdraw(session, participant, channel=channel, now=now, actor=actor)
    return record


def _store_record(
    session: Session,
    participant: Participant,
    decisions: Mapping[str, bool],
    *,
    version: str,
    language: str,
    channel: str,
    letter_delivered_at: dt.datetime,
    now: dt.datetime,
    how: Mapping[str, Any] | None,
    evidence_object_id: str | None,
) -> ConsentRecord:
    """Add the consent record with one decision per item, flushed so it has its id."""
    record = ConsentRecord(
        participant=participant,
        kind="consent",
        letter_version=version,
        language=language,
        channel=channel,
        letter_delivered_at=letter_delivered_at,
        recorded_at=now,
        how=dict(how or {}),
        software_version=__version__,
        evidence_object_id=evidence_object_id,
        decisions=[ConsentDecision(item_id=i, granted=bool(g)) for i, g in decisions.items()],
    )
    session.add(record)
    session.flush()
    return record


def _audit_consent(
    session: Session,
    participant: Participant,
    record: ConsentRecord,
    *,
    declined: bool,
    reconsent: bool,
    actor: str,
) -> None:
    """Append the consent event: items granted and refused, by id, and the letter version."""
    decisions = {d.item_id: d.granted for d in record.decisions}
    audit.append(
        session,
        audit.Event.CONSENT_REFUSED if declined else audit.Event.CONSENT_GIVEN,
        actor=actor,
        study_id=participant.study_id,
        participant_code=participant.code,
        details={
            "record": record.id,
            "granted": sorted(i for i, g in decisions.items() if g),
            "refused": sorted(i for i, g in decisions.items() if not g),
            "letter_version": record.letter_version,
            "language": record.language,
            "channel": record.channel,
            **({"reconsent": True} if reconsent else {}),
        },
        at=record.recorded_at,
    )


def _check_answers(
    definition: StudyDefinition, decisions: Mapping[str, bool], *, language: str, channel: str
) -> None:
    """Refuse a consent that does not answer exactly the study's items, in one of its languages."""
    if channel not in CHANNELS:
        raise ConsentError(
            f"unknown channel {channel!r}; use one of {', '.join(sorted(CHANNELS))}",
            code="consent.unknown_channel",
        )
    if language not in definition.languages:
        raise ConsentError(
            f"language {language!r} is not one of the study's languages "
            f"({', '.join(definition.languages)})",
            code="consent.unknown_language",
        )
    known = {item.id for item in definition.consent_items}
    unknown = sorted(set(decisions) - known)
    if unknown:
        raise ConsentError(_unknown_items(unknown, known), code="consent.unknown_item")
    missing = sorted(known - set(decisions))
    if missing:
        raise ConsentError(
            f"no answer for consent item(s) {', '.join(missing)}; every item must be answered "
            "yes or no explicitly (nothing is pre-ticked)",
            code="consent.unanswered_item",
        )


def withdraw(
    session: Session,
    participant: Participant,
    *,
    channel: str,
    now: dt.datetime,
    items: frozenset[str] | None = None,
    actor: str = "informant",
) -> ConsentRecord:
    """Withdraw the whole consent (``items=None``) or some items; return the withdrawal record.

    Withdrawing a required item withdraws participation as a whole, since the study cannot
    go on without it. The purge of data is the retention module's job, queued by the caller.
    """
    definition = load_definition(session, participant.study_id)
    if State(participant.state) is State.WITHDRAWN:
        raise ConsentError(
            f"participant {participant.code} has already withdrawn", code="consent.withdrawn"
        )
    known = {item.id for item in definition.consent_items}
    targets = set(known if items is None else items)
    unknown = sorted(targets - known)
    if unknown:
        raise ConsentError(_unknown_items(unknown, known), code="consent.unknown_item")
    whole = items is None or bool(targets & definition.required_item_ids)
    if whole:
        targets = set(known)
    current = current_consent(session, participant)
    if not whole and not any(current.granted(i) for i in targets):
        raise ConsentError(
            "nothing to withdraw: those items are not currently granted",
            code="consent.nothing_to_withdraw",
        )
    if whole:
        transition(participant, State.WITHDRAWN, now)
    record = ConsentRecord(
        participant=participant,
        kind="withdrawal",
        letter_version=current.letter_version,
        language=current.language,
        channel=channel,
        recorded_at=now,
        how={"scope": "all" if whole else "items"},
        software_version=__version__,
        decisions=[ConsentDecision(item_id=i, granted=False) for i in sorted(targets)],
    )
    session.add(record)
    session.flush()
    audit.append(
        session,
        audit.Event.CONSENT_WITHDRAWN,
        actor=actor,
        study_id=participant.study_id,
        participant_code=participant.code,
        details={"record": record.id, "items": sorted(targets), "whole": whole},
        at=now,
    )
    return record


def _unknown_items(unknown: list[str], known: set[str]) -> str:
    return f"unknown consent item(s) {', '.join(unknown)}; the study has {', '.join(sorted(known))}"


def current_consent(session: Session, participant: Participant) -> ConsentState:
    """Fold the participant's consent records, oldest first, into the current state."""
    records = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant.id)
        .order_by(ConsentRecord.id)
    ).all()
    items: dict[str, bool] = {}
    version: str | None = None
    language: str | None = None
    for record in records:
        for decision in record.decisions:
            items[decision.item_id] = decision.granted
        if record.kind == "consent":
            version, language = record.letter_version, record.language
    return ConsentState(items=items, letter_version=version, language=language)


def may_hold_recording(session: Session, participant: Participant) -> bool:
    """Whether a recording of this participant may be accepted and kept (rule 1)."""
    if State(participant.state) not in HOLDS_CONSENT:
        return False
    definition = load_definition(session, participant.study_id)
    return current_consent(session, participant).granted(definition.recording_item_id)


def needs_reconsent(session: Session, participant: Participant) -> bool:
    """Whether the participant consented to a letter version that is no longer current."""
    if State(participant.state) not in HOLDS_CONSENT:
        return False
    state = current_consent(session, participant)
    if state.letter_version is None or state.language is None:
        return False
    definition = load_definition(session, participant.study_id)
    if state.language not in definition.languages:
        return True
    return definition.letter_version(state.language) != state.letter_version


def _ensure_letter_version(
    session: Session, study_id: str, definition: StudyDefinition, language: str, now: dt.datetime
) -> str:
    """Store the exact letter text for its version hash once, and return the hash."""
    version = definition.letter_version(language)
    if session.get(LetterVersion, (study_id, version)) is None:
        session.add(
            LetterVersion(
                study_id=study_id,
                version=version,
                language=language,
                text=definition.letter_text(language),
                first_seen_at=now,
            )
        )
        session.flush()
    return version


# Magic numbers of the scan formats a signed paper form arrives in.
EVIDENCE_SIGNATURES = {
    b"%PDF-": "pdf",
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
}


def evidence_format(head: bytes) -> str:
    """The scan format of a consent form from its first bytes, or ConsentError."""
    for magic, name in EVIDENCE_SIGNATURES.items():
        if head.startswith(magic):
            return name
    if not head:
        raise ConsentError("the evidence file is empty; scan the signed form again")
    raise ConsentError(
        "the evidence file is not a PDF, PNG, JPEG or TIFF scan; "
        "scan the signed form to one of those formats"
    )


def record_paper_consent(
    services: Services,
    *,
    study_id: str,
    code: str,
    decisions: Mapping[str, bool],
    language: str,
    signed_on: dt.date,
    researcher: str,
    evidence: BinaryIO,
    now: dt.datetime,
) -> ConsentRecord:
    """Register consent given on a signed paper form; the scan is stored encrypted.

    The scan carries the informant's name and signature, so it is identifiable content under
    the participant's evidence data key. When anything is refused, nothing is left behind.
    """
    research, content = services.research, services.content
    fmt = evidence_format(evidence.read(16))
    evidence.seek(0)
    stored: BlobObject | None = None
    try:
        with transaction(research) as session:
            participant = get_participant(session, study_id, code)
            definition = load_definition(session, study_id)
            tz = ZoneInfo(definition.timezone)
            signed_at = dt.datetime.combine(signed_on, dt.time(0, 0), tz).astimezone(dt.UTC)
            if signed_at > now:
                raise ConsentError(f"the form cannot be signed in the future ({signed_on})")
            stored = content.put(
                session,
                study_id=study_id,
                participant_id=participant.id,
                participant_code=participant.code,
                kind=BlobKind.EVIDENCE,
                source=evidence,
                now=now,
            )
            return record_consent(
                session,
                participant,
                decisions,
                language=language,
                channel="paper",
                letter_delivered_at=signed_at,
                now=now,
                how={"signed_on": signed_on.isoformat(), "taken_by": researcher, "scan": fmt},
                evidence_object_id=stored.object_id,
                actor="researcher",
            )
    except BaseException:
        if stored is not None:
            content.blobs.delete(stored.object_id)
        raise
