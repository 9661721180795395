"""Speakers and roles per transcript; interview metadata (date, interviewer, mode) per recording.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``transcript_speakers`` and the interview columns of ``recordings``."""
    op.create_table(
        "transcript_speakers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("display", sa.String(length=64), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("guessed_because", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_transcript_speakers_transcript_id_transcripts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_speakers")),
        sa.UniqueConstraint(
            "transcript_id", "label", name=op.f("uq_transcript_speakers_transcript_id_label")
        ),
    )
    with op.batch_alter_table("transcript_speakers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transcript_speakers_transcript_id"), ["transcript_id"], unique=False
        )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interview_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("interview_date_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("interviewer", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("interview_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("host_track", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("host_track")
        batch_op.drop_column("interview_mode")
        batch_op.drop_column("interviewer")
        batch_op.drop_column("interview_date_source")
        batch_op.drop_column("interview_date")
    with op.batch_alter_table("transcript_speakers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcript_speakers_transcript_id"))
    op.drop_table("transcript_speakers")
