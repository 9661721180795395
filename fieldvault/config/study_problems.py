"""What a study file can be told: problems with a field path, and the errors that carry them.

A problem names its field as a dotted path (``consent_items[1].text.nn``, lists counted from 0)
so a researcher finds it in the file; every check of the study speaks in these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fieldvault.errors import FieldvaultError


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


def field_path(*parts: str | int) -> str:
    """The dotted path of a field: ``field_path("consent_items", 1, "text")``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
