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

Each layer lives in a module of its own — ``patterns`` (1), ``known`` (2), ``workplaces`` (3),
``names`` (4) — over what ``candidates`` gives them all (tokens, candidates, sentence starts);
``model`` holds the public types. This module runs the layers, resolves overlaps, numbers the
people and writes the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from fieldvault.pseudonymise import patterns
from fieldvault.pseudonymise.candidates import (
    P_PATTERN,
    Candidate,
    Token,
    in_vocabulary,
    sentence_starts,
    tokens,
)
from fieldvault.pseudonymise.known import (
    fold_name,
    known_candidates,
    known_firsts,
    term_candidates,
)
from fieldvault.pseudonymise.labels import Category, label, normalise_language
from fieldvault.pseudonymise.lexicon import NOT_NAMES, Lexicon, lexicon
from fieldvault.pseudonymise.model import (
    TERM_CATEGORIES,
    KnownPerson,
    PlaceholderBook,
    Result,
    Span,
    Suspect,
    Term,
)
from fieldvault.pseudonymise.names import NAMING_CUES_CASED, name_and_place_candidates
from fieldvault.pseudonymise.workplaces import WORKPLACE_HEADS, workplace_candidates

__all__ = [
    "TERM_CATEGORIES",
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

_LONG_NUMBER = re.compile(r"\d(?<!\d\d)(?:[ .-]?\d){5,}(?!\d)")  # opens with \d: fast scan


# --- resolution and output ----------------------------------------------------------------------


def _resolve(candidates: list[Candidate], length: int) -> tuple[list[Candidate], bytearray]:
    """Strongest first, then longest; keep a candidate only where nothing stronger stands.

    Returns the kept candidates in text order and a byte mask of the characters they cover.
    """
    ordered = sorted(candidates, key=lambda c: (-c.priority, -(c.end - c.start), c.start))
    taken: list[Candidate] = []
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


def _word_index(tokens: Sequence[Token], firsts: set[str]) -> _WordIndex:
    """Index the tokens for every layer: two C-level passes instead of one loop per layer."""
    capitalised = [k for k, tok in enumerate(tokens) if tok.text[0].isupper() and tok.text[1:]]
    # A vault name may be written in any case ("kari", "KARI"): fold each distinct word once.
    known = {w for w in {tok.text for tok in tokens} if fold_name(w) in firsts} if firsts else set()
    table = patterns.TOKEN_WORDS | WORKPLACE_HEADS.keys() | NAMING_CUES_CASED | known
    hits = [k for k, tok in enumerate(tokens) if tok.text in table]

    def having(words: Iterable[str]) -> list[int]:
        wanted = set(words)
        return [k for k in hits if tokens[k].text in wanted]

    return _WordIndex(
        capitalised,
        having(patterns.TOKEN_WORDS),
        having(known),
        having(WORKPLACE_HEADS),
        having(NAMING_CUES_CASED),
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
    words = tokens(text)
    starts = sentence_starts(text)
    candidates, unclaimed = _candidates(text, words, starts, lang, lex, known_people, terms)
    chosen, mask = _resolve(candidates, len(text))
    out, spans = _replace(text, chosen, lang, book)
    return Result(out, spans, _suspects(text, mask, unclaimed, starts, lex))


def _candidates(
    text: str,
    words: list[Token],
    starts: set[int],
    lang: str,
    lex: Lexicon,
    known_people: Sequence[KnownPerson],
    terms: Sequence[Term],
) -> tuple[list[Candidate], list[Token]]:
    """Every layer's candidates, and the capitalised words no name or place rule claimed."""
    index = _word_index(words, known_firsts(known_people))
    found = patterns.detect(text, words, index.pattern_words, index.capitalised)
    candidates: list[Candidate] = [Candidate(s, e, c, P_PATTERN) for s, e, c in found]
    anchors = [words[k].start for k in index.known]
    candidates += known_candidates(text, known_people, lex.common(lang), anchors)
    candidates += term_candidates(text, terms)
    candidates += workplace_candidates(text, lex, words, index.workplace)
    names, unclaimed = name_and_place_candidates(
        text, words, index.capitalised, index.naming, starts, lex, lang
    )
    candidates += names
    return candidates, unclaimed


def _replace(
    text: str, chosen: list[Candidate], lang: str, book: PlaceholderBook
) -> tuple[str, list[Span]]:
    """The text with each chosen candidate replaced by its placeholder, and the spans."""
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
    return "".join(out), spans


def _possessive(suffix: str, language: str) -> str:
    if not suffix:
        return ""
    return suffix if suffix != "s" or language != "en" else "'s"


def _suspects(
    text: str, mask: bytearray, unclaimed: list[Token], starts: set[int], lex: Lexicon
) -> list[Suspect]:
    def covered(start: int, end: int) -> bool:
        return mask.find(1, start, end) != -1

    out = []
    for tok in unclaimed:
        folded = tok.text.casefold()
        if tok.start in starts or folded in NOT_NAMES or tok.text.isupper():
            continue
        if in_vocabulary(folded, lex) or covered(tok.start, tok.end):
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
