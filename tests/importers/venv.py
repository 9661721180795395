"""Build the importers' venv (``.venv-importers``) from the pinned ``requirements.txt``.

qualitative-coding (its ``qc`` imports REFI-QDA projects) cannot live beside fieldvault: it
requires rich<14 and more-itertools<11 where fieldvault pins rich 15 and more-itertools 11,
and its command line imports spaCy (about 300 MB with thinc and blis) at start-up. So it gets
a venv of its own, built from exact pins with ``--no-deps`` so that nothing is resolved anew;
``pyrefiqda`` (a REFI-QDA binding generated from the XSD) reads back what qc does not import.
The venv is rebuilt when the requirements change (a stamp holds their SHA-256).

    python -m tests.importers.venv [FOLDER]      # make importers
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("requirements.txt")
DEFAULT = Path(__file__).parents[2] / ".venv-importers"
INSTALL_TIMEOUT_S = 900


def venv_folder() -> Path:
    """Where the importers' venv lives (``FIELDVAULT_IMPORTERS_VENV`` overrides the default)."""
    return Path(os.environ.get("FIELDVAULT_IMPORTERS_VENV") or DEFAULT)


def _stamp(folder: Path) -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return folder / f".installed-{digest}"


def ensure(folder: Path | None = None) -> Path:
    """The venv's bin folder, built first when missing or out of date."""
    folder = folder or venv_folder()
    stamp = _stamp(folder)
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        subprocess.run(
            [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
             "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            check=True,
            timeout=INSTALL_TIMEOUT_S,
        )  # fmt: skip
        stamp.touch()
    return folder / "bin"


if __name__ == "__main__":
    print(ensure(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
