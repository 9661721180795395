r"""Pattern detectors: contacts, ID numbers with check digits, dates of birth, addresses, URLs.

Each detector yields ``(start, end, category)`` over the raw text. Spaces inside a match are
matched as ``[ ]`` (never ``\s``) so no match ever crosses a line: transcripts are pseudonymised
with one segment per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from fieldvault.pseudonymise.labels import Category
from fieldvault.pseudonymise.numbers import is_national_id, is_org_number

Hit = tuple[int, int, Category]

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'()\[\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_USERNAME = re.compile(r"(?<![\w@.])@[A-Za-z][A-Za-z0-9_]{3,31}\b")

# Phone numbers. International: + or 00, country code, then groups; 8 to 15 digits in all.
_INTL = re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\d])")
# Norwegian 8-digit forms: 91234567, 912 34 567, 91 23 45 67, 9123 4567 (mobile only).
_NO_PHONE = re.compile(
    r"(?<![\d+])(?<!\d[.,])"
    r"(?:[2-9]\d{7}|[2-9]\d{2}([ .])\d{2}\1\d{3}|[2-9]\d([ .])\d{2}\2\d{2}\2\d{2}|[4-9]\d{3} \d{4})"
    r"(?!\d|[.,]\d)"
)
# UK national forms: 07700 900123, 020 7946 0958, 0161 496 0000.
_UK_PHONE = re.compile(
    r"(?<![\d+])(?:07\d{3}[ -]?\d{6}|0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}"
    r"|0\d{2,4}[ -]?\d{3,4}[ -]\d{3,4})"
    r"(?!\d)"
)

_FNR = re.compile(r"(?<![\d-])(?<!\d[.,])(\d{6})[ ]?(\d{5})(?!\d|[.,]\d)")
_ORG = re.compile(r"(?<![\d-])(?<!\d[.,])(\d{3})[ ]?(\d{3})[ ]?(\d{3})(?!\d|[.,]\d)")

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
    r"(?<![\w])\d{1,4}[A-Za-z]?,?[ ](?:[A-Z][a-z']+[ ]){1,3}"
    r"(?:Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Drive|Dr|Close|Way|Place|Pl|Crescent|Terrace|"
    r"Gardens|Court|Square|Grove|Row|Hill|Park|Mews|Walk)\b\.?"
    r"(?:,?[ ][A-Z][a-z]+)?(?:,?[ ][A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2})?"
)
_POSTCODE_PLACE = re.compile(r"(?<![\d-])\d{4}[ ][A-ZÆØÅ][A-ZÆØÅa-zæøå-]+(?:[ ]\d{1,2})?\b")
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


_DIGIT_RUN = re.compile(r"\d+")
# The street suffixes as plain endings, to find candidate street names among the words.
_STREET_ENDINGS = (
    "veien", "vegen", "veg", "vei", "gata", "gate", "gaten", "gt", "stien", "stig", "plassen",
    "plass", "bakken", "allé", "alle", "allèen", "svingen", "tunet", "brygge", "bryggen", "kaia",
    "kaien", "ringen", "tråkket", "kroken", "lia", "haugen", "moen", "jordet", "løkka", "myra",
    "torget", "vollen", "skogen", "åsen", "kleiva", "hagen",
)  # fmt: skip
_SPOKEN_EMAIL_CUES = frozenset({"krøllalfa", "alfakrøll", "at"})
_BIRTH_CUES = frozenset({"født", "fødd", "born"})

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


def detect(text: str, tokens: Sequence[Token] = ()) -> Iterator[Hit]:
    """Every pattern hit in ``text``; overlaps are resolved by the caller.

    Patterns run only near what they need (digits, "@", "http", a street suffix, a cue word)
    rather than over the whole text: that keeps a long transcript at several MB/s.
    """
    length = len(text)
    digits = _merge(
        [(max(0, m.start() - 80), min(length, m.end() + 80)) for m in _DIGIT_RUN.finditer(text)]
    )
    for m in _in(_FNR, text, digits):
        if is_national_id(m.group(1) + m.group(2)):
            yield m.start(), m.end(), Category.NATIONAL_ID
    for m in _in(_ORG, text, digits):
        if is_org_number(m.group(1) + m.group(2) + m.group(3)):
            yield m.start(), m.end(), Category.ORG_NUMBER
    for m in _in(_INTL, text, digits):
        if 8 <= _digits(m.group()) <= 15:
            yield m.start(), m.end(), Category.PHONE
    for m in _in(_NO_PHONE, text, digits):
        yield m.start(), m.end(), Category.PHONE
    for m in _in(_UK_PHONE, text, digits):
        if _date_prefixed(m.group()):
            continue  # 07015532241: an identity number (valid or not), not a UK mobile
        if 10 <= _digits(m.group()) <= 11:
            yield m.start(), m.end(), Category.PHONE
    for m in _in(_BIRTH, text, digits):
        yield m.start(1), m.end(1), Category.BIRTH_DATE
    for m in _in(_NO_ADDRESS_SPLIT, text, digits):
        yield m.start(), m.end(), Category.ADDRESS
    for m in _in(_EN_ADDRESS, text, digits):
        yield m.start(), m.end(), Category.ADDRESS
    for m in _in(_POSTCODE_PLACE, text, digits):
        before = text[max(0, m.start() - 30) : m.start()]
        if _POSTCODE_CUE.search(before) or before.rstrip().endswith(","):
            yield m.start(), m.end(), Category.ADDRESS

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

    yield from _from_tokens(text, tokens)


def _find_all(text: str, needle: str) -> Iterator[int]:
    i = text.find(needle)
    while i != -1:
        yield i
        i = text.find(needle, i + 1)


def _from_tokens(text: str, tokens: Sequence[Token]) -> Iterator[Hit]:
    """Street names, spoken e-mails, phone numbers and birth dates, found from the words."""
    length = len(text)
    streets: list[tuple[int, int]] = []
    spoken_email: list[tuple[int, int]] = []
    births: list[tuple[int, int]] = []
    run: list[Token] = []
    count = 0
    digit_words = _DIGIT_WORDS
    for index, (start, end, word) in enumerate(tokens):
        lower = word.lower()
        weight = digit_words.get(lower)
        if weight is None:
            if run:
                if count >= 8:
                    yield run[0][0], run[-1][1], Category.PHONE
                run, count = [], 0
            if lower in _SPOKEN_EMAIL_CUES:
                spoken_email.append((max(0, start - 120), min(length, end + 120)))
            elif lower in _BIRTH_CUES:
                births.append((start, min(length, end + 120)))
            elif word[0].isupper() and lower.endswith(_STREET_ENDINGS):
                previous = tokens[index - 1][0] if index else start
                streets.append((previous, min(length, end + 40)))
            continue
        if run and text[run[-1][1] : start].strip(" ,-"):
            if count >= 8:
                yield run[0][0], run[-1][1], Category.PHONE
            run, count = [], 0
        run.append((start, end, word))
        count += weight
    if count >= 8:
        yield run[0][0], run[-1][1], Category.PHONE
    for m in _in(_NO_ADDRESS, text, _merge(streets)):
        word = m.group().split(" ")[0].lower()
        weak = any(word.endswith(s) for s in _WEAK_SUFFIX)
        if m.group("number") or not weak:
            yield m.start(), m.end(), Category.ADDRESS
    for m in _in(_SPOKEN_EMAIL, text, _merge(spoken_email)):
        yield m.start(), m.end(), Category.EMAIL
    for m in _in(_SPOKEN_BIRTH, text, _merge(births)):
        yield m.start(1), m.end(1), Category.BIRTH_DATE
