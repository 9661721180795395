"""Properties of the study parser and of deadlines, over generated input (hypothesis).

Whatever a study file holds, parsing it either gives a definition or raises the study's own
error with a problem that says something; whatever date a row holds, the deadline arithmetic
answers, in order. Example counts and deadlines are bounded so the suite stays quick.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tomllib
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_study_definition import MINIMAL

from fieldvault.config.study import StudyDefinition, StudyValidationError, parse_study
from fieldvault.config.study_dates import coerce_date, parse_date_text
from fieldvault.config.study_limits import DEFAULT_LIMITS, EARLIEST_DATE, LATEST_DATE, latest_end
from fieldvault.domain.retention.deadlines import NEVER, deadline_of, reminder_due

BOUNDED = settings(max_examples=60, deadline=2_000, suppress_health_check=[HealthCheck.too_slow])
ZONES = st.sampled_from(
    ["Europe/Oslo", "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Pacific/Apia",
     "America/Havana", "Asia/Kathmandu"]
)  # fmt: skip
BASE: dict[str, Any] = tomllib.loads(MINIMAL)


def toml_value(value: object) -> str:
    """``value`` as a TOML inline value (strings through JSON's escapes, which TOML shares)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("-inf" if value < 0 else "inf") if math.isinf(value) else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(key)} = {toml_value(value)}" for key, value in data.items())


SCALARS = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=40)
    | st.dates()
    | st.datetimes().map(lambda d: d.date())  # TOML local datetimes are refused anyway
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from([*BASE, "unknown_key", "consent_items", "contacts", "policies"])


def assert_clean(text: str, **kwargs: Any) -> None:
    """parse_study gives a definition, or StudyValidationError with problems that say something."""
    try:
        result = parse_study(text, **kwargs)
    except StudyValidationError as exc:
        assert exc.problems, "refused without a problem"
        for problem in exc.problems:
            assert problem.field and problem.message.strip(), problem
        assert str(exc)
    else:
        assert isinstance(result, StudyDefinition)


@BOUNDED
@given(st.text(max_size=300))
def test_any_text_is_either_a_study_or_a_list_of_problems(text: str) -> None:
    assert_clean(text)


FRAGMENTS = st.sampled_from(
    ['id = "x"', "[letter]", "[[consent_items]]", 'nb = """', '"""', "start_date = 2021-02-30",
     "processing_end = 9999-12-31", "[contacts", "a.b.c = 1", "= 2", "x = [1, [2, {a = 3}]]",
     'title = "\\u202e"', "languages = ['nb']", "[institution]", "0000-00-00", "#", "\ufeff"]
)  # fmt: skip


@BOUNDED
@given(st.lists(FRAGMENTS | st.text(max_size=20), max_size=25))
def test_toml_ish_text_is_either_a_study_or_a_list_of_problems(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert_clean(text)
    assert_clean(MINIMAL + "\n" + text)
    assert_clean(MINIMAL + "\n" + text, limits=None)


@BOUNDED
@given(KEYS, VALUES)
def test_any_value_of_any_field_is_either_valid_or_a_problem(key: str, value: object) -> None:
    data = {**BASE, key: value}
    assert_clean(toml_document(data))
    assert_clean(toml_document(data), limits=None)


@BOUNDED
@given(
    st.integers(min_value=0, max_value=1),
    st.sampled_from(["text", "required", "permits", "id"]),
    VALUES,
)
def test_any_value_inside_a_consent_item_is_either_valid_or_a_problem(
    index: int, key: str, value: object
) -> None:
    items = [dict(item) for item in BASE["consent_items"]]
    items[index][key] = value
    assert_clean(toml_document({**BASE, "consent_items": items}))


@BOUNDED
@given(st.text(max_size=30))
def test_a_date_text_is_a_date_or_a_value_error_that_says_what_to_write(text: str) -> None:
    try:
        day = parse_date_text(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(day, dt.date)


@BOUNDED
@given(SCALARS | st.none() | st.datetimes())
def test_coercing_any_value_to_a_date_gives_a_date_or_a_value_error(value: object) -> None:
    try:
        day = coerce_date(value)
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(day, dt.date) and not isinstance(day, dt.datetime)


def _with_dates(start: dt.date, end: dt.date) -> str:
    text = MINIMAL.replace("start_date = 2021-02-01", f"start_date = {start}")
    text = text.replace("project_end = 2021-05-14", f"project_end = {end}")
    return text.replace("processing_end = 2021-05-14", f"processing_end = {end}")


@st.composite
def dates_within_bounds(draw: st.DrawFn) -> tuple[dt.date, dt.date]:
    start = draw(st.dates(min_value=EARLIEST_DATE, max_value=LATEST_DATE))
    end = draw(st.dates(min_value=start, max_value=latest_end(start, DEFAULT_LIMITS)))
    return start, end


@BOUNDED
@given(dates_within_bounds(), ZONES)
def test_dates_within_the_bounds_are_accepted_and_give_a_deadline_after_the_end(
    dates: tuple[dt.date, dt.date], zone: str
) -> None:
    start, end = dates
    study = parse_study(_with_dates(start, end).replace("Europe/Oslo", zone))
    assert study.processing_end == end
    deadline = deadline_of(end, zone)
    assert deadline.tzinfo is not None and deadline < NEVER
    # The deadline is within two days of the end day's UTC midnight, whatever the zone.
    midnight = dt.datetime.combine(end, dt.time(0), tzinfo=dt.UTC)
    assert midnight <= deadline + dt.timedelta(days=1) and deadline <= midnight + dt.timedelta(
        days=2
    )


@BOUNDED
@given(st.dates(), st.integers(min_value=-(10**15), max_value=10**15))
def test_dates_outside_the_bounds_are_refused_cleanly(start: dt.date, shift: int) -> None:
    end_ordinal = min(max(start.toordinal() + shift % 10**6, 1), dt.date.max.toordinal())
    end = dt.date.fromordinal(end_ordinal)
    within = EARLIEST_DATE <= start <= LATEST_DATE and start <= end <= latest_end(
        start, DEFAULT_LIMITS
    )
    try:
        parse_study(_with_dates(start, end))
    except StudyValidationError as exc:
        assert not within, exc.problems  # a refusal only outside the bounds, as a problem
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        assert within


@BOUNDED
@given(st.dates(), st.dates(), ZONES)
@example(dt.date.max, dt.date(2021, 6, 30), "Europe/Oslo")
@example(dt.date.min, dt.date.max, "Pacific/Kiritimati")
def test_the_deadline_never_raises_and_never_goes_back_in_time(
    first: dt.date, second: dt.date, zone: str
) -> None:
    early, late = sorted((first, second))
    assert deadline_of(early, zone) <= deadline_of(late, zone)
    if early < late and early.year > 1 and late.year < 9999 and zone != "Pacific/Apia":
        # Apia skipped 30 December 2011: two local midnights there share one instant.
        assert deadline_of(early, zone) < deadline_of(late, zone)


@BOUNDED
@given(st.dates(), ZONES, st.integers(min_value=1, max_value=10**15))
def test_a_reminder_never_raises_and_is_never_after_the_deadline(
    end: dt.date, zone: str, days: int
) -> None:
    assert reminder_due(end, zone, days) <= deadline_of(end, zone)


def test_the_last_day_of_the_calendar_has_no_deadline_after_it() -> None:
    assert deadline_of(dt.date.max, "Europe/Oslo") == NEVER
    assert deadline_of(dt.date(9999, 12, 30), "Pacific/Pago_Pago") < NEVER
    assert reminder_due(dt.date.min, "Pacific/Kiritimati", 10**9).year == 1
