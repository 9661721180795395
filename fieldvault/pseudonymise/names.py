"""Other people and places, from the name and place lists and the context a word stands in.

A capitalised word mid-sentence, a full name, a title or "hun heter …" before it, a
preposition of place before it, or the same name confirmed elsewhere in the text make a
person or a place. Everyday words that are also names ("liv", "dag", "per", "will", "may")
stay unless such context says a person; a capitalised word mid-sentence that is in no
dictionary ("Røhnebæk") is taken for a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fieldvault.pseudonymise.candidates import (
    INSTITUTION_ENDINGS,
    P_PERSON,
    P_PLACE,
    Candidate,
    Token,
    in_vocabulary,
    split_possessive,
)
from fieldvault.pseudonymise.labels import Category
from fieldvault.pseudonymise.lexicon import (
    EVERYDAY_FOLLOWERS,
    LOCATIVES,
    NAMING_CUES,
    NOT_NAMES,
    PERSON_CUES,
    SPEECH_VERBS,
    Lexicon,
)

# The naming verbs as written in running text (lower, capitalised, upper case).
NAMING_CUES_CASED = frozenset(
    form for cue in NAMING_CUES for form in (cue, cue.capitalize(), cue.upper())
)

# base, possessive suffix, folded base, multi-word places it starts, given, surname, place.
_WordFacts = tuple[str, str, str, tuple[tuple[str, ...], ...] | None, bool, bool, bool]


@dataclass
class _Scan:
    """One pass over a text's capitalised words: what it was given and what it found so far."""

    text: str
    tokens: list[Token]
    starts: set[int]
    lex: Lexicon
    common: frozenset[str]  # everyday words of the text's language(s)
    found: list[Candidate] = field(default_factory=list)
    unclaimed: list[Token] = field(default_factory=list)
    confirmed_person: set[str] = field(default_factory=set)
    confirmed_place: set[str] = field(default_factory=set)
    deferred: list[tuple[int, str, str]] = field(default_factory=list)  # (index, base, suffix)


def name_and_place_candidates(
    text: str,
    tokens: list[Token],
    capitalised: Sequence[int],
    naming: Sequence[int],
    starts: set[int],
    lex: Lexicon,
    language: str,
) -> tuple[list[Candidate], list[Token]]:
    """People and places, and the capitalised words nothing claimed (for the suspects).

    ``capitalised`` and ``naming`` index the capitalised words and the naming verbs.
    """
    common = lex.common_nb | lex.common_en if language != "en" else lex.common_en
    scan = _Scan(text, tokens, starts, lex, common)
    _lower_case_names(scan, naming)
    function_words = lex.function_words
    all_sets = (lex.given, lex.surnames, lex.places)
    resume = 0  # a run or a multi-word place took the tokens before this index
    # What a word is does not depend on where it stands: worked out once per distinct word.
    facts: dict[str, _WordFacts | None] = {}
    for i in capitalised:  # only a capitalised word can start a name or a place
        if i < resume:
            continue
        word = tokens[i].text
        if word in facts:
            known = facts[word]
        else:
            known = facts[word] = _word_facts(word, lex, all_sets, function_words)
        if known is None:
            continue  # an acronym (NAV, DWP), or never a name on its own ("Vi", "NAV-loven")
        resume = _claim(scan, i, known)
    _settle_deferred(scan)
    return scan.found, scan.unclaimed


def _lower_case_names(scan: _Scan, naming: Sequence[int]) -> None:
    """A name in lower case after a naming verb: "hun heter liv"."""
    tokens, lex = scan.tokens, scan.lex
    n = len(tokens)
    for k in naming:
        tok = tokens[k + 1] if k + 1 < n else None
        if tok is None or tok.text[0].isupper() or len(tok.text) < 2:
            continue
        word = tok.text
        base, _ = split_possessive(word[:1].upper() + word[1:], (lex.given, lex.surnames))
        if base in lex.given or base in lex.surnames:
            scan.found.append(Candidate(tok.start, tok.end, Category.PERSON, P_PERSON, (base,)))
            scan.confirmed_person.add(base)


def _word_facts(
    word: str, lex: Lexicon, all_sets: Sequence[frozenset[str]], function_words: frozenset[str]
) -> _WordFacts | None:
    """What the lists say of a capitalised word; None when it can never start a name."""
    if word.isupper():
        return None
    base, suffix = split_possessive(word, all_sets)
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


def _claim(scan: _Scan, i: int, known: _WordFacts) -> int:
    """Claim what the capitalised word ``i`` starts; returns the index the scan resumes at."""
    tokens = scan.tokens
    tok = tokens[i]
    base, suffix, _, multi, is_given, is_sur, _ = known
    # Multi-word places first ("Mo i Rana", "Ytre Arna").
    if multi:
        matched = _multi_word_place(tokens, i, multi)
        if matched:
            scan.found.append(
                Candidate(tok.start, tokens[i + matched - 1].end, Category.PLACE, P_PLACE)
            )
            return i + matched
    # A run of capitalised name words is one person: "Anne Grete Haugland".
    run = _name_run(scan, i, base, suffix) if is_given or is_sur else [(tok, base, suffix)]
    initial = tok.start in scan.starts
    before = _word_before(scan.text, tokens, i, initial)
    if len(run) > 1 and (is_given or run[1][1] in scan.lex.surnames):
        parts = tuple(b for _, b, _ in run)
        scan.found.append(
            Candidate(
                tok.start, run[-1][0].end, Category.PERSON, P_PERSON, parts, suffix=run[-1][2]
            )
        )
        scan.confirmed_person.update(parts)
        return i + len(run)
    category = _category(known, before, initial, scan.lex)
    _claim_word(scan, i, known, category, before, initial)
    return i + 1


def _multi_word_place(tokens: list[Token], i: int, multi: tuple[tuple[str, ...], ...]) -> int:
    """How many words of a multi-word place start at ``i`` (0 when none does)."""
    n = len(tokens)
    for words in multi:
        k = len(words)
        if i + k <= n and all(tokens[i + j].text == words[j] for j in range(k)):
            return k
    return 0


def _name_run(scan: _Scan, i: int, base: str, suffix: str) -> list[tuple[Token, str, str]]:
    """The capitalised name words from ``i`` on, as (token, base, possessive suffix)."""
    tokens, lex, text = scan.tokens, scan.lex, scan.text
    name_sets = (lex.given, lex.surnames)
    n = len(tokens)
    run = [(tokens[i], base, suffix)]
    j = i + 1
    while j < n and text[tokens[j - 1].end : tokens[j].start] == " " and tokens[j].capitalised:
        nxt = tokens[j]
        nb, ns = split_possessive(nxt.text, name_sets)
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
    return run


def _word_before(text: str, tokens: list[Token], i: int, initial: bool) -> str:
    """The word right before ``i`` (case-folded) when it is in the same sentence, else ""."""
    # Only a word right before, in the same sentence: "på Moa", not "på 4524. Moa".
    if i == 0 or initial:
        return ""
    prev = tokens[i - 1]
    if text[prev.end : tokens[i].start].strip(" "):
        return ""
    return prev.text.casefold()


def _category(known: _WordFacts, before: str, initial: bool, lex: Lexicon) -> Category | None:
    """What a single capitalised word is by the lists and the word before it, if anything."""
    base, _, folded, _, is_given, is_sur, is_place = known
    if before in LOCATIVES and is_place:
        return Category.PLACE
    if is_given:
        return Category.PERSON
    if is_sur and is_place:
        return Category.PLACE if before in LOCATIVES else Category.PERSON
    if is_sur:
        return Category.PERSON
    if is_place:
        return Category.PLACE
    if before in PERSON_CUES or before in NAMING_CUES:
        return Category.PERSON if not initial else None
    if (
        before in LOCATIVES
        and not initial
        and folded not in lex.common_nb
        and folded not in lex.common_en
        and not folded.endswith(INSTITUTION_ENDINGS)
    ):
        return Category.PLACE  # an unlisted village or district: "på Moa"
    if (
        not initial
        and len(base) > 2
        and not in_vocabulary(folded, lex)
        and not folded.endswith(INSTITUTION_ENDINGS)
    ):
        return Category.PERSON  # a capitalised word in no dictionary: "Røhnebæk"
    return None


def _claim_word(
    scan: _Scan, i: int, known: _WordFacts, category: Category | None, before: str, initial: bool
) -> None:
    """Keep, defer or leave the single word ``i`` that ``category`` was worked out for."""
    tok = scan.tokens[i]
    base, suffix, folded, _, _, _, is_place = known
    if category is None:
        if initial and folded not in scan.common:
            scan.deferred.append((i, base, suffix))  # "Karimi hadde …" after "Ahmad Karimi"
        scan.unclaimed.append(tok)
        return
    if initial and folded in scan.common and before not in PERSON_CUES:
        # "Dag etter dag", "Will you…", "Liv og helse": decide after the whole text.
        scan.deferred.append((i, base, suffix))
        return
    everyday = folded in scan.lex.common_nb or folded in scan.lex.common_en
    if initial and everyday and category is Category.PLACE and not is_place:
        scan.unclaimed.append(tok)
        return
    scan.found.append(
        Candidate(
            tok.start,
            tok.end,
            category,
            P_PERSON if category is Category.PERSON else P_PLACE,
            (base,),
            suffix=suffix if category is Category.PERSON else "",
        )
    )
    if category is Category.PERSON and not initial:
        scan.confirmed_person.add(base)
    if category is Category.PLACE and not initial:
        scan.confirmed_place.add(base)


def _settle_deferred(scan: _Scan) -> None:
    """Words at sentence starts: a person or a place when the rest of the text confirmed it."""
    tokens, lex = scan.tokens, scan.lex
    n = len(tokens)
    for index, base, suffix in scan.deferred:
        tok = tokens[index]
        following = tokens[index + 1].text.casefold() if index + 1 < n else ""
        if following in EVERYDAY_FOLLOWERS.get(base.casefold(), frozenset()):
            continue  # "Per i dag", "Will you"
        spoken = following in SPEECH_VERBS
        if base in scan.confirmed_person or (spoken and base in lex.given):
            scan.found.append(
                Candidate(tok.start, tok.end, Category.PERSON, P_PERSON, (base,), suffix=suffix)
            )
        elif base in scan.confirmed_place:
            scan.found.append(Candidate(tok.start, tok.end, Category.PLACE, P_PLACE))
