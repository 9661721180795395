"""What a text people read, or an address people write to, may hold: pure checks, plain words.

Texts an informant reads (titles, letters, consent items) are recorded by their exact SHA-256,
so what the screen shows must be what was hashed. Control characters are invisible or act on
the terminal, and bidirectional controls (overrides, embeddings, isolates, marks) reorder what
is shown: "I do <RLO>ton<PDF> consent" is hashed as written and read as "I do not consent".
Neither has a use in nb, nn or en, so both are refused, except newline and tab. Each check
returns why a value is refused, or None; the caller says where.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional-text controls: ALM, LRM, RLM, embeddings and overrides (U+202A-U+202E),
# isolates (U+2066-U+2069). LRM/RLM reorder nothing by themselves but steer neutral
# characters; nb, nn and en never need them.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Allowed in a multi-line text (a letter, a consent item written over several lines).
LAYOUT = frozenset("\n\t")

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_PHONE = re.compile(r"[0-9 ().\-/+]+")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}{f' {name}' if name else ''}"


def unsafe_character(text: str, *, multiline: bool = True) -> str | None:
    """Why ``text`` is refused for a control or bidirectional character, or None."""
    allowed = LAYOUT if multiline else frozenset()
    for position, char in enumerate(text, start=1):
        if char in allowed:
            continue
        if char in BIDI_CONTROLS:
            return (
                f"contains a bidirectional-text control ({_describe(char)}) at character "
                f"{position}: it changes the order in which text is shown, so what people read "
                "would differ from the text that is recorded; remove it"
            )
        if unicodedata.category(char) == "Cc":
            what = "a line break" if char in LAYOUT else "a control character"
            return (
                f"contains {what} ({_describe(char)}) at character {position}, which cannot "
                "be shown; remove it"
            )
    return None


def too_long(text: str, limit: int, what: str = "characters") -> str | None:
    """Why ``text`` is refused for its length (in characters), or None."""
    if len(text) <= limit:
        return None
    return f"is {len(text):,} {what} long; at most {limit:,} are accepted: shorten it"


def email_problem(value: str) -> str | None:
    """Why ``value`` is not an e-mail address one could write to, or None.

    Syntax only (no DNS look-up): one ``@``, a local part of the usual characters, and a domain
    of at least two dot-separated labels; letters beyond ASCII are allowed in the domain.
    """
    example = "e.g. name@example.org"
    if any(c.isspace() for c in value) or unsafe_character(value, multiline=False):
        return f"contains spaces or control characters; write the address alone, {example}"
    if value.count("@") != 1:
        return f"is not an e-mail address: it needs exactly one @, {example}"
    local, domain = value.split("@")
    if len(value) > 254 or len(local) > 64:
        return "is too long for an e-mail address (at most 64 characters before the @, 254 in all)"
    if not _LOCAL_PART.fullmatch(local):
        return f"is not an e-mail address: the part before the @ is not valid, {example}"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_domain_label(label) for label in labels):
        return f"is not an e-mail address: after the @ comes a domain (example.org), {example}"
    if labels[-1].isdigit():
        return f"is not an e-mail address: the domain ends in a number, {example}"
    return None


def _domain_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c.isalnum() or c == "-" for c in label)
    )


def phone_problem(value: str) -> str | None:
    """Why ``value`` is not a plausible phone number, or None: 5 to 15 digits, + and spacing."""
    example = 'e.g. "+47 912 34 567"'
    if not _PHONE.fullmatch(value.strip()) or "+" in value.strip().lstrip("(")[1:]:
        return f"is not a phone number: write digits, spaces and a leading +, {example}"
    digits = sum(c.isdigit() for c in value)
    if not 5 <= digits <= 15:
        return f"has {digits} digits; a phone number has 5 to 15 (with country code), {example}"
    if len(value) > 32:
        return f"is too long for a phone number; {example}"
    return None
