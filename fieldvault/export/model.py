"""What an export is made of: the small input contract every writer reads.

The writers never touch the database. They read an :class:`ExportStudy` (the study definition
and its approved, pseudonymised transcripts), so they can be tested on objects built in code,
and whatever produces approved transcripts only has to fill these dataclasses (see
``fieldvault.export.collect``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from fieldvault.config.study import StudyDefinition
from fieldvault.errors import FieldvaultError

__all__ = [
    "ExportError",
    "ExportSegment",
    "ExportStudy",
    "ExportTranscript",
    "Turn",
    "clean_text",
    "file_stems",
    "label",
    "labelled",
    "localised",
    "speaker_label",
    "turns",
]

# Characters XML 1.0 cannot carry, and line breaks: one segment is one paragraph.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff\ufffe\uffff]")
_BREAKS = re.compile(r"\s*(?:\r\n|\r|\n|\u2028|\u2029)\s*")
_INTERVIEWER = re.compile(r"^interviewer(\d*)$")
_UNKNOWN = frozenset({"", "unknown"})
# No paragraph spans more than about this much speech: a coder codes paragraphs, and a
# 40-minute monologue in one paragraph cannot be coded in parts.
MAX_PARAGRAPH_S = 60.0


class ExportError(FieldvaultError):
    """An export cannot be made as asked; the message says why and never names a person."""


@dataclass(frozen=True, slots=True)
class ExportSegment:
    """One timed stretch of speech: seconds from the start of the recording, end exclusive."""

    start: float
    end: float
    speaker: str  # "interviewer", "informant", or another role such as "interviewer2"
    text: str


@dataclass(frozen=True)
class ExportTranscript:
    """One approved, pseudonymised interview transcript and what the coding tools show with it."""

    participant_code: str
    pseudonym: str | None
    variables: Mapping[str, str | int]
    interview_date: dt.date | None
    duration_s: float
    language: str
    segments: Sequence[ExportSegment]
    # When the researcher approved the pseudonymised text; the guard refuses None (rule 3).
    approved_at: dt.datetime | None = None
    # Who approved it: a researcher's label (the QDPX project's user), never an informant.
    approved_by: str | None = None
    # Interview metadata (domain/interviews.py): the interviewer's label and the mode.
    interviewer: str | None = None
    mode: str | None = None

    @property
    def display_name(self) -> str:
        """The pseudonym, or the participant code when there is none."""
        return self.pseudonym or self.participant_code

    @cached_property
    def clean_segments(self) -> tuple[ExportSegment, ...]:
        """The segments in time order with clean text, empty ones dropped (computed once)."""
        ordered = sorted(self.segments, key=lambda s: (s.start, s.end))
        cleaned = (ExportSegment(s.start, s.end, s.speaker, clean_text(s.text)) for s in ordered)
        return tuple(s for s in cleaned if s.text)

    @cached_property
    def speaker_labels(self) -> dict[str, str]:
        """Speaker -> label, filled by :func:`speaker_label` as writers ask."""
        return {}

    @cached_property
    def turns(self) -> tuple[Turn, ...]:
        """The paragraphs of the transcript (computed once; every writer reads them)."""
        return tuple(_merge(self.clean_segments))


@dataclass(frozen=True)
class ExportStudy:
    """A study definition and the transcripts to export, in a stable order."""

    definition: StudyDefinition
    transcripts: Sequence[ExportTranscript]
    # Stamped on every dated element (Notes, sources, zip entries) instead of the wall clock,
    # so exporting the same approved material twice gives the same bytes.
    as_of: dt.datetime = field(default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    @property
    def language(self) -> str:
        """The study's first language: the one headings and labels are written in."""
        return self.definition.languages[0]


@dataclass(frozen=True, slots=True)
class Turn:
    """Consecutive segments of one speaker, merged into one paragraph."""

    start: float
    end: float
    speaker: str
    text: str


def clean_text(text: str) -> str:
    """NFC, no control characters or byte-order marks, no line breaks inside a paragraph."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    return _BREAKS.sub(" ", text).strip()


def speaker_label(speaker: str, transcript: ExportTranscript) -> str:
    """``I`` for the interviewer, the pseudonym (or ``B1``) for the informant, else the role.

    An unknown speaker (one mixed recording track nobody attributed) has no label: ``""``.
    """
    labels = transcript.speaker_labels
    if speaker not in labels:
        labels[speaker] = _speaker_label(speaker, transcript)
    return labels[speaker]


def _speaker_label(speaker: str, transcript: ExportTranscript) -> str:
    if match := _INTERVIEWER.match(speaker):
        return "I" + match.group(1)
    if speaker == "informant":
        return clean_text(transcript.pseudonym) if transcript.pseudonym else "B1"
    if speaker in _UNKNOWN:
        return ""
    return clean_text(speaker)


def labelled(label: str, text: str) -> str:
    """``Label: text``, or the text alone when there is no label."""
    return f"{label}: {text}" if label else text


def turns(transcript: ExportTranscript) -> tuple[Turn, ...]:
    """The transcript as paragraphs: consecutive segments of one speaker joined, in time order."""
    return transcript.turns


def _merge(segments: Sequence[ExportSegment], longest: float = MAX_PARAGRAPH_S) -> list[Turn]:
    """One paragraph per speaker turn; a turn longer than ``longest`` is broken at its pauses."""
    runs: list[list[ExportSegment]] = []
    for segment in segments:
        if runs and runs[-1][-1].speaker == segment.speaker:
            runs[-1].append(segment)
        else:
            runs.append([segment])
    merged: list[Turn] = []
    for run in runs:
        for part in _at_pauses(run, longest):
            end = max(max(s.end for s in part), part[0].start)
            text = " ".join(s.text for s in part)
            merged.append(Turn(part[0].start, end, part[0].speaker, text))
    return merged


def _at_pauses(run: list[ExportSegment], longest: float) -> list[list[ExportSegment]]:
    """``run`` cut at its largest pause, again and again, until no part spans over ``longest``.

    A single segment is never cut: the approved text no longer lines up with the engine's word
    times (pseudonymisation and edits change words), and Whisper's segments last under 30 s.
    """
    parts: list[list[ExportSegment]] = []
    pending = [run]
    while pending:  # bounded: every cut makes two shorter, non-empty parts
        part = pending.pop()
        if len(part) == 1 or max(s.end for s in part) - part[0].start <= longest:
            parts.append(part)
            continue
        reach = [part[0].end]
        for segment in part[1:]:
            reach.append(max(reach[-1], segment.end))
        # Where speech pauses longest (gap between one segment's end and the next's start);
        # ties go to the cut nearest the middle, so the parts come out even.
        middle = (len(part) - 1) / 2
        cut = max(
            range(1, len(part)),
            key=lambda i: (part[i].start - reach[i - 1], -abs(i - 0.5 - middle)),
        )
        pending += [part[cut:], part[:cut]]
    return parts


_UNSAFE_IN_NAME = re.compile(r"[^\w\- ]+")


def file_stems(
    transcripts: Sequence[ExportTranscript], reserved: frozenset[str] = frozenset()
) -> list[str]:
    """One file name stem per transcript: the pseudonym (or code), made safe and unique."""
    stems: list[str] = []
    taken: set[str] = {name.casefold() for name in reserved}
    for transcript in transcripts:
        base = _UNSAFE_IN_NAME.sub("", clean_text(transcript.display_name)).strip(" .-")
        base = base or _UNSAFE_IN_NAME.sub("", transcript.participant_code) or "transcript"
        stem, number = base, 1
        while stem.casefold() in taken:
            number += 1
            stem = f"{base} {number}"
        taken.add(stem.casefold())
        stems.append(stem)
    return stems


# Headings and labels, in the study's first language.
LABELS: dict[str, dict[str, str]] = {
    "nb": {
        "pseudonym": "Pseudonym",
        "interview_date": "Intervjudato",
        "duration": "Varighet (min)",
        "total": "Totalt",
        "overview": "Oversikt over informantene",
        "guide": "Intervjuguide",
        "theme": "tema",
    },
    "nn": {
        "pseudonym": "Pseudonym",
        "interview_date": "Intervjudato",
        "duration": "Lengd (min)",
        "total": "Totalt",
        "overview": "Oversikt over informantane",
        "guide": "Intervjuguide",
        "theme": "tema",
    },
    "en": {
        "pseudonym": "Pseudonym",
        "interview_date": "Interview date",
        "duration": "Duration (min)",
        "total": "Total",
        "overview": "Participant overview",
        "guide": "Interview guide",
        "theme": "theme",
    },
}


def label(study: ExportStudy, key: str) -> str:
    """A heading or label in the study's first language (English when it has none)."""
    return LABELS.get(study.language, LABELS["en"])[key]


def localised(value: str | Mapping[str, str], language: str, fallback: Sequence[str]) -> str:
    """The text of a study field in ``language``, else in the first of ``fallback`` it has."""
    if isinstance(value, str):
        return value
    for lang in (language, *fallback):
        if lang in value:
            return value[lang]
    return next(iter(value.values()))
