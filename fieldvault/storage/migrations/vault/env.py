"""Alembic environment of the linkage vault; the shared logic is in ``migrations/environment.py``."""

from fieldvault.storage import migrate
from fieldvault.storage.migrations.environment import run

run(migrate.TARGETS["vault"])
