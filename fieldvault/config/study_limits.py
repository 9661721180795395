"""Bounds on what a study file may say: dates a study can mean, text sizes, safe characters.

A new study file (``study check``, ``create``, ``update``) is held to these; a definition
already stored is read back without them (``parse_study(..., limits=None)``), so that tightening
a bound can never lock informants out of a registered study or stop its deletion. The
configurable numbers come from the settings (``Settings.study_limits``); the calendar bounds
are fixed, because no study of living people starts before 1990 or runs past 2199, and dates
outside them are typing mistakes (``9999-12-31``, ``0202-05-14``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fieldvault.config.study_dates import coerce_date
from fieldvault.config.study_problems import Problem, field_path
from fieldvault.config.text_checks import too_long, unsafe_character

EARLIEST_DATE = dt.date(1990, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
DATE_FIELDS = ("start_date", "project_end", "processing_end")


@dataclass(frozen=True)
class StudyLimits:
    """The configurable bounds of a new study file (defaults: the settings' defaults)."""

    # processing_end and project_end at most this many years after start_date.
    max_years: int = 10
    # Each language's information letter, in UTF-8 bytes.
    letter_max_bytes: int = 200_000
    consent_items_max: int = 50
    # Every other text of the file: title, consent item texts, reasons, contacts, guide.
    text_max_chars: int = 2_000


DEFAULT_LIMITS = StudyLimits()


def years_after(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (28 February for a 29 February that year lacks)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def latest_end(start: dt.date, limits: StudyLimits) -> dt.date:
    """The latest end date a study starting on ``start`` may have."""
    return min(years_after(start, limits.max_years), LATEST_DATE)


def end_too_far(start: dt.date, end: dt.date, limits: StudyLimits) -> str | None:
    """Why ``end`` is too far after ``start``, or None."""
    bound = latest_end(start, limits)
    if end <= bound:
        return None
    if end > LATEST_DATE:
        return (
            f"{end} is after {LATEST_DATE}, the latest date fieldvault accepts for a study; "
            "check the year"
        )
    return (
        f"{end} is more than {limits.max_years} years after start_date ({start}); fieldvault "
        f"accepts end dates up to {bound}, because an end date decides when identities and "
        "recordings are destroyed and one that far ahead is almost always a typing mistake: "
        "check the year (a study approved for longer needs FIELDVAULT_STUDY_MAX_YEARS raised)"
    )


def _date(value: object) -> dt.date | None:
    try:
        result = coerce_date(value)
    except ValueError:
        return None  # reported by field validation
    return result if isinstance(result, dt.date) else None


def _date_problems(raw: Mapping[str, Any], limits: StudyLimits) -> list[Problem]:
    problems = []
    dates = {name: _date(raw.get(name)) for name in DATE_FIELDS}
    for name, day in dates.items():
        if day is not None and day < EARLIEST_DATE:
            problems.append(
                Problem(
                    name,
                    f"{day} is before {EARLIEST_DATE}, the earliest date fieldvault accepts for "
                    "a study; check the year",
                )
            )
        elif day is not None and day > LATEST_DATE:
            problems.append(
                Problem(
                    name,
                    f"{day} is after {LATEST_DATE}, the latest date fieldvault accepts for a "
                    "study; check the year",
                )
            )
    start = dates["start_date"]
    if start is not None and EARLIEST_DATE <= start <= LATEST_DATE:
        for name in ("project_end", "processing_end"):
            end = dates[name]
            if end is not None and end <= LATEST_DATE and (why := end_too_far(start, end, limits)):
                problems.append(Problem(name, why))
    return problems


def _strings(value: object, *path: str | int) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every text in the raw TOML, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, *path, str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, *path, index)


def _text_problems(raw: Mapping[str, Any], limits: StudyLimits) -> list[Problem]:
    problems = []
    for path, text in _strings(raw):
        where = field_path(*path)
        if path[0] == "letter":
            size = len(text.encode("utf-8"))
            if size > limits.letter_max_bytes:
                problems.append(
                    Problem(
                        where,
                        f"the letter is {size:,} bytes; at most {limits.letter_max_bytes:,} are "
                        "accepted (informants read it on a phone): shorten it",
                    )
                )
        elif why := too_long(text, limits.text_max_chars):
            problems.append(Problem(where, why))
        if why := unsafe_character(text):
            problems.append(Problem(where, why))
    return problems


def limit_problems(raw: Mapping[str, Any], limits: StudyLimits) -> list[Problem]:
    """Every way the raw study exceeds ``limits``: dates, sizes, counts and characters."""
    problems = _date_problems(raw, limits)
    items = raw.get("consent_items")
    if isinstance(items, list) and len(items) > limits.consent_items_max:
        problems.append(
            Problem(
                "consent_items",
                f"has {len(items):,} items; at most {limits.consent_items_max} are accepted "
                "(each is a question an informant answers): merge or remove some",
            )
        )
    return problems + _text_problems(raw, limits)
