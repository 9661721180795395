"""The study's dates: what a researcher may write for one, and why an impossible one is refused.

A deadline decides when recordings are destroyed, so a date that is not on the calendar is never
guessed at (no rolling 31 April over to 1 May): it is refused with the last real day as example.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Annotated

from pydantic import BeforeValidator

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})(?:\s+|/)(\d{4})$")


def impossible_date_message(text: str, year: int, month: int, day: int) -> str | None:
    """Why year-month-day is not a calendar date, or None when it is one."""
    if not 1 <= month <= 12:
        return f"{text} is not a real date: there is no month {month}; months run from 1 to 12"
    last = calendar.monthrange(year, month)[1]
    if 1 <= day <= last:
        return None
    if day < 1:
        return f"{text} is not a real date: there is no day {day}; days start at 1"
    name = calendar.month_name[month]
    in_year = f" in {year}" if month == 2 else ""
    example = dt.date(year, month, last).isoformat()
    # Never roll over to the next month: the researcher meant a day in *this* month, and the
    # deadline decides when recordings are destroyed, so guessing is not acceptable.
    return (
        f"{text} is not a real date: {name}{in_year} has {last} days; "
        f"write the last day you mean, e.g. {example}"
    )


def parse_date_text(text: str) -> dt.date:
    """Read 2021-05-14, 14.05.2021 or 14/5 2021 as a date; refuse impossible ones plainly."""
    stripped = text.strip()
    if match := _ISO.match(stripped):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DOTTED.match(stripped) or _SLASHED.match(stripped):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise ValueError(
            f"{text!r} is not a date fieldvault understands; write it as YYYY-MM-DD, "
            "e.g. 2021-05-14 (14.05.2021 and 14/5 2021 are accepted too)"
        )
    problem = impossible_date_message(stripped, year, month, day)
    if problem is not None:
        raise ValueError(problem)
    return dt.date(year, month, day)


def coerce_date(value: object) -> object:
    """A date from a TOML date or a date text; a datetime or anything else is refused."""
    # datetime is a subclass of date: test it first, a deadline is a day, not an instant.
    if isinstance(value, dt.datetime):
        raise ValueError(
            f"{value.isoformat()} has a time of day; write just the date, e.g. {value.date()}"
        )
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return parse_date_text(value)
    raise ValueError("should be a date, written as YYYY-MM-DD, e.g. 2021-05-14")


StudyDate = Annotated[dt.date, BeforeValidator(coerce_date)]
