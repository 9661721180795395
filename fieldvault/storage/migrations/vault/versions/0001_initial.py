"""Initial schema of the linkage vault.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 13:41:17.056790
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("study_id", sa.String(length=63), nullable=False),
        sa.Column("participant_code", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
    )
    op.create_index(
        op.f("ix_data_keys_participant_code"), "data_keys", ["participant_code"], unique=False
    )
    op.create_index(op.f("ix_data_keys_study_id"), "data_keys", ["study_id"], unique=False)

    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=63), nullable=False),
        sa.Column("participant_code", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("telegram_lookup", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint(
            "study_id", "participant_code", name=op.f("uq_identities_study_id_participant_code")
        ),
    )
    op.create_index(op.f("ix_identities_study_id"), "identities", ["study_id"], unique=False)
    op.create_index(
        op.f("ix_identities_telegram_lookup"), "identities", ["telegram_lookup"], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("identities")
    op.drop_table("data_keys")
