"""Withdrawal recovery: purge again what a withdrawal should have destroyed but a crash left.

``purge_after_withdrawal`` is idempotent, so purging a participant twice is harmless; the
sweep only has to find who still holds something their withdrawal covers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.consent import State, current_consent
from fieldvault.domain.retention.model import SweepReport
from fieldvault.domain.studies import load_definition
from fieldvault.domain.withdrawal import RECORDING_KINDS, purge_after_withdrawal
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, ConsentRecord, Participant

if TYPE_CHECKING:
    from fieldvault.storage.services import Services

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
