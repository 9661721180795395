"""The study definition: one TOML file per study, validated with every problem reported at once.

A study file is written by a researcher, not a programmer, so validation speaks plainly: each
problem names the field (a dotted path such as ``consent_items[1].text.nn``, lists counted from 0)
and says what is wrong and what to do. Loading never stops at the first mistake.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import hashlib
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fieldvault.config.languages import DETECT, interview_language
from fieldvault.errors import FieldvaultError

LANGUAGES: tuple[str, ...] = ("nb", "nn", "en")
LANGUAGE_NAMES = {"nb": "bokmål", "nn": "nynorsk", "en": "English"}

# What a consent item can allow. A fixed set, because code elsewhere asks "may we record?" by
# capability, never by an item id the researcher happened to choose.
CAPABILITIES: tuple[str, ...] = (
    "audio_recording",
    "video_recording",
    "identifiable_publication",
    "archiving",
    "recontact",
    "other",
)
Capability = Literal[
    "audio_recording",
    "video_recording",
    "identifiable_publication",
    "archiving",
    "recontact",
    "other",
]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_VARIABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,}$")

# Identifies our own whole-study consistency error inside pydantic's error list, so parse_study
# can drop it in favour of the same checks run on the raw data (which also run when fields fail).
_CONSISTENCY = "fieldvault_study_consistency"


class StudyLookupError(FieldvaultError, LookupError):
    """A language or consent item the study does not declare was asked for."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a study file: where (dotted field path) and what to do about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class StudyValidationError(FieldvaultError):
    """A study file has one or more problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem], source: str = "<study>") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{self.source}: {count} {noun} in the study definition:"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


# --- dates --------------------------------------------------------------------------------------

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})(?:\s+|/)(\d{4})$")


def _impossible_date_message(text: str, year: int, month: int, day: int) -> str | None:
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
    problem = _impossible_date_message(stripped, year, month, day)
    if problem is not None:
        raise ValueError(problem)
    return dt.date(year, month, day)


def _coerce_date(value: object) -> object:
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


StudyDate = Annotated[dt.date, BeforeValidator(_coerce_date)]


# --- small value types --------------------------------------------------------------------------


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty; write the text")
    return value


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a valid id; use 2 to 63 lowercase letters (a-z), digits and "
            "hyphens, starting with a letter or digit, e.g. nav-veileder"
        )
    return value


def _language(value: str) -> str:
    if value not in LANGUAGES:
        hint = " (Norwegian is nb for bokmål or nn for nynorsk)" if value in {"no", "nob"} else ""
        raise ValueError(f"{value!r} is not a supported language; use nb, nn or en{hint}")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} does not look like an e-mail address, e.g. name@example.org")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value.strip()):
        raise ValueError(
            f'{value!r} does not look like a phone number; write digits, e.g. "+47 700 00 000"'
        )
    return value


def _org_number(value: str) -> str:
    if not re.fullmatch(r"\d{9}", value.replace(" ", "")):
        raise ValueError(
            f"{value!r} is not a Norwegian organisation number; write its 9 digits, "
            'e.g. "971 000 000"'
        )
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"{value!r} is not a known timezone; use an IANA name such as Europe/Oslo"
        ) from exc
    return value


def _localised(value: object) -> str | dict[str, str]:
    # A plain text (one language, e.g. a researcher-only guide) or a table language -> text.
    if isinstance(value, str):
        return _non_blank(value)
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        for lang, text in value.items():
            if not text.strip():
                raise ValueError(f"the {lang} text is empty; write it")
        return dict(value)
    raise ValueError(
        'should be a text, or a table of texts per language, e.g. {nb = "...", en = "..."}'
    )


NonBlank = Annotated[str, AfterValidator(_non_blank)]
Slug = Annotated[str, AfterValidator(_slug)]
Language = Annotated[str, AfterValidator(_language)]


def _transcription_language(value: str) -> str:
    interview_language(value)  # raises UnknownLanguage (a ValueError) with the explanation
    return value


Email = Annotated[str, AfterValidator(_email)]
Phone = Annotated[str, AfterValidator(_phone)]
Localised = Annotated[str | dict[str, str], PlainValidator(_localised)]
# Per-language texts; which languages must be present is checked against `languages` as a whole.
Translations = dict[str, NonBlank]


class _Model(BaseModel):
    # Unknown keys are almost always typos; strict, because TOML already has real types and a
    # phone number written as a bare integer has lost its "+47" or leading zero.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- the parts of a study -----------------------------------------------------------------------


class Institution(_Model):
    """The data controller: the institution responsible for the project."""

    name: NonBlank
    org_number: Annotated[str, AfterValidator(_org_number)] | None = None


class Assessment(_Model):
    """The data-protection assessment of the project (in Norway usually by Sikt, formerly NSD)."""

    body: NonBlank = "Sikt"
    reference: NonBlank | None = None


class Contact(_Model):
    """A person or office informants can reach."""

    name: NonBlank
    email: Email | None = None
    phone: Phone | None = None
    role: NonBlank | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if self.email is None and self.phone is None:
            raise ValueError("has neither email nor phone; give informants a way to reach them")
        return self


def _datatilsynet() -> Contact:
    # Datatilsynet's public switchboard and post box, as published on datatilsynet.no.
    return Contact(
        name="Datatilsynet",
        email="postkasse@datatilsynet.no",
        phone="+47 22 39 69 00",
        role="complaint authority",
    )


class Contacts(_Model):
    """Everyone the information letter names as a contact."""

    researchers: Annotated[list[Contact], Field(min_length=1)]
    supervisor: Contact | None = None
    data_protection_officer: Contact
    assessment_body: Contact | None = None
    complaint_authority: Contact = Field(default_factory=_datatilsynet)


class ConsentItem(_Model):
    """One thing an informant can say yes or no to, e.g. "interview with audio recording"."""

    id: Slug
    text: Translations
    required: bool
    permits: Annotated[list[Capability], Field(min_length=1)]


class Theme(_Model):
    """A theme of the interview guide with its questions."""

    id: Slug
    title: Localised
    questions: list[Localised] = Field(default_factory=list)


class InterviewGuide(_Model):
    """The (semi-)structured interview guide."""

    themes: list[Theme] = Field(default_factory=list)


class Code(_Model):
    """A code of the codebook used when coding transcripts."""

    name: NonBlank
    description: NonBlank
    colour: Annotated[str, Field(pattern=_COLOUR.pattern)] | None = None
    parent: NonBlank | None = None


class Codebook(_Model):
    """The codes transcripts are coded with."""

    codes: list[Code] = Field(default_factory=list)


class ParticipantVariable(_Model):
    """A research variable recorded per participant (education, age band, ...); never identity."""

    name: Annotated[str, Field(pattern=_VARIABLE_NAME.pattern)]
    description: NonBlank
    type: Literal["text", "choice", "integer"] = "text"
    choices: list[NonBlank] | None = None


class Policies(_Model):
    """What fieldvault does on withdrawal and at deadlines."""

    # Default "delete": withdrawing means "take my contribution out" to most informants, and
    # deleting is never a broken promise, whereas keeping can be. The seed study's form promised
    # instead that material from someone who withdraws after the interview is *anonymised*,
    # i.e. kept once identity and recordings are gone; a study whose letter says so sets "keep"
    # (the example does). "keep" still destroys the recording, raw transcript and linkage entry.
    on_withdrawal_pseudonymised: Literal["keep", "delete"] = "delete"
    # An unapproved transcript may still hold names, so at the deadline it goes with the rest.
    on_deadline_unapproved: Literal["delete"] = "delete"
    reminder_days: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [30, 7, 1])


_LEGAL_BASIS_SENTENCES: dict[str, dict[str, str]] = {
    "consent": {
        "nb": "Vi behandler opplysninger om deg basert på samtykket ditt.",
        "nn": "Vi behandlar opplysningar om deg basert på samtykket ditt.",
        "en": "We process information about you based on your consent.",
    },
    "public_interest": {
        "nb": "Vi behandler opplysninger om deg fordi forskningen er en oppgave i allmennhetens "
        "interesse (personvernforordningen artikkel 6 nr. 1 bokstav e). Du kan likevel når som "
        "helst trekke deg fra prosjektet.",
        "nn": "Vi behandlar opplysningar om deg fordi forskinga er ei oppgåve i ålmenta si "
        "interesse (personvernforordninga artikkel 6 nr. 1 bokstav e). Du kan likevel når som "
        "helst trekkje deg frå prosjektet.",
        "en": "We process information about you because the research is a task carried out in "
        "the public interest (GDPR Article 6(1)(e)). You can still withdraw from the project at "
        "any time.",
    },
}


class StudyDefinition(_Model):
    """A whole study: who is responsible, what informants are told and asked, and deadlines."""

    id: Slug
    title: NonBlank
    research_question: NonBlank
    institution: Institution
    assessment: Assessment
    # Public interest changes only what informants are told; fieldvault still records each
    # consent decision, because research ethics asks for consent even when the GDPR basis is not.
    legal_basis: Literal["consent", "public_interest"] = "consent"
    contacts: Contacts
    languages: Annotated[list[Language], Field(min_length=1)]
    letter: Translations
    consent_items: Annotated[list[ConsentItem], Field(min_length=1)]
    start_date: StudyDate
    project_end: StudyDate
    processing_end: StudyDate
    processing_end_reason: NonBlank | None = None
    timezone: Annotated[str, AfterValidator(_timezone)] = "Europe/Oslo"
    # What the interviews are spoken in, for Whisper; an upload may say otherwise.
    transcription_language: Annotated[str, AfterValidator(_transcription_language)] = DETECT
    interview_guide: InterviewGuide = Field(default_factory=InterviewGuide)
    codebook: Codebook = Field(default_factory=Codebook)
    participant_variables: list[ParticipantVariable] = Field(default_factory=list)
    pseudonym_pool: list[NonBlank] | None = None
    policies: Policies = Field(default_factory=Policies)

    @model_validator(mode="after")
    def _consistent(self) -> StudyDefinition:
        # The same checks parse_study runs on raw data, so a definition built in code holds too.
        problems = _cross_checks(self.model_dump())
        if problems:
            raise PydanticCustomError(_CONSISTENCY, "; ".join(str(p) for p in problems))
        return self

    @property
    def default_language(self) -> str:
        """The language shown when an informant has not chosen one: the first declared."""
        return self.languages[0]

    def _check_language(self, lang: str) -> None:
        if lang not in self.languages:
            raise StudyLookupError(
                f"study {self.id!r} has no language {lang!r}; it has {', '.join(self.languages)}"
            )

    def letter_text(self, lang: str) -> str:
        """Return the information letter for ``lang`` exactly as written in the study file."""
        self._check_language(lang)
        return self.letter[lang]

    def letter_version(self, lang: str) -> str:
        """SHA-256 (hex) of the exact UTF-8 letter text for ``lang``."""
        # No normalisation (whitespace, line endings, Unicode NFC): the version must identify
        # exactly the text the informant was shown. Normalising would let two texts that look
        # different share a version, and a consent record could then point at a text nobody saw.
        return hashlib.sha256(self.letter_text(lang).encode("utf-8")).hexdigest()

    def legal_basis_sentence(self, lang: str) -> str:
        """Return the sentence telling informants the legal basis of the processing."""
        self._check_language(lang)
        return _LEGAL_BASIS_SENTENCES[self.legal_basis][lang]

    def item(self, item_id: str) -> ConsentItem:
        """Return the consent item ``item_id``."""
        for item in self.consent_items:
            if item.id == item_id:
                return item
        known = ", ".join(i.id for i in self.consent_items)
        raise StudyLookupError(f"study {self.id!r} has no consent item {item_id!r}; it has {known}")

    @property
    def required_item_ids(self) -> frozenset[str]:
        """Ids of the items an informant must accept to take part."""
        return frozenset(item.id for item in self.consent_items if item.required)

    @property
    def recording_item_id(self) -> str:
        """Id of the one item that permits audio recording."""
        # Validation guarantees exactly one.
        return next(i.id for i in self.consent_items if "audio_recording" in i.permits)


# --- cross-field checks on raw data -------------------------------------------------------------
# These run on the raw TOML dict, defensively, so they report even when other fields are broken:
# a researcher fixing a file should see every mistake in one go.


def _path(*parts: str | int) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _declared_languages(raw: Mapping[str, Any]) -> list[str]:
    seen: list[str] = []
    for lang in _as_list(raw.get("languages")):
        if lang in LANGUAGES and lang not in seen:
            seen.append(lang)
    return seen


def _check_translations(
    where: str, texts: object, languages: Sequence[str], what: str
) -> list[Problem]:
    if not isinstance(texts, dict) or not languages:
        return []
    problems = []
    for lang in languages:
        if lang not in texts:
            problems.append(
                Problem(
                    _path(where, lang),
                    f"{what} has no {LANGUAGE_NAMES[lang]} ({lang}) text; every language in "
                    f'`languages` needs one: add {lang} = "..."',
                )
            )
    for lang in texts:
        if lang not in languages:
            problems.append(
                Problem(
                    _path(where, lang),
                    f"{lang!r} is not one of the study's languages ({', '.join(languages)}); "
                    "remove this text or add the language to `languages`",
                )
            )
    return problems


def _check_duplicates(
    list_name: str, entries: Iterable[object], key: str, what: str, fold: bool = False
) -> list[Problem]:
    first: dict[object, int] = {}
    problems = []
    for index, entry in enumerate(entries):
        value = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(value, str):
            continue
        folded = value.casefold() if fold else value
        if folded in first:
            problems.append(
                Problem(
                    _path(list_name, index, key),
                    f"{what} {value!r} is used twice (also at {_path(list_name, first[folded])}); "
                    "each must be unique: rename or remove one",
                )
            )
        else:
            first[folded] = index
    return problems


def _date_or_none(value: object) -> dt.date | None:
    try:
        result = _coerce_date(value)
    except ValueError:
        return None  # already reported by field validation
    return result if isinstance(result, dt.date) else None


def _check_dates(raw: Mapping[str, Any]) -> list[Problem]:
    problems = []
    start = _date_or_none(raw.get("start_date"))
    project_end = _date_or_none(raw.get("project_end"))
    processing_end = _date_or_none(raw.get("processing_end"))
    for name, end in (("project_end", project_end), ("processing_end", processing_end)):
        if start is not None and end is not None and end < start:
            problems.append(
                Problem(
                    name,
                    f"{end} is before start_date ({start}); an end date must be on or after "
                    "the start: correct one of them",
                )
            )
    if project_end is not None and processing_end is not None and processing_end > project_end:
        reason = raw.get("processing_end_reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                Problem(
                    "processing_end_reason",
                    f"processing_end ({processing_end}) is after project_end ({project_end}), "
                    "which needs a reason informants can be told (e.g. follow-up study); "
                    "write processing_end_reason or set processing_end to project_end",
                )
            )
    return problems


def _check_consent_items(items: list[Any], languages: Sequence[str]) -> list[Problem]:
    problems = _check_duplicates("consent_items", items, "id", "consent item id")
    recording: list[int] = []
    for index, item in enumerate(items):
        item = _as_dict(item)
        problems += _check_translations(
            _path("consent_items", index, "text"), item.get("text"), languages, "this consent item"
        )
        permits = _as_list(item.get("permits"))
        if "audio_recording" in permits:
            recording.append(index)
        repeated = sorted({p for p in permits if isinstance(p, str) and permits.count(p) > 1})
        if repeated:
            problems.append(
                Problem(
                    _path("consent_items", index, "permits"),
                    f"lists {', '.join(repeated)} more than once; list each capability once",
                )
            )
    if items and not recording:
        problems.append(
            Problem(
                "consent_items",
                'no consent item permits "audio_recording"; add permits = ["audio_recording"] '
                "to the item for the recorded interview (fieldvault accepts no recording "
                "without it)",
            )
        )
    for index in recording[1:]:
        problems.append(
            Problem(
                _path("consent_items", index, "permits"),
                "a second item permits audio_recording (also "
                f"consent_items[{recording[0]}]); exactly one item may: merge them or remove one",
            )
        )
    return problems


def _check_guide(guide: Mapping[str, Any], languages: Sequence[str]) -> list[Problem]:
    themes = _as_list(guide.get("themes"))
    problems = _check_duplicates("interview_guide.themes", themes, "id", "theme id")
    for index, theme in enumerate(themes):
        theme = _as_dict(theme)
        where = _path("interview_guide.themes", index)
        problems += _check_translations(
            _path(where, "title"), theme.get("title"), languages, "this theme title"
        )
        for q_index, question in enumerate(_as_list(theme.get("questions"))):
            problems += _check_translations(
                _path(where, "questions", q_index), question, languages, "this question"
            )
    return problems


def _check_codebook(codebook: Mapping[str, Any]) -> list[Problem]:
    codes = _as_list(codebook.get("codes"))
    problems = _check_duplicates("codebook.codes", codes, "name", "code name")
    parents = {
        code["name"]: code.get("parent")
        for code in codes
        if isinstance(code, dict) and isinstance(code.get("name"), str)
    }
    for index, code in enumerate(codes):
        code = _as_dict(code)
        parent = code.get("parent")
        if not isinstance(parent, str):
            continue
        where = _path("codebook.codes", index, "parent")
        if parent not in parents:
            close = difflib.get_close_matches(parent, list(parents), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(Problem(where, f"{parent!r} is not a code in the codebook{hint}"))
            continue
        # Follow the parent chain; coming back to this code means a cycle. A loop further up
        # that does not pass through this code is reported by the codes on it.
        name = code.get("name")
        seen: set[str] = set()
        current: object = parent
        while isinstance(current, str) and current in parents and current not in seen:
            if current == name:
                problems.append(
                    Problem(
                        where,
                        f"parent {parent!r} leads back to {name!r}; codes cannot "
                        "be their own ancestors: remove one parent",
                    )
                )
                break
            seen.add(current)
            current = parents[current]
    return problems


def _check_variables(variables: list[Any]) -> list[Problem]:
    problems = _check_duplicates("participant_variables", variables, "name", "variable name")
    for index, var in enumerate(variables):
        var = _as_dict(var)
        where = _path("participant_variables", index, "choices")
        kind = var.get("type", "text")
        choices = var.get("choices")
        if kind == "choice" and not _as_list(choices):
            problems.append(
                Problem(where, 'a choice variable needs its choices, e.g. choices = ["a", "b"]')
            )
        elif kind in ("text", "integer") and choices is not None:
            problems.append(
                Problem(
                    where,
                    f'only type = "choice" takes choices (this one is {kind!r}); '
                    "remove them or set type to choice",
                )
            )
        if isinstance(choices, list):
            repeated = sorted({c for c in choices if isinstance(c, str) and choices.count(c) > 1})
            if repeated:
                problems.append(
                    Problem(where, f"lists {', '.join(repeated)} more than once; list each once")
                )
    return problems


def _check_pool(pool: object) -> list[Problem]:
    names = [{"name": n} for n in _as_list(pool)]
    return [
        Problem(p.field.replace(".name", ""), p.message)
        for p in _check_duplicates("pseudonym_pool", names, "name", "pseudonym", fold=True)
    ]


def _check_languages(raw: Mapping[str, Any]) -> list[Problem]:
    langs = _as_list(raw.get("languages"))
    problems = []
    for index, lang in enumerate(langs):
        if isinstance(lang, str) and langs.index(lang) < index:
            problems.append(
                Problem(_path("languages", index), f"{lang!r} is listed twice; list it once")
            )
    return problems


def _check_reminders(policies: Mapping[str, Any]) -> list[Problem]:
    days = _as_list(policies.get("reminder_days"))
    repeated = sorted({d for d in days if isinstance(d, int) and days.count(d) > 1})
    if repeated:
        listed = ", ".join(str(d) for d in repeated)
        return [
            Problem("policies.reminder_days", f"{listed} listed more than once; list each once")
        ]
    return []


def _cross_checks(raw: Mapping[str, Any]) -> list[Problem]:
    """Check what spans fields (translations, uniqueness, dates), tolerating broken fields."""
    languages = _declared_languages(raw)
    problems = _check_languages(raw)
    problems += _check_translations("letter", raw.get("letter"), languages, "the letter")
    problems += _check_consent_items(_as_list(raw.get("consent_items")), languages)
    problems += _check_dates(raw)
    problems += _check_guide(_as_dict(raw.get("interview_guide")), languages)
    problems += _check_codebook(_as_dict(raw.get("codebook")))
    problems += _check_variables(_as_list(raw.get("participant_variables")))
    problems += _check_pool(raw.get("pseudonym_pool"))
    problems += _check_reminders(_as_dict(raw.get("policies")))
    return problems


# --- turning pydantic's errors into plain words -------------------------------------------------

_TYPE_WORDS = {
    "string_type": 'should be text in quotes, e.g. "..."',
    "bool_type": "should be true or false (without quotes)",
    "int_type": "should be a whole number (without quotes)",
    "list_type": 'should be a list, e.g. ["a", "b"]',
    "dict_type": "should be a table (a [section] or {key = value})",
    "model_type": "should be a table (a [section] or {key = value})",
    "model_attributes_type": "should be a table (a [section] or {key = value})",
}


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional around a type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """Find the model class at ``loc``, to suggest the keys it allows."""
    current: Any = StudyDefinition
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif origin is list:
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unknown_key_message(key: str, owner: type[BaseModel] | None) -> str:
    allowed = list(owner.model_fields) if owner is not None else []
    close = _suggestion(key, owner)
    if close is not None:
        return f"unknown key {key!r}; did you mean {close!r}?"
    if owner is not StudyDefinition and key in StudyDefinition.model_fields:
        # The classic TOML slip: a top-level key written below a [section] belongs to it.
        return (
            f"unknown key {key!r} here; it is a top-level key: move it above the first "
            "[section] of the file"
        )
    if allowed:
        return f"unknown key {key!r}; remove it (allowed here: {', '.join(allowed)})"
    return f"unknown key {key!r}; remove it"


def _plain_message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if kind == "missing":
        if _model_at(loc) is not None:
            section = _path(*(part for part in loc if isinstance(part, str)))
            return f"is required but missing; add a [{section}] section"
        return f"is required but missing; add {loc[-1]} = ..."
    if kind == "extra_forbidden":
        return _unknown_key_message(str(loc[-1]), _model_at(loc[:-1]))
    if kind in {"value_error", "assertion_error"} and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        return f"{error['input']!r} is not allowed; use {ctx.get('expected', 'an allowed value')}"
    if kind == "too_short":
        return "should not be empty; add at least one entry"
    if kind == "greater_than":
        return f"should be greater than {ctx.get('gt')}"
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "colour":
            return f"{error['input']!r} is not a colour; write #RRGGBB, e.g. #1f77b4"
        if loc and loc[-1] == "name":
            return (
                f"{error['input']!r} is not a valid variable name; use lowercase letters, digits "
                "and _ starting with a letter, e.g. age_band"
            )
        return f"{error['input']!r} does not have the expected form"
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    return str(error["msg"])


def _suggestion(key: str, owner: type[BaseModel] | None) -> str | None:
    allowed = list(owner.model_fields) if owner is not None else []
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def _problems_from(exc: ValidationError) -> list[Problem]:
    errors = [e for e in exc.errors() if e["type"] != _CONSISTENCY]
    # A misspelt required key is one mistake, not two: report the unknown key (with the
    # suggestion) and leave out the "missing" of the key it was meant to be.
    meant: set[tuple[str | int, ...]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            suggestion = _suggestion(str(loc[-1]), _model_at(loc[:-1]))
            if suggestion is not None:
                meant.add((*loc[:-1], suggestion))
    problems = []
    for error in errors:
        if error["type"] == "missing" and tuple(error["loc"]) in meant:
            continue
        field = _path(*error["loc"]) or "(study)"
        problems.append(Problem(field, _plain_message(error)))
    return problems


# --- reading TOML -------------------------------------------------------------------------------

_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_DATE_LITERAL = re.compile(
    r"^(?P<head>\s*(?P<key>[A-Za-z0-9_.\-\"' ]+?)\s*=\s*)(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?P<tail>\s*(#.*)?)$"
)
_KEY_ON_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-\"']+)\s*=")
_LINE_IN_MESSAGE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _clean_key(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def _rescue_date_literals(text: str) -> tuple[str, list[Problem]]:
    """Find impossible TOML date literals, report them, and quote them so parsing can go on.

    tomllib stops at the first one with "Invalid date or datetime"; quoting lets the rest of
    the file be checked, and the string form is then refused again by the field itself (that
    duplicate is dropped in favour of this problem, which names the line).
    """
    problems: list[Problem] = []
    lines = text.split("\n")
    prefix = ""
    array_counts: dict[str, int] = {}
    in_multiline: str | None = None
    for number, line in enumerate(lines, start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if match := _ARRAY_TABLE.match(line):
            name = _clean_key(match.group(1))
            array_counts[name] = array_counts.get(name, -1) + 1
            prefix = f"{name}[{array_counts[name]}]"
        elif match := _TABLE.match(line):
            prefix = _clean_key(match.group(1))
        elif match := _DATE_LITERAL.match(line):
            year, month, day = (int(p) for p in match.group("date").split("-"))
            message = _impossible_date_message(match.group("date"), year, month, day)
            if message is not None:
                key = _clean_key(match.group("key"))
                field = f"{prefix}.{key}" if prefix else key
                problems.append(Problem(field, f"line {number}: {message}"))
                lines[number - 1] = (
                    f'{match.group("head")}"{match.group("date")}"{match.group("tail")}'
                )
        else:
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_multiline = quote
                    break
    return "\n".join(lines), problems


def _decode_problem(exc: tomllib.TOMLDecodeError, text: str) -> Problem:
    message = str(exc)
    where = _LINE_IN_MESSAGE.search(message)
    plain = _LINE_IN_MESSAGE.sub("", message).strip()
    if where is None:
        return Problem("(file)", f"not valid TOML: {plain}; check quotes and brackets")
    number = int(where.group(1))
    lines = text.split("\n")
    line = lines[number - 1] if number <= len(lines) else ""
    key_match = _KEY_ON_LINE.match(line)
    field = _clean_key(key_match.group(1)) if key_match else "(file)"
    return Problem(
        field,
        f"line {number}, column {where.group(2)}: not valid TOML ({plain}); "
        "check quotes, brackets and that text values are in quotes",
    )


def parse_study(text: str, source: str = "<study>") -> StudyDefinition:
    """Parse and validate a study definition from TOML text, reporting every problem at once."""
    text = text.removeprefix("\ufeff")  # a byte-order mark from some Windows editors
    rescued, problems = _rescue_date_literals(text)
    try:
        raw = tomllib.loads(rescued)
    except tomllib.TOMLDecodeError as exc:
        raise StudyValidationError([*problems, _decode_problem(exc, rescued)], source) from None
    try:
        definition = StudyDefinition.model_validate(raw)
    except ValidationError as exc:
        problems += _problems_from(exc)
        problems += _cross_checks(raw)
    else:
        # A rescued date literal may have landed in a text field and passed; still refuse it.
        if not problems:
            return definition
    # The date-literal problem already names the line; drop the field's echo of it.
    literal_fields = {p.field for p in problems if p.message.startswith("line ")}
    unique: list[Problem] = []
    for problem in problems:
        duplicate = problem.field in literal_fields and not problem.message.startswith("line ")
        if not duplicate and problem not in unique:
            unique.append(problem)
    raise StudyValidationError(sorted(unique, key=_file_order), source)


def _file_order(problem: Problem) -> int:
    # Report in the order the keys are documented, so related problems sit together;
    # sorted() is stable, so problems on one key keep their order.
    top = re.split(r"[.\[]", problem.field, maxsplit=1)[0]
    fields = list(StudyDefinition.model_fields)
    return fields.index(top) if top in fields else len(fields)


def load_study(path: Path) -> StudyDefinition:
    """Read and validate the study file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyValidationError(
            [Problem("(file)", f"{path} does not exist; check the path")], str(path)
        ) from None
    except UnicodeDecodeError:
        raise StudyValidationError(
            [Problem("(file)", "is not UTF-8 text; save it as UTF-8 in your editor")], str(path)
        ) from None
    return parse_study(text, source=str(path))
