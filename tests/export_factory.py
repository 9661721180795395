"""Builds ExportStudy objects for the export tests and the benchmark (no database needed)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from fieldvault.config.study import StudyDefinition, load_study
from fieldvault.export.model import ExportSegment, ExportStudy, ExportTranscript

EXAMPLE = Path(__file__).parents[1] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
APPROVED = dt.datetime(2021, 4, 20, 12, 0, tzinfo=dt.UTC)

# Turns of a short interview; the interviewer's lines include two questions of the guide.
DIALOGUE: list[tuple[str, str]] = [
    ("interviewer", "Takk for at du stiller opp. Kan du først fortelle litt om deg selv?"),
    ("informant", "Ja, jeg er utdannet sosionom og har jobbet på kontoret i åtte år."),
    ("informant", "Før det var jeg på et behandlingssted i fire år."),
    (
        "interviewer",
        "Fortell om hvordan du bygger tillit i møte med en ny bruker.",
    ),
    ("informant", "Det handler om å være ærlig, å møte folk der de er, og å følge opp."),
    ("interviewer", "Hva har endret seg i arbeidet ditt etter at mer av kontakten ble digital?"),
    ("informant", "Vi får færre møter ansikt til ansikt; det gjør det vanskeligere å bli kjent."),
    ("informant", "Men aktivitetsplanen gir en felles oversikt, så det går begge veier."),
]

_WORDS = (
    "jeg", "vi", "det", "som", "er", "på", "og", "i", "å", "en", "ikke", "har", "med", "for",
    "til", "brukeren", "veileder", "kontoret", "møte", "tillit", "digital", "oppfølging",
    "skjønn", "regelverket", "samarbeid", "aktivitetsplan", "arbeidsgiver", "kollega",
    "erfaring", "hverdag", "samtale", "tiltak", "økonomi", "færre", "større", "åpenhet",
)  # fmt: skip


def definition() -> StudyDefinition:
    """The example study (nav-veileder), as the tests everywhere else use it."""
    return load_study(EXAMPLE)


def transcript(
    code: str = "P-7K3QXM",
    pseudonym: str | None = "Kari",
    dialogue: list[tuple[str, str]] | None = None,
    *,
    start: float = 2.0,
    step: float = 6.5,
    date: dt.date | None = dt.date(2021, 3, 10),
    approved_at: dt.datetime | None = APPROVED,
    variables: dict[str, str | int] | None = None,
) -> ExportTranscript:
    """A transcript whose segments start at ``start`` and follow each other every ``step`` s."""
    lines = DIALOGUE if dialogue is None else dialogue
    segments = [
        ExportSegment(start + i * step, start + i * step + step - 0.8, speaker, text)
        for i, (speaker, text) in enumerate(lines)
    ]
    return ExportTranscript(
        participant_code=code,
        pseudonym=pseudonym,
        variables=variables
        if variables is not None
        else {"utdanning": "sosionom", "aldersgruppe": "35-49", "kontor": "A", "erfaring_ar": 8},
        interview_date=date,
        duration_s=segments[-1].end + 3.0 if segments else 0.0,
        language="nb",
        segments=segments,
        approved_at=approved_at,
    )


def study(*transcripts: ExportTranscript) -> ExportStudy:
    """The example study with these transcripts (two default ones when none are given)."""
    chosen = transcripts or (
        transcript(),
        transcript(
            "P-9M2WQR",
            "Lars",
            date=dt.date(2021, 3, 12),
            variables={"utdanning": "barnevernspedagog"},
        ),
    )
    return ExportStudy(definition(), list(chosen), as_of=APPROVED)


def long_transcript(number: int, minutes: int = 60, words: int = 9000) -> ExportTranscript:
    """A generated interview of ``minutes`` minutes and about ``words`` words (benchmark)."""
    rng = random.Random(number)
    segments: list[ExportSegment] = []
    spoken = 0
    clock = 1.0
    seconds = minutes * 60.0
    per_segment = max(words // 600, 5)
    speaker = "interviewer"
    while spoken < words and clock < seconds:
        count = rng.randint(per_segment // 2, per_segment * 3 // 2)
        text = " ".join(rng.choice(_WORDS) for _ in range(count)).capitalize() + "."
        length = seconds * count / words
        segments.append(ExportSegment(clock, clock + length * 0.95, speaker, text))
        clock += length
        spoken += count
        if rng.random() < 0.3:
            speaker = "informant" if speaker == "interviewer" else "interviewer"
    return ExportTranscript(
        participant_code=f"P-{number:06d}",
        pseudonym=f"Informant {number}",
        variables={"utdanning": "sosionom", "erfaring_ar": number % 30},
        interview_date=dt.date(2021, 3, 1) + dt.timedelta(days=number % 60),
        duration_s=seconds,
        language="nb",
        segments=segments,
        approved_at=APPROVED,
    )
