"""The pseudonymisation engine: text in, pseudonymised text and replacement spans out.

Pure: no database, no files beyond the packaged word lists, no logging. Detection runs in
layers and the strongest claim on a stretch of text wins:

1. patterns with check digits and shapes (e-mail, phone, URL, ID and organisation numbers,
   dates of birth, street addresses) — these are never a matter of context;
2. the informant's own names and contacts from the vault, and the study's term list;
3. workplaces that locate someone ("NAV Volda", "Volda kommune", "Høgskulen i Volda");
4. other people and places from the name and place lists, with context rules: capitalised
   mid-sentence, a full name, a title or "hun heter …" before it, a preposition of place
   before it, or the same name confirmed elsewhere in the text. Everyday words that are also
   names ("liv", "dag", "per", "will", "may") stay unless such context says a person; a
   capitalised word mid-sentence that is in no dictionary ("Røhnebæk") is taken for a name.

Capitalised words that nothing claimed but that are not ordinary words either (institution-like
"Trollsenteret"), and long digit runs, are returned as *suspects* for the researcher's review;
they are not replaced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import NamedTuple

from fieldvault.pseudonymise import patterns
from fieldvault.pseudonymise.labels import Category, label, normalise_language
from fieldvault.pseudonymise.lexicon import (
    EVERYDAY_FOLLOWERS,
    LOCATIVES,
    NAMING_CUES,
    NOT_NAMES,
    PERSON_CUES,
    SPEECH_VERBS,
    Lexicon,
    lexicon,
)

__all__ = [
    "Category",
    "KnownPerson",
    "PlaceholderBook",
    "Result",
    "Span",
    "Suspect",
    "Term",
    "pseudonymise",
    "pseudonymise_lines",
]

TERM_CATEGORIES = (Category.PERSON, Category.WORKPLACE, Category.PLACE, Category.OTHER)

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_LONG_NUMBER = re.compile(r"\d(?<!\d\d)(?:[ .-]?\d){5,}(?!\d)")  # opens with \d: fast scan
_POSSESSIVE = ("'s", "’s", "s")
# Nouns of institutions and systems (Norwegian definite forms, English heads such as the
# "Data Protection Inspectorate"): never an unlisted place or person.
_INSTITUTION_ENDINGS = (
    "registeret", "tilsynet", "direktoratet", "etaten", "kassen", "senteret", "verket",
    "tjenesten", "kontoret", "departementet", "nemnda", "ombudet", "systemet", "ombud",
    "inspectorate", "directorate", "authority", "agency", "ministry", "commission",
    "ombudsman", "tribunal",
)  # fmt: skip


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


# --- candidates ---------------------------------------------------------------------------------

# Priority of each layer: a higher one wins an overlap; within a layer the longer span wins.
_P_PATTERN, _P_KNOWN, _P_TERM, _P_WORKPLACE, _P_PERSON, _P_PLACE = 100, 90, 85, 70, 60, 50


@dataclass
class _Candidate:
    start: int
    end: int
    category: Category
    priority: int
    parts: tuple[str, ...] = ()  # name parts (persons) for numbering
    pseudonym: str | None = None  # own names
    suffix: str = ""  # possessive ending kept after the placeholder


class _Token(NamedTuple):
    # Whether a word starts a sentence is asked of capitalised words only, so it is looked up
    # in _sentence_starts for those instead of being stored for every word.
    start: int
    end: int
    text: str

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper()


_SENTENCE_END = set('.!?:;…\n"«»“”([')
# Where a sentence (or a line, a quotation, a turn after "[0:01:02]") starts: the first letter
# after sentence punctuation, skipping spaces, dashes and apostrophes.
_SENTENCE_START = re.compile(
    r"(?:^(?:[ \t]*\d+(?:\.\d+)*\.?(?=[ \t]))?|[.!?:;…\"«»“”(\[\]•])[ \t\-–—'’]*(?=[^\W\d_])",
    re.MULTILINE,
)


def _tokens(text: str) -> list[_Token]:
    new = tuple.__new__  # the NamedTuple constructor is a Python-level call: too slow per word
    return [new(_Token, (m.start(), m.end(), m.group())) for m in _WORD.finditer(text)]


def _sentence_starts(text: str) -> set[int]:
    """Offsets of the first word of each sentence (or line, or turn)."""
    return {m.end() for m in _SENTENCE_START.finditer(text)}


def _split_possessive(word: str, sets: Sequence[frozenset[str]]) -> tuple[str, str]:
    """("Karis", "s"), ("Kari's", "'s") or (word, "") — when the base is a known name."""
    for known in sets:
        if word in known:
            return word, ""
    if word[-1] != "s" or len(word) < 3:
        return word, ""
    for suffix in _POSSESSIVE:
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            base = word[: -len(suffix)]
            for known in sets:
                if base in known:
                    return base, suffix
    return word, ""


def _word_pattern(forms: Iterable[str], common: frozenset[str]) -> list[re.Pattern[str]]:
    """Regexes for name forms, longest first, with an optional possessive ending."""
    out = []
    for form in sorted(set(forms), key=len, reverse=True):
        body = r"[ ]+".join(re.escape(w) for w in form.split())
        flags = 0 if form.casefold() in common else re.IGNORECASE
        out.append(re.compile(rf"(?<![\w@])({body})('s|’s|s)?(?![\w])", flags))
    return out


def _digits_pattern(phone: str) -> re.Pattern[str] | None:
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return None
    national = digits[-8:]
    body = r"[ .-]?".join(national[1:])
    first = national[0]
    # Each branch opens with a literal and checks "no digit before" after it: a pattern that
    # starts with a literal lets the regex engine skip ahead in C instead of trying every
    # position (five times faster over a long transcript).
    return re.compile(
        rf"(?:\+(?<!\d\+)47[ .-]?{first}|0(?<!\d0)047[ .-]?{first}|{first}(?<!\d{first}))"
        rf"[ .-]?{body}(?!\d)"
    )


def _find_all_folded(lowered: str, needle: str) -> Iterable[int]:
    """Where ``needle`` (lower case) starts in ``lowered``, non-overlapping."""
    i = lowered.find(needle)
    while i != -1 and needle:
        yield i
        i = lowered.find(needle, i + len(needle))


def _known_firsts(people: Sequence[KnownPerson]) -> set[str]:
    """The first words of every name form (case-folded), bare and possessive ("karis")."""
    firsts = {form.split()[0].casefold() for person in people for form in person.names}
    return firsts | {first + suffix for first in firsts for suffix in _POSSESSIVE}


def _known_candidates(
    text: str, people: Sequence[KnownPerson], common: frozenset[str], anchors: Sequence[int]
) -> list[_Candidate]:
    """The vault's names and contacts; name forms are tried only at ``anchors`` (word starts)."""
    found: list[_Candidate] = []
    # One pass per letter-case rule over all name forms of all people, not one per form.
    owner: dict[str, str] = {}
    strict: list[str] = []  # everyday words ("Liv"): only as written, capitalised
    loose: list[str] = []
    for person in people:
        for form in person.names:
            key = " ".join(form.split()).casefold()
            if key in owner:
                continue
            owner[key] = person.pseudonym
            (strict if key in common else loose).append(form)
    for forms, flags in ((strict, 0), (loose, re.IGNORECASE)):
        if not forms:
            continue
        body = "|".join(
            r"[ ]+".join(re.escape(w) for w in form.split())
            for form in sorted(forms, key=len, reverse=True)
        )
        rx = re.compile(rf"(?<![\w@])({body})('s|’s|s)?(?![\w])", flags)
        # Tried only where a word could start a name form: a set look-up per word instead of
        # an alternation over the whole text.
        for m in map(rx.match, repeat(text), anchors):
            if m is None:
                continue
            key = " ".join(m.group(1).split()).casefold()
            found.append(
                _Candidate(
                    m.start(),
                    m.end(),
                    Category.OWN_NAME,
                    _P_KNOWN,
                    pseudonym=owner[key],
                    suffix=m.group(2) or "",
                )
            )
    lowered = text.lower()
    aligned = len(lowered) == len(text)  # else a character's lower case is longer: use re
    for person in people:
        for email in person.emails:
            if aligned:  # a substring search in C, not a case-insensitive regex scan
                for i in _find_all_folded(lowered, email.lower()):
                    found.append(_Candidate(i, i + len(email), Category.EMAIL, _P_KNOWN))
                continue
            for m in re.finditer(re.escape(email), text, re.IGNORECASE):
                found.append(_Candidate(m.start(), m.end(), Category.EMAIL, _P_KNOWN))
        for phone in person.phones:
            rx_phone = _digits_pattern(phone)
            if rx_phone is not None:
                for m in rx_phone.finditer(text):
                    found.append(_Candidate(m.start(), m.end(), Category.PHONE, _P_KNOWN))
        for username in person.usernames:
            rx_user = re.compile(rf"@?(?<![\w]){re.escape(username)}(?![\w])", re.IGNORECASE)
            hits: Iterable[re.Match[str] | None]
            if aligned:
                starts = (max(0, i - 1) for i in _find_all_folded(lowered, username.lower()))
                hits = (rx_user.match(text, i) or rx_user.match(text, i + 1) for i in starts)
            else:
                hits = rx_user.finditer(text)
            for m in hits:
                if m is not None:
                    found.append(_Candidate(m.start(), m.end(), Category.USERNAME, _P_KNOWN))
    return found


def _term_candidates(text: str, terms: Sequence[Term]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for term in terms:
        for rx in _word_pattern([term.text], frozenset()):
            for m in rx.finditer(text):
                parts = tuple(m.group(1).split())
                found.append(
                    _Candidate(
                        m.start(),
                        m.end(),
                        term.category,
                        _P_TERM,
                        parts=parts,
                        suffix=(m.group(2) or "") if term.category is Category.PERSON else "",
                    )
                )
    return found


# The naming verbs as written in running text (lower, capitalised, upper case).
_NAMING_CUES_CASED = frozenset(
    form for cue in NAMING_CUES for form in (cue, cue.capitalize(), cue.upper())
)


# Workplace rules ---------------------------------------------------------------------------------

_NAV = re.compile(
    r"(?<![\w])(?:NAV|Nav)(?:-kontoret|-kontor)?(?:[ ]+(?:i|på))?[ -]"
    r"(?P<where>[A-ZÆØÅ][\wæøåÆØÅ'-]+(?:[ ](?:[A-ZÆØÅ][\wæøåÆØÅ'-]+|og|i)){0,3})"
)
_ORG_SUFFIX = (
    r"(?:kommune|fylkeskommune|sykehus|sjukehus|legesenter|legesenteret|legekontor|"
    r"helsestasjon|sykehjem|sjukeheim|omsorgssenter|barnehage|skole|skule|ungdomsskole|"
    r"ungdomsskule|barneskole|barneskule|vidaregåande[ ]skule|videregående(?:[ ]skole)?|vgs|"
    r"bibliotek|politistasjon|kirke|menighet|AS|ASA|SA|ANS|"
    r"Council|City[ ]Council|Borough[ ]Council|County[ ]Council|Hospital|School|Primary[ ]School|"
    r"High[ ]School|Academy|College|Jobcentre|Job[ ]Centre|Library|Ltd|Limited|Trust|Surgery|"
    r"Clinic|Centre|Center|Care[ ]Home|Housing|Group)"
)
_ORG_BEFORE = re.compile(
    r"(?<![\w])(?P<name>[A-ZÆØÅ][\wæøåÆØÅ'&-]*(?:[ ](?:[A-ZÆØÅ][\wæøåÆØÅ'&-]*|og|and|of)){0,3})"
    rf"[ ]{_ORG_SUFFIX}(?![\w])"
)
_ORG_AFTER = re.compile(
    r"(?<![\w])(?:Universitetet|Universitet|Høgskolen|Høgskulen|Sykehuset|Sjukehuset|Helse|"
    r"Sparebanken|Sparebank|Bydel|Kommunen|University|Jobcentre[ ]Plus|Job[ ]Centre|"
    r"Statens[ ]vegvesen|Fylkesmannen|Statsforvalteren)"
    r"(?:[ ](?:i|på|of|in))?[ ]"
    r"(?P<name>[A-ZÆØÅ][\wæøåÆØÅ'-]+(?:[ ](?:[A-ZÆØÅ][\wæøåÆØÅ'-]+|og)){0,3})"
)


def _trim_name(name: str) -> str:
    """Drop trailing connector words a greedy match took ("Møre og")."""
    words = name.split(" ")
    while words and words[-1] in {"og", "i", "and", "of"}:
        words.pop()
    return " ".join(words)


_SUFFIX_HEADS = frozenset(
    w.split("[")[0] for w in _ORG_SUFFIX.strip("(?:)").replace("(?:[ ]skole)?", "").split("|")
)
_PREFIX_HEADS = frozenset((
    "Universitetet", "Universitet", "Høgskolen", "Høgskulen", "Sykehuset", "Sjukehuset", "Helse",
    "Sparebanken", "Sparebank", "Bydel", "Kommunen", "University", "Jobcentre", "Job", "Statens",
    "Fylkesmannen", "Statsforvalteren",
))  # fmt: skip


# Words a workplace rule hinges on: a suffix ("kommune", "AS") or a prefix ("Høgskulen").
_WORKPLACE_HEADS = dict.fromkeys(_PREFIX_HEADS, "prefix") | dict.fromkeys(_SUFFIX_HEADS, "suffix")


def _find_all(text: str, needle: str) -> Iterable[int]:
    """Every offset where ``needle`` starts (a C-level scan, not a loop over words)."""
    i = text.find(needle)
    while i != -1:
        yield i
        i = text.find(needle, i + 1)


def _windows(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        start, end = max(0, start), min(length, end)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _within(rx: re.Pattern[str], text: str, windows: list[tuple[int, int]]) -> list[re.Match[str]]:
    return [m for start, end in windows for m in rx.finditer(text, start, end)]


def _workplace_candidates(
    text: str, lex: Lexicon, tokens: Sequence[_Token], heads: Sequence[int]
) -> list[_Candidate]:
    """Workplaces by the rules below; ``heads`` index the tokens in _WORKPLACE_HEADS."""
    found: list[_Candidate] = []
    length = len(text)
    # Each rule runs only near the word it hinges on: "NAV…", a suffix ("kommune", "AS"),
    # a prefix ("Høgskulen", "University").
    nav = [(i, i + 160) for needle in ("NAV", "Nav") for i in _find_all(text, needle)]
    before, after = [], []
    for index in heads:
        tok = tokens[index]
        if _WORKPLACE_HEADS[tok.text] == "suffix":
            back = tokens[max(0, index - 6)].start
            before.append((back, tok.end + 24))
        else:
            after.append((tok.start, tok.start + 160))
    for m in _within(_NAV, text, _windows(nav, length)):
        where = _trim_name(m.group("where"))
        first = where.split(" ")[0]
        if first.casefold() in NOT_NAMES:
            continue
        found.append(
            _Candidate(m.start(), m.start("where") + len(where), Category.WORKPLACE, _P_WORKPLACE)
        )
    for m in _within(_ORG_BEFORE, text, _windows(before, length)):
        words = m.group("name").split(" ")
        # Keep only the capitalised run right before the suffix ("jobber i Volda kommune").
        while words and (words[0].casefold() in NOT_NAMES or words[0] in {"og", "and", "of"}):
            words.pop(0)
        if not words:
            continue
        start = m.end("name") - len(" ".join(words))
        lone = start == m.start() and _is_initial(text, start) and len(words) == 1
        if lone and (words[0].casefold() in lex.common_en or words[0].casefold() in lex.common_nb):
            continue  # "Skole" or "The School" at a sentence start
        found.append(_Candidate(start, m.end(), Category.WORKPLACE, _P_WORKPLACE))
    for m in _within(_ORG_AFTER, text, _windows(after, length)):
        name = _trim_name(m.group("name"))
        if name.split(" ")[0].casefold() in NOT_NAMES:
            continue
        found.append(
            _Candidate(m.start(), m.start("name") + len(name), Category.WORKPLACE, _P_WORKPLACE)
        )
    return found


def _in_vocabulary(folded: str, lex: Lexicon) -> bool:
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


def _is_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END or text[i] == "]"


# Names and places ---------------------------------------------------------------------------------


# base, possessive suffix, folded base, multi-word places it starts, given, surname, place.
_WordFacts = tuple[str, str, str, tuple[tuple[str, ...], ...] | None, bool, bool, bool]


def _word_facts(
    word: str, lex: Lexicon, all_sets: Sequence[frozenset[str]], function_words: frozenset[str]
) -> _WordFacts | None:
    """What the lists say of a capitalised word; None when it can never start a name."""
    if word.isupper():
        return None
    base, suffix = _split_possessive(word, all_sets)
    folded = base.casefold()
    head = folded.split("-", 1)[0]
    if folded in NOT_NAMES or head in NOT_NAMES or folded in function_words:
        return None
    multi = lex.place_heads.get(base)
    return (
        base,
        suffix,
        folded,
        multi,
        base in lex.given,
        base in lex.surnames,
        base in lex.places,
    )


def _name_and_place_candidates(
    text: str,
    tokens: list[_Token],
    where: _WordIndex,
    starts: set[int],
    lex: Lexicon,
    language: str,
) -> tuple[list[_Candidate], list[_Token]]:
    common = lex.common_nb | lex.common_en if language != "en" else lex.common_en
    function_words = lex.function_words
    name_sets = (lex.given, lex.surnames)
    all_sets = (lex.given, lex.surnames, lex.places)
    found: list[_Candidate] = []
    unclaimed: list[_Token] = []
    confirmed_person: set[str] = set()
    confirmed_place: set[str] = set()
    deferred: list[tuple[int, str, str]] = []  # (token index, base, suffix) at sentence starts

    def prev_word(i: int, initial: bool) -> str:
        # Only a word right before, in the same sentence: "på Moa", not "på 4524. Moa".
        if i == 0 or initial:
            return ""
        prev = tokens[i - 1]
        if text[prev.end : tokens[i].start].strip(" "):
            return ""
        return prev.text.casefold()

    def adjacent(a: _Token, b: _Token) -> bool:
        return text[a.end : b.start] == " "

    n = len(tokens)
    # "hun heter liv": a name in lower case after a naming verb.
    for k in where.naming:
        tok = tokens[k + 1] if k + 1 < n else None
        if tok is None or tok.text[0].isupper() or len(tok.text) < 2:
            continue
        word = tok.text
        base, suffix = _split_possessive(word[:1].upper() + word[1:], name_sets)
        if base in lex.given or base in lex.surnames:
            found.append(_Candidate(tok.start, tok.end, Category.PERSON, _P_PERSON, (base,)))
            confirmed_person.add(base)

    resume = 0  # a run or a multi-word place took the tokens before this index
    # What a word is does not depend on where it stands: worked out once per distinct word.
    facts: dict[str, _WordFacts | None] = {}
    for i in where.capitalised:  # only a capitalised word can start a name or a place
        if i < resume:
            continue
        tok = tokens[i]
        word = tok.text
        if word in facts:
            known = facts[word]
        else:
            known = facts[word] = _word_facts(word, lex, all_sets, function_words)
        if known is None:
            continue  # an acronym (NAV, DWP), or never a name on its own ("Vi", "NAV-loven")
        base, suffix, folded, multi, is_given, is_sur, is_place = known
        initial = tok.start in starts
        # Multi-word places first ("Mo i Rana", "Ytre Arna").
        if multi:
            matched = None
            for words in multi:
                k = len(words)
                if i + k <= n and all(tokens[i + j].text == words[j] for j in range(k)):
                    matched = k
                    break
            if matched:
                found.append(
                    _Candidate(tok.start, tokens[i + matched - 1].end, Category.PLACE, _P_PLACE)
                )
                resume = i + matched
                continue
        # A run of capitalised name words is one person: "Anne Grete Haugland".
        run = [(tok, base, suffix)]
        j = i + 1
        if is_given or is_sur:
            while j < n and adjacent(tokens[j - 1], tokens[j]) and tokens[j].capitalised:
                nxt = tokens[j]
                nb, ns = _split_possessive(nxt.text, name_sets)
                if nb.casefold() in NOT_NAMES or nxt.text.isupper():
                    break
                known_part = nb in lex.given or nb in lex.surnames
                unknown_part = nb.casefold() not in lex.common_nb and nb not in lex.places
                if not (known_part or unknown_part):
                    break
                run.append((nxt, nb, ns))
                j += 1
                if ns:
                    break
        before = prev_word(i, initial)
        if len(run) > 1 and (is_given or run[1][1] in lex.surnames):
            parts = tuple(b for _, b, _ in run)
            found.append(
                _Candidate(
                    tok.start, run[-1][0].end, Category.PERSON, _P_PERSON, parts, suffix=run[-1][2]
                )
            )
            confirmed_person.update(parts)
            resume = j
            continue
        category: Category | None = None
        if before in LOCATIVES and is_place:
            category = Category.PLACE
        elif is_given:
            category = Category.PERSON
        elif is_sur and is_place:
            category = Category.PLACE if before in LOCATIVES else Category.PERSON
        elif is_sur:
            category = Category.PERSON
        elif is_place:
            category = Category.PLACE
        elif before in PERSON_CUES or before in NAMING_CUES:
            category = Category.PERSON if not initial else None
        elif (
            before in LOCATIVES
            and not initial
            and folded not in lex.common_nb
            and folded not in lex.common_en
            and not folded.endswith(_INSTITUTION_ENDINGS)
        ):
            category = Category.PLACE  # an unlisted village or district: "på Moa"
        elif (
            not initial
            and len(base) > 2
            and not _in_vocabulary(folded, lex)
            and not folded.endswith(_INSTITUTION_ENDINGS)
        ):
            category = Category.PERSON  # a capitalised word in no dictionary: "Røhnebæk"
        if category is None:
            if initial and folded not in common:
                deferred.append((i, base, suffix))  # "Karimi hadde …" after "Ahmad Karimi"
            unclaimed.append(tok)
            continue
        if initial and folded in common and before not in PERSON_CUES:
            # "Dag etter dag", "Will you…", "Liv og helse": decide after the whole text.
            deferred.append((i, base, suffix))
            continue
        everyday = folded in lex.common_nb or folded in lex.common_en
        if initial and everyday and category is Category.PLACE and not is_place:
            unclaimed.append(tok)
            continue
        found.append(
            _Candidate(
                tok.start,
                tok.end,
                category,
                _P_PERSON if category is Category.PERSON else _P_PLACE,
                (base,),
                suffix=suffix if category is Category.PERSON else "",
            )
        )
        if category is Category.PERSON and not initial:
            confirmed_person.add(base)
        if category is Category.PLACE and not initial:
            confirmed_place.add(base)
    for index, base, suffix in deferred:
        tok = tokens[index]
        following = tokens[index + 1].text.casefold() if index + 1 < n else ""
        if following in EVERYDAY_FOLLOWERS.get(base.casefold(), frozenset()):
            continue  # "Per i dag", "Will you"
        spoken = following in SPEECH_VERBS
        if base in confirmed_person or (spoken and base in lex.given):
            found.append(
                _Candidate(tok.start, tok.end, Category.PERSON, _P_PERSON, (base,), suffix=suffix)
            )
        elif base in confirmed_place:
            found.append(_Candidate(tok.start, tok.end, Category.PLACE, _P_PLACE))
    return found, unclaimed


# --- resolution and output ----------------------------------------------------------------------


def _resolve(candidates: list[_Candidate], length: int) -> tuple[list[_Candidate], bytearray]:
    """Strongest first, then longest; keep a candidate only where nothing stronger stands.

    Returns the kept candidates in text order and a byte mask of the characters they cover.
    """
    ordered = sorted(candidates, key=lambda c: (-c.priority, -(c.end - c.start), c.start))
    taken: list[_Candidate] = []
    mask = bytearray(length)
    for cand in ordered:
        if cand.end <= cand.start or mask.find(1, cand.start, cand.end) != -1:
            continue
        mask[cand.start : cand.end] = b"\x01" * (cand.end - cand.start)
        taken.append(cand)
    return sorted(taken, key=lambda c: c.start), mask


class _WordIndex(NamedTuple):
    """Which tokens each layer looks at, found in one pass over the words."""

    capitalised: list[int]  # capitalised words of two letters or more
    pattern_words: list[int]  # words patterns.detect reacts to (digit words, cues, "gate")
    known: list[int]  # words that may start a name form the vault knows
    workplace: list[int]  # words a workplace rule hinges on ("kommune", "Høgskulen")
    naming: list[int]  # naming verbs ("heter")


def _word_index(tokens: Sequence[_Token], firsts: set[str]) -> _WordIndex:
    """Index the tokens for every layer: two C-level passes instead of one loop per layer."""
    capitalised = [k for k, tok in enumerate(tokens) if tok.text[0].isupper() and tok.text[1:]]
    # A vault name may be written in any case ("kari", "KARI"): fold each distinct word once.
    known = {w for w in {tok.text for tok in tokens} if w.casefold() in firsts} if firsts else set()
    table = patterns.TOKEN_WORDS | _WORKPLACE_HEADS.keys() | _NAMING_CUES_CASED | known
    hits = [k for k, tok in enumerate(tokens) if tok.text in table]

    def having(words: Iterable[str]) -> list[int]:
        wanted = set(words)
        return [k for k in hits if tokens[k].text in wanted]

    return _WordIndex(
        capitalised,
        having(patterns.TOKEN_WORDS),
        having(known),
        having(_WORKPLACE_HEADS),
        having(_NAMING_CUES_CASED),
    )


def pseudonymise(
    text: str,
    *,
    language: str,
    known_people: Sequence[KnownPerson] = (),
    terms: Sequence[Term] = (),
    placeholders: PlaceholderBook | None = None,
) -> Result:
    """Replace identifying text; see the module docstring for what and how."""
    lang = normalise_language(language)
    book = placeholders if placeholders is not None else PlaceholderBook()
    lex = lexicon()
    tokens = _tokens(text)
    index = _word_index(tokens, _known_firsts(known_people))
    found = patterns.detect(text, tokens, index.pattern_words, index.capitalised)
    candidates: list[_Candidate] = [_Candidate(s, e, c, _P_PATTERN) for s, e, c in found]
    anchors = [tokens[k].start for k in index.known]
    candidates += _known_candidates(text, known_people, lex.common(lang), anchors)
    candidates += _term_candidates(text, terms)
    candidates += _workplace_candidates(text, lex, tokens, index.workplace)
    starts = _sentence_starts(text)
    names, unclaimed = _name_and_place_candidates(text, tokens, index, starts, lex, lang)
    candidates += names
    chosen, mask = _resolve(candidates, len(text))

    out: list[str] = []
    spans: list[Span] = []
    pos = 0
    length = 0
    # A dense transcript repeats the same few labels and people thousands of times; numbering
    # a person again gives the same number, so each is looked up once.
    labels: dict[Category, str] = {}
    people: dict[tuple[str, ...], str] = {}
    for cand in chosen:
        out.append(text[pos : cand.start])
        length += cand.start - pos
        if cand.category is Category.OWN_NAME:
            assert cand.pseudonym is not None
            placeholder = cand.pseudonym + _possessive(cand.suffix, lang)
        elif cand.category is Category.PERSON:
            parts = cand.parts or tuple(text[cand.start : cand.end].split())
            numbered = people.get(parts)
            if numbered is None:
                numbered = people[parts] = label(Category.PERSON, lang, book.number(parts))
            placeholder = numbered + _possessive(cand.suffix, lang)
        else:
            placeholder = labels.get(cand.category) or labels.setdefault(
                cand.category, label(cand.category, lang)
            )
        spans.append(
            Span(
                start=length,
                end=length + len(placeholder),
                category=cand.category,
                placeholder=placeholder,
                source_start=cand.start,
                source_end=cand.end,
                original=text[cand.start : cand.end],
            )
        )
        out.append(placeholder)
        length += len(placeholder)
        pos = cand.end
    out.append(text[pos:])
    return Result("".join(out), spans, _suspects(text, mask, unclaimed, starts, lex))


def _possessive(suffix: str, language: str) -> str:
    if not suffix:
        return ""
    return suffix if suffix != "s" or language != "en" else "'s"


def _suspects(
    text: str, mask: bytearray, unclaimed: list[_Token], starts: set[int], lex: Lexicon
) -> list[Suspect]:
    def covered(start: int, end: int) -> bool:
        return mask.find(1, start, end) != -1

    out = []
    for tok in unclaimed:
        folded = tok.text.casefold()
        if tok.start in starts or folded in NOT_NAMES or tok.text.isupper():
            continue
        if _in_vocabulary(folded, lex) or covered(tok.start, tok.end):
            continue
        out.append(Suspect(tok.start, tok.end, "capitalised"))
    for m in _LONG_NUMBER.finditer(text):
        if not covered(m.start(), m.end()):
            out.append(Suspect(m.start(), m.end(), "number"))
    return sorted(out, key=lambda s: s.source_start)


def pseudonymise_lines(
    lines: Sequence[str],
    *,
    language: str,
    known_people: Sequence[KnownPerson] = (),
    terms: Sequence[Term] = (),
    placeholders: PlaceholderBook | None = None,
) -> tuple[list[str], Result]:
    """Pseudonymise transcript segments together (names confirmed in one help the others).

    Returns the pseudonymised lines and the Result over the lines joined by newlines.
    """
    flat = [" ".join(line.split("\n")) for line in lines]
    result = pseudonymise(
        "\n".join(flat),
        language=language,
        known_people=known_people,
        terms=terms,
        placeholders=placeholders,
    )
    out = result.text.split("\n")
    if len(out) != len(flat):  # a placeholder never holds a newline; this would be a bug
        raise AssertionError("pseudonymised segment count changed")
    return out, result
