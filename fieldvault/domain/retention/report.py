"""The report for the data protection officer: what was deleted in a study, and when.

It reads the research database only (deletion rows, extensions, the outbox, the audit chain),
and the latest signed checkpoint of the audit chain, whose head the DPO keeps with the report:
codes and counts, never identities, so it can be shown to anyone who may see the study.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain import notices
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.retention.model import DONE, held_objects, iso
from fieldvault.domain.studies import get_study
from fieldvault.errors import FieldvaultError
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Deletion, Notice, StudyExtension, as_utc

if TYPE_CHECKING:
    from fieldvault.storage.services import Services


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
    audit_checkpoint: dict[str, Any] | None = None  # the latest, or {"problem": why none}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "study": self.study_id,
            "timezone": self.timezone,
            "processing_end": self.processing_end.isoformat(),
            "deadline": self.deadline.isoformat(),
            "ended_at": iso(self.ended_at),
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
            "audit_checkpoint": self.audit_checkpoint,
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
        extensions = _extensions(session, study_id)
        reminders = _reminders(session, study_id)
        notice_counts = _deletion_notices(session, study_id)
        withdrawals = _withdrawals(session, study_id)
        remaining = held_objects(session, study_id)
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
        deleted=[{"code": d.participant_code, "at": iso(d.done_at)} for d in done],
        in_progress=[d.participant_code for d in deletions if d.step != DONE],
        objects=dict(sorted(objects.items())),
        identities=identities,
        notices=dict(sorted(notice_counts.items())),
        withdrawals=withdrawals,
        remaining={"objects": dict(sorted(remaining.items()))},
        audit_checkpoint=_audit_checkpoint(services),
    )


def _audit_checkpoint(services: Services) -> dict[str, Any]:
    """The latest signed checkpoint of the audit chain, or why there is none to show."""
    try:
        latest = services.audit.latest()
    except FieldvaultError as exc:
        return {"problem": str(exc)}
    if latest is None:
        return {"problem": f"the checkpoint file {services.audit.path} holds no checkpoint"}
    return {
        "seq": latest.seq,
        "head": latest.head,
        "at": iso(latest.at),
        "reason": latest.reason,
        "line": latest.line,
        "file": str(services.audit.path),
    }


def _extensions(session: Session, study_id: str) -> list[dict[str, Any]]:
    return [
        {
            "from": e.old_processing_end.isoformat(),
            "to": e.new_processing_end.isoformat(),
            "reason": e.reason,
            "assessment_ref": e.assessment_ref,
            "at": iso(e.created_at),
        }
        for e in session.scalars(
            select(StudyExtension)
            .where(StudyExtension.study_id == study_id)
            .order_by(StudyExtension.id)
        )
    ]


def _reminders(session: Session, study_id: str) -> list[dict[str, Any]]:
    return [
        {"days": n.params.get("days"), "at": iso(n.created_at), "delivery": n.outcome}
        for n in session.scalars(
            select(Notice)
            .where(Notice.study_id == study_id, Notice.kind == "reminder")
            .order_by(Notice.id)
        )
    ]


def _deletion_notices(session: Session, study_id: str) -> Counter[str]:
    """How the informants' deletion notices went: outcome → count (``pending`` if unsettled)."""
    return Counter(
        n.outcome or "pending"
        for n in session.scalars(
            select(Notice).where(
                Notice.study_id == study_id,
                Notice.kind == "deletion",
                Notice.audience == notices.INFORMANT,
            )
        )
    )


def _withdrawals(session: Session, study_id: str) -> list[dict[str, Any]]:
    """Every withdrawal purge of the study, as its audit event recorded it."""
    return [
        {
            "code": e.participant_code,
            "at": iso(e.at),
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
