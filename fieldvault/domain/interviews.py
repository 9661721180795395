"""Interview metadata per recording: the day it took place, who interviewed, and how.

The date comes from the container's creation time when it has one (phones and recorders stamp
it; ``media.probe`` reads it), else the researcher gives it, at upload or afterwards
(``set_interview``). The interviewer is a researcher's label (initials, a role), never an
informant's identity; the mode is ``in_person``, ``video`` or ``phone``. The export writes all
three as case and document variables, and the date as the interview date.

A date is held to the study: not before its start date, not after its processing end, and not
after today in the study's timezone; an impossible one (31.06) is refused with the reason. A
container's stamp outside those bounds is a clock that was never set (1970, 2000-01-01), so it
is ignored rather than refused: the upload is kept and the researcher sets the date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from fieldvault.config.study import StudyDefinition
from fieldvault.config.study_dates import parse_date_text
from fieldvault.config.study_limits import EARLIEST_DATE, LATEST_DATE
from fieldvault.config.text_checks import too_long, unsafe_character
from fieldvault.domain.errors import DomainError
from fieldvault.domain.speakers import retrack
from fieldvault.domain.studies import load_definition
from fieldvault.errors import NotFoundError
from fieldvault.storage import audit
from fieldvault.storage.models import Recording

__all__ = [
    "INTERVIEWER_MAX",
    "MODES",
    "InterviewError",
    "InterviewFacts",
    "InterviewInfo",
    "RecordingNotFound",
    "apply_facts",
    "check_facts",
    "container_date",
    "interview_of",
    "parse_interview_date",
    "set_interview",
]

MODES: tuple[str, ...] = ("in_person", "video", "phone")
INTERVIEWER_MAX = 64
CONTAINER, RESEARCHER = "container", "researcher"


class InterviewError(DomainError):
    """Interview metadata that cannot be recorded as given."""


class RecordingNotFound(NotFoundError):
    """No such recording."""

    code = "recording.not_found"


@dataclass(frozen=True, slots=True)
class InterviewFacts:
    """What an upload or a researcher says about an interview; None: not said."""

    date: dt.date | None = None
    interviewer: str | None = None
    mode: str | None = None
    host_track: int | None = None  # 0-based; None: track 1 (position 0) is the host's


@dataclass(frozen=True, slots=True)
class InterviewInfo:
    """A recording's interview metadata as stored."""

    recording_id: int
    date: dt.date | None
    date_source: str | None  # container | researcher
    interviewer: str | None
    mode: str | None
    host_track: int | None


def parse_interview_date(text: str) -> dt.date:
    """A date a researcher typed (2021-05-14, 14.05.2021); InterviewError for an impossible one."""
    try:
        return parse_date_text(text)
    except ValueError as exc:
        raise InterviewError(f"interview date: {exc}", code="interview.bad_date") from None


def _today(definition: StudyDefinition, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(definition.timezone)).date()


def date_problem(day: dt.date, definition: StudyDefinition, now: dt.datetime) -> str | None:
    """Why ``day`` cannot be the study's interview date, or None."""
    today = _today(definition, now)
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        return f"{day} is outside {EARLIEST_DATE}–{LATEST_DATE}; check the year"
    if day > today:
        return f"{day} is in the future (today is {today}); give the day it took place"
    if day < definition.start_date:
        return (
            f"{day} is before the study began ({definition.start_date}); check the year, or the "
            "study file's start_date"
        )
    if day > definition.processing_end:
        return f"{day} is after the study's processing end ({definition.processing_end})"
    return None


def check_facts(
    facts: InterviewFacts,
    definition: StudyDefinition,
    now: dt.datetime,
    track_count: int | None = None,
) -> InterviewFacts:
    """``facts`` checked against the study (date, label, mode, host track), text trimmed."""
    if facts.date is not None and (problem := date_problem(facts.date, definition, now)):
        raise InterviewError(
            f"interview date {problem}", code="interview.bad_date", date=facts.date.isoformat()
        )
    interviewer = facts.interviewer.strip() if facts.interviewer is not None else None
    if interviewer is not None:
        problem = unsafe_character(interviewer, multiline=False) or too_long(
            interviewer, INTERVIEWER_MAX
        )
        if problem:
            raise InterviewError(
                f"the interviewer label {problem}",
                code="interview.bad_interviewer",
                limit=INTERVIEWER_MAX,
            )
        interviewer = interviewer or None
    if facts.mode is not None and facts.mode not in MODES:
        raise InterviewError(
            f"{facts.mode!r} is not an interview mode; use one of {', '.join(MODES)}",
            code="interview.bad_mode",
        )
    host = facts.host_track
    if host is not None and (host < 0 or (track_count is not None and host >= track_count)):
        raise InterviewError(
            f"host track {host + 1} does not exist; the recording has "
            f"{track_count if track_count is not None else 'fewer'} track(s)",
            code="interview.bad_host_track",
        )
    return InterviewFacts(facts.date, interviewer, facts.mode, host)


def container_date(
    created: dt.datetime | None, definition: StudyDefinition, now: dt.datetime
) -> dt.date | None:
    """The interview day a container's creation time gives, or None when it is unusable."""
    if created is None:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    day = created.astimezone(ZoneInfo(definition.timezone)).date()
    return day if date_problem(day, definition, now) is None else None


def apply_facts(recording: Recording, facts: InterviewFacts, *, source: str = RESEARCHER) -> None:
    """Write checked ``facts`` into the recording's columns (None leaves a column as it is)."""
    if facts.date is not None:
        recording.interview_date = facts.date
        recording.interview_date_source = source
    if facts.interviewer is not None:
        recording.interviewer = facts.interviewer
    if facts.mode is not None:
        recording.interview_mode = facts.mode
    if facts.host_track is not None:
        recording.host_track = facts.host_track


def _recording(session: Session, recording_id: int) -> Recording:
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise RecordingNotFound(f"there is no recording {recording_id}", recording_id=recording_id)
    return recording


def _view(recording: Recording) -> InterviewInfo:
    return InterviewInfo(
        recording.id,
        recording.interview_date,
        recording.interview_date_source,
        recording.interviewer,
        recording.interview_mode,
        recording.host_track,
    )


def interview_of(session: Session, recording_id: int) -> InterviewInfo:
    """A recording's interview metadata."""
    return _view(_recording(session, recording_id))


def set_interview(
    session: Session,
    recording_id: int,
    facts: InterviewFacts,
    *,
    actor: str,
    now: dt.datetime,
) -> InterviewInfo:
    """Record what the researcher says about an interview (checked), and audit which fields."""
    recording = _recording(session, recording_id)
    definition = load_definition(session, recording.study_id)
    checked = check_facts(facts, definition, now, track_count=len(recording.tracks))
    apply_facts(recording, checked)
    if checked.host_track is not None:
        retrack(session, recording_id, now=now)
    changed = [
        name
        for name, value in (
            ("date", checked.date),
            ("interviewer", checked.interviewer),
            ("mode", checked.mode),
            ("host_track", checked.host_track),
        )
        if value is not None
    ]
    audit.append(
        session,
        audit.Event.RECORDING_UPDATED,
        actor=actor,
        study_id=recording.study_id,
        # Which fields, the mode and date; not the interviewer's label (free text).
        details={
            "recording_id": recording_id,
            "fields": changed,
            "mode": checked.mode,
            "date": checked.date.isoformat() if checked.date else None,
        },
        at=now,
    )
    return _view(recording)
