"""Reminders: the researchers are told, days before the deadline, what it will delete."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fieldvault.domain import notices
from fieldvault.domain.retention.deadlines import reminder_due
from fieldvault.domain.retention.model import (
    ACTOR,
    UNAPPROVED_STATES,
    SweepReport,
    held_objects,
    some,
)
from fieldvault.domain.studies import load_definition
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Notice, Participant

if TYPE_CHECKING:
    from fieldvault.storage.services import Services

log = logging.getLogger(__name__)


def remind(
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
        # A more urgent (or the same) reminder for this deadline exists: nothing new to say.
        if any(d <= days for d in _days_sent(session, study_id, prefix)):
            return
        summary = deadline_summary(services, session, study_id)
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
    _log_reminder(study_id, days, deadline, summary)


def _days_sent(session: Session, study_id: str, prefix: str) -> set[int]:
    """The numbers of days of the reminders already queued under ``prefix`` (one deadline)."""
    return {
        int(key.rsplit(":", 1)[1])
        for key in session.scalars(
            select(Notice.dedupe_key).where(
                Notice.study_id == study_id, Notice.dedupe_key.startswith(prefix)
            )
        )
    }


def _log_reminder(study_id: str, days: int, deadline: dt.datetime, summary: dict[str, Any]) -> None:
    unapproved = summary["unapproved_codes"]
    log.warning(
        "study %s: deletion in %d day(s), at %s: %d participant(s), objects %s; "
        "%d transcript(s) not yet approved%s",
        study_id,
        days,
        deadline.isoformat(),
        summary["participants"],
        summary["objects"],
        len(unapproved),
        f" ({some(unapproved)})" if unapproved else "",
    )


def deadline_summary(services: Services, session: Session, study_id: str) -> dict[str, Any]:
    """What the deadline will delete in a study: counts, and codes of unapproved transcripts."""
    objects = held_objects(session, study_id)
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
    return {
        "participants": int(participants or 0),
        "objects": objects,
        "identities": services.vault.count(study_id),
        "unapproved_codes": unapproved,
    }
