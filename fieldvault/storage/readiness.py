"""What `/api/ready` asks of the stores: each a cheap round trip that raises when it fails."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine

from fieldvault.storage.services import Services

# A well-formed object id no blob has: asking for it is one HEAD (S3) or stat (folder).
PROBE_OBJECT_ID = "readiness-probe-0000"


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def storage_probes(services: Services) -> dict[str, Callable[[], object]]:
    """The research database, the linkage vault and the blob store, by name."""
    vault = services.vault_sessions.kw["bind"]
    assert isinstance(vault, Engine)
    research = services.research_engine
    return {
        "research": lambda: _select_one(research),
        "vault": lambda: _select_one(vault),
        "blobs": lambda: services.content.blobs.exists(PROBE_OBJECT_ID),
    }
