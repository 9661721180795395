"""Workplaces that locate someone: "NAV Volda", "Volda kommune", "Høgskulen i Volda".

Each rule hinges on a word (NAV, a suffix such as "kommune" or "AS", a prefix such as
"Høgskulen") and runs only in a window around it, never over the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from fieldvault.pseudonymise.candidates import P_WORKPLACE, Candidate, Token, is_initial
from fieldvault.pseudonymise.labels import Category
from fieldvault.pseudonymise.lexicon import NOT_NAMES, Lexicon

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
WORKPLACE_HEADS = dict.fromkeys(_PREFIX_HEADS, "prefix") | dict.fromkeys(_SUFFIX_HEADS, "suffix")


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


def workplace_candidates(
    text: str, lex: Lexicon, tokens: Sequence[Token], heads: Sequence[int]
) -> list[Candidate]:
    """Workplaces by the rules below; ``heads`` index the tokens in WORKPLACE_HEADS."""
    found: list[Candidate] = []
    length = len(text)
    # Each rule runs only near the word it hinges on: "NAV…", a suffix ("kommune", "AS"),
    # a prefix ("Høgskulen", "University").
    nav = [(i, i + 160) for needle in ("NAV", "Nav") for i in _find_all(text, needle)]
    before, after = [], []
    for index in heads:
        tok = tokens[index]
        if WORKPLACE_HEADS[tok.text] == "suffix":
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
            Candidate(m.start(), m.start("where") + len(where), Category.WORKPLACE, P_WORKPLACE)
        )
    for m in _within(_ORG_BEFORE, text, _windows(before, length)):
        words = m.group("name").split(" ")
        # Keep only the capitalised run right before the suffix ("jobber i Volda kommune").
        while words and (words[0].casefold() in NOT_NAMES or words[0] in {"og", "and", "of"}):
            words.pop(0)
        if not words:
            continue
        start = m.end("name") - len(" ".join(words))
        lone = start == m.start() and is_initial(text, start) and len(words) == 1
        if lone and (words[0].casefold() in lex.common_en or words[0].casefold() in lex.common_nb):
            continue  # "Skole" or "The School" at a sentence start
        found.append(Candidate(start, m.end(), Category.WORKPLACE, P_WORKPLACE))
    for m in _within(_ORG_AFTER, text, _windows(after, length)):
        name = _trim_name(m.group("name"))
        if name.split(" ")[0].casefold() in NOT_NAMES:
            continue
        found.append(
            Candidate(m.start(), m.start("name") + len(name), Category.WORKPLACE, P_WORKPLACE)
        )
    return found
