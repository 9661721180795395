"""Engines, sessions and the two declarative bases: the research database and the linkage vault."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

log = logging.getLogger(__name__)

# One naming convention so that constraint names are identical on SQLite and PostgreSQL,
# which keeps Alembic batch migrations and `alembic check` stable on both.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ResearchBase(DeclarativeBase):
    """Base of the research database models: no direct identifiers ever."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class VaultBase(DeclarativeBase):
    """Base of the linkage vault models: identities and wrapped data keys."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# How long a SQLite writer waits for another's lock before "database is locked" (the CLI says
# so in one line, storage/busy.py). No transaction holds the lock across network or decode
# time (recordings.accept_recording), so a wait this long means something is stuck.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the worker read while the bot writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # secure_delete overwrites freed pages, so a deleted identity does not linger in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _remember_pid(_dbapi_connection: Any, record: Any) -> None:
    record.info["pid"] = os.getpid()


def _refuse_inherited(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
    # A connection opened before a fork belongs to the parent: the child drops it (without
    # closing it under the parent) and the pool opens a fresh one, pragmas and all.
    if record.info.get("pid") != os.getpid():
        record.dbapi_connection = proxy.dbapi_connection = None
        raise exc.DisconnectionError("connection opened in another process")


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings fieldvault relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        memory = database == ":memory:"
        if not memory:
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A file database keeps a few connections open: a new one re-reads the schema and
        # reruns the pragmas, and closing the last one checkpoints and removes the WAL file,
        # which together cost more than the work of a typical transaction. The pragmas are
        # per connection and run on every new one through the "connect" event.
        engine = (
            create_engine(url, poolclass=NullPool)
            if memory
            else create_engine(url, poolclass=QueuePool, pool_size=5, max_overflow=10)
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _remember_pid)
        event.listen(engine, "checkout", _refuse_inherited)
        return engine
    return create_engine(url, pool_pre_ping=True)


def scrub(engine: Engine, tables: Iterable[str] = ()) -> bool:
    """After rows were destroyed, leave no copy of them in the database's files; True when done.

    SQLite: ``secure_delete`` (set on every connection) zeroes deleted cells and every page that
    goes to the freelist, so the main file holds no remnant and needs no VACUUM (which would
    rewrite the whole file, and in WAL mode send all of it through the WAL, for nothing). The
    WAL, though, keeps the pages as they were before the delete until it is checkpointed, and
    a plain checkpoint only rewinds it: ``wal_checkpoint(TRUNCATE)`` copies the zeroed pages
    into the file and cuts the WAL to zero bytes. It waits (busy_timeout) for readers of other
    connections; one that holds a snapshot longer makes it return False, and the next
    destructive step (or sweep) checkpoints again.

    PostgreSQL: ``VACUUM (FULL)`` of ``tables`` rewrites them into new files, so dead tuples
    are not left in page free space as a plain VACUUM may leave them (the vault's tables are
    small, so the exclusive lock lasts milliseconds; ``lock_timeout`` keeps it from queueing
    behind a long transaction). PostgreSQL's WAL segments and archives are the operator's to
    rotate (README "Backups").
    """
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        if (engine.url.database or ":memory:") == ":memory:":
            return True
        with engine.connect() as connection:
            busy, _log, _done = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            log.warning("the WAL of %s could not be truncated yet (readers)", engine.url.database)
        return not busy
    if backend != "postgresql":
        return True
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        try:
            connection.exec_driver_sql("SET lock_timeout = '10s'")
            for table in tables:
                connection.exec_driver_sql(f"VACUUM (FULL) {quote(table)}")
        except exc.DBAPIError as error:
            # Busy or not the owner: the rows are deleted (invisible) all the same; say so.
            log.warning("VACUUM FULL of the vault tables failed: %s", type(error.orig).__name__)
            return False
    return True


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session
