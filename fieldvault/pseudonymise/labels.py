"""Categories of replaced text and the placeholder labels, in the transcript's language."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What a replaced span was; the value is what JSON output and the redaction map carry."""

    OWN_NAME = "own_name"  # the informant's own names (from the vault) -> their pseudonym
    PERSON = "person"  # other people -> [PERSON n], numbered consistently within a study
    WORKPLACE = "workplace"
    PLACE = "place"
    EMAIL = "email"
    PHONE = "phone"
    USERNAME = "username"
    URL = "url"
    ADDRESS = "address"
    NATIONAL_ID = "national_id"  # fødselsnummer, D-number, H-number
    ORG_NUMBER = "org_number"
    BIRTH_DATE = "birth_date"
    OTHER = "other"  # a study term that is neither a person, a workplace nor a place


# Categories that become a fixed label (persons are numbered, own names get the pseudonym).
_LABELS: dict[str, dict[Category, str]] = {
    "nb": {
        Category.PERSON: "PERSON",
        Category.WORKPLACE: "ARBEIDSPLASS",
        Category.PLACE: "STED",
        Category.EMAIL: "E-POST",
        Category.PHONE: "TELEFON",
        Category.USERNAME: "BRUKERNAVN",
        Category.URL: "NETTADRESSE",
        Category.ADDRESS: "ADRESSE",
        Category.NATIONAL_ID: "FØDSELSNUMMER",
        Category.ORG_NUMBER: "ORGANISASJONSNUMMER",
        Category.BIRTH_DATE: "FØDSELSDATO",
        Category.OTHER: "SKJULT",
    },
    "nn": {
        Category.PERSON: "PERSON",
        Category.WORKPLACE: "ARBEIDSSTAD",
        Category.PLACE: "STAD",
        Category.EMAIL: "E-POST",
        Category.PHONE: "TELEFON",
        Category.USERNAME: "BRUKARNAMN",
        Category.URL: "NETTADRESSE",
        Category.ADDRESS: "ADRESSE",
        Category.NATIONAL_ID: "FØDSELSNUMMER",
        Category.ORG_NUMBER: "ORGANISASJONSNUMMER",
        Category.BIRTH_DATE: "FØDSELSDATO",
        Category.OTHER: "SKJULT",
    },
    "en": {
        Category.PERSON: "PERSON",
        Category.WORKPLACE: "WORKPLACE",
        Category.PLACE: "PLACE",
        Category.EMAIL: "EMAIL",
        Category.PHONE: "PHONE",
        Category.USERNAME: "USERNAME",
        Category.URL: "URL",
        Category.ADDRESS: "ADDRESS",
        Category.NATIONAL_ID: "NATIONAL ID NUMBER",
        Category.ORG_NUMBER: "ORGANISATION NUMBER",
        Category.BIRTH_DATE: "DATE OF BIRTH",
        Category.OTHER: "REDACTED",
    },
}


def normalise_language(language: str | None) -> str:
    """nb, nn or en; Whisper's "no" and anything unknown read as bokmål."""
    lang = (language or "nb").lower()
    if lang in {"nn", "en"}:
        return lang
    return "nb"


def label(category: Category, language: str, number: int | None = None) -> str:
    """The placeholder for ``category`` in ``language``: ``[STED]``, ``[PERSON 3]``."""
    text = _LABELS[normalise_language(language)][category]
    return f"[{text} {number}]" if number is not None else f"[{text}]"
