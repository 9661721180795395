"""The sweep's vocabulary: what the deadline destroys, the deletion steps, one sweep's report."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fieldvault.domain.consent import State
from fieldvault.storage.content import BlobKind
from fieldvault.storage.models import BlobObject, as_utc

# What the deadline destroys: every kind of identifiable content (signed forms carry names,
# redaction maps say what a placeholder replaced). Any other kind of object is research data.
DEADLINE_KINDS = (
    BlobKind.EVIDENCE,
    BlobKind.RAW_TRANSCRIPT,
    BlobKind.RECORDING,
    BlobKind.REDACTION_MAP,
)
# Participants whose transcript is not approved yet: the researcher is warned before the end.
UNAPPROVED_STATES = (State.INTERVIEWED.value, State.TRANSCRIBED.value)

# The steps of a participant's deletion row, in order (see the package docstring).
INTENT, NOTIFIED, KEYS, BLOBS, DONE = "intent", "notified", "keys", "blobs", "done"
STEPS = (INTENT, NOTIFIED, KEYS, BLOBS, DONE)
BATCH = 500
DELETE_THREADS = 8
# The audit actor of everything the sweep does.
ACTOR = "retention"

StepHook = Callable[[str], None]


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
    # study -> what failed (the step and the error's kind, never its text): the sweep went on
    # with the other studies, and the next sweep tries this one again.
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def nothing_to_do(self) -> bool:
        """Whether the sweep found no work at all."""
        return not (
            self.reminders
            or self.studies_due
            or self.withdrawals
            or any(self.deleted.values())
            or self.notices
            or self.failed
        )


def some(codes: Sequence[str], limit: int = 20) -> str:
    """Codes for a log line: the first ``limit`` of them and how many more."""
    shown = ", ".join(codes[:limit])
    return shown if len(codes) <= limit else f"{shown} and {len(codes) - limit} more"


def iso(value: dt.datetime | None) -> str | None:
    """``value`` in UTC as ISO 8601, or None."""
    return None if value is None else as_utc(value).isoformat()


def held_objects(session: Session, study_id: str) -> dict[str, int]:
    """Objects of the deadline's kinds a study still holds: kind → count, by kind."""
    return dict(
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
