"""Fixtures shared by every test: both databases on SQLite and on PostgreSQL.

Every test that asks for ``research_url`` or ``vault_url`` (directly or through the migrated
fixtures) runs twice, once per backend. SQLite databases are files under ``tmp_path``; on
PostgreSQL each URL is a freshly created database with a unique name, dropped afterwards.
Deselect the PostgreSQL runs with ``-m "not postgres"``. When the server is not reachable those
runs are skipped, except under ``CI=true``, where they fail: CI must test both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.storage import migrate
from fieldvault.storage.db import make_engine, session_factory

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres connect_timeout=3"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

NewDatabase = Callable[[str], str]


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[psycopg.Connection | str]:
    """One autocommit connection to the server for CREATE/DROP DATABASE, or why there is none."""
    try:
        connection = psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except psycopg.Error as exc:
        # Asked once per session, so an absent server costs one timeout, not one per test.
        yield " ".join(str(exc).split())
        return
    with connection:
        yield connection


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def new_database(
    backend: str, tmp_path: Path, _postgres_admin: psycopg.Connection | str
) -> Iterator[NewDatabase]:
    """Make empty databases on this run's backend: ``new_database("research")`` returns a URL."""
    if backend == "postgresql" and isinstance(_postgres_admin, str):
        reason = f"PostgreSQL on {PG_HOST}:{PG_PORT} is not reachable: {_postgres_admin}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    created: list[str] = []

    def make(purpose: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'{purpose}.sqlite3'}"
        assert isinstance(_postgres_admin, psycopg.Connection)
        name = f"fvtest_{purpose}_{uuid.uuid4().hex[:12]}"
        _postgres_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    yield make
    if isinstance(_postgres_admin, psycopg.Connection):
        for name in created:
            # FORCE ends connections a test left open (an engine it never disposed of).
            _postgres_admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def research_url(new_database: NewDatabase) -> str:
    """URL of an empty research database on this run's backend."""
    return new_database("research")


@pytest.fixture
def vault_url(new_database: NewDatabase) -> str:
    """URL of an empty linkage vault database on this run's backend."""
    return new_database("vault")


@pytest.fixture
def migrated_research(research_url: str) -> str:
    """URL of a research database migrated to the newest revision."""
    migrate.upgrade(research_url, "research")
    return research_url


@pytest.fixture
def migrated_vault(vault_url: str) -> str:
    """URL of a linkage vault migrated to the newest revision."""
    migrate.upgrade(vault_url, "vault")
    return vault_url


@pytest.fixture
def research_session(migrated_research: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated research database."""
    engine = make_engine(migrated_research)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def vault_session(migrated_vault: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated linkage vault."""
    engine = make_engine(migrated_vault)
    yield session_factory(engine)
    engine.dispose()
