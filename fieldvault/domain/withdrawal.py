"""What a withdrawal destroys: recordings, raw transcripts and, for a whole withdrawal, identity.

``purge_after_withdrawal`` runs after ``consent.withdraw`` has recorded the withdrawal. It is
idempotent: run again, it finds nothing left and reports zeros. (A later change moves it onto
the job queue; its signature is already what a job needs: ids and a time, no objects.)
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from fieldvault.domain.consent import State
from fieldvault.domain.participants import get_participant
from fieldvault.domain.studies import load_definition
from fieldvault.storage import audit
from fieldvault.storage.models import BlobObject

if TYPE_CHECKING:
    from fieldvault.services import Services

# What withdrawing the recording item destroys; a whole withdrawal destroys every kind.
RECORDING_KINDS = ("recording", "raw_transcript")


@dataclass(frozen=True)
class PurgeRequest:
    """A purge to run after a withdrawal: which participant, which items."""

    study_id: str
    code: str
    items_withdrawn: frozenset[str]


@dataclass(frozen=True)
class PurgeReport:
    """What a purge destroyed: objects per kind and whether the identity went too."""

    whole: bool
    shredded: dict[str, int] = field(default_factory=dict)
    identity_deleted: bool = False

    @property
    def total(self) -> int:
        """Number of objects destroyed."""
        return sum(self.shredded.values())


def purge_after_withdrawal(
    services: Services,
    study_id: str,
    code: str,
    items_withdrawn: frozenset[str],
    now: dt.datetime,
) -> PurgeReport:
    """Destroy what the withdrawn items no longer allow us to hold, and audit the counts."""
    with services.unit_of_work() as session:
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
        shredded: Counter[str] = Counter()
        if kinds is None or kinds:
            stmt = select(BlobObject.kind).where(
                BlobObject.participant_id == participant.id, BlobObject.deleted_at.is_(None)
            )
            if kinds is not None:
                stmt = stmt.where(BlobObject.kind.in_(kinds))
            shredded.update(session.scalars(stmt))
            # Keys first (inside shred), then ciphertext: even a crash midway leaves noise.
            services.content.shred(
                session,
                study_id=study_id,
                participant_id=participant.id,
                participant_code=code,
                kinds=kinds,
                now=now,
            )
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
            },
            at=now,
        )
    return PurgeReport(whole=whole, shredded=dict(shredded), identity_deleted=identity_deleted)
