"""What a withdrawal destroys: recordings, raw transcripts and, for a whole withdrawal, identity.

``withdraw_and_purge`` is the one use case every front end calls: it records the withdrawal
(``consent.withdraw``) and then purges what it covers, so no caller can forget the second step.
``purge_after_withdrawal`` is that second step on its own, for the sweep's recovery of a
withdrawal a crash left unpurged. It is idempotent: run again, it finds nothing left and
reports zeros. (A later change moves it onto the job queue; its signature is already what a
job needs: ids and a time, no objects.)

Pseudonymised transcripts follow the study's ``policies.on_withdrawal_pseudonymised`` when the
recording item (or everything) is withdrawn: ``keep`` leaves approved ones in place, as
research data that still exports; ``delete`` removes them. Transcripts still under review
always go: their text exists only in the redaction map, which names people.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.participants import get_participant
from fieldvault.domain.studies import load_definition
from fieldvault.storage import audit
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, Participant, PseudonymisedTranscript

if TYPE_CHECKING:
    from fieldvault.storage.services import Services

# What withdrawing the recording item destroys; a whole withdrawal destroys every kind. A
# redaction map holds the raw text and what each placeholder replaced, so it goes too.
RECORDING_KINDS = (BlobKind.RECORDING, BlobKind.RAW_TRANSCRIPT, BlobKind.REDACTION_MAP)
KEEP = "keep"
APPROVED = "approved"


@dataclass(frozen=True)
class PurgeReport:
    """What a purge destroyed: objects per kind and whether the identity went too."""

    whole: bool
    shredded: dict[str, int] = field(default_factory=dict)
    identity_deleted: bool = False
    # Pseudonymised transcripts: {"deleted": n, "kept": m} (kept: approved, policy "keep").
    pseudonymised: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of objects destroyed."""
        return sum(self.shredded.values())


@dataclass(frozen=True)
class WithdrawalRecorded:
    """A withdrawal just recorded (its transaction committed): whom and which items."""

    study_id: str
    code: str
    items_withdrawn: frozenset[str]
    whole: bool


@dataclass(frozen=True)
class WithdrawalDone:
    """A recorded withdrawal and what its purge destroyed."""

    recorded: WithdrawalRecorded
    report: PurgeReport


# Front ends' hooks: bookkeeping of their own inside the recording transaction (the bot drops
# the chat key that links its chat to the code), and a word to the person before the purge.
InTransaction = Callable[[Session, WithdrawalRecorded], None]
BeforePurge = Callable[[WithdrawalRecorded], None]


def withdraw_and_purge(
    services: Services,
    study_id: str,
    code: str,
    *,
    channel: str,
    now: dt.datetime,
    items: frozenset[str] | None = None,
    actor: str = "informant",
    in_transaction: InTransaction | None = None,
    before_purge: BeforePurge | None = None,
) -> WithdrawalDone:
    """Record a withdrawal of ``items`` (None: everything), then purge what it covers.

    Refused with ``consent.withdrawn`` (already withdrawn) or ``consent.nothing_to_withdraw``
    by ``consent.withdraw``, before anything changes.
    """
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        record = consent.withdraw(
            session, participant, channel=channel, now=now, items=items, actor=actor
        )
        recorded = WithdrawalRecorded(
            study_id,
            code,
            frozenset(d.item_id for d in record.decisions),
            State(participant.state) is State.WITHDRAWN,
        )
        if in_transaction is not None:
            in_transaction(session, recorded)
    return purge_recorded(services, recorded, now, before_purge)


def purge_recorded(
    services: Services,
    recorded: WithdrawalRecorded,
    now: dt.datetime,
    before_purge: BeforePurge | None = None,
) -> WithdrawalDone:
    """Purge what a committed withdrawal covers (also one that refusing a required item made)."""
    if before_purge is not None:
        before_purge(recorded)
    report = purge_after_withdrawal(
        services, recorded.study_id, recorded.code, recorded.items_withdrawn, now
    )
    return WithdrawalDone(recorded, report)


def purge_after_withdrawal(
    services: Services,
    study_id: str,
    code: str,
    items_withdrawn: frozenset[str],
    now: dt.datetime,
) -> PurgeReport:
    """Destroy what the withdrawn items no longer allow us to hold, and audit the counts."""
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        definition = load_definition(session, study_id)
        whole = State(participant.state) is State.WITHDRAWN or bool(
            items_withdrawn & definition.required_item_ids
        )
        kinds: list[str] | None
        if whole:
            kinds = None
        elif definition.recording_item_id in items_withdrawn:
            kinds = list(RECORDING_KINDS)
        else:
            kinds = []
        shredded = _shred(services, session, participant, kinds, now)
        pseudonymised: dict[str, int] = {}
        if kinds is None or kinds:
            keep = definition.policies.on_withdrawal_pseudonymised == KEEP
            pseudonymised = _settle_pseudonymised(session, participant.id, keep=keep)
        identity_deleted = services.vault.delete(study_id, code) if whole else False
        audit.append(
            session,
            audit.Event.DELETION_PURGE,
            actor="system",
            study_id=study_id,
            participant_code=code,
            details={
                "reason": "withdrawal",
                "whole": whole,
                "items": sorted(items_withdrawn),
                "objects": dict(sorted(shredded.items())),
                "identity_deleted": identity_deleted,
                "pseudonymised": pseudonymised,
                "policy": definition.policies.on_withdrawal_pseudonymised,
            },
            at=now,
        )
    # No copy of the destroyed rows may linger in the databases' files (WAL, dead tuples).
    services.after_destruction()
    return PurgeReport(
        whole=whole,
        shredded=dict(shredded),
        identity_deleted=identity_deleted,
        pseudonymised=pseudonymised,
    )


def _shred(
    services: Services,
    session: Session,
    participant: Participant,
    kinds: list[str] | None,
    now: dt.datetime,
) -> Counter[str]:
    """Destroy the participant's live objects of ``kinds`` (None: all); count them by kind."""
    shredded: Counter[str] = Counter()
    if kinds is not None and not kinds:
        return shredded
    stmt = select(BlobObject.kind).where(
        BlobObject.participant_id == participant.id, BlobObject.deleted_at.is_(None)
    )
    if kinds is not None:
        stmt = stmt.where(BlobObject.kind.in_(kinds))
    shredded.update(session.scalars(stmt))
    # Keys first (inside shred), then ciphertext: even a crash midway leaves noise.
    services.content.shred(
        session,
        study_id=participant.study_id,
        participant_id=participant.id,
        participant_code=participant.code,
        kinds=kinds,
        now=now,
    )
    return shredded


def _settle_pseudonymised(session: Session, participant_id: int, *, keep: bool) -> dict[str, int]:
    """Delete the participant's pseudonymised transcripts the policy does not keep; count both."""
    rows = session.scalars(
        select(PseudonymisedTranscript).where(
            PseudonymisedTranscript.participant_id == participant_id
        )
    ).all()
    kept = deleted = 0
    for row in rows:
        if keep and row.state == APPROVED and row.document is not None:
            # Research data: the approved, reviewed text names nobody and stays exportable.
            kept += 1
            continue
        session.delete(row)
        deleted += 1
    session.flush()
    return {"deleted": deleted, "kept": kept}
