"""The deletion at the deadline: every participant of a due study through its deletion row.

Steps, each committed before the next begins, a batch of participants at a time::

    intent ─► notice settled ─► data keys destroyed (vault) ─► blobs deleted ─► identity
    deleted (vault) + done + audit

Keys go before ciphertext (a blob that survives a crash is noise); the notice is settled
before the identity (the informant's channel) is removed; a participant counts as deleted only
at ``done``. Every step is idempotent, so a rerun completes a killed sweep.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fieldvault.domain import notices
from fieldvault.domain.notices import Notifier
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.retention.delivery import deliver_deletion_notices
from fieldvault.domain.retention.model import (
    ACTOR,
    BLOBS,
    DEADLINE_KINDS,
    DELETE_THREADS,
    DONE,
    INTENT,
    KEYS,
    NOTIFIED,
    UNAPPROVED_STATES,
    StepHook,
    SweepReport,
    iso,
    some,
)
from fieldvault.domain.retention.reminders import deadline_summary
from fieldvault.domain.studies import get_study
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, Deletion, Notice, Participant
from fieldvault.storage.study_documents import StudyDocuments

if TYPE_CHECKING:
    from fieldvault.storage.services import Services

log = logging.getLogger(__name__)


def sweep_study(
    services: Services,
    report: SweepReport,
    study_id: str,
    now: dt.datetime,
    notifier: Notifier,
    dry_run: bool,
    batch_size: int,
    hook: StepHook,
) -> None:
    """Delete what the deadline destroys in ``study_id`` (dry: only report it), then end it."""
    with transaction(services.research) as session:
        deadline = study_deadline(get_study(session, study_id))
    if dry_run:
        _preview(services, report, study_id)
        return
    _record_intents(services, report, study_id, deadline, now, batch_size, hook)
    _reopen_leftovers(services, study_id)
    done: list[str] = []
    while True:
        with transaction(services.research) as session:
            batch = list(
                session.scalars(
                    select(Deletion)
                    .where(
                        Deletion.study_id == study_id,
                        Deletion.reason == "deadline",
                        Deletion.step != DONE,
                    )
                    .order_by(Deletion.id)
                    .limit(batch_size)
                )
            )
        if not batch:
            break
        done += _delete_batch(services, report, study_id, batch, now, notifier, hook)
    report.deleted[study_id] = done
    _end_study(services, report, study_id, deadline, now)
    # No copy of what was destroyed may linger in the databases' files (WAL, dead tuples).
    services.after_destruction()
    hook("study-ended")


def _preview(services: Services, report: SweepReport, study_id: str) -> None:
    """What a sweep would delete in a due study: its pending codes and the counts."""
    with transaction(services.research) as session:
        summary = deadline_summary(services, session, study_id)
        pending = session.scalars(
            select(Participant.code)
            .outerjoin(
                Deletion,
                (Deletion.participant_id == Participant.id) & (Deletion.reason == "deadline"),
            )
            .where(
                Participant.study_id == study_id,
                (Deletion.id.is_(None)) | (Deletion.step != DONE),
            )
            .order_by(Participant.code)
        ).all()
    report.deleted[study_id] = list(pending)
    report.objects.update(summary["objects"])
    report.identities += summary["identities"]
    report.unapproved[study_id] = summary["unapproved_codes"]


def _reopen_leftovers(services: Services, study_id: str) -> None:
    """Send participants already done back through the destroying steps if anything is left.

    A transcription job that was running at the deadline may write a raw transcript (and create
    a data key) after its participant was done; the next sweep destroys it.
    """
    codes = services.vault.codes(study_id) | services.content.keys.codes(study_id, DEADLINE_KINDS)
    with transaction(services.research) as session:
        live = set(
            session.scalars(
                select(BlobObject.participant_id).where(
                    BlobObject.study_id == study_id,
                    BlobObject.deleted_at.is_(None),
                    BlobObject.kind.in_(DEADLINE_KINDS),
                )
            )
        )
        if not codes and not live:
            return
        for row in session.scalars(
            select(Deletion).where(
                Deletion.study_id == study_id, Deletion.reason == "deadline", Deletion.step == DONE
            )
        ):
            if row.participant_code in codes or row.participant_id in live:
                row.step = NOTIFIED


# --- step 1: the intent -------------------------------------------------------------------------


def _record_intents(
    services: Services,
    report: SweepReport,
    study_id: str,
    deadline: dt.datetime,
    now: dt.datetime,
    batch_size: int,
    hook: StepHook,
) -> None:
    """Step 1: a Deletion row (intent) and an informant notice for every participant."""
    with transaction(services.research) as session:
        todo: list[tuple[int, str, str]] = [
            (pid, code, state)
            for pid, code, state in session.execute(
                select(Participant.id, Participant.code, Participant.state)
                .outerjoin(
                    Deletion,
                    (Deletion.participant_id == Participant.id) & (Deletion.reason == "deadline"),
                )
                .where(Participant.study_id == study_id, Deletion.id.is_(None))
                .order_by(Participant.id)
            )
        ]
        if not todo:
            return
        counts = _live_counts(session, study_id)
        unapproved = [code for _, code, state in todo if state in UNAPPROVED_STATES]
    with_identity = services.vault.codes(study_id)
    if unapproved:
        report.unapproved[study_id] = unapproved
        log.warning(
            "study %s: %d transcript(s) were not approved by the deadline and are deleted "
            "with the recordings (policy on_deadline_unapproved = delete): %s",
            study_id,
            len(unapproved),
            some(unapproved),
        )
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        with transaction(services.research) as session:
            _record_chunk(session, study_id, chunk, counts, with_identity, deadline, now)
        hook(INTENT)


def _live_counts(session: Session, study_id: str) -> dict[int, dict[str, int]]:
    """Per participant id, how many objects of each deadline kind are still held."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for pid, kind, n in session.execute(
        select(BlobObject.participant_id, BlobObject.kind, func.count())
        .where(
            BlobObject.study_id == study_id,
            BlobObject.deleted_at.is_(None),
            BlobObject.kind.in_(DEADLINE_KINDS),
        )
        .group_by(BlobObject.participant_id, BlobObject.kind)
    ).all():
        counts[pid][kind] = int(n)
    return counts


def _record_chunk(
    session: Session,
    study_id: str,
    chunk: list[tuple[int, str, str]],
    counts: dict[int, dict[str, int]],
    with_identity: set[str],
    deadline: dt.datetime,
    now: dt.datetime,
) -> None:
    """The intent rows and deletion notices of one batch, and its one audit event."""
    keys = [f"deletion:{study_id}:{code}" for _, code, _ in chunk]
    existing = set(session.scalars(select(Notice.dedupe_key).where(Notice.dedupe_key.in_(keys))))
    objects: Counter[str] = Counter()
    for pid, code, _state in chunk:
        has_identity = code in with_identity
        mine = dict(sorted(counts.get(pid, {}).items()))
        objects.update(mine)
        session.add(
            Deletion(
                study_id=study_id,
                participant_id=pid,
                participant_code=code,
                reason="deadline",
                deadline=deadline,
                step=INTENT,
                planned={"objects": mine, "identity": has_identity},
                created_at=now,
            )
        )
        key = f"deletion:{study_id}:{code}"
        if has_identity and key not in existing:
            session.add(
                Notice(
                    study_id=study_id,
                    audience=notices.INFORMANT,
                    participant_code=code,
                    kind="deletion",
                    dedupe_key=key,
                    params={"deadline": deadline.isoformat()},
                    created_at=now,
                    attempts=0,
                )
            )
    session.flush()
    # One event per batch: the chain records the intent for every code in it.
    audit.append(
        session,
        audit.Event.DELETION_SCHEDULED,
        actor=ACTOR,
        study_id=study_id,
        details={
            "reason": "deadline",
            "deadline": deadline.isoformat(),
            "codes": [code for _, code, _ in chunk],
            "objects": dict(sorted(objects.items())),
            "identities": sum(code in with_identity for _, code, _ in chunk),
            "unapproved": [code for _, code, st in chunk if st in UNAPPROVED_STATES],
        },
        at=now,
    )


# --- steps 2-5 ----------------------------------------------------------------------------------


def _delete_batch(
    services: Services,
    report: SweepReport,
    study_id: str,
    batch: list[Deletion],
    now: dt.datetime,
    notifier: Notifier,
    hook: StepHook,
) -> list[str]:
    """Steps 2-5 for one batch, each committed before the next begins; the codes done."""
    ids = [d.id for d in batch]
    codes = [d.participant_code for d in batch]
    # 2. notice: delivered (or found unreachable) while the identity still exists.
    intents = [d for d in batch if d.step == INTENT]
    if intents:
        deliver_deletion_notices(services, report, study_id, intents, now, notifier)
        hook(NOTIFIED)
    # 3. data keys, in the vault: from here on no copy of these blobs can be read.
    if any(d.step in (INTENT, NOTIFIED) for d in batch):
        report.keys += services.content.keys.shred_many(study_id, codes, DEADLINE_KINDS)
        hook("keys-destroyed")
        with transaction(services.research) as session:
            _advance(session, ids, (INTENT, NOTIFIED), KEYS, "keys_destroyed_at", now)
        hook(KEYS)
    # 4. the ciphertext, now unreadable.
    _delete_blobs(services, report, batch, now)
    hook(BLOBS)
    # 5. the identity, then done: the participant counts as deleted only from here.
    report.identities += services.vault.delete_many(study_id, codes)
    hook("identity-deleted")
    with transaction(services.research) as session:
        done = _mark_done(session, study_id, ids, now)
    hook(DONE)
    return done


def _advance(
    session: Session,
    ids: list[int],
    from_steps: tuple[str, ...],
    to_step: str,
    stamp: str,
    now: dt.datetime,
) -> None:
    """Move the rows ``ids`` still at one of ``from_steps`` to ``to_step``, stamping ``stamp``."""
    for row in session.scalars(
        select(Deletion).where(Deletion.id.in_(ids), Deletion.step.in_(from_steps))
    ):
        row.step = to_step
        setattr(row, stamp, now)


def _delete_blobs(
    services: Services, report: SweepReport, batch: list[Deletion], now: dt.datetime
) -> None:
    """Step 4: delete the batch's (already unreadable) ciphertext and mark the objects gone."""
    with transaction(services.research) as session:
        objects = session.scalars(
            select(BlobObject).where(
                BlobObject.participant_id.in_([d.participant_id for d in batch]),
                BlobObject.deleted_at.is_(None),
                BlobObject.kind.in_(DEADLINE_KINDS),
            )
        ).all()
        # Unlinking is I/O bound (and on S3 a request each): a few threads at a time.
        with ThreadPoolExecutor(max_workers=DELETE_THREADS) as pool:
            list(pool.map(services.content.blobs.delete, [o.object_id for o in objects]))
        for obj in objects:
            obj.deleted_at = now
            report.objects[obj.kind] += 1
        _advance(session, [d.id for d in batch], (KEYS,), BLOBS, "blobs_deleted_at", now)


def _mark_done(session: Session, study_id: str, ids: list[int], now: dt.datetime) -> list[str]:
    """Step 5's record: the rows ``ids`` done, with one audit event listing every code's steps."""
    done: list[str] = []
    participants: dict[str, Any] = {}
    for row in session.scalars(select(Deletion).where(Deletion.id.in_(ids)).order_by(Deletion.id)):
        row.identity_deleted_at = now
        row.step = DONE
        row.done_at = now
        done.append(row.participant_code)
        participants[row.participant_code] = {
            **row.planned,
            "notice": row.notice_outcome,
            "steps": {
                "intent": iso(row.created_at),
                "notice": iso(row.notice_at),
                "keys": iso(row.keys_destroyed_at),
                "blobs": iso(row.blobs_deleted_at),
                "identity": iso(now),
            },
        }
    # One event per batch, listing every participant code of it with its steps.
    audit.append(
        session,
        audit.Event.DELETION_SHRED,
        actor=ACTOR,
        study_id=study_id,
        details={
            "reason": "deadline",
            "kinds": list(DEADLINE_KINDS),
            "participants": participants,
        },
        at=now,
    )
    return done


def _end_study(
    services: Services, report: SweepReport, study_id: str, deadline: dt.datetime, now: dt.datetime
) -> None:
    """Once every participant is done: delete the study's vault documents and mark it ended."""
    with transaction(services.research) as session:
        pending = session.scalar(
            select(Deletion.id).where(Deletion.study_id == study_id, Deletion.step != DONE).limit(1)
        )
    if pending is not None:
        return
    # The study's term list and placeholder book name people too: they go with the identities.
    documents = StudyDocuments(services.vault_sessions, services.keys.linkage).delete_study(
        study_id
    )
    report.study_documents += documents
    with transaction(services.research) as session:
        study = get_study(session, study_id)
        steps = dict(
            session.execute(
                select(Deletion.step, func.count())
                .where(Deletion.study_id == study_id, Deletion.reason == "deadline")
                .group_by(Deletion.step)
            ).all()
        )
        if set(steps) - {DONE}:
            return
        first_end = study.ended_at is None
        if first_end:
            study.ended_at = now
        audit.append(
            session,
            audit.Event.STUDY_ENDED,
            actor=ACTOR,
            study_id=study_id,
            details={
                "deadline": deadline.isoformat(),
                "participants": int(steps.get(DONE, 0)),
                "objects": dict(sorted(report.objects.items())),
                "identities": report.identities,
                "study_documents": documents,
                "repeat": not first_end,
            },
            at=now,
        )
    report.studies_ended.append(study_id)
