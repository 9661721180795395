"""The SQLite engine: pooled connections that keep fieldvault's pragmas, and are fork-safe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from fieldvault.storage.db import make_engine

PRAGMAS = {
    "foreign_keys": 1,
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "secure_delete": 1,
}


def _pragmas(connection: object) -> dict[str, object]:
    return {
        name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # type: ignore[attr-defined]
        for name in PRAGMAS
    }


def test_a_file_database_reuses_connections_that_keep_every_pragma(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.connect() as first:
            first_id = id(first.connection.dbapi_connection)
            assert _pragmas(first) == PRAGMAS
            # A second connection at the same time is a new one, set up the same way.
            with engine.connect() as second:
                assert id(second.connection.dbapi_connection) != first_id
                assert _pragmas(second) == PRAGMAS
        with engine.connect() as again:
            assert _pragmas(again) == PRAGMAS
        assert engine.pool.checkedin() == 2  # both kept open for the next unit of work
    finally:
        engine.dispose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        pid = os.fork()
        if pid == 0:  # the child: the inherited connection must not be used
            try:
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO t VALUES (1)"))
                    ok = _pragmas(connection) == PRAGMAS
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's own pooled connection still works after the child is gone.
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        engine.dispose()
