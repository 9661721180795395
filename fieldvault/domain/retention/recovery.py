"""Recovery: purge again what a withdrawal should have destroyed but a crash left; dead uploads.

``purge_after_withdrawal`` is idempotent, so purging a participant twice is harmless; the
sweep only has to find who still holds something their withdrawal covers. An upload whose
writer was killed leaves blob rows no track points to (``discard_abandoned_uploads``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, aliased

from fieldvault.domain.consent import State, current_consent
from fieldvault.domain.retention.model import SweepReport
from fieldvault.domain.studies import load_definition
from fieldvault.domain.withdrawal import RECORDING_KINDS, purge_after_withdrawal
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, ConsentRecord, Participant, RecordingTrack

if TYPE_CHECKING:
    from fieldvault.storage.services import Services

log = logging.getLogger(__name__)

# Intake commits a recording's blob rows (size 0) before it writes their bytes (recordings.py);
# a writer killed before it recorded the recording or removed them leaves rows of size 0 that
# no track points to. An upload takes minutes at most: a day later its rows are abandoned.
ABANDONED_AFTER = dt.timedelta(hours=24)
ABANDONED_BATCH = 1000  # rows per sweep; the next sweep takes the rest

# What to purge again: (study id, participant code) → the items withdrawn (empty: everything).
Todo = dict[tuple[str, str], frozenset[str]]


def finish_withdrawals(
    services: Services,
    report: SweepReport,
    study_ids: Iterable[str],
    now: dt.datetime,
    dry_run: bool,
) -> None:
    """Purge again what a withdrawal should already have destroyed but did not (a crash)."""
    study_ids = list(study_ids)
    if not study_ids:
        return
    with transaction(services.research) as session:
        todo, withdrawn = _unpurged(session, study_ids)
    if withdrawn:
        # A withdrawn participant's identity goes too: one still in the vault is unpurged.
        for pair in services.vault.held(study_ids):
            if pair in withdrawn:
                todo.setdefault(pair, frozenset())
    for (sid, code), items in sorted(todo.items()):
        report.withdrawals.append(f"{sid}/{code}")
        if not dry_run:
            purge_after_withdrawal(services, sid, code, items, now)


def _unpurged(session: Session, study_ids: list[str]) -> tuple[Todo, set[tuple[str, str]]]:
    """Who still holds content a withdrawal covers, and every withdrawn (study, code)."""
    todo: Todo = {}
    live = (
        select(BlobObject.participant_id)
        .where(BlobObject.participant_id == Participant.id, BlobObject.deleted_at.is_(None))
        .exists()
    )
    live_recording = (
        select(BlobObject.participant_id)
        .where(
            BlobObject.participant_id == Participant.id,
            BlobObject.deleted_at.is_(None),
            BlobObject.kind.in_(RECORDING_KINDS),
        )
        .exists()
    )
    has_withdrawal = (
        select(ConsentRecord.id)
        .where(ConsentRecord.participant_id == Participant.id, ConsentRecord.kind == "withdrawal")
        .exists()
    )
    for sid, code in session.execute(
        select(Participant.study_id, Participant.code).where(
            Participant.study_id.in_(study_ids),
            Participant.state == State.WITHDRAWN.value,
            live,
        )
    ).all():
        todo[(sid, code)] = frozenset()
    # Partly withdrawn: no consent to the recording item any more, recordings still held.
    partial = session.scalars(
        select(Participant).where(
            Participant.study_id.in_(study_ids),
            Participant.state != State.WITHDRAWN.value,
            has_withdrawal,
            live_recording,
        )
    ).all()
    for person in partial:
        item = load_definition(session, person.study_id).recording_item_id
        consent_now = current_consent(session, person)
        if item in consent_now.items and not consent_now.granted(item):
            todo[(person.study_id, person.code)] = frozenset({item})
    withdrawn: set[tuple[str, str]] = {
        (sid, code)
        for sid, code in session.execute(
            select(Participant.study_id, Participant.code).where(
                Participant.study_id.in_(study_ids),
                Participant.state == State.WITHDRAWN.value,
            )
        ).all()
    }
    return todo, withdrawn


def discard_abandoned_uploads(services: Services, now: dt.datetime) -> int:
    """Delete the rows, then the ciphertext, of uploads whose writer died; return the count.

    Rows first, each only while no track points to it, so a writer that finishes meanwhile
    keeps its recording; a crash after the rows leaves files without rows, which the blob
    store's orphan check removes.
    """
    old = aliased(BlobObject)
    untracked = ~exists().where(RecordingTrack.object_id == BlobObject.object_id)
    candidates = (
        select(old.object_id)
        .where(
            old.kind == BlobKind.RECORDING,
            old.plaintext_size == 0,  # reserved: intake records the size when it keeps one
            old.deleted_at.is_(None),
            old.created_at < now - ABANDONED_AFTER,
            ~exists().where(RecordingTrack.object_id == old.object_id),
        )
        .limit(ABANDONED_BATCH)
    )
    abandoned = (
        delete(BlobObject)
        .where(BlobObject.object_id.in_(candidates), untracked)
        .returning(BlobObject.object_id)
    )
    with transaction(services.research) as session:
        ids = list(session.scalars(abandoned))
    for object_id in ids:
        services.content.blobs.delete(object_id)
    if ids:
        log.info("removed %d blob(s) of uploads whose writer died before finishing", len(ids))
    return len(ids)
