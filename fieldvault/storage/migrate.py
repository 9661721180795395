"""Alembic, driven from code: upgrade, current revision and drift check for both databases.

The research database and the linkage vault are separate databases (often on separate servers,
under separate roles), so each has its own migration environment under ``migrations/<which>``
and its own version table. No ``alembic.ini`` exists on disk: the configuration is built here,
and the connection comes from :func:`fieldvault.storage.db.make_engine`, so the SQLite pragmas
(WAL, busy timeout, secure_delete) apply to migrations too.

A new migration, after changing the models::

    from fieldvault.storage import migrate
    migrate.revision("sqlite:////tmp/scratch.db", "research", "what changed")

then review the generated file by hand (and check it on PostgreSQL) before committing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Connection

from fieldvault.storage import models  # noqa: F401  (registers every table on the two bases)
from fieldvault.storage.db import ResearchBase, VaultBase, make_engine

Which = Literal["research", "vault"]

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Target:
    """What one migration environment manages."""

    which: Which
    metadata: MetaData
    version_table: str

    @property
    def script_location(self) -> Path:
        """The folder holding this environment's env.py and versions/."""
        return MIGRATIONS / self.which

    def include_object(
        self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        """Leave out tables this environment does not own (the other one's, if they share a DB)."""
        if type_ == "table" and reflected and compare_to is None:
            return name in self.metadata.tables
        return True

    def context_options(self) -> dict[str, Any]:
        """Options shared by env.py and :func:`check`, so both compare the same way."""
        return {
            "target_metadata": self.metadata,
            "version_table": self.version_table,
            "include_object": self.include_object,
            # SQLite cannot ALTER most things; batch mode recreates the table instead.
            "render_as_batch": True,
            "compare_type": True,
        }


TARGETS: dict[str, Target] = {
    "research": Target("research", ResearchBase.metadata, "alembic_version_research"),
    "vault": Target("vault", VaultBase.metadata, "alembic_version_vault"),
}


def _target(which: str) -> Target:
    try:
        return TARGETS[which]
    except KeyError:
        raise ValueError(f"unknown database {which!r}; expected 'research' or 'vault'") from None


def _config(target: Target, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(target.script_location))
    config.attributes["target"] = target
    config.attributes["connection"] = connection
    return config


@contextmanager
def _connect(url: str, *, migrating: bool = False) -> Iterator[Connection]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if migrating and sqlite:
                # Batch migrations recreate a table (copy, DROP, RENAME). With foreign keys on,
                # dropping a table other tables refer to fails or cascades, so SQLite's own
                # procedure for schema changes turns them off and checks them afterwards. The
                # pragma is ignored inside a transaction, so it is set before one begins.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                yield connection
            finally:
                if migrating and sqlite:
                    connection.rollback()
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    finally:
        engine.dispose()


def upgrade(url: str, which: Which, revision: str = "head") -> None:
    """Bring the ``which`` database at ``url`` up to ``revision`` (the newest by default)."""
    target = _target(which)
    with _connect(url, migrating=True) as connection, connection.begin():
        command.upgrade(_config(target, connection), revision)
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                # Raising rolls the transaction back where SQLite can (not its DDL).
                raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")


def current_revision(url: str, which: Which) -> str | None:
    """The revision the ``which`` database at ``url`` is at; None when it was never migrated."""
    target = _target(which)
    with _connect(url) as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": target.version_table}
        )
        return context.get_current_revision()


def check(url: str, which: Which) -> list[str]:
    """Differences between the models and the migrated database; empty means no drift."""
    target = _target(which)
    with _connect(url) as connection:
        context = MigrationContext.configure(connection, opts=target.context_options())
        return [_describe(diff) for diff in compare_metadata(context, target.metadata)]


def revision(url: str, which: Which, message: str, rev_id: str | None = None) -> None:
    """Autogenerate a new migration script from the models against the database at ``url``."""
    target = _target(which)
    with _connect(url) as connection, connection.begin():
        command.revision(
            _config(target, connection), message=message, autogenerate=True, rev_id=rev_id
        )


def _describe(diff: Any) -> str:
    # compare_metadata yields tuples such as ("add_table", Table), ("remove_column", schema,
    # table, Column) and, for column changes, lists of ("modify_type", schema, table, column,
    # info, old, new).
    if isinstance(diff, list):
        return "; ".join(_describe(part) for part in diff)
    kind, *rest = diff
    if kind.startswith("modify_") and len(rest) == 6:
        _schema, table, column, _info, old, new = rest
        return f"{kind} {table}.{column}: database {old!r}, models {new!r}"
    objects = [part for part in rest if part is not None and not isinstance(part, (str, dict))]
    return f"{kind} " + " ".join(_name(part) for part in objects or rest)


def _name(part: Any) -> str:
    if isinstance(part, Table):
        return part.name
    table = getattr(part, "table", None)
    name = getattr(part, "name", None)
    if name is not None:
        return f"{table.name}.{name}" if isinstance(table, Table) else str(name)
    return repr(part)
