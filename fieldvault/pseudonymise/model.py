"""What the engine is given and gives back: people, terms, spans, suspects and the numbering.

These are the engine's public types (re-exported by ``fieldvault.pseudonymise``); they hold no
detection logic, so the detection layers can share them without depending on one another.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from fieldvault.pseudonymise.labels import Category

TERM_CATEGORIES = (Category.PERSON, Category.WORKPLACE, Category.PLACE, Category.OTHER)


@dataclass(frozen=True)
class KnownPerson:
    """Someone the vault knows: every form of their name becomes ``pseudonym``."""

    names: tuple[str, ...]
    pseudonym: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return "KnownPerson(<redacted>)"

    @classmethod
    def from_identity(
        cls,
        name: str | None,
        pseudonym: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        username: str | None = None,
    ) -> KnownPerson:
        """Every usable form of a vault identity: full name, each part, contacts."""
        forms: list[str] = []
        if name:
            full = " ".join(name.split())
            forms.append(full)
            parts = [p for p in full.replace("-", " ").split() if len(p) > 1]
            forms.extend(p for p in full.split() if len(p) > 1)
            forms.extend(parts)
            if len(full.split()) > 2:  # first + last without middle names
                forms.append(f"{full.split()[0]} {full.split()[-1]}")
        return cls(
            names=tuple(dict.fromkeys(forms)),
            pseudonym=pseudonym,
            emails=(email,) if email else (),
            phones=(phone,) if phone else (),
            usernames=(username.lstrip("@"),) if username else (),
        )


@dataclass(frozen=True)
class Term:
    """A study term: text that must always be replaced (an office, a colleague, a village)."""

    text: str
    category: Category

    def __repr__(self) -> str:
        return f"Term(<redacted>, {self.category.value})"


@dataclass(frozen=True)
class Span:
    """One replacement and where it is.

    ``start``/``end`` are offsets in the output text (where the placeholder stands),
    ``source_start``/``source_end`` in the input. ``original`` never leaves the vault.
    """

    start: int
    end: int
    category: Category
    placeholder: str
    source_start: int
    source_end: int
    original: str = field(repr=False)

    def public(self) -> dict[str, object]:
        """What may be shown or stored outside the vault: no original text."""
        return {
            "start": self.start,
            "end": self.end,
            "category": self.category.value,
            "placeholder": self.placeholder,
        }


@dataclass(frozen=True)
class Suspect:
    """Something left in the text that a researcher should look at (offsets in the input)."""

    source_start: int
    source_end: int
    reason: str  # "capitalised" | "number"


@dataclass(frozen=True)
class Result:
    """The pseudonymised text, every replacement, and what was left for review."""

    text: str
    spans: list[Span]
    suspects: list[Suspect] = field(default_factory=list)


class PlaceholderBook:
    """Study-wide numbering of other people: the same name gets the same ``[PERSON n]``.

    Keys are case-folded name forms (the full name and each of its parts), so "Marte Olsen",
    "Marte" and "Olsen's" all find person 1. The book holds real names: it is stored sealed in
    the vault, never in the research database.
    """

    def __init__(self, persons: dict[str, int] | None = None, next_number: int = 1) -> None:
        """Start empty or from a stored state."""
        self.persons: dict[str, int] = dict(persons or {})
        self.next_number = max([next_number, *[n + 1 for n in self.persons.values()]])

    def __repr__(self) -> str:
        return f"PlaceholderBook(<{len(set(self.persons.values()))} persons>)"

    def number(self, parts: Sequence[str]) -> int:
        """The number of the person named by ``parts`` (e.g. ``["Marte", "Olsen"]``)."""
        keys = [p.casefold() for p in parts]
        full = " ".join(keys)
        number = self.persons.get(full)
        if number is None and len(keys) > 1:
            # "Marte Olsen" after "Marte": the same person. Surnames alone are too shared.
            number = self.persons.get(keys[0])
        if number is None:
            number = self.next_number
            self.next_number += 1
        self.persons.setdefault(full, number)
        for key in keys:
            self.persons.setdefault(key, number)
        return number

    def to_json(self) -> bytes:
        """Serialise for sealing."""
        payload = {"persons": self.persons, "next": self.next_number}
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> PlaceholderBook:
        """Parse what ``to_json`` wrote."""
        raw = json.loads(data.decode())
        return cls({str(k): int(v) for k, v in raw["persons"].items()}, int(raw["next"]))
