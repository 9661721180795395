"""Both migration environments: they upgrade cleanly, match the models, and stay apart."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from fieldvault.storage import migrate
from fieldvault.storage.db import ResearchBase, VaultBase, make_engine

WHICH = ["research", "vault"]


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _newest(which: migrate.Which) -> str | None:
    return ScriptDirectory(str(migrate.TARGETS[which].script_location)).get_current_head()


@pytest.mark.parametrize("which", WHICH)
def test_an_empty_database_upgrades_to_the_newest_revision(
    which: migrate.Which, research_url: str
) -> None:
    assert migrate.current_revision(research_url, which) is None
    migrate.upgrade(research_url, which)
    assert migrate.current_revision(research_url, which) == _newest(which)
    assert migrate.TARGETS[which].version_table in _tables(research_url)


@pytest.mark.parametrize("which", WHICH)
def test_upgrading_an_up_to_date_database_again_changes_nothing(
    which: migrate.Which, research_url: str
) -> None:
    migrate.upgrade(research_url, which)
    before = _tables(research_url)
    migrate.upgrade(research_url, which)
    assert _tables(research_url) == before
    assert migrate.current_revision(research_url, which) == _newest(which)


def test_the_migrated_research_database_has_no_drift_from_the_models(
    migrated_research: str,
) -> None:
    assert migrate.check(migrated_research, "research") == []


def test_the_migrated_vault_has_no_drift_from_the_models(migrated_vault: str) -> None:
    assert migrate.check(migrated_vault, "vault") == []


def test_drift_is_reported_when_the_database_differs_from_the_models(
    migrated_research: str,
) -> None:
    engine = make_engine(migrated_research)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_invites_study_id"))
        connection.execute(text("ALTER TABLE studies ADD COLUMN stray TEXT"))
    engine.dispose()
    drift = migrate.check(migrated_research, "research")
    assert any("ix_invites_study_id" in line for line in drift)
    assert any("studies.stray" in line for line in drift)


def test_the_research_database_holds_no_identity_table_and_the_vault_no_research_table(
    migrated_research: str, migrated_vault: str
) -> None:
    research = _tables(migrated_research) - {"alembic_version_research"}
    vault = _tables(migrated_vault) - {"alembic_version_vault"}
    assert set(ResearchBase.metadata.tables).isdisjoint(VaultBase.metadata.tables)
    assert research <= set(ResearchBase.metadata.tables)
    assert vault <= set(VaultBase.metadata.tables)
    assert research.isdisjoint(vault)
    assert {"identities", "data_keys"} <= vault
    assert "identities" not in research and "data_keys" not in research


def test_both_environments_can_share_one_database_in_a_pinch(research_url: str) -> None:
    migrate.upgrade(research_url, "research")
    migrate.upgrade(research_url, "vault")
    assert migrate.check(research_url, "research") == []
    assert migrate.check(research_url, "vault") == []
    assert migrate.current_revision(research_url, "research") == _newest("research")
    assert migrate.current_revision(research_url, "vault") == _newest("vault")


def test_an_unknown_database_name_is_refused(research_url: str) -> None:
    with pytest.raises(ValueError, match="unknown database"):
        migrate.upgrade(research_url, "linkage")  # type: ignore[arg-type]


def test_api_tokens_made_before_expiry_existed_get_90_days_from_their_creation(
    research_url: str,
) -> None:
    migrate.upgrade(research_url, "research", "0008")
    engine = make_engine(research_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO studies (id, title, definition_toml, definition_sha256, "
                    "timezone, project_end, processing_end, created_at) VALUES ('s', 't', '', "
                    "'', 'Europe/Oslo', '2030-01-01', '2030-01-01', '2026-01-01 10:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO api_tokens (study_id, label, token_hash, created_at) "
                    "VALUES ('s', 'old', 'h', '2026-01-01 10:00:00')"
                )
            )
        migrate.upgrade(research_url, "research")
        with engine.connect() as connection:
            expires = connection.execute(text("SELECT expires_at FROM api_tokens")).scalar_one()
        assert str(expires).startswith("2026-04-01 10:00:00")
    finally:
        engine.dispose()
