"""Researcher accounts for the web app: accounts, study roles, set-password links, sessions.

Also each account's sealed TOTP secret and each study's login requirements (study_security).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the five tables."""
    op.create_table(
        "researcher_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_login_at", WHEN, nullable=True),
        sa.Column("disabled_at", WHEN, nullable=True),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_key_id", sa.String(length=64), nullable=True),
        sa.Column("totp_enrolled_at", WHEN, nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_researcher_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_researcher_accounts_email")),
    )
    op.create_table(
        "study_members",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=63), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["researcher_accounts.id"],
            name=op.f("fk_study_members_account_id_researcher_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_study_members_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("account_id", "study_id", name=op.f("pk_study_members")),
    )
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["researcher_accounts.id"],
            name=op.f("fk_account_links_account_id_researcher_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_links")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_account_links_code_hash")),
    )
    op.create_index(op.f("ix_account_links_account_id"), "account_links", ["account_id"])
    op.create_table(
        "researcher_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False, server_default="full"),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["researcher_accounts.id"],
            name=op.f("fk_researcher_sessions_account_id_researcher_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_researcher_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_researcher_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_researcher_sessions_account_id"), "researcher_sessions", ["account_id"]
    )
    op.create_table(
        "study_security",
        sa.Column("study_id", sa.String(length=63), nullable=False),
        sa.Column("require_second_factor", sa.Boolean(), nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_study_security_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_study_security")),
    )


def downgrade() -> None:
    """Drop the five tables."""
    op.drop_table("study_security")
    op.drop_index(op.f("ix_researcher_sessions_account_id"), table_name="researcher_sessions")
    op.drop_table("researcher_sessions")
    op.drop_index(op.f("ix_account_links_account_id"), table_name="account_links")
    op.drop_table("account_links")
    op.drop_table("study_members")
    op.drop_table("researcher_accounts")
