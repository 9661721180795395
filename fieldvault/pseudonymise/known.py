"""What the vault and the study name: the informant's own names and contacts, the study's terms.

These are certain: a name form the vault holds is replaced wherever it stands, in any case
(except everyday words such as "Liv", replaced only as written), and so is every study term.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import repeat

from fieldvault.pseudonymise.candidates import P_KNOWN, P_TERM, POSSESSIVE, Candidate
from fieldvault.pseudonymise.labels import Category
from fieldvault.pseudonymise.model import KnownPerson, Term


def fold_name(text: str) -> str:
    """``text`` case-folded, spaces collapsed, as a name form is compared."""
    # casefold() turns "İ" into "i" + a combining dot, while the regex's case-insensitive match
    # takes "İ" for "i": fold it the regex's way, or a matched form would have no owner.
    return " ".join(text.split()).casefold().replace("i\u0307", "i")


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


def known_firsts(people: Sequence[KnownPerson]) -> set[str]:
    """The first words of every name form (case-folded), bare and possessive ("karis")."""
    firsts = {fold_name(form.split()[0]) for person in people for form in person.names}
    return firsts | {first + suffix for first in firsts for suffix in POSSESSIVE}


def known_candidates(
    text: str, people: Sequence[KnownPerson], common: frozenset[str], anchors: Sequence[int]
) -> list[Candidate]:
    """The vault's names and contacts; name forms are tried only at ``anchors`` (word starts)."""
    found = _own_name_candidates(text, people, common, anchors)
    lowered = text.lower()
    aligned = len(lowered) == len(text)  # else a character's lower case is longer: use re
    for person in people:
        found += _email_candidates(text, lowered, aligned, person.emails)
        for phone in person.phones:
            rx_phone = _digits_pattern(phone)
            if rx_phone is not None:
                for m in rx_phone.finditer(text):
                    found.append(Candidate(m.start(), m.end(), Category.PHONE, P_KNOWN))
        found += _username_candidates(text, lowered, aligned, person.usernames)
    return found


def _own_name_candidates(
    text: str, people: Sequence[KnownPerson], common: frozenset[str], anchors: Sequence[int]
) -> list[Candidate]:
    found: list[Candidate] = []
    # One pass per letter-case rule over all name forms of all people, not one per form.
    owner: dict[str, str] = {}
    strict: list[str] = []  # everyday words ("Liv"): only as written, capitalised
    loose: list[str] = []
    for person in people:
        for form in person.names:
            key = fold_name(form)
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
            found.append(
                Candidate(
                    m.start(),
                    m.end(),
                    Category.OWN_NAME,
                    P_KNOWN,
                    pseudonym=owner[fold_name(m.group(1))],
                    suffix=m.group(2) or "",
                )
            )
    return found


def _email_candidates(
    text: str, lowered: str, aligned: bool, emails: Sequence[str]
) -> list[Candidate]:
    found: list[Candidate] = []
    for email in emails:
        if aligned:  # a substring search in C, not a case-insensitive regex scan
            for i in _find_all_folded(lowered, email.lower()):
                found.append(Candidate(i, i + len(email), Category.EMAIL, P_KNOWN))
            continue
        for m in re.finditer(re.escape(email), text, re.IGNORECASE):
            found.append(Candidate(m.start(), m.end(), Category.EMAIL, P_KNOWN))
    return found


def _username_candidates(
    text: str, lowered: str, aligned: bool, usernames: Sequence[str]
) -> list[Candidate]:
    found: list[Candidate] = []
    for username in usernames:
        rx_user = re.compile(rf"@?(?<![\w]){re.escape(username)}(?![\w])", re.IGNORECASE)
        hits: Iterable[re.Match[str] | None]
        if aligned:
            starts = (max(0, i - 1) for i in _find_all_folded(lowered, username.lower()))
            hits = (rx_user.match(text, i) or rx_user.match(text, i + 1) for i in starts)
        else:
            hits = rx_user.finditer(text)
        for m in hits:
            if m is not None:
                found.append(Candidate(m.start(), m.end(), Category.USERNAME, P_KNOWN))
    return found


def term_candidates(text: str, terms: Sequence[Term]) -> list[Candidate]:
    """Every occurrence of the study's terms, with a person's possessive ending kept."""
    found: list[Candidate] = []
    for term in terms:
        for rx in _word_pattern([term.text], frozenset()):
            for m in rx.finditer(text):
                parts = tuple(m.group(1).split())
                found.append(
                    Candidate(
                        m.start(),
                        m.end(),
                        term.category,
                        P_TERM,
                        parts=parts,
                        suffix=(m.group(2) or "") if term.category is Category.PERSON else "",
                    )
                )
    return found
