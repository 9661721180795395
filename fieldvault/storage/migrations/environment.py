"""The Alembic environment shared by the research database and the linkage vault."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from fieldvault.storage.db import make_engine
from fieldvault.storage.migrate import Target
from fieldvault.storage.models import UTCDateTime


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render fieldvault's column types as plain SQLAlchemy, so migrations never import models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run(target: Target) -> None:
    """Run the migrations of ``target`` offline (SQL) or online (through a connection)."""
    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"),
            literal_binds=True,
            render_item=render_item,
            **target.context_options(),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, target)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as fresh:
            _run(fresh, target)
    finally:
        engine.dispose()


def _run(connection: Any, target: Target) -> None:
    context.configure(connection=connection, render_item=render_item, **target.context_options())
    with context.begin_transaction():
        context.run_migrations()
