"""Deadlines: the end of a study's processing end day in its timezone, and its reminders."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fieldvault.storage.models import Study


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
