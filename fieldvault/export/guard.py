"""The leak guard: nothing leaves fieldvault holding an identity from the linkage vault (rule 3).

Before an export is written, every file it consists of is scanned — the text of every member
of a ZIP (QDPX, DOCX) included, XML both as written and with its tags removed, so a name split
across Word runs is still one word — for every identity string the vault holds for the study:

- names, whole and each part of three letters or more, as whole words, case-blind;
- e-mail addresses, case-blind, also when written differently (``kari (at) example dot no``);
- phone numbers by their digits (``+47 912 34 567`` is found as ``91234567`` and ``912 34 567``);
- Telegram usernames, with or without ``@``; any extra identity field as a whole phrase.

A hit refuses the whole export with an error that names the participant code and the field,
never the value. Matching is deliberately strict: a real name that is also an everyday word
refuses the export until the transcript says otherwise, which is the safe way to be wrong.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from fieldvault.export.model import ExportError, ExportStudy
from fieldvault.storage.vault import Identity

__all__ = ["LeakError", "Needle", "check_approved", "needles_for", "scan"]

_WORD = re.compile(r"\w+")
_TAG = re.compile(r"<[^>]*>")
_MIN_DIGITS = 6
_DIGITS_ONLY = bytes(b if b in b"0123456789" else ord(" ") for b in range(256))
# What people put between the digits of a phone number: removed (in UTF-8) before digit runs
# are read, so "912 34 567", "(912) 34-567" and "912.34.567" are all 91234567.
_SEPARATOR_BYTES = b" \t\n\r\f\v().-/"
_WIDE_SEPARATORS = tuple(
    ch.encode("utf-8") for ch in "\u00a0\u202f\u2007\u2009\u2010\u2011\u2012\u2013\u2014"
)
_ASCII_PUNCTUATION = bytes(
    b if chr(b).isalnum() or b == ord("_") or b >= 0x80 else ord(" ") for b in range(256)
)
_ATTRIBUTE = re.compile(r'="([^"]*)"')
_NATIONAL_DIGITS = 8
# Between the parts of an e-mail written out: punctuation, spaces, "at", "dot" and friends.
_EMAIL_GAP = r"(?:[\W_]|\bat\b|\bdot\b|\bpunktum\b|\bkrøllalfa\b|\bsnabel\b){1,15}?"
_XML_SUFFIXES = (".xml", ".rels", ".qde", ".qdc", ".vml")


class LeakError(ExportError):
    """An export would contain identity from the vault; the message names code and field only."""

    def __init__(self, participant_code: str, field: str, where: str) -> None:
        self.participant_code = participant_code
        self.field = field
        self.where = where
        super().__init__(
            f"export refused: {where} would contain the {field} of participant "
            f"{participant_code} from the linkage vault; nothing was written. Correct the "
            "approved transcript (or the pseudonym and variables) and export again"
        )


@dataclass(frozen=True)
class Needle:
    """One identity string to look for; its repr never shows the value."""

    participant_code: str
    field: str
    kind: Literal["word", "phrase", "email", "digits"]
    value: str  # casefolded word, phrase or address, or the digits of a phone number
    words: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Needle({self.participant_code}, {self.field}, {self.kind}, <redacted>)"

    __str__ = __repr__


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _letters(word: str) -> int:
    return sum(ch.isalpha() for ch in word)


def needles_for(code: str, identity: Identity) -> list[Needle]:
    """Every string of ``identity`` the guard looks for."""
    needles: list[Needle] = []

    def phrase(field: str, text: str) -> None:
        words = tuple(_WORD.findall(_fold(text)))
        if not words:
            return
        if len(words) == 1:
            if _letters(words[0]) >= 3 or any(ch.isdigit() for ch in words[0]):
                needles.append(Needle(code, field, "word", words[0]))
            return
        needles.append(Needle(code, field, "phrase", " ".join(words), words))

    if identity.name:
        phrase("name", identity.name)
        for part in _WORD.findall(_fold(identity.name)):
            if _letters(part) >= 3:
                needles.append(Needle(code, "name", "word", part))
    if identity.email:
        address = _fold(identity.email.strip())
        needles.append(Needle(code, "email", "email", address, tuple(_WORD.findall(address))))
    if identity.phone:
        digits = re.sub(r"[^0-9]", "", identity.phone)
        for variant in {digits, digits[-_NATIONAL_DIGITS:]}:
            if len(variant) >= _MIN_DIGITS:
                needles.append(Needle(code, "phone", "digits", variant))
    if identity.telegram_username:
        phrase("telegram_username", identity.telegram_username.lstrip("@"))
    for key, value in sorted(identity.extra.items()):
        if isinstance(value, str):
            phrase(f"extra.{key}", value)
    return list(dict.fromkeys(needles))


class _Text:
    """One decoded text of an export, with what the needles need computed once."""

    def __init__(self, text: str) -> None:
        self.folded = _fold(text)
        # The \w+ words of the text. A whitespace-separated token that is all letters and digits
        # is exactly one such word; only the others (punctuation attached) need the regex. Same
        # result as _WORD.findall on the whole text, several times faster.
        words: set[str] = set()
        odd: list[str] = []
        # ASCII punctuation becomes space first (bytes.translate is a C table lookup; UTF-8
        # multi-byte sequences are untouched), so few tokens need the regex below.
        spaced = self.folded.encode("utf-8", "surrogatepass").translate(_ASCII_PUNCTUATION)
        for token in set(spaced.decode("utf-8", "surrogatepass").split()):
            if token.isalnum():
                words.add(token)
            else:
                odd.append(token)
        words.update(_WORD.findall(" ".join(odd)))
        self.words = frozenset(words)
        self._digit_runs: list[str] | None = None

    @property
    def digit_runs(self) -> list[str]:
        """Runs of six or more digits once the separators people write are removed."""
        if self._digit_runs is None:
            data = self.folded.encode("utf-8", "surrogatepass")
            if b"\xe2\x80" in data or b"\xc2\xa0" in data:
                for wide in _WIDE_SEPARATORS:
                    data = data.replace(wide, b"")
            # Separators out, every other non-digit byte to a space: the words left are runs.
            runs = data.translate(None, _SEPARATOR_BYTES).translate(_DIGITS_ONLY).split()
            self._digit_runs = [run.decode() for run in runs if len(run) >= _MIN_DIGITS]
        return self._digit_runs

    def contains(self, needle: Needle) -> bool:
        if needle.kind == "word":
            return needle.value in self.words
        if needle.kind == "phrase":
            if not all(w in self.words for w in needle.words):
                return False
            pattern = r"(?<!\w)" + r"\W+".join(map(re.escape, needle.words)) + r"(?!\w)"
            return re.search(pattern, self.folded) is not None
        if needle.kind == "email":
            if not all(w in self.words for w in needle.words):
                return False
            if needle.value in self.folded:
                return True
            pattern = r"(?<!\w)" + _EMAIL_GAP.join(map(re.escape, needle.words)) + r"(?!\w)"
            return re.search(pattern, self.folded) is not None
        return any(needle.value in run for run in self.digit_runs)


def _texts(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """(where, text) for every readable text in one output file, ZIP members included."""
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            archive = None
        if archive is not None:
            with archive:
                for member in archive.infolist():
                    yield from _texts(f"{name} ({member.filename})", archive.read(member))
            return
    text = data.decode("utf-8", errors="replace")
    if name.endswith(_XML_SUFFIXES) or data.lstrip()[:5] == b"<?xml":
        # The text with tags as spaces (table cells, paragraphs stay apart); every attribute
        # value; and, where Word may split a word into runs (<w:t>Ka</w:t><w:t>ri</w:t>), the
        # text with tags removed, so the word is whole again.
        yield name, html.unescape(_TAG.sub(" ", text))
        yield f"{name} (attributes)", html.unescape(" | ".join(_ATTRIBUTE.findall(text)))
        if "<w:t" in text or "<a:t" in text:
            yield name, html.unescape(_TAG.sub("", text))
    else:
        yield name, text


class _Index:
    """The needles arranged so one text is checked with set operations, not one by one."""

    def __init__(self, needles: Iterable[Needle]) -> None:
        self.words: dict[str, list[Needle]] = {}
        self.first_words: dict[str, list[Needle]] = {}  # phrases and e-mails, by first word
        self.digits: list[Needle] = []
        for needle in needles:
            if needle.kind == "word":
                self.words.setdefault(needle.value, []).append(needle)
            elif needle.kind == "digits":
                self.digits.append(needle)
            elif needle.words:
                self.first_words.setdefault(needle.words[0], []).append(needle)

    def find(self, haystack: _Text) -> Needle | None:
        """The first needle (by participant code, then field) found in ``haystack``."""
        hits = [n for w in haystack.words & self.words.keys() for n in self.words[w]]
        for word in haystack.words & self.first_words.keys():
            hits += [n for n in self.first_words[word] if haystack.contains(n)]
        if self.digits and haystack.digit_runs:
            runs = "|".join(haystack.digit_runs)
            hits += [n for n in self.digits if n.value in runs]
        return min(hits, key=lambda n: (n.participant_code, n.field)) if hits else None


def scan(files: Mapping[str, bytes], needles: Iterable[Needle]) -> None:
    """Raise LeakError for the first identity string found in any of ``files``."""
    index = _Index(needles)
    if not (index.words or index.first_words or index.digits):
        return
    scanned: set[bytes] = set()  # the same parts (a DOCX's styles, say) are scanned once
    for where, text in _all_texts(files):
        digest = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).digest()
        if digest in scanned:
            continue
        scanned.add(digest)
        found = index.find(_Text(text))
        if found is not None:
            raise LeakError(found.participant_code, found.field, where)


def _all_texts(files: Mapping[str, bytes]) -> Iterator[tuple[str, str]]:
    """The file names (a pseudonym names files), then every text inside every file."""
    yield "file names", "\n".join(sorted(files))
    for name in sorted(files):
        yield from _texts(name, files[name])


def check_approved(study: ExportStudy) -> None:
    """Refuse a study that carries a transcript nobody approved (rule 3)."""
    for transcript in study.transcripts:
        if transcript.approved_at is None:
            raise ExportError(
                f"export refused: the transcript of participant {transcript.participant_code} "
                "is not approved; approve its pseudonymised text first"
            )
