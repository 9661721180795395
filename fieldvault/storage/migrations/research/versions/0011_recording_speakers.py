"""How many speakers an upload says its single-track interview has: ``recordings.speakers``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column; existing recordings take the study's number (NULL)."""
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("speakers", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the column (diarization then uses the study's number)."""
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("speakers")
