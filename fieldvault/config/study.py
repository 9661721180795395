"""The study definition: one TOML file per study, validated with every problem reported at once.

A study file is written by a researcher, not a programmer, so validation speaks plainly: each
problem names the field (a dotted path such as ``consent_items[1].text.nn``, lists counted from 0)
and says what is wrong and what to do. Loading never stops at the first mistake.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fieldvault.config.languages import DETECT, LANGUAGE_NAMES, LANGUAGES, interview_language
from fieldvault.config.study_checks import cross_checks
from fieldvault.config.study_dates import StudyDate, parse_date_text
from fieldvault.config.study_limits import DEFAULT_LIMITS, StudyLimits, limit_problems
from fieldvault.config.study_messages import CONSISTENCY_ERROR, problems_from
from fieldvault.config.study_problems import Problem, StudyLookupError, StudyValidationError
from fieldvault.config.study_toml import decode_problem, rescue_date_literals
from fieldvault.config.text_checks import email_problem, phone_problem

# Everything the study's modules offer, importable from here as before they were split.
__all__ = [
    "CAPABILITIES",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "Assessment",
    "Capability",
    "Code",
    "Codebook",
    "ConsentItem",
    "Contact",
    "Contacts",
    "Institution",
    "InterviewGuide",
    "ParticipantVariable",
    "Policies",
    "Problem",
    "StudyDate",
    "StudyDefinition",
    "StudyLimits",
    "StudyLookupError",
    "StudyValidationError",
    "Theme",
    "load_study",
    "parse_date_text",
    "parse_study",
    "read_study_text",
]

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
    if why := email_problem(value):
        raise ValueError(f"{value!r} {why}")
    return value


def _phone(value: str) -> str:
    if why := phone_problem(value):
        raise ValueError(f"{value!r} {why}")
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


# The most speakers diarization is asked to find in one recording (a group interview at most).
MAX_SPEAKERS = 10


class Interviews(_Model):
    """How the study's interviews are held, as far as transcription needs to know."""

    # Voices in a single-track interview (diarization finds this many); an upload may say
    # otherwise. Per-speaker tracks are not diarized.
    speakers: Annotated[int, Field(ge=1, le=MAX_SPEAKERS)] = 2


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
    interviews: Interviews = Field(default_factory=Interviews)
    interview_guide: InterviewGuide = Field(default_factory=InterviewGuide)
    codebook: Codebook = Field(default_factory=Codebook)
    participant_variables: list[ParticipantVariable] = Field(default_factory=list)
    pseudonym_pool: list[NonBlank] | None = None
    policies: Policies = Field(default_factory=Policies)

    @model_validator(mode="after")
    def _consistent(self) -> StudyDefinition:
        # The same checks parse_study runs on raw data, so a definition built in code holds too.
        problems = cross_checks(self.model_dump())
        if problems:
            raise PydanticCustomError(CONSISTENCY_ERROR, "; ".join(str(p) for p in problems))
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


def parse_study(
    text: str, source: str = "<study>", *, limits: StudyLimits | None = DEFAULT_LIMITS
) -> StudyDefinition:
    """Parse and validate a study definition from TOML text, reporting every problem at once.

    ``limits`` bounds a new file's dates, sizes and characters (``config.study_limits``);
    a definition already registered is read back with ``limits=None``.
    """
    text = text.removeprefix("\ufeff")  # a byte-order mark from some Windows editors
    rescued, problems = rescue_date_literals(text)
    try:
        raw = tomllib.loads(rescued)
    except tomllib.TOMLDecodeError as exc:
        raise StudyValidationError([*problems, decode_problem(exc, rescued)], source) from None
    except RecursionError:  # tables nested thousands deep
        problem = Problem("(file)", "is nested too deeply to be a study file; check the brackets")
        raise StudyValidationError([*problems, problem], source) from None
    if limits is not None:
        problems += limit_problems(raw, limits)
    try:
        definition = StudyDefinition.model_validate(raw)
    except ValidationError as exc:
        problems += problems_from(exc, StudyDefinition)
        problems += cross_checks(raw)
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


def read_study_text(path: Path) -> str:
    """The study file at ``path`` as text, in Unicode NFC: what is stored and hashed.

    NFC makes a letter saved by an editor that decomposes letters (``a`` + ring above for
    ``å``) the same text as one typed precomposed, so the letter's SHA-256 is that of what
    informants see whichever editor wrote it.
    """
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
    except IsADirectoryError:
        raise StudyValidationError(
            [Problem("(file)", f"{path} is a folder; give the study file's path")], str(path)
        ) from None
    return unicodedata.normalize("NFC", text)


def load_study(path: Path, *, limits: StudyLimits | None = DEFAULT_LIMITS) -> StudyDefinition:
    """Read and validate the study file at ``path`` (NFC, held to ``limits``)."""
    return parse_study(read_study_text(path), source=str(path), limits=limits)
