"""The catalog check the bot and web tests share: every marked text has nb and nn translations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).parents[1]
LOCALE_DIR = ROOT / "fieldvault" / "config" / "locale"


def marked_texts(source: Path, pot: Path, config: Path | None = None) -> set[str]:
    """The ids of every text marked with ``_()`` under ``source``, as Babel extracts them."""
    options = ["-F", str(config)] if config is not None else []
    babel = [sys.executable, "-m", "babel.messages.frontend", "extract", "--no-location"]
    subprocess.run(
        [*babel, "--omit-header", *options, "-k", "_", "-o", str(pot), str(source)],
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {str(m.id) for m in read_po(handle) if m.id}


def untranslated(texts: set[str], lang: str) -> list[str]:
    """The texts that the ``lang`` catalog leaves empty, sorted."""
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "fieldvault.po").open("rb") as handle:
        catalog = {m.id: m.string for m in read_po(handle) if m.id}
    return sorted(t for t in texts if not catalog.get(t))
