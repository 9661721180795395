r"""Pattern detectors: contacts, ID numbers with check digits, dates of birth, addresses, URLs.

Each detector yields ``(start, end, category)`` over the raw text. Spaces inside a match are
matched as ``[ ]`` (never ``\s``) so no match ever crosses a line: transcripts are pseudonymised
with one segment per line.

Patterns that begin with a digit (or "+") are written to *open* with that character and check
what stands before it with a lookbehind right after it: ``\d(?<![\d-]\d)`` rather than
``(?<![\d-])\d``. The two match the same text, but a pattern that opens with a character class
lets the regex engine skip in C to the next place it could start, where a leading lookbehind
makes it try every position: five times faster over a long transcript.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from fieldvault.pseudonymise.labels import Category
from fieldvault.pseudonymise.numbers import is_national_id, is_org_number

Hit = tuple[int, int, Category]

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'()\[\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_USERNAME = re.compile(r"(?<![\w@.])@[A-Za-z][A-Za-z0-9_]{3,31}\b")

# Phone numbers. International: + or 00, country code, then groups; 8 to 15 digits in all.
_INTL = re.compile(
    r"(?:\+(?<![\w+]\+)|0(?<![\w+]0)0)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\d])"
)
# Norwegian 8-digit forms: 91234567, 912 34 567, 91 23 45 67, 9123 4567 (mobile only).
_NO_PHONE = re.compile(
    r"[2-9](?<![\d+][2-9])(?<!\d[.,][2-9])"
    r"(?:\d{7}|\d{2}([ .])\d{2}\1\d{3}|\d([ .])\d{2}\2\d{2}\2\d{2}|(?<=[4-9])\d{3} \d{4})"
    r"(?!\d|[.,]\d)"
)
# UK national forms: 07700 900123, 020 7946 0958, 0161 496 0000.
_UK_PHONE = re.compile(
    r"0(?<![\d+]0)(?:7\d{3}[ -]?\d{6}|\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}"
    r"|\d{2,4}[ -]?\d{3,4}[ -]\d{3,4})"
    r"(?!\d)"
)

_FNR = re.compile(r"(\d(?<![\d-]\d)(?<!\d[.,]\d)\d{5})[ ]?(\d{5})(?!\d|[.,]\d)")
_ORG = re.compile(r"(\d(?<![\d-]\d)(?<!\d[.,]\d)\d{2})[ ]?(\d{3})[ ]?(\d{3})(?!\d|[.,]\d)")

_MONTHS = (
    r"(?:jan(?:uar|uary)?|feb(?:ruar|ruary)?|mars|march|mar|apr(?:il)?|mai|may|juni?|june|"
    r"juli?|july|aug(?:ust)?|sep(?:t|tember)?|okt(?:ober)?|oct(?:ober)?|nov(?:ember)?|"
    r"des(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[./]\d{1,2}[./](?:19|20)?\d{2}"
    r"|(?:19|20)\d{2}-\d{2}-\d{2}"
    rf"|\d{{1,2}}(?:\.|st|nd|rd|th)?(?:[ ]of)?[ ]{_MONTHS}[ ,]*(?:19|20)\d{{2}}"
    rf"|{_MONTHS}[ ]\d{{1,2}}(?:st|nd|rd|th)?,?[ ](?:19|20)\d{{2}})"
)
_BIRTH = re.compile(
    r"(?:født|fødd|fødselsdato(?:en)?|fødselsdagen|f\.|born|date[ ]of[ ]birth|d\.o\.b\.?|dob|"
    r"birthday|bursdag(?:en)?)"
    r"(?:[ ]+(?:er|var|is|was|on|den|på|the|hans|hennes|hennar|mitt|min|mi|his|her|my|their)"
    r"|[ ]*[:-])*"
    rf"[ :]*({_DATE})",
    re.IGNORECASE,
)

# Street addresses. Norwegian: a capitalised word ending in a street suffix, optionally a
# preceding capitalised word ("Kong Oscars gate"), a house number, and a postcode and place.
_STREET_SUFFIX = (
    r"(?:veien|vegen|veg|vei|gata|gate|gaten|gt\.|stien|stig|plassen|plass|bakken|allé|alle|"
    r"allèen|svingen|tunet|brygge|bryggen|kaia|kaien|ringen|tråkket|kroken|lia|haugen|moen|"
    r"jordet|løkka|myra|torget|vollen|skogen|åsen|kleiva|hagen)"
)
_WEAK_SUFFIX = {"lia", "haugen", "moen", "jordet", "løkka", "myra", "vollen", "skogen", "åsen"}
_WEAK_SUFFIX |= {"kleiva", "hagen", "torget", "bakken", "ringen", "kroken", "tunet", "stig"}
_NO_ADDRESS = re.compile(
    r"(?<![\w])(?:(?:[A-ZÆØÅ][\wæøåÆØÅ'-]*|[A-ZÆØÅ]\.)[ ])?"
    rf"[A-ZÆØÅ][\wæøåÆØÅ'-]*?{_STREET_SUFFIX}\b"
    rf"(?:[ ]{_STREET_SUFFIX}\b)?"
    r"(?P<number>[ ]\d{1,4}[ ]?[A-Za-z]?\b)?"
    r"(?:,?[ ]\d{4}[ ][A-ZÆØÅ][\wæøåÆØÅ-]+)?"
)
_NO_ADDRESS_SPLIT = re.compile(
    r"(?<![\w])(?:[A-ZÆØÅ][\wæøåÆØÅ'-]*[ ])?(?:[A-ZÆØÅ][\wæøåÆØÅ'-]*s?)[ ]"
    r"(?:gate|vei|veg|plass|allé|stredet)[ ]\d{1,4}[ ]?[A-Za-z]?\b"
    r"(?:,?[ ]\d{4}[ ][A-ZÆØÅ][\wæøåÆØÅ-]+)?"
)
_EN_ADDRESS = re.compile(
    r"\d(?<![\w]\d)\d{0,3}[A-Za-z]?,?[ ](?:[A-Z][a-z']+[ ]){1,3}"
    r"(?:Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Drive|Dr|Close|Way|Place|Pl|Crescent|Terrace|"
    r"Gardens|Court|Square|Grove|Row|Hill|Park|Mews|Walk)\b\.?"
    r"(?:,?[ ][A-Z][a-z]+)?(?:,?[ ][A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2})?"
)
_POSTCODE_PLACE = re.compile(r"\d(?<![\d-]\d)\d{3}[ ][A-ZÆØÅ][A-ZÆØÅa-zæøå-]+(?:[ ]\d{1,2})?\b")
_POSTCODE_CUE = re.compile(r"(?:postnummer|postnr\.?|adresse)[^\n]{0,20}$", re.IGNORECASE)


# What speech recognition writes for spoken contacts: "ola punktum hansen krøllalfa example
# punktum no", "zero seven seven zero zero nine…", "den fjortende mai nittenåttifem".
_SPOKEN_EMAIL = re.compile(
    r"(?<![\w])[\w-]+(?:[ ](?:punktum|dot)[ ][\w-]+)*[ ](?:krøllalfa|alfakrøll|at)[ ]"
    r"[\w-]+(?:[ ](?:punktum|dot)[ ][\w-]+)+",
    re.IGNORECASE,
)
_DIGIT_WORDS = {
    "null": 1, "en": 1, "ett": 1, "to": 1, "tre": 1, "fire": 1, "fem": 1, "seks": 1, "sju": 1,
    "syv": 1, "åtte": 1, "ni": 1, "zero": 1, "oh": 1, "one": 1, "two": 1, "three": 1,
    "four": 1, "five": 1, "six": 1, "seven": 1, "eight": 1, "nine": 1, "double": 0,
    "triple": 0, "dobbel": 0,
}  # fmt: skip
_ORDINAL_WORD = r"(?:[a-zæøå]+(?:ende|ste|dje|de|th|st|nd|rd))"
_YEAR_WORDS = (
    r"(?:nitten[a-zæøå]+|tjue[a-zæøå]+|totusen[a-zæøå]*|nineteen[ a-z-]+?|two thousand[ a-z-]*?)"
)
_SPOKEN_BIRTH = re.compile(
    r"(?:født|fødd|born)(?:[ ](?:den|on|the))?[ ]"
    rf"({_ORDINAL_WORD}(?:[ ]of)?[ ]{_MONTHS}(?:[ ]{_YEAR_WORDS})?)(?![\w])",
    re.IGNORECASE,
)


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _date_prefixed(number: str) -> bool:
    """Eleven digits in one run whose first six read as a date (ddmmyy), like an ID number."""
    if len(number) != 11 or not number.isdigit():
        return False
    day, month = int(number[:2]), int(number[2:4])
    return 1 <= day <= 31 and 1 <= month <= 12


# The street suffixes as plain endings, to find candidate street names among the words.
_STREET_ENDINGS = (
    "veien", "vegen", "veg", "vei", "gata", "gate", "gaten", "gt", "stien", "stig", "plassen",
    "plass", "bakken", "allé", "alle", "allèen", "svingen", "tunet", "brygge", "bryggen", "kaia",
    "kaien", "ringen", "tråkket", "kroken", "lia", "haugen", "moen", "jordet", "løkka", "myra",
    "torget", "vollen", "skogen", "åsen", "kleiva", "hagen",
)  # fmt: skip
# Every spoken e-mail has a "punktum" or "dot" after its "at": that word, far rarer than "at",
# marks where to look.
_SPOKEN_EMAIL_CUES = frozenset({"punktum", "dot"})
_BIRTH_CUES = frozenset({"født", "fødd", "born"})
# The first word of each cue of _BIRTH ("f" of "f.", "date" of "date of birth", "d" of "d.o.b").
_BIRTH_CUE_WORDS = frozenset(
    {"fødselsdato", "fødselsdatoen", "fødselsdagen", "f", "date", "d", "dob", "birthday"}
    | {"bursdag", "bursdagen"}
)
# The street words _NO_ADDRESS_SPLIT turns on ("Kong Oscars gate 5"), as written.
_SPLIT_STREET_WORDS = frozenset({"gate", "vei", "veg", "plass", "allé", "stredet"})


def _cased(words: Iterable[str]) -> list[str]:
    """Each word in lower, capitalised and upper case."""
    return [form for w in words for form in (w, w.capitalize(), w.upper())]


_DIGIT_WORDS_CASED = {form: weight for w, weight in _DIGIT_WORDS.items() for form in _cased([w])}
_CUES_CASED: dict[str, str] = (
    dict.fromkeys(_cased(_BIRTH_CUE_WORDS), "birth")
    | dict.fromkeys(_cased(_BIRTH_CUES), "spoken-birth")
    | dict.fromkeys(_cased(_SPOKEN_EMAIL_CUES), "email")
)

# Every word _from_tokens reacts to, as written: the caller indexes the tokens by it.
TOKEN_WORDS = frozenset(_DIGIT_WORDS_CASED) | frozenset(_CUES_CASED) | _SPLIT_STREET_WORDS

Token = tuple[int, int, str]  # start, end, word (as the engine tokenises)


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _in(rx: re.Pattern[str], text: str, windows: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    """Matches of ``rx`` inside each window (lookbehind still sees the text before it)."""
    for start, end in windows:
        yield from rx.finditer(text, start, end)


def detect(
    text: str,
    tokens: Sequence[Token] = (),
    hits: Sequence[int] | None = None,
    capitalised: Sequence[int] | None = None,
) -> Iterator[Hit]:
    """Every pattern hit in ``text``; overlaps are resolved by the caller.

    Patterns that open with a digit scan the whole text (see the module docstring); the
    others run only near what they need (digits, "@", "http", a street suffix, a cue word).
    """
    yield from _numbers(text)
    yield from _addresses(text)
    yield from _contacts(text)
    if hits is None:
        hits = [k for k, tok in enumerate(tokens) if tok[2] in TOKEN_WORDS]
    if capitalised is None:
        capitalised = [k for k, tok in enumerate(tokens) if tok[2][:1].isupper()]
    yield from _from_tokens(text, tokens, hits, capitalised)


def _numbers(text: str) -> Iterator[Hit]:
    """ID and organisation numbers with valid check digits, and phone numbers."""
    for m in _FNR.finditer(text):
        if is_national_id(m.group(1) + m.group(2)):
            yield m.start(), m.end(), Category.NATIONAL_ID
    for m in _ORG.finditer(text):
        if is_org_number(m.group(1) + m.group(2) + m.group(3)):
            yield m.start(), m.end(), Category.ORG_NUMBER
    for m in _INTL.finditer(text):
        if 8 <= _digits(m.group()) <= 15:
            yield m.start(), m.end(), Category.PHONE
    for m in _NO_PHONE.finditer(text):
        yield m.start(), m.end(), Category.PHONE
    for m in _UK_PHONE.finditer(text):
        if _date_prefixed(m.group()):
            continue  # 07015532241: an identity number (valid or not), not a UK mobile
        if 10 <= _digits(m.group()) <= 11:
            yield m.start(), m.end(), Category.PHONE


def _addresses(text: str) -> Iterator[Hit]:
    """English street addresses, and a postcode with its place after a cue or a comma."""
    for m in _EN_ADDRESS.finditer(text):
        yield m.start(), m.end(), Category.ADDRESS
    for m in _POSTCODE_PLACE.finditer(text):
        before = text[max(0, m.start() - 30) : m.start()]
        if _POSTCODE_CUE.search(before) or before.rstrip().endswith(","):
            yield m.start(), m.end(), Category.ADDRESS


def _contacts(text: str) -> Iterator[Hit]:
    """E-mail addresses and usernames near an "@", and links near "http" or "www."."""
    length = len(text)
    if "@" in text:
        ats = _merge([(max(0, i - 80), min(length, i + 260)) for i in _find_all(text, "@")])
        for m in _in(_EMAIL, text, ats):
            yield m.start(), m.end(), Category.EMAIL
        for m in _in(_USERNAME, text, ats):
            yield m.start(), m.end(), Category.USERNAME
    lowered = text.lower()
    if len(lowered) == length:
        links = _merge(
            [
                (max(0, i - 1), min(length, i + 2000))
                for needle in ("http", "www.")
                for i in _find_all(lowered, needle)
            ]
        )
    else:  # a character whose lower case is longer: scan everything
        links = [(0, length)]
    for m in _in(_URL, text, links):
        end = m.end()
        while end > m.start() and text[end - 1] in ".,;:!?":
            end -= 1
        yield m.start(), end, Category.URL


def _find_all(text: str, needle: str) -> Iterator[int]:
    i = text.find(needle)
    while i != -1:
        yield i
        i = text.find(needle, i + 1)


@dataclass
class _Cues:
    """What the cue words found: spoken phone numbers, and the windows other patterns run in."""

    phones: list[Hit] = field(default_factory=list)
    split_streets: list[tuple[int, int]] = field(default_factory=list)
    spoken_email: list[tuple[int, int]] = field(default_factory=list)
    births: list[tuple[int, int]] = field(default_factory=list)
    birth_cues: list[tuple[int, int]] = field(default_factory=list)


def _from_tokens(
    text: str, tokens: Sequence[Token], hits: Sequence[int], capitalised: Sequence[int]
) -> Iterator[Hit]:
    """Street names, spoken e-mails, phone numbers and birth dates, found from the words.

    ``hits`` index the tokens whose word is in TOKEN_WORDS, ``capitalised`` the capitalised
    ones, both in text order.
    """
    cues = _cues(text, tokens, hits)
    yield from cues.phones
    streets = _street_windows(text, tokens, capitalised)
    for m in _in(_BIRTH, text, _merge(cues.birth_cues)):
        yield m.start(1), m.end(1), Category.BIRTH_DATE
    for m in _in(_NO_ADDRESS_SPLIT, text, _merge(cues.split_streets)):
        yield m.start(), m.end(), Category.ADDRESS
    for m in _in(_NO_ADDRESS, text, _merge(streets)):
        word = m.group().split(" ")[0].lower()
        weak = any(word.endswith(s) for s in _WEAK_SUFFIX)
        if m.group("number") or not weak:
            yield m.start(), m.end(), Category.ADDRESS
    for m in _in(_SPOKEN_EMAIL, text, _merge(cues.spoken_email)):
        yield m.start(), m.end(), Category.EMAIL
    for m in _in(_SPOKEN_BIRTH, text, _merge(cues.births)):
        yield m.start(1), m.end(1), Category.BIRTH_DATE


def _cues(text: str, tokens: Sequence[Token], hits: Sequence[int]) -> _Cues:
    """Spoken numbers of 8 digits or more, and windows around street, e-mail and birth cues."""
    length = len(text)
    found = _Cues()
    run: list[Token] = []  # consecutive digit words ("ni to tre fire ...")
    count = 0
    last = -2  # index of the last digit word
    digit_words, cues = _DIGIT_WORDS_CASED, _CUES_CASED
    for index in hits:
        tok = tokens[index]
        word = tok[2]
        weight = digit_words.get(word)
        if weight is not None:
            # Another word, or anything but spaces, commas and dashes, ends a spoken number.
            if run and (index != last + 1 or text[run[-1][1] : tok[0]].strip(" ,-")):
                if count >= 8:
                    found.phones.append((run[0][0], run[-1][1], Category.PHONE))
                run, count = [], 0
            run.append(tok)
            count += weight
            last = index
            continue
        cue = cues.get(word)
        if cue is None:  # a street word ("gate")
            back = tokens[max(0, index - 3)][0]
            found.split_streets.append((back, min(length, tok[1] + 60)))
        elif cue == "email":
            found.spoken_email.append((max(0, tok[0] - 200), min(length, tok[1] + 200)))
        else:
            found.birth_cues.append((tok[0], min(length, tok[1] + 160)))
            if cue == "spoken-birth":
                found.births.append((tok[0], min(length, tok[1] + 120)))
    if count >= 8:
        found.phones.append((run[0][0], run[-1][1], Category.PHONE))
    return found


def _street_windows(
    text: str, tokens: Sequence[Token], capitalised: Sequence[int]
) -> list[tuple[int, int]]:
    """Windows around capitalised words that end like a street name ("Storgata")."""
    length = len(text)
    streets: list[tuple[int, int]] = []
    for index in capitalised:
        if tokens[index][2].endswith(_STREET_ENDINGS):
            previous = tokens[index - 1][0] if index else tokens[index][0]
            streets.append((previous, min(length, tokens[index][1] + 40)))
    return streets
