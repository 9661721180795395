"""The informant pages' texts: the shared gettext catalogs (nb, nn, en), English message ids.

The texts themselves are in the templates (``_("…")``) and in ``pages.py``; they are extracted
with ``babel.cfg`` next to this file (Python and Jinja2) into ``config/locale/fieldvault.pot``
together with the bot's, and translated in ``config/locale/translations.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parents[2] / "config" / "locale"
DOMAIN = "fieldvault"

Gettext = Callable[[str], str]


def _(message: str) -> str:
    """Mark a text for extraction; it is translated where it is shown."""
    return message


@cache
def _messages(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    found: dict[str, str] = {}
    for message in catalog:
        key, value = message.id, message.string
        if isinstance(key, str) and isinstance(value, str) and key and value and not message.fuzzy:
            found[key] = value
    return found


def gettext_for(lang: str) -> Gettext:
    """A gettext function for ``lang``; untranslated texts fall back to English."""
    messages = _messages(lang)
    return lambda message: messages.get(message, message)
