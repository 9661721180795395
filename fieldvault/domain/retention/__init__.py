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
idempotent). One sweep runs at a time (:func:`sweep_lock`; a second raises
:class:`SweepBusy`); a dry run takes no lock.

Modules, one concern each: ``deadlines`` (when), ``extension`` (moving the end later),
``reminders``, ``deletion`` (the steps above for one study), ``delivery`` (the outbox: a
batch's deletion notices, and the notices retried until settled), ``recovery`` (unfinished
withdrawal purges), ``sweep`` (one run of all of them, under its lock), ``report`` (for the
data protection officer), ``model`` (kinds, steps, the sweep's report).
"""

from __future__ import annotations

from fieldvault.domain.notices import NoticeMessage, Notifier
from fieldvault.domain.retention.deadlines import (
    deadline_of,
    local_midnight,
    reminder_due,
    study_deadline,
)
from fieldvault.domain.retention.extension import ExtensionRefused, extend
from fieldvault.domain.retention.model import (
    ACTOR,
    BATCH,
    BLOBS,
    DEADLINE_KINDS,
    DONE,
    INTENT,
    KEYS,
    NOTIFIED,
    STEPS,
    UNAPPROVED_STATES,
    StepHook,
    SweepReport,
)
from fieldvault.domain.retention.report import StudyRetention, study_report
from fieldvault.domain.retention.sweep import SweepBusy, run_sweep, sweep_lock

__all__ = [
    "ACTOR",
    "BATCH",
    "BLOBS",
    "DEADLINE_KINDS",
    "DONE",
    "INTENT",
    "KEYS",
    "NOTIFIED",
    "STEPS",
    "UNAPPROVED_STATES",
    "ExtensionRefused",
    "NoticeMessage",
    "Notifier",
    "StepHook",
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
