"""A database that stayed locked longer than a writer waits, as one fieldvault error.

SQLite answers ``database is locked`` once its busy timeout has passed while another
connection holds the write lock; PostgreSQL raises ``lock_not_available`` (``lock_timeout``),
``deadlock_detected`` or ``query_canceled`` (``statement_timeout``). The driver's error prints
the SQL and its parameters, which no front end may show: :func:`database_busy` turns it into a
:class:`DatabaseBusy` whose text names neither.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

from fieldvault.errors import FieldvaultError

__all__ = ["DatabaseBusy", "database_busy"]

# SQLite's primary result codes for "another connection holds the lock".
_SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# PostgreSQL SQLSTATEs: lock_not_available, deadlock_detected, query_canceled (timeouts).
_POSTGRES_BUSY_STATES = frozenset({"55P03", "40P01", "57014"})


class DatabaseBusy(FieldvaultError):
    """Another transaction held a lock longer than this one waits; nothing was changed."""

    code = "database.busy"


def _is_busy(orig: BaseException | None) -> bool:
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _SQLITE_BUSY_CODES:
            return True
        text = str(orig)
        return "database is locked" in text or "database table is locked" in text
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state in _POSTGRES_BUSY_STATES


def database_busy(error: BaseException) -> DatabaseBusy | None:
    """A DatabaseBusy when ``error`` (or what caused it) is a lock timeout, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:  # bounded: each link once
        seen.add(id(current))
        if isinstance(current, DBAPIError) and _is_busy(current.orig):
            return DatabaseBusy(
                "the database is busy: another transaction held its lock for longer than "
                "this one waits, and nothing was changed"
            )
        current = current.__cause__ or current.__context__
    return None
