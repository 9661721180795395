"""The bot's texts: gettext catalogs (nb, nn, en) read with Babel; English message ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parents[1] / "config" / "locale"
DOMAIN = "fieldvault"
# Researchers read the bot in English (its researcher commands are English too).
RESEARCHER_LANGUAGE = "en"

Gettext = Callable[[str], str]


@cache
def _catalog(lang: str) -> Catalog | None:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


@cache
def _messages(lang: str) -> dict[str, str]:
    catalog = _catalog(lang)
    if catalog is None:
        return {}
    found: dict[str, str] = {}
    for message in catalog:
        key, value = message.id, message.string
        usable = isinstance(key, str) and isinstance(value, str) and not message.fuzzy
        if usable and key and value:
            found[str(key)] = str(value)
    return found


def gettext_for(lang: str) -> Gettext:
    """A gettext function for ``lang``; untranslated messages fall back to English."""
    messages = _messages(lang)

    def gettext(message: str) -> str:
        return messages.get(message, message)

    return gettext


def pick_language(telegram_code: str | None, offered: Sequence[str]) -> str:
    """The study language closest to the user's Telegram language (``nb-NO``, ``no``, ``nn``)."""
    code = (telegram_code or "").lower().replace("_", "-")
    base = code.split("-")[0]
    candidates = [code, base]
    if base in {"no", "nb"}:
        candidates.append("nb")
    for candidate in candidates:
        if candidate in offered:
            return candidate
    return "en" if "en" in offered else offered[0]
