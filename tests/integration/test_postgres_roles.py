"""The vault apart on PostgreSQL: deploy/postgres/init-roles.sql, run by psql on the real server.

Each test makes two roles and two databases with unique names, runs `fieldvault init` as the
two roles (each database migrated by its owner) and drops everything afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from fieldvault.cli import _register, cli
from fieldvault.storage import migrate

from ..conftest import PG_HOST, PG_PORT, PG_USER

pytestmark = pytest.mark.postgres

ROLES_SQL = Path(__file__).parents[2] / "deploy" / "postgres" / "init-roles.sql"


@dataclass(frozen=True)
class Apart:
    """The names the roles script was run with."""

    research_role: str
    research_db: str
    vault_role: str
    vault_db: str

    def url(self, role: str, database: str) -> str:
        return f"postgresql+psycopg://{role}@{PG_HOST}:{PG_PORT}/{database}"

    @property
    def research_url(self) -> str:
        return self.url(self.research_role, self.research_db)

    @property
    def vault_url(self) -> str:
        return self.url(self.vault_role, self.vault_db)


def dsn(role: str, database: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} user={role} dbname={database} connect_timeout=3"


@pytest.fixture
def apart(_postgres_admin: psycopg.Connection | str) -> Iterator[Apart]:
    if isinstance(_postgres_admin, str):
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable: {_postgres_admin}")
        pytest.skip(f"PostgreSQL is not reachable: {_postgres_admin}")
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    tag = uuid.uuid4().hex[:10]
    names = Apart(f"fvr_{tag}", f"fvtest_rdb_{tag}", f"fvv_{tag}", f"fvtest_vdb_{tag}")
    args = [psql, "-X", "-q", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", "postgres"]
    for name, value in vars(names).items():
        args += ["-v", f"{name}={value}"]
    try:
        subprocess.run(
            [*args, "-f", str(ROLES_SQL)], check=True, capture_output=True, text=True, timeout=60
        )
        yield names
    finally:
        for database in (names.research_db, names.vault_db):
            _postgres_admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        for role in (names.research_role, names.vault_role):
            _postgres_admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_init_migrates_each_database_as_its_owner_and_neither_role_reaches_the_other(
    apart: Apart, tmp_path: Path, _postgres_admin: psycopg.Connection
) -> None:
    _register()
    env = {
        "FIELDVAULT_DATA_DIR": str(tmp_path / "data"),
        "FIELDVAULT_DATABASE_URL": apart.research_url,
        "FIELDVAULT_VAULT_URL": apart.vault_url,
    }
    result = CliRunner().invoke(cli, ["init"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(apart.research_url, "research") is not None
    assert migrate.current_revision(apart.vault_url, "vault") is not None
    # Every table is its database's role's: the migrations ran as the owners, not the superuser.
    for role, database, table in (
        (apart.research_role, apart.research_db, "participants"),
        (apart.vault_role, apart.vault_db, "identities"),
    ):
        with psycopg.connect(dsn(role, database)) as own:
            owners = own.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            assert owners == [(role,)]
            assert own.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)

    # The research role cannot open the vault database ...
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(dsn(apart.research_role, apart.vault_db))
    # ... nor the vault role the research database.
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(dsn(apart.vault_role, apart.research_db))
    # Even a stray GRANT CONNECT later lets the vault role read no research table.
    _postgres_admin.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(apart.research_db), sql.Identifier(apart.vault_role)
        )
    )
    with (
        psycopg.connect(dsn(apart.vault_role, apart.research_db)) as stray,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="permission denied for schema public"
        ),
    ):
        stray.execute("SELECT * FROM public.participants")


def test_the_roles_may_not_create_roles_or_databases(apart: Apart) -> None:
    for role, database in (
        (apart.research_role, apart.research_db),
        (apart.vault_role, apart.vault_db),
    ):
        with psycopg.connect(dsn(role, database), autocommit=True) as own:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                own.execute(f"CREATE DATABASE {database}_copy")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                own.execute(f"CREATE ROLE {role}_more")
