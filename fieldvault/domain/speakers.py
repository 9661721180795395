"""Who speaks in a transcript: each speaker label's role (interviewer, informant, other).

The labels are those of the raw segments: ``speaker-1``, ``speaker-2`` … (one per track of a
multi-track recording, or per voice the diarization told apart) and ``unknown`` (a mixed track
nobody split). When a transcript is made, :func:`guess_roles` stores a first guess: the host's
track is the interviewer's (track 1 unless the upload named another), or on a single track the
voice that asks the most questions is. The researcher confirms or changes it with
:func:`set_speaker` (CLI ``fieldvault transcript speaker``; the web review editor calls the
same function). The export reads the roles through :func:`export_speakers` when it builds its
files, so a role corrected after approval reaches the next export without approving the text
again (roles are not text; approval is about the text).

A display label is what a front end shows for a speaker; it is a researcher's free text,
bounded and free of control characters. Exports never print it for the interviewer or the
informant (they are ``I`` and the pseudonym); only an ``other`` speaker is shown by it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.config.text_checks import too_long, unsafe_character
from fieldvault.domain.errors import DomainError
from fieldvault.domain.studies import load_definition
from fieldvault.errors import NotFoundError
from fieldvault.storage import audit
from fieldvault.storage.models import Recording, Transcript, TranscriptSpeaker

__all__ = [
    "DISPLAY_MAX",
    "ROLES",
    "SpeakerError",
    "SpeakerInfo",
    "SpeakerNotFound",
    "export_speakers",
    "guess",
    "guess_roles",
    "is_question",
    "retrack",
    "set_speaker",
    "speakers_of",
]

INTERVIEWER, INFORMANT, OTHER = "interviewer", "informant", "other"
ROLES: tuple[str, ...] = (INTERVIEWER, INFORMANT, OTHER)
DISPLAY_MAX = 64
UNKNOWN = "unknown"
# The labels a recording's speakers can have (domain.recordings.speaker_label, diarization).
_LABEL = re.compile(r"^(?:speaker-\d{1,3}|unknown)$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The first words that open a question in each study language. Whisper nearly always writes
# the question mark; these catch the questions it writes without one. Norwegian (nb, nn) and
# English yes/no questions open with the verb ("Har du …", "Do you …"), so common auxiliaries
# count too: a statement rarely opens with one in an interview.
QUESTION_WORDS: dict[str, frozenset[str]] = {
    "nb": _words(
        "hva hvem hvor hvorfor hvordan når hvilken hvilket hvilke kan kunne vil ville skal "
        "har hadde er var tror synes opplever fortell beskriv"
    ),
    "nn": _words(
        "kva kven kvar kvifor korleis kor når kan kunne vil ville skal har hadde er var trur "
        "synest opplever fortel skildre"
    ),
    "en": _words(
        "what who whom whose where why how when which can could would will shall should do "
        "does did is are was were have has had tell describe"
    ),
}
_FIRST_WORD = re.compile(r"\w+")


class SpeakerError(DomainError):
    """A role or display label cannot be set as asked."""


class SpeakerNotFound(NotFoundError):
    """No such transcript, or no such speaker in it."""

    code = "speaker.not_found"


@dataclass(frozen=True, slots=True)
class SpeakerInfo:
    """One speaker of a transcript: its label, role, display label, and how it was decided."""

    label: str
    role: str
    display: str | None
    confirmed: bool
    guessed_because: str


def _info(row: TranscriptSpeaker) -> SpeakerInfo:
    return SpeakerInfo(row.label, row.role, row.display, row.confirmed, row.guessed_because)


def _transcript(session: Session, transcript_id: int) -> Transcript:
    transcript = session.get(Transcript, transcript_id)
    if transcript is None:
        raise SpeakerNotFound(
            f"there is no transcript {transcript_id}",
            code="speaker.no_transcript",
            transcript_id=transcript_id,
        )
    return transcript


def _rows(session: Session, transcript_id: int) -> list[TranscriptSpeaker]:
    return list(
        session.scalars(
            select(TranscriptSpeaker)
            .where(TranscriptSpeaker.transcript_id == transcript_id)
            .order_by(TranscriptSpeaker.label)
        )
    )


def speakers_of(session: Session, transcript_id: int) -> list[SpeakerInfo]:
    """The transcript's speakers with their roles (stored, or guessed from its tracks)."""
    transcript = _transcript(session, transcript_id)
    rows = _rows(session, transcript_id)
    if rows:
        return [_info(row) for row in rows]
    # A transcript made before roles existed: what its tracks alone say (nothing is stored).
    recording = session.get(Recording, transcript.recording_id)
    assert recording is not None
    labels = _track_labels(len(recording.tracks))
    guessed = guess(
        [], track_count=len(recording.tracks), host_track=recording.host_track, labels=labels
    )
    return [SpeakerInfo(label, role, None, False, why) for label, (role, why) in guessed.items()]


def _track_labels(track_count: int) -> list[str]:
    if track_count <= 1:
        return [UNKNOWN]
    return [f"speaker-{n + 1}" for n in range(track_count)]


def set_speaker(
    session: Session,
    transcript_id: int,
    label: str,
    *,
    role: str,
    display: str | None,
    actor: str,
    now: dt.datetime,
) -> SpeakerInfo:
    """Set a speaker's role and display label as the researcher decided, and audit it."""
    transcript = _transcript(session, transcript_id)
    if role not in ROLES:
        raise SpeakerError(
            f"{role!r} is not a speaker role; a speaker is one of {', '.join(ROLES)}",
            code="speaker.bad_role",
            role=role,
        )
    display = _checked_display(display)
    rows = {row.label: row for row in _rows(session, transcript_id)}
    if rows:
        known, allowed = sorted(rows), label in rows
    else:  # made before roles existed: any label a recording's speakers can have
        known = [info.label for info in speakers_of(session, transcript_id)]
        allowed = label in known or _LABEL.match(label) is not None
    if not allowed:
        raise SpeakerNotFound(
            f"transcript {transcript_id} has no speaker {label!r}; it has {', '.join(known)}",
            code="speaker.unknown_label",
            transcript_id=transcript_id,
            label=label,
        )
    row = rows.get(label)
    if row is None:
        row = TranscriptSpeaker(transcript_id=transcript_id, label=label, guessed_because="")
        session.add(row)
    before = row.role
    row.role, row.display, row.confirmed = role, display, True
    row.updated_at, row.updated_by = now, actor[:64]
    session.flush()
    recording = session.get(Recording, transcript.recording_id)
    assert recording is not None
    audit.append(
        session,
        audit.Event.SPEAKER_SET,
        actor=actor,
        study_id=recording.study_id,
        # No display text: it is the researcher's free text, and the audit is kept forever.
        details={
            "transcript_id": transcript_id,
            "label": label,
            "role": role,
            "role_before": before,
            "display_set": display is not None,
        },
        at=now,
    )
    return _info(row)


def _checked_display(display: str | None) -> str | None:
    if display is None:
        return None
    display = display.strip()
    if not display:
        return None
    problem = unsafe_character(display, multiline=False) or too_long(display, DISPLAY_MAX)
    if problem:
        raise SpeakerError(
            f"the display label {problem}", code="speaker.bad_display", limit=DISPLAY_MAX
        )
    return display


def is_question(text: str, languages: Iterable[str]) -> bool:
    """Whether a segment asks: it holds a question mark or opens with a question word."""
    if "?" in text:
        return True
    first = _FIRST_WORD.search(text.casefold())
    if first is None:
        return False
    return any(first.group(0) in QUESTION_WORDS.get(lang, frozenset()) for lang in languages)


def guess(
    segments: Sequence[Mapping[str, Any]],
    *,
    track_count: int,
    host_track: int | None,
    labels: Sequence[str] = (),
    languages: Sequence[str] = ("nb", "nn", "en"),
) -> dict[str, tuple[str, str]]:
    """Label -> (role, why): the first guess of who is who (pure; counts, never words)."""
    order = list(dict.fromkeys([*(str(s.get("speaker") or UNKNOWN) for s in segments), *labels]))
    if not order:
        return {}
    if track_count > 1:
        host = f"speaker-{(host_track or 0) + 1}"
        why = (
            f"track {(host_track or 0) + 1} was marked as the host's at upload"
            if host_track is not None
            else "track 1 is the interviewer's unless the upload says otherwise"
        )
        return _assign(order, host, why, segments)
    named = [label for label in order if label != UNKNOWN]
    if not named:
        return {UNKNOWN: (OTHER, "one mixed track: the voices were not told apart")}
    questions: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for segment in segments:
        label = str(segment.get("speaker") or UNKNOWN)
        text = str(segment.get("text") or "")
        words[label] += len(text.split())
        questions[label] += is_question(text, languages)
    # Most questions; a tie goes to whoever speaks less (interviewers listen more).
    host = max(named, key=lambda label: (questions[label], -words[label], -order.index(label)))
    why = f"asks {questions[host]} of the {sum(questions.values())} questions"
    return _assign(order, host, why, segments)


def _assign(
    order: list[str], host: str, why: str, segments: Sequence[Mapping[str, Any]]
) -> dict[str, tuple[str, str]]:
    """The host is the interviewer, the one who speaks most of the rest the informant."""
    spoken: Counter[str] = Counter()
    for segment in segments:
        spoken[str(segment.get("speaker") or UNKNOWN)] += len(str(segment.get("text") or ""))
    result: dict[str, tuple[str, str]] = {}
    rest = [label for label in order if label != host and label != UNKNOWN]
    informant = max(rest, key=lambda label: (spoken[label], -order.index(label)), default=None)
    for label in order:
        if label == host:
            result[label] = (INTERVIEWER, why)
        elif label == informant:
            result[label] = (INFORMANT, "speaks the most apart from the interviewer")
        elif label == UNKNOWN:
            result[label] = (OTHER, "speech no voice was found for")
        else:
            result[label] = (OTHER, "a further voice")
    return result


def guess_roles(
    session: Session,
    transcript_id: int,
    segments: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime,
) -> list[SpeakerInfo]:
    """Store the first guess of each speaker's role when a transcript is made (not confirmed).

    Speakers the researcher already confirmed keep their role.
    """
    transcript = _transcript(session, transcript_id)
    recording = session.get(Recording, transcript.recording_id)
    assert recording is not None
    languages = load_definition(session, recording.study_id).languages
    guessed = guess(
        segments,
        track_count=len(recording.tracks),
        host_track=recording.host_track,
        labels=_track_labels(len(recording.tracks)) if len(recording.tracks) > 1 else (),
        languages=languages,
    )
    rows = {row.label: row for row in _rows(session, transcript_id)}
    for label, (role, why) in guessed.items():
        row = rows.get(label)
        if row is None:
            row = TranscriptSpeaker(transcript_id=transcript_id, label=label)
            session.add(row)
            rows[label] = row
        elif row.confirmed:
            continue
        row.role, row.confirmed, row.guessed_because = role, False, why[:200]
        row.updated_at = now
    session.flush()
    return [_info(rows[label]) for label in sorted(rows)]


def retrack(session: Session, recording_id: int, *, now: dt.datetime) -> None:
    """Guess a multi-track recording's roles again after its host track changed.

    Only speakers nobody confirmed change; on tracks the host decides, so no text is needed.
    """
    recording = session.get(Recording, recording_id)
    transcript = session.scalar(select(Transcript).where(Transcript.recording_id == recording_id))
    if recording is None or transcript is None or len(recording.tracks) < 2:
        return
    labels = _track_labels(len(recording.tracks))
    guessed = guess(
        [], track_count=len(recording.tracks), host_track=recording.host_track, labels=labels
    )
    rows = {row.label: row for row in _rows(session, transcript.id)}
    for label, (role, why) in guessed.items():
        row = rows.get(label)
        if row is None:
            row = TranscriptSpeaker(transcript_id=transcript.id, label=label)
            session.add(row)
        elif row.confirmed:
            continue
        row.role, row.confirmed, row.guessed_because, row.updated_at = role, False, why, now
    session.flush()


def export_speakers(
    session: Session, transcript_id: int, segments: Sequence[Mapping[str, Any]] = ()
) -> dict[str, tuple[str, str | None]]:
    """Label -> (role, display) of a transcript's speakers, for the exporter.

    A transcript made before roles were stored has none: the first guess is made from
    ``segments`` (the approved text) as the job would have made it, and nothing is stored.
    """
    rows = _rows(session, transcript_id)
    if rows or not segments:
        return {row.label: (row.role, row.display) for row in rows}
    transcript = _transcript(session, transcript_id)
    recording = session.get(Recording, transcript.recording_id)
    assert recording is not None
    guessed = guess(
        segments,
        track_count=len(recording.tracks),
        host_track=recording.host_track,
        languages=load_definition(session, recording.study_id).languages,
    )
    # Documents written with roles already ("interviewer", "informant") keep them.
    return {label: (role, None) for label, (role, _) in guessed.items() if _LABEL.match(label)}
