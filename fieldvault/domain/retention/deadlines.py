"""Deadlines: the end of a study's processing end day in its timezone, and its reminders.

The arithmetic never overflows: a study file's dates are bounded (``config.study_dates``), but
a row written before those bounds, or by hand, may hold any date the calendar has, and one
study's date must not stop the sweep of all the others. A day past the calendar's last is
:data:`NEVER` (no deadline can be later), a day before its first :data:`ALWAYS`.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fieldvault.storage.models import Study

# The latest and earliest instants there are, in UTC: what a deadline beyond the calendar is.
NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)
ALWAYS = dt.datetime.min.replace(tzinfo=dt.UTC)


def _local_midnight_of_ordinal(ordinal: int, timezone: str) -> dt.datetime:
    """local_midnight of the day with proleptic Gregorian ``ordinal``, clamped to the calendar."""
    zone = ZoneInfo(timezone)  # an unknown zone raises here, whatever the day
    if ordinal > dt.date.max.toordinal():
        return NEVER
    if ordinal < dt.date.min.toordinal():
        return ALWAYS
    local = dt.datetime.combine(dt.date.fromordinal(ordinal), dt.time(0), tzinfo=zone)
    try:
        return local.astimezone(dt.UTC)
    except OverflowError:
        # Only the first and last days of the calendar, in a zone whose offset takes them
        # past its ends: year 1 east of UTC, year 9999 west of it.
        return ALWAYS if local.year == dt.MINYEAR else NEVER


def local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The first instant of ``day`` in ``timezone``, in UTC.

    ``fold=0`` makes zoneinfo read a midnight that a DST change skips (clocks jumping from
    00:00 to 01:00, as in some American zones) as the moment of the jump, and a midnight that
    occurs twice as its first occurrence: the earliest instant of the local day either way.
    """
    return _local_midnight_of_ordinal(day.toordinal(), timezone)


def deadline_of(processing_end: dt.date, timezone: str) -> dt.datetime:
    """When deletion is due: the end of ``processing_end`` in ``timezone`` (UTC)."""
    return _local_midnight_of_ordinal(processing_end.toordinal() + 1, timezone)


def study_deadline(study: Study) -> dt.datetime:
    """The deletion deadline of a registered study (its current, possibly extended, end)."""
    return deadline_of(study.processing_end, study.timezone)


def reminder_due(processing_end: dt.date, timezone: str, days: int) -> dt.datetime:
    """When the reminder ``days`` days before the deadline is due: local midnight, in UTC."""
    return _local_midnight_of_ordinal(processing_end.toordinal() + 1 - days, timezone)
