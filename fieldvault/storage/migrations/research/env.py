"""Alembic environment of the research database; the shared logic is in ``migrations/environment.py``."""

from fieldvault.storage import migrate
from fieldvault.storage.migrations.environment import run

run(migrate.TARGETS["research"])
