"""Extension: moving a study's processing end date later, with a reason, audit and notices."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.config.study_file import NoProcessingEndLine, with_processing_end
from fieldvault.config.study_limits import DEFAULT_LIMITS, StudyLimits, end_too_far, latest_end
from fieldvault.domain import notices
from fieldvault.domain.consent import State
from fieldvault.domain.errors import DomainError
from fieldvault.domain.retention.deadlines import deadline_of, study_deadline
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.storage import audit
from fieldvault.storage.models import Deletion, Participant, Study, StudyExtension


class ExtensionRefused(DomainError):
    """The end date cannot be changed as asked."""

    code = "retention.extension_refused"


def extend(
    session: Session,
    study_id: str,
    new_end: dt.date,
    *,
    reason: str,
    now: dt.datetime,
    assessment_ref: str | None = None,
    actor: str = "researcher",
    limits: StudyLimits = DEFAULT_LIMITS,
) -> StudyExtension:
    """Move the processing end date later, with a recorded reason, an audit event and notices.

    The new date is held to the study file's bound (``limits.max_years`` after the start).
    """
    study = get_study(session, study_id)
    reason = reason.strip()
    _check_extension(session, study, new_end, reason, now)
    start = load_definition(session, study_id).start_date
    if why := end_too_far(start, new_end, limits):
        raise ExtensionRefused(
            why,
            code="retention.extension.too_far",
            study_id=study_id,
            new_end=new_end.isoformat(),
            latest=latest_end(start, limits).isoformat(),
            max_years=limits.max_years,
        )
    old_end = study.processing_end
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
    # reads the new date; updating the study later wants the researcher's file to say it too.
    try:
        study.definition_toml = with_processing_end(study.definition_toml, new_end, reason)
    except NoProcessingEndLine as exc:
        raise ExtensionRefused(
            str(exc), code="retention.extension.no_processing_end_line", study_id=study_id
        ) from exc
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
    _queue_notices(session, row, now)
    return row


def _check_extension(
    session: Session, study: Study, new_end: dt.date, reason: str, now: dt.datetime
) -> None:
    """Raise ExtensionRefused unless ``study`` may be extended to ``new_end`` at ``now``."""
    old_end = study.processing_end
    facts = {"study_id": study.id, "processing_end": old_end.isoformat()}
    if not reason:
        raise ExtensionRefused(
            "an extension needs a reason", code="retention.extension.no_reason", **facts
        )
    if study.ended_at is not None or deletion_started(session, study.id):
        raise ExtensionRefused(
            f"the deletion for study {study.id!r} has already begun; what was deleted cannot "
            "be restored and the end date can no longer be changed",
            code="retention.extension.deletion_begun",
            **facts,
        )
    if new_end <= old_end:
        raise ExtensionRefused(
            f"{new_end} is not after the current processing end date {old_end}; an extension "
            "can only move it later",
            code="retention.extension.not_later",
            new_end=new_end.isoformat(),
            **facts,
        )
    if study_deadline(study) <= now:
        raise ExtensionRefused(
            f"the processing end date {old_end} has passed; the deletion is due and runs at the "
            "next sweep",
            code="retention.extension.deadline_passed",
            **facts,
        )


def _queue_notices(session: Session, row: StudyExtension, now: dt.datetime) -> None:
    """Tell the researchers and every informant still taking part of the new end date."""
    study_id = row.study_id
    params = {"from": row.old_processing_end.isoformat(), "to": row.new_processing_end.isoformat()}
    notices.add_notice(
        session,
        study_id=study_id,
        audience=notices.RESEARCHERS,
        kind="extension",
        dedupe_key=f"extension:{study_id}:{row.id}",
        params={**params, "assessment_ref": row.assessment_ref},
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


def deletion_started(session: Session, study_id: str) -> bool:
    """Whether the deadline deletion of ``study_id`` has begun (any participant has a row)."""
    return (
        session.scalar(
            select(Deletion.id)
            .where(Deletion.study_id == study_id, Deletion.reason == "deadline")
            .limit(1)
        )
        is not None
    )
