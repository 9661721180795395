"""The database locks fieldvault takes, one implementation per kind for every dialect.

Two kinds:

- ``transaction_lock``: held until the current transaction ends (commit or rollback). On
  PostgreSQL an advisory transaction lock; on SQLite the database's one write lock, which a
  write takes and keeps to the end of the transaction.
- ``process_lock``: held by a process until the block ends or the process dies, never
  waited for (the caller is told the lock is busy). On PostgreSQL a session advisory lock on
  a connection of its own; on SQLite ``flock`` on a file beside the database.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

__all__ = ["LockBusy", "LockKey", "process_lock", "transaction_lock"]


class LockKey(IntEnum):
    """The advisory lock classes: fixed numbers no other part of fieldvault uses."""

    AUDIT = 0x66_76_61_75_64_69_74  # "fvaudit": serialises appends to the audit chain
    NUMBERING = 0x66_76_70_73  # "fvps": a study's placeholder numbering
    SWEEP = 0x66_76_73_77_65_65_70  # "fvsweep": one retention sweep at a time
    SCHEDULER = 0x66_76_73_63_68_65_64  # "fvsched": one `fieldvault scheduler` acting


class LockBusy(Exception):
    """Another process holds a ``process_lock``; the caller says what that means."""


def _scope_key(scope: str) -> int:
    """A signed 32-bit number for ``scope`` (PostgreSQL's two-key advisory locks take int4)."""
    return zlib.crc32(scope.encode()) - 2**31


def transaction_lock(session: Session, key: LockKey, scope: str | None = None) -> None:
    """Take ``key`` (for ``scope``, e.g. a study id) until this session's transaction ends.

    On SQLite the lock is the whole database's: pysqlite begins a transaction lazily, before
    the first write, so a no-op UPDATE (it matches no row, yet takes the write lock) begins it
    and waits (busy_timeout) for any other writer to commit. Reads after it see the newest
    committed data and nobody else writes until this transaction ends. If the transaction has
    written already it holds the lock, and this costs nothing.
    """
    dialect = session.connection().dialect.name
    if dialect == "postgresql":
        # Released at commit or rollback. Under READ COMMITTED (the default) each statement
        # sees what was committed before it began, so reads after the lock see the latest.
        if scope is None:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(key)})
        else:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:cls, :key)"),
                {"cls": int(key), "key": _scope_key(scope)},
            )
    elif dialect == "sqlite":
        session.execute(text("UPDATE audit_events SET seq = seq WHERE 0 = 1"))
    # Other databases: callers' primary keys and conditional updates still keep data whole.


@contextmanager
def process_lock(engine: Engine, key: LockKey) -> Iterator[None]:
    """Hold ``key`` for this process while the block runs, or raise ``LockBusy`` at once.

    The lock dies with its holder (a killed process's connection or file descriptor goes),
    so a crash never leaves it taken.
    """
    url = engine.url
    if url.get_backend_name() == "postgresql":
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            if not connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": int(key)}):
                raise LockBusy(key.name)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": int(key)})
        return
    if not url.database or url.database == ":memory:":
        yield  # a private in-memory database: no other process can reach it
        return
    import fcntl  # POSIX only; imported here so that the module loads anywhere

    fd = os.open(f"{url.database}.{key.name.lower()}-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(key.name) from None
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the flock
