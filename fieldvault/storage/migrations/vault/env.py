"""Alembic environment of the linkage vault (the research database has its own, alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from fieldvault.storage import migrate
from fieldvault.storage.db import make_engine
from fieldvault.storage.models import UTCDateTime

# This file's folder names the database it migrates, so a bare `alembic -c ...` run works too.
TARGET = migrate.TARGETS[Path(__file__).parent.name]


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render fieldvault's column types as plain SQLAlchemy, so migrations never import models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    """Emit the SQL for a URL without connecting (``alembic upgrade --sql``)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        render_item=render_item,
        **TARGET.context_options(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection fieldvault.storage.migrate passes in (or a new one)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
        try:
            with engine.connect() as fresh:
                _run(fresh)
        finally:
            engine.dispose()
    else:
        _run(connection)


def _run(connection: Any) -> None:
    context.configure(connection=connection, render_item=render_item, **TARGET.context_options())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
