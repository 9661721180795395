"""What the detection layers share: the words of the text and the candidates they claim.

Each layer (patterns, the vault's people and the study's terms, workplaces, names and places)
proposes :class:`Candidate` stretches of text; the engine keeps the strongest claim on each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from fieldvault.pseudonymise.labels import Category
from fieldvault.pseudonymise.lexicon import NOT_NAMES, Lexicon

# Priority of each layer: a higher one wins an overlap; within a layer the longer span wins.
P_PATTERN, P_KNOWN, P_TERM, P_WORKPLACE, P_PERSON, P_PLACE = 100, 90, 85, 70, 60, 50

POSSESSIVE = ("'s", "’s", "s")
# Nouns of institutions and systems (Norwegian definite forms, English heads such as the
# "Data Protection Inspectorate"): never an unlisted place or person.
INSTITUTION_ENDINGS = (
    "registeret", "tilsynet", "direktoratet", "etaten", "kassen", "senteret", "verket",
    "tjenesten", "kontoret", "departementet", "nemnda", "ombudet", "systemet", "ombud",
    "inspectorate", "directorate", "authority", "agency", "ministry", "commission",
    "ombudsman", "tribunal",
)  # fmt: skip

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


@dataclass
class Candidate:
    """A stretch of text one layer claims, and how strongly."""

    start: int
    end: int
    category: Category
    priority: int
    parts: tuple[str, ...] = ()  # name parts (persons) for numbering
    pseudonym: str | None = None  # own names
    suffix: str = ""  # possessive ending kept after the placeholder


class Token(NamedTuple):
    """One word of the text and where it stands."""

    # Whether a word starts a sentence is asked of capitalised words only, so it is looked up
    # in sentence_starts for those instead of being stored for every word.
    start: int
    end: int
    text: str

    @property
    def capitalised(self) -> bool:
        """Whether the word opens with a capital letter."""
        return self.text[0].isupper()


SENTENCE_END = set('.!?:;…\n"«»“”([')
# Where a sentence (or a line, a quotation, a turn after "[0:01:02]") starts: the first letter
# after sentence punctuation, skipping spaces, dashes and apostrophes.
_SENTENCE_START = re.compile(
    r"(?:^(?:[ \t]*\d+(?:\.\d+)*\.?(?=[ \t]))?|[.!?:;…\"«»“”(\[\]•])[ \t\-–—'’]*(?=[^\W\d_])",
    re.MULTILINE,
)


def tokens(text: str) -> list[Token]:
    """The words of ``text`` in order."""
    new = tuple.__new__  # the NamedTuple constructor is a Python-level call: too slow per word
    return [new(Token, (m.start(), m.end(), m.group())) for m in _WORD.finditer(text)]


def sentence_starts(text: str) -> set[int]:
    """Offsets of the first word of each sentence (or line, or turn)."""
    return {m.end() for m in _SENTENCE_START.finditer(text)}


def split_possessive(word: str, sets: Sequence[frozenset[str]]) -> tuple[str, str]:
    """("Karis", "s"), ("Kari's", "'s") or (word, "") — when the base is a known name."""
    for known in sets:
        if word in known:
            return word, ""
    if word[-1] != "s" or len(word) < 3:
        return word, ""
    for suffix in POSSESSIVE:
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            base = word[: -len(suffix)]
            for known in sets:
                if base in known:
                    return base, suffix
    return word, ""


def in_vocabulary(folded: str, lex: Lexicon) -> bool:
    """A dictionary word, or a contraction or letter compound of one ("i'll", "d-nummer")."""
    if folded in lex.vocabulary:
        return True
    for mark in ("'", "’"):
        if mark in folded:
            head, _, tail = folded.partition(mark)
            return (len(head) == 1 or head in lex.vocabulary) and tail in {
                "ll",
                "ve",
                "m",
                "d",
                "re",
                "t",
            }
    # "D-nummer", "D-nummer-bruker", "NAV-kontor": a letter or an institution, then words.
    head, dash, tail = folded.partition("-")
    if not dash or not (len(head) == 1 or head in NOT_NAMES):
        return False
    return all(part in lex.vocabulary for part in tail.split("-"))


def is_initial(text: str, start: int) -> bool:
    """Whether only spaces stand between ``start`` and the text's start or sentence punctuation."""
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in SENTENCE_END or text[i] == "]"
