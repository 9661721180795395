"""Retention: the processing end date, its reminders and extension, and the deletion sweep.

The deadline of a study is the end of its ``processing_end`` day in the study's timezone: the
first instant of the next local day (:func:`deadline_of`, DST-correct through zoneinfo). From
then on :func:`run_sweep` destroys, for every participant, the data keys of recordings, raw
transcripts, evidence scans and redaction maps, then those blobs, then the identity in the
linkage vault. It keeps participants (codes, pseudonyms, variables), consent records, the
codebook, the audit chain and any other research data.

Crash safety. Every participant gets a :class:`~fieldvault.storage.models.Deletion` row first
(the intent), and each later step is committed before the next begins, in this order::

    intent ─► notice settled ─► data keys destroyed (vault) ─► blobs deleted ─► identity
    deleted (vault) + done + audit

Each step is idempotent, so a sweep killed anywhere is completed by the next run. Keys go
before ciphertext, so a blob that survives a crash is noise; the notice is settled before the
identity (the informant's channel) is removed; a participant counts as deleted in the report
only at ``done``, after everything identifying is gone. Steps run for a batch of participants
at a time, so a study of 10,000 needs a few dozen commits, not tens of thousands.

The sweep also finishes withdrawal purges that a crash interrupted: a withdrawn participant
whose identity or content is still there is purged again (``purge_after_withdrawal`` is
idempotent).

One sweep at a time. Every worker runs the sweep periodically, and a researcher may run
``fieldvault retention run`` meanwhile; two sweeps at once would both deliver the deletion
notices and clash on the intent rows. :func:`run_sweep` therefore holds a lock that dies with
its holder (a PostgreSQL session advisory lock, or ``flock`` on a file beside the SQLite
database), so a SIGKILLed sweep never blocks the next one; a sweep that finds it taken raises
:class:`SweepBusy` and leaves the work to the one running. A dry run takes no lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, make_url, select, text
from sqlalchemy.orm import Session

from fieldvault.config.study import StudyValidationError, parse_study
from fieldvault.domain import notices
from fieldvault.domain.consent import State, current_consent
from fieldvault.domain.errors import DomainError
from fieldvault.domain.notices import NoticeMessage, Notifier
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.storage import audit
from fieldvault.storage.crypto import open_sealed
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    ConsentRecord,
    Deletion,
    Notice,
    Participant,
    Study,
    StudyExtension,
    VaultIdentity,
    VaultStudyDocument,
    WrappedDataKey,
    as_utc,
)
from fieldvault.storage.study_documents import StudyDocuments
from fieldvault.storage.vault import Identity, _associated_data

if TYPE_CHECKING:
    from fieldvault.storage.services import Services

log = logging.getLogger(__name__)

# What the deadline destroys: every kind of identifiable content (signed forms carry names,
# redaction maps say what a placeholder replaced). Any other kind of object is research data.
DEADLINE_KINDS = ("evidence", "raw_transcript", "recording", "redaction_map")
# Participants whose transcript is not approved yet: the researcher is warned before the end.
UNAPPROVED_STATES = (State.INTERVIEWED.value, State.TRANSCRIBED.value)

INTENT, NOTIFIED, KEYS, BLOBS, DONE = "intent", "notified", "keys", "blobs", "done"
STEPS = (INTENT, NOTIFIED, KEYS, BLOBS, DONE)
BATCH = 500
DELETE_THREADS = 8
ACTOR = "retention"
# pg_try_advisory_lock key of the sweep; audit.py's key differs ("fvaudit").
SWEEP_LOCK_KEY = 0x66_76_73_77_65_65_70  # "fvsweep"

StepHook = Callable[[str], None]


# --- deadlines --------------------------------------------------------------------------------


def local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The first instant of ``day`` in ``timezone``, in UTC.

    ``fold=0`` makes zoneinfo read a midnight that a DST change skips (clocks jumping from
    00:00 to 01:00, as in some American zones) as the moment of the jump, and a midnight that
    occurs twice as its first occurrence: the earliest instant of the local day either way.
    """
    local = dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def deadline_of(processing_end: dt.date, timezone: str) -> dt.datetime:
    """When deletion is due: the end of ``processing_end`` in ``timezone`` (UTC)."""
    return local_midnight(processing_end + dt.timedelta(days=1), timezone)


def study_deadline(study: Study) -> dt.datetime:
    """The deletion deadline of a registered study (its current, possibly extended, end)."""
    return deadline_of(study.processing_end, study.timezone)


def reminder_due(processing_end: dt.date, timezone: str, days: int) -> dt.datetime:
    """When the reminder ``days`` days before the deadline is due: local midnight, in UTC."""
    return local_midnight(processing_end + dt.timedelta(days=1 - days), timezone)


# --- extension --------------------------------------------------------------------------------


class ExtensionRefused(DomainError):
    """The end date cannot be changed as asked."""


def extend(
    session: Session,
    study_id: str,
    new_end: dt.date,
    *,
    reason: str,
    now: dt.datetime,
    assessment_ref: str | None = None,
    actor: str = "researcher",
) -> StudyExtension:
    """Move the processing end date later, with a recorded reason, an audit event and notices."""
    study = get_study(session, study_id)
    reason = reason.strip()
    if not reason:
        raise ExtensionRefused("an extension needs a reason; give --reason")
    if study.ended_at is not None or _sweep_started(session, study_id):
        raise ExtensionRefused(
            f"the deletion for study {study_id!r} has already begun; what was deleted cannot "
            "be restored and the end date can no longer be changed"
        )
    old_end = study.processing_end
    if new_end <= old_end:
        raise ExtensionRefused(
            f"{new_end} is not after the current processing end date {old_end}; an extension "
            "can only move it later"
        )
    if study_deadline(study) <= now:
        raise ExtensionRefused(
            f"the processing end date {old_end} has passed; the deletion is due and runs at the "
            "next sweep"
        )
    ref = (assessment_ref or "").strip() or None
    row = StudyExtension(
        study_id=study_id,
        old_processing_end=old_end,
        new_processing_end=new_end,
        reason=reason,
        assessment_ref=ref,
        actor=actor,
        created_at=now,
    )
    session.add(row)
    study.processing_end = new_end
    # The stored definition follows, so every front end (the bot tells informants the date)
    # reads the new date; `study update` then wants the researcher's file to say it too.
    study.definition_toml = _with_processing_end(study.definition_toml, new_end, reason)
    study.definition_sha256 = hashlib.sha256(study.definition_toml.encode("utf-8")).hexdigest()
    session.flush()
    audit.append(
        session,
        audit.Event.STUDY_EXTENDED,
        actor=actor,
        study_id=study_id,
        details={
            "extension": row.id,
            "from": old_end.isoformat(),
            "to": new_end.isoformat(),
            "reason": reason,
            "assessment_ref": ref,
            "deadline": deadline_of(new_end, study.timezone).isoformat(),
            "definition_sha256": study.definition_sha256,
        },
        at=now,
    )
    params = {"from": old_end.isoformat(), "to": new_end.isoformat()}
    notices.add_notice(
        session,
        study_id=study_id,
        audience=notices.RESEARCHERS,
        kind="extension",
        dedupe_key=f"extension:{study_id}:{row.id}",
        params={**params, "assessment_ref": ref},
        now=now,
    )
    codes = session.scalars(
        select(Participant.code).where(
            Participant.study_id == study_id, Participant.state != State.WITHDRAWN.value
        )
    )
    for code in codes:
        notices.add_notice(
            session,
            study_id=study_id,
            audience=notices.INFORMANT,
            participant_code=code,
            kind="extension",
            dedupe_key=f"extension:{study_id}:{row.id}:{code}",
            params=params,
            now=now,
        )
    return row


_PROCESSING_END = re.compile(r"(?m)^(processing_end\s*=\s*)\d{4}-\d{2}-\d{2}")
_PROCESSING_END_REASON = re.compile(r"(?m)^processing_end_reason\s*=")


def _with_processing_end(toml_text: str, new_end: dt.date, reason: str) -> str:
    """The study file with ``processing_end`` set to ``new_end`` (and a reason when needed)."""
    text, found = _PROCESSING_END.subn(rf"\g<1>{new_end.isoformat()}", toml_text, count=1)
    if not found:
        raise ExtensionRefused("the stored study definition has no processing_end line to change")
    definition = None
    try:
        definition = parse_study(text)
    except StudyValidationError:
        if _PROCESSING_END_REASON.search(text):
            raise
    if definition is None:
        # Now after project_end, which needs a reason informants can be told: the extension's.
        text = _PROCESSING_END.sub(
            lambda m: (
                f"{m.group(0)}\nprocessing_end_reason = {json.dumps(reason, ensure_ascii=False)}"
            ),
            text,
            count=1,
        )
        parse_study(text)
    return text


def _sweep_started(session: Session, study_id: str) -> bool:
    return (
        session.scalar(
            select(Deletion.id)
            .where(Deletion.study_id == study_id, Deletion.reason == "deadline")
            .limit(1)
        )
        is not None
    )


# --- the sweep --------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one sweep did (or, dry, would do); codes and counts, never identities."""

    at: dt.datetime
    dry_run: bool
    reminders: list[dict[str, Any]] = field(default_factory=list)
    studies_due: list[str] = field(default_factory=list)
    studies_ended: list[str] = field(default_factory=list)
    deleted: dict[str, list[str]] = field(default_factory=dict)  # study -> codes done now
    objects: Counter[str] = field(default_factory=Counter)
    keys: int = 0
    identities: int = 0
    study_documents: int = 0
    notices: Counter[str] = field(default_factory=Counter)
    withdrawals: list[str] = field(default_factory=list)  # "study/code" purged again
    unapproved: dict[str, list[str]] = field(default_factory=dict)

    @property
    def nothing_to_do(self) -> bool:
        """Whether the sweep found no work at all."""
        return not (
            self.reminders
            or self.studies_due
            or self.withdrawals
            or any(self.deleted.values())
            or self.notices
        )


class SweepBusy(DomainError):
    """Another sweep holds the sweep lock."""


@contextmanager
def sweep_lock(services: Services) -> Iterator[None]:
    """Hold the one-sweep-at-a-time lock, or raise SweepBusy; released even by a killed process."""
    url = make_url(services.settings.research_url)
    if url.get_backend_name() == "postgresql":
        with services.research.kw["bind"].connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            got = connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": SWEEP_LOCK_KEY})
            if not got:
                raise _busy()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SWEEP_LOCK_KEY})
        return
    if not url.database or url.database == ":memory:":
        yield  # a private in-memory database: no other process can sweep it
        return
    import fcntl

    fd = os.open(f"{url.database}.sweep-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy() from None
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def _busy() -> SweepBusy:
    return SweepBusy(
        "another retention sweep is running (a worker or another `fieldvault retention run`); "
        "it does the work: run this again when it has finished to see the outcome"
    )


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
    if dry_run:
        return _run_sweep(services, now, notifier, True, batch_size, on_step)
    with sweep_lock(services):
        return _run_sweep(services, now, notifier, False, batch_size, on_step)


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
        open_studies = [
            (s.id, study_deadline(s), s.processing_end, s.timezone)
            for s in session.scalars(select(Study).where(Study.ended_at.is_(None)))
        ]
        ended = list(session.scalars(select(Study.id).where(Study.ended_at.is_not(None))))
    due = [sid for sid, deadline, _, _ in open_studies if deadline <= now]
    due += _ended_with_leftovers(services, ended)
    report.studies_due = due

    for sid, deadline, end, zone in open_studies:
        if deadline > now:
            _remind(services, report, sid, end, zone, deadline, now, dry_run)
    hook("reminders")

    for sid in due:
        _sweep_study(services, report, sid, now, notifier, dry_run, batch_size, hook)

    _finish_withdrawals(services, report, [sid for sid, *_ in open_studies], now, dry_run)
    if not dry_run:
        _deliver_pending(services, report, notifier, now)
        hook("notices")
    return report


def _ended_with_leftovers(services: Services, ended: Sequence[str]) -> list[str]:
    """Ended studies where something identifying is still (or again) present."""
    if not ended:
        return []
    with transaction(services.research) as session:
        research = set(
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
        research |= set(
            session.scalars(
                select(Deletion.study_id)
                .where(Deletion.study_id.in_(ended), Deletion.step != DONE)
                .distinct()
            )
        )
    with services.vault_sessions() as vs:
        vault = set(
            vs.scalars(
                select(VaultIdentity.study_id).where(VaultIdentity.study_id.in_(ended)).distinct()
            )
        ) | set(
            vs.scalars(
                select(WrappedDataKey.study_id)
                .where(
                    WrappedDataKey.study_id.in_(ended),
                    WrappedDataKey.purpose.in_(DEADLINE_KINDS),
                )
                .distinct()
            )
        )
        vault |= set(
            vs.scalars(
                select(VaultStudyDocument.study_id)
                .where(VaultStudyDocument.study_id.in_(ended))
                .distinct()
            )
        )
    return sorted(research | vault)


# --- reminders ----------------------------------------------------------------------------------


def _remind(
    services: Services,
    report: SweepReport,
    study_id: str,
    end: dt.date,
    zone: str,
    deadline: dt.datetime,
    now: dt.datetime,
    dry_run: bool,
) -> None:
    """Put the most urgent due reminder in the outbox, once per deadline and number of days."""
    with transaction(services.research) as session:
        definition = load_definition(session, study_id)
    due_days = sorted(
        d for d in set(definition.policies.reminder_days) if reminder_due(end, zone, d) <= now
    )
    if not due_days:
        return
    days = due_days[0]
    prefix = f"reminder:{study_id}:{end.isoformat()}:"
    with transaction(services.research) as session:
        sent = {
            int(key.rsplit(":", 1)[1])
            for key in session.scalars(
                select(Notice.dedupe_key).where(
                    Notice.study_id == study_id, Notice.dedupe_key.startswith(prefix)
                )
            )
        }
        # A more urgent (or the same) reminder for this deadline exists: nothing new to say.
        if any(d <= days for d in sent):
            return
        summary = _summary(services, session, study_id)
        entry = {
            "study": study_id,
            "days": days,
            "deadline": deadline.isoformat(),
            "processing_end": end.isoformat(),
            **summary,
        }
        report.reminders.append(entry)
        if dry_run:
            session.rollback()
            return
        notices.add_notice(
            session,
            study_id=study_id,
            audience=notices.RESEARCHERS,
            kind="reminder",
            dedupe_key=f"{prefix}{days}",
            params=entry,
            now=now,
        )
        audit.append(
            session,
            audit.Event.RETENTION_REMINDER,
            actor=ACTOR,
            study_id=study_id,
            details={k: v for k, v in entry.items() if k != "unapproved_codes"},
            at=now,
        )
    log.warning(
        "study %s: deletion in %d day(s), at %s: %d participant(s), objects %s; "
        "%d transcript(s) not yet approved%s",
        study_id,
        days,
        deadline.isoformat(),
        summary["participants"],
        summary["objects"],
        len(summary["unapproved_codes"]),
        f" ({_some(summary['unapproved_codes'])})" if summary["unapproved_codes"] else "",
    )


def _summary(services: Services, session: Session, study_id: str) -> dict[str, Any]:
    """What the deadline will delete in a study: counts, and codes of unapproved transcripts."""
    objects = dict(
        session.execute(
            select(BlobObject.kind, func.count())
            .where(
                BlobObject.study_id == study_id,
                BlobObject.deleted_at.is_(None),
                BlobObject.kind.in_(DEADLINE_KINDS),
            )
            .group_by(BlobObject.kind)
            .order_by(BlobObject.kind)
        ).all()
    )
    participants = session.scalar(
        select(func.count()).select_from(Participant).where(Participant.study_id == study_id)
    )
    unapproved = list(
        session.scalars(
            select(Participant.code)
            .where(Participant.study_id == study_id, Participant.state.in_(UNAPPROVED_STATES))
            .order_by(Participant.code)
        )
    )
    with services.vault_sessions() as vs:
        identities = vs.scalar(
            select(func.count())
            .select_from(VaultIdentity)
            .where(VaultIdentity.study_id == study_id)
        )
    return {
        "participants": int(participants or 0),
        "objects": objects,
        "identities": int(identities or 0),
        "unapproved_codes": unapproved,
    }


# --- deletion at the deadline -------------------------------------------------------------------


def _sweep_study(
    services: Services,
    report: SweepReport,
    study_id: str,
    now: dt.datetime,
    notifier: Notifier,
    dry_run: bool,
    batch_size: int,
    hook: StepHook,
) -> None:
    with transaction(services.research) as session:
        study = get_study(session, study_id)
        deadline = study_deadline(study)
    if dry_run:
        with transaction(services.research) as session:
            summary = _summary(services, session, study_id)
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
    hook("study-ended")


def _reopen_leftovers(services: Services, study_id: str) -> None:
    """Send participants already done back through the destroying steps if anything is left.

    A transcription job that was running at the deadline may write a raw transcript (and create
    a data key) after its participant was done; the next sweep destroys it.
    """
    with services.vault_sessions() as vs:
        codes = set(
            vs.scalars(
                select(VaultIdentity.participant_code).where(VaultIdentity.study_id == study_id)
            )
        ) | set(
            vs.scalars(
                select(WrappedDataKey.participant_code).where(
                    WrappedDataKey.study_id == study_id,
                    WrappedDataKey.purpose.in_(DEADLINE_KINDS),
                )
            )
        )
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
        todo = list(
            session.execute(
                select(Participant.id, Participant.code, Participant.state)
                .outerjoin(
                    Deletion,
                    (Deletion.participant_id == Participant.id) & (Deletion.reason == "deadline"),
                )
                .where(Participant.study_id == study_id, Deletion.id.is_(None))
                .order_by(Participant.id)
            ).all()
        )
        if not todo:
            return
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
        unapproved = [code for _, code, state in todo if state in UNAPPROVED_STATES]
    with services.vault_sessions() as vs:
        with_identity = set(
            vs.scalars(
                select(VaultIdentity.participant_code).where(VaultIdentity.study_id == study_id)
            )
        )
    if unapproved:
        report.unapproved[study_id] = unapproved
        log.warning(
            "study %s: %d transcript(s) were not approved by the deadline and are deleted "
            "with the recordings (policy on_deadline_unapproved = delete): %s",
            study_id,
            len(unapproved),
            _some(unapproved),
        )
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        with transaction(services.research) as session:
            keys = {f"deletion:{study_id}:{code}": code for _, code, _ in chunk}
            existing = set(
                session.scalars(select(Notice.dedupe_key).where(Notice.dedupe_key.in_(list(keys))))
            )
            objects: Counter[str] = Counter()
            for pid, code, _state in chunk:
                has_identity = code in with_identity
                mine = dict(sorted(counts.get(pid, {}).items()))
                planned = {"objects": mine, "identity": has_identity}
                objects.update(mine)
                session.add(
                    Deletion(
                        study_id=study_id,
                        participant_id=pid,
                        participant_code=code,
                        reason="deadline",
                        deadline=deadline,
                        step=INTENT,
                        planned=planned,
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
        hook(INTENT)


def _delete_batch(
    services: Services,
    report: SweepReport,
    study_id: str,
    batch: list[Deletion],
    now: dt.datetime,
    notifier: Notifier,
    hook: StepHook,
) -> list[str]:
    """Steps 2-5 for one batch, each committed before the next begins."""
    ids = [d.id for d in batch]
    by_step: dict[str, list[Deletion]] = defaultdict(list)
    for row in batch:
        by_step[row.step].append(row)

    # 2. notice: delivered (or found unreachable) while the identity still exists.
    if by_step[INTENT]:
        _notify(services, report, study_id, by_step[INTENT], now, notifier)
        hook(NOTIFIED)

    codes = [d.participant_code for d in batch]
    # 3. data keys, in the vault: from here on no copy of these blobs can be read.
    if any(d.step in (INTENT, NOTIFIED) for d in batch):
        with transaction(services.vault_sessions) as vs:
            report.keys += _rowcount(
                vs.execute(
                    delete(WrappedDataKey).where(
                        WrappedDataKey.study_id == study_id,
                        WrappedDataKey.participant_code.in_(codes),
                        WrappedDataKey.purpose.in_(DEADLINE_KINDS),
                    )
                )
            )
        hook("keys-destroyed")
        _advance(services, ids, (INTENT, NOTIFIED), KEYS, "keys_destroyed_at", now)
        hook(KEYS)

    # 4. the ciphertext, now unreadable.
    with transaction(services.research) as session:
        participant_ids = [d.participant_id for d in batch]
        objects = session.scalars(
            select(BlobObject).where(
                BlobObject.participant_id.in_(participant_ids),
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
        _advance_in(session, ids, (KEYS,), BLOBS, "blobs_deleted_at", now)
    hook(BLOBS)

    # 5. the identity, then done: the participant counts as deleted only from here.
    with transaction(services.vault_sessions) as vs:
        report.identities += _rowcount(
            vs.execute(
                delete(VaultIdentity).where(
                    VaultIdentity.study_id == study_id, VaultIdentity.participant_code.in_(codes)
                )
            )
        )
    hook("identity-deleted")
    done: list[str] = []
    with transaction(services.research) as session:
        rows = session.scalars(
            select(Deletion).where(Deletion.id.in_(ids)).order_by(Deletion.id)
        ).all()
        participants: dict[str, Any] = {}
        for row in rows:
            row.identity_deleted_at = now
            row.step = DONE
            row.done_at = now
            done.append(row.participant_code)
            participants[row.participant_code] = {
                **row.planned,
                "notice": row.notice_outcome,
                "steps": {
                    "intent": _iso(row.created_at),
                    "notice": _iso(row.notice_at),
                    "keys": _iso(row.keys_destroyed_at),
                    "blobs": _iso(row.blobs_deleted_at),
                    "identity": _iso(now),
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
    hook(DONE)
    return done


def _notify(
    services: Services,
    report: SweepReport,
    study_id: str,
    rows: list[Deletion],
    now: dt.datetime,
    notifier: Notifier,
) -> None:
    """Deliver the deletion notices of a batch and record them, before any identity goes."""
    codes = [d.participant_code for d in rows]
    with transaction(services.research) as session:
        outbox = {
            n.participant_code: n
            for n in session.scalars(
                select(Notice).where(
                    Notice.study_id == study_id,
                    Notice.kind == "deletion",
                    Notice.audience == notices.INFORMANT,
                    Notice.participant_code.in_(codes),
                )
            )
        }
        fresh = {
            d.id: d
            for d in session.scalars(select(Deletion).where(Deletion.id.in_([r.id for r in rows])))
        }
        wanted = [
            r.participant_code
            for r in rows
            if fresh[r.id].step == INTENT
            and (n := outbox.get(r.participant_code)) is not None
            and n.settled_at is None
        ]
        identities = _identities(services, study_id, wanted)
        outcomes: dict[str, str] = {}
        for row in rows:
            deletion = fresh[row.id]
            if deletion.step != INTENT:
                continue
            notice = outbox.get(row.participant_code)
            outcome: str | None = None
            if notice is not None and notice.settled_at is None:
                identity = identities.get(row.participant_code)
                # A deletion does not wait for a failing channel: one attempt, then settled.
                outcome = notices.deliver(notifier, notice, identity, now, final=True)
            elif notice is not None:
                outcome = notice.outcome
            if outcome is not None:
                report.notices[outcome] += 1
                outcomes[row.participant_code] = outcome
            deletion.notice_outcome = outcome
            deletion.notice_at = now
            deletion.step = NOTIFIED
        if outcomes:
            audit.append(
                session,
                audit.Event.DELETION_NOTICE,
                actor=ACTOR,
                study_id=study_id,
                details={"kind": "deletion", "outcomes": dict(sorted(outcomes.items()))},
                at=now,
            )


def _identities(services: Services, study_id: str, codes: list[str]) -> dict[str, Identity]:
    """The identities of ``codes``, read in one go (a notice needs the informant's channel)."""
    if not codes:
        return {}
    found: dict[str, Identity] = {}
    with services.vault_sessions() as vs:
        rows = vs.execute(
            select(
                VaultIdentity.participant_code, VaultIdentity.key_id, VaultIdentity.sealed
            ).where(VaultIdentity.study_id == study_id, VaultIdentity.participant_code.in_(codes))
        ).all()
    for code, key_id, sealed in rows:
        plain = open_sealed(
            services.keys.linkage.get(key_id), sealed, _associated_data(study_id, code)
        )
        found[code] = Identity.from_json(plain)
    return found


def _advance(
    services: Services,
    ids: list[int],
    from_steps: tuple[str, ...],
    to_step: str,
    stamp: str,
    now: dt.datetime,
) -> None:
    with transaction(services.research) as session:
        _advance_in(session, ids, from_steps, to_step, stamp, now)


def _advance_in(
    session: Session,
    ids: list[int],
    from_steps: tuple[str, ...],
    to_step: str,
    stamp: str,
    now: dt.datetime,
) -> None:
    for row in session.scalars(
        select(Deletion).where(Deletion.id.in_(ids), Deletion.step.in_(from_steps))
    ):
        row.step = to_step
        setattr(row, stamp, now)


def _end_study(
    services: Services, report: SweepReport, study_id: str, deadline: dt.datetime, now: dt.datetime
) -> None:
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


# --- withdrawals a crash interrupted ------------------------------------------------------------


def _finish_withdrawals(
    services: Services,
    report: SweepReport,
    study_ids: Iterable[str],
    now: dt.datetime,
    dry_run: bool,
) -> None:
    """Purge again what a withdrawal should already have destroyed but did not (a crash)."""
    from fieldvault.domain.withdrawal import RECORDING_KINDS, purge_after_withdrawal

    study_ids = list(study_ids)
    if not study_ids:
        return
    todo: dict[tuple[str, str], frozenset[str]] = {}
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
    with transaction(services.research) as session:
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
        withdrawn = set(
            session.execute(
                select(Participant.study_id, Participant.code).where(
                    Participant.study_id.in_(study_ids),
                    Participant.state == State.WITHDRAWN.value,
                )
            ).all()
        )
    if withdrawn:
        with services.vault_sessions() as vs:
            for sid, code in vs.execute(
                select(VaultIdentity.study_id, VaultIdentity.participant_code).where(
                    VaultIdentity.study_id.in_(study_ids)
                )
            ).all():
                if (sid, code) in withdrawn:
                    todo.setdefault((sid, code), frozenset())
    for (sid, code), items in sorted(todo.items()):
        report.withdrawals.append(f"{sid}/{code}")
        if not dry_run:
            purge_after_withdrawal(services, sid, code, items, now)


# --- notices not tied to a deletion -------------------------------------------------------------


def _deliver_pending(
    services: Services, report: SweepReport, notifier: Notifier, now: dt.datetime
) -> None:
    """Deliver reminders and extension notices still in the outbox (retried on later sweeps)."""
    with transaction(services.research) as session:
        pending = list(
            session.scalars(
                select(Notice.id)
                .where(Notice.settled_at.is_(None), Notice.kind != "deletion")
                .order_by(Notice.id)
            )
        )
    for notice_id in pending:
        with transaction(services.research) as session:
            row = session.get(Notice, notice_id)
            if row is None or row.settled_at is not None:
                continue
            identity = None
            if row.audience == notices.INFORMANT and row.participant_code is not None:
                identity = services.vault.get(row.study_id, row.participant_code)
            outcome = notices.deliver(notifier, row, identity, now, final=False)
            if outcome is not None:
                report.notices[outcome] += 1


# --- the report for the data protection officer -------------------------------------------------


@dataclass(frozen=True)
class StudyRetention:
    """Where a study stands with its deletion; codes and counts, never identities."""

    study_id: str
    timezone: str
    processing_end: dt.date
    deadline: dt.datetime
    ended_at: dt.datetime | None
    extensions: list[dict[str, Any]]
    reminders: list[dict[str, Any]]
    steps: dict[str, int]
    deleted: list[dict[str, Any]]
    in_progress: list[str]
    objects: dict[str, int]
    identities: int
    notices: dict[str, int]
    withdrawals: list[dict[str, Any]]
    remaining: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "study": self.study_id,
            "timezone": self.timezone,
            "processing_end": self.processing_end.isoformat(),
            "deadline": self.deadline.isoformat(),
            "ended_at": _iso(self.ended_at),
            "extensions": self.extensions,
            "reminders": self.reminders,
            "steps": self.steps,
            "deleted": self.deleted,
            "in_progress": self.in_progress,
            "objects_deleted": self.objects,
            "identities_deleted": self.identities,
            "notices": self.notices,
            "withdrawals": self.withdrawals,
            "remaining": self.remaining,
        }


def study_report(services: Services, study_id: str) -> StudyRetention:
    """What was deleted in a study and when, for the DPO, from the research database only."""
    with transaction(services.research) as session:
        study = get_study(session, study_id)
        deletions = list(
            session.scalars(
                select(Deletion).where(Deletion.study_id == study_id).order_by(Deletion.id)
            )
        )
        extensions = [
            {
                "from": e.old_processing_end.isoformat(),
                "to": e.new_processing_end.isoformat(),
                "reason": e.reason,
                "assessment_ref": e.assessment_ref,
                "at": _iso(e.created_at),
            }
            for e in session.scalars(
                select(StudyExtension)
                .where(StudyExtension.study_id == study_id)
                .order_by(StudyExtension.id)
            )
        ]
        reminders = [
            {"days": n.params.get("days"), "at": _iso(n.created_at), "delivery": n.outcome}
            for n in session.scalars(
                select(Notice)
                .where(Notice.study_id == study_id, Notice.kind == "reminder")
                .order_by(Notice.id)
            )
        ]
        notice_counts = Counter(
            n.outcome or "pending"
            for n in session.scalars(
                select(Notice).where(
                    Notice.study_id == study_id,
                    Notice.kind == "deletion",
                    Notice.audience == notices.INFORMANT,
                )
            )
        )
        withdrawals = [
            {
                "code": e.participant_code,
                "at": _iso(e.at),
                "whole": e.details.get("whole"),
                "objects": e.details.get("objects", {}),
                "identity_deleted": e.details.get("identity_deleted"),
                "pseudonymised": e.details.get("pseudonymised", {}),
            }
            for e in session.scalars(
                select(audit.AuditEvent)
                .where(
                    audit.AuditEvent.study_id == study_id,
                    audit.AuditEvent.event == audit.Event.DELETION_PURGE.value,
                )
                .order_by(audit.AuditEvent.seq)
            )
        ]
        remaining = dict(
            session.execute(
                select(BlobObject.kind, func.count())
                .where(
                    BlobObject.study_id == study_id,
                    BlobObject.deleted_at.is_(None),
                    BlobObject.kind.in_(DEADLINE_KINDS),
                )
                .group_by(BlobObject.kind)
            ).all()
        )
        deadline = study_deadline(study)
        ended_at = as_utc(study.ended_at) if study.ended_at else None
    objects: Counter[str] = Counter()
    identities = 0
    done = [d for d in deletions if d.step == DONE]
    for d in done:
        objects.update(d.planned.get("objects", {}))
        identities += bool(d.planned.get("identity"))
    return StudyRetention(
        study_id=study_id,
        timezone=study.timezone,
        processing_end=study.processing_end,
        deadline=deadline,
        ended_at=ended_at,
        extensions=extensions,
        reminders=reminders,
        steps=dict(Counter(d.step for d in deletions)),
        deleted=[{"code": d.participant_code, "at": _iso(d.done_at)} for d in done],
        in_progress=[d.participant_code for d in deletions if d.step != DONE],
        objects=dict(sorted(objects.items())),
        identities=identities,
        notices=dict(sorted(notice_counts.items())),
        withdrawals=withdrawals,
        remaining={"objects": dict(sorted(remaining.items()))},
    )


def _some(codes: Sequence[str], limit: int = 20) -> str:
    """Codes for a log line: the first ``limit`` of them and how many more."""
    shown = ", ".join(codes[:limit])
    return shown if len(codes) <= limit else f"{shown} and {len(codes) - limit} more"


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = [
    "DEADLINE_KINDS",
    "ExtensionRefused",
    "NoticeMessage",
    "Notifier",
    "StudyRetention",
    "SweepBusy",
    "SweepReport",
    "deadline_of",
    "extend",
    "local_midnight",
    "reminder_due",
    "run_sweep",
    "study_deadline",
    "study_report",
    "sweep_lock",
]
