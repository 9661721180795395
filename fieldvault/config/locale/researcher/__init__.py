"""The researcher web app's nb and nn texts, one module per area, merged by ``translations``.

Each module holds ``T: dict[str, tuple[str, str]]`` (msgid: (nb, nn)), like the main table;
one module per area keeps work on separate pages from touching the same table.
"""

from __future__ import annotations

import importlib
import pkgutil


def tables() -> dict[str, tuple[str, str]]:
    """Every area's table, merged (a msgid in two areas must have the same translations)."""
    merged: dict[str, tuple[str, str]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for msgid, pair in module.T.items():
            if merged.setdefault(msgid, pair) != pair:
                raise ValueError(f"{msgid!r} is translated differently in {info.name}")
    return merged
