"""The sweep: reminders, due deletions, unfinished withdrawal purges and the outbox, one at a time.

Every worker runs the sweep periodically, and a researcher may start one by hand meanwhile;
two sweeps at once would both deliver the deletion notices and clash on the intent rows.
:func:`run_sweep` therefore holds a process lock (``storage.locks``) that dies with its
holder, so a SIGKILLed sweep never blocks the next one; a sweep that finds it taken raises
:class:`SweepBusy` and leaves the work to the one running. A dry run takes no lock.

Each study is swept on its own: a study that fails (a date or timezone no deadline can be
computed from, a deletion that raises) is logged by id and error kind, counted in the report's
``failed``, and left for the next sweep, while the other studies' deadlines still run. Every
step is committed and idempotent, so a study that failed halfway is completed by a later run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select

from fieldvault.domain import notices
from fieldvault.domain.backups import expire_keys as expire_backup_keys
from fieldvault.domain.errors import DomainError
from fieldvault.domain.notices import Notifier
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.retention.deletion import sweep_study
from fieldvault.domain.retention.delivery import deliver_pending
from fieldvault.domain.retention.model import (
    BATCH,
    DEADLINE_KINDS,
    DONE,
    StepHook,
    SweepReport,
)
from fieldvault.domain.retention.recovery import discard_abandoned_uploads, finish_withdrawals
from fieldvault.domain.retention.reminders import remind
from fieldvault.errors import FieldvaultError
from fieldvault.storage.db import transaction
from fieldvault.storage.locks import LockBusy, LockKey, process_lock
from fieldvault.storage.models import BlobObject, Deletion, Study
from fieldvault.storage.orphans import remove_orphans
from fieldvault.storage.study_documents import StudyDocuments

if TYPE_CHECKING:
    from fieldvault.storage.services import Services

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class SweepBusy(DomainError):
    """Another sweep holds the sweep lock."""

    code = "retention.sweep_busy"


@contextmanager
def sweep_lock(services: Services) -> Iterator[None]:
    """Hold the one-sweep-at-a-time lock, or raise SweepBusy; released even by a killed process."""
    held = ExitStack()
    try:
        held.enter_context(process_lock(services.research_engine, LockKey.SWEEP))
    except LockBusy:
        # Only the lock's own refusal is "busy"; a LockBusy from inside the block is not ours.
        raise SweepBusy(
            "another retention sweep is running (a worker's, or one started by hand); "
            "it does the work"
        ) from None
    with held:
        yield


def run_sweep(
    services: Services,
    now: dt.datetime,
    *,
    notifier: Notifier | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH,
    on_step: StepHook | None = None,
) -> SweepReport:
    """Send due reminders, carry out due deletions, finish interrupted purges, as of ``now``.

    ``on_step`` is called after every committed step with its name (tests use it to stop the
    process at a chosen point). ``dry_run`` only reports what is due. Raises SweepBusy while
    another sweep runs.
    """
    if now.tzinfo is None:
        raise ValueError("the sweep needs a timezone-aware time")
    # Everything the sweep records is UTC; SQLite keeps a datetime's wall time, not its offset.
    now = now.astimezone(dt.UTC)
    if dry_run:
        return _run_sweep(services, now, notifier, True, batch_size, on_step)
    with sweep_lock(services):
        report = _run_sweep(services, now, notifier, False, batch_size, on_step)
        # A signed checkpoint of the audit chain after every sweep (storage/audit_checkpoints.py).
        services.audit.record(services.research, now, "sweep")
        return report


def _run_sweep(
    services: Services,
    now: dt.datetime,
    notifier: Notifier | None,
    dry_run: bool,
    batch_size: int,
    on_step: StepHook | None,
) -> SweepReport:
    notifier = notifier or notices.LogNotifier()
    report = SweepReport(at=now, dry_run=dry_run)
    hook: StepHook = on_step or (lambda _step: None)

    with transaction(services.research) as session:
        # Ids only: a row whose other columns cannot be read must not hide the other studies.
        open_ids = list(
            session.scalars(select(Study.id).where(Study.ended_at.is_(None)).order_by(Study.id))
        )
        ended = list(session.scalars(select(Study.id).where(Study.ended_at.is_not(None))))
    open_studies = []
    for sid in open_ids:
        dates = _isolated(report, sid, "deadline", partial(_deadline_row, services, sid))
        if dates is not None:
            open_studies.append((sid, *dates))
    due = [sid for sid, deadline, _, _ in open_studies if deadline <= now]
    due += _ended_leftovers(services, report, ended)
    report.studies_due = due

    for sid, deadline, end, zone in open_studies:
        if deadline > now:
            _isolated(
                report,
                sid,
                "reminder",
                partial(remind, services, report, sid, end, zone, deadline, now, dry_run),
            )
    hook("reminders")

    for sid in due:
        _isolated(
            report,
            sid,
            "deletion",
            partial(sweep_study, services, report, sid, now, notifier, dry_run, batch_size, hook),
        )

    for sid in open_ids:
        _isolated(
            report,
            sid,
            "withdrawal purge",
            partial(finish_withdrawals, services, report, [sid], now, dry_run),
        )
    if not dry_run:
        deliver_pending(services, report, notifier, now)
        hook("notices")
        # Backup keys past their retention go too, whether or not backups are being taken.
        expire_backup_keys(services.settings, now)
        # Rows and ciphertext of uploads whose writer died before finishing, a day on.
        abandoned = partial(discard_abandoned_uploads, services, now)
        _isolated(report, "(intake)", "abandoned uploads", abandoned)
        # Blobs no row points to (a killed writer's) and dead uploads, once past their grace.
        orphans = partial(remove_orphans, services.research, services.content.blobs, now)
        _isolated(report, "(blob store)", "orphan check", orphans)
    return report


def _isolated(report: SweepReport, study_id: str, step: str, work: Callable[[], _T]) -> _T | None:
    """Run one study's ``step``; on failure, log and report it (no identities) and go on."""
    try:
        return work()
    except Exception as exc:  # any failure of one study: the others still run
        # The kind of error only: a message from the database or a library may quote values.
        kind = exc.code if isinstance(exc, FieldvaultError) else type(exc).__name__
        report.failed.setdefault(study_id, f"{step}: {kind}")
        log.error(
            "study %s: the retention sweep failed at %s (%s); the other studies were swept "
            "and the next sweep tries this one again",
            study_id,
            step,
            kind,
        )
        return None


def _deadline_row(services: Services, study_id: str) -> tuple[dt.datetime, dt.date, str]:
    """The deadline, processing end and timezone of the open study ``study_id``."""
    with transaction(services.research) as session:
        study = session.get(Study, study_id)
        assert study is not None  # listed in the same sweep, and studies are never removed
        return study_deadline(study), study.processing_end, study.timezone


def _ended_leftovers(services: Services, report: SweepReport, ended: list[str]) -> list[str]:
    """Ended studies with leftovers; asked one by one when asking them together fails."""
    try:
        return _ended_with_leftovers(services, ended)
    except Exception:  # one study's rows, perhaps: each is asked on its own
        found: list[str] = []
        for sid in ended:
            found += (
                _isolated(report, sid, "leftovers", partial(_ended_with_leftovers, services, [sid]))
                or []
            )
        return found


def _ended_with_leftovers(services: Services, ended: Sequence[str]) -> list[str]:
    """Ended studies where something identifying is still (or again) present."""
    if not ended:
        return []
    with transaction(services.research) as session:
        found = set(
            session.scalars(
                select(BlobObject.study_id)
                .where(
                    BlobObject.study_id.in_(ended),
                    BlobObject.deleted_at.is_(None),
                    BlobObject.kind.in_(DEADLINE_KINDS),
                )
                .distinct()
            )
        )
        found |= set(
            session.scalars(
                select(Deletion.study_id)
                .where(Deletion.study_id.in_(ended), Deletion.step != DONE)
                .distinct()
            )
        )
    found |= services.vault.studies_holding(ended)
    found |= services.content.keys.studies_holding(ended, DEADLINE_KINDS)
    documents = StudyDocuments(services.vault_sessions, services.keys.linkage)
    found |= {sid for sid in ended if sid not in found and documents.kinds(sid)}
    return sorted(found)
