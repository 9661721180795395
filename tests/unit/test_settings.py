"""The settings object: defaults, sources, validation of every key at once, hidden secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldvault.config.settings import Settings, load_settings
from fieldvault.errors import ConfigError

README = Path(__file__).parents[2] / "README.md"


def test_defaults_put_two_separate_sqlite_files_in_the_data_dir() -> None:
    settings = load_settings(environ={})
    assert settings.data_dir == Path("fieldvault-data")
    assert settings.research_url == "sqlite:///fieldvault-data/research.sqlite3"
    assert settings.linkage_url == "sqlite:///fieldvault-data/vault.sqlite3"
    assert settings.linkage_key_path != settings.content_key_path
    assert settings.timezone == "Europe/Oslo"


def test_environment_overrides_the_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "fieldvault.toml"
    config.write_text('[fieldvault]\ndata_dir = "/srv/from-file"\ntimezone = "UTC"\n')
    settings = load_settings(
        environ={"FIELDVAULT_CONFIG": str(config), "FIELDVAULT_TIMEZONE": "Europe/Berlin"}
    )
    assert settings.data_dir == Path("/srv/from-file")
    assert settings.timezone == "Europe/Berlin"


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            environ={
                "FIELDVAULT_TIMEZONE": "Europe/Olso",
                "FIELDVAULT_LOG_LEVEL": "chatty",
                "FIELDVAULT_DATABSE_URL": "sqlite:///x",
            }
        )
    message = str(caught.value)
    assert "FIELDVAULT_TIMEZONE" in message
    assert "FIELDVAULT_LOG_LEVEL" in message
    assert "FIELDVAULT_DATABSE_URL: unknown setting" in message


def test_the_vault_may_not_share_the_research_database() -> None:
    with pytest.raises(ConfigError, match="separate database"):
        load_settings(
            environ={
                "FIELDVAULT_DATABASE_URL": "sqlite:////tmp/one.sqlite3",
                "FIELDVAULT_VAULT_URL": "sqlite:////tmp/one.sqlite3",
            }
        )


def test_the_two_keys_may_not_be_one_file() -> None:
    with pytest.raises(ConfigError, match="different files"):
        load_settings(
            environ={
                "FIELDVAULT_LINKAGE_KEY_FILE": "/tmp/k.key",
                "FIELDVAULT_CONTENT_KEY_FILE": "/tmp/k.key",
            }
        )


def test_repr_hides_the_token_and_database_passwords() -> None:
    settings = load_settings(
        environ={
            "FIELDVAULT_TELEGRAM_TOKEN": "123456:very-secret-token",
            "FIELDVAULT_DATABASE_URL": "postgresql+psycopg://fv:hunter2@db/research",
        }
    )
    shown = repr(settings) + str(settings)
    assert "very-secret-token" not in shown
    assert "hunter2" not in shown
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == "123456:very-secret-token"


def test_the_readme_documents_every_setting() -> None:
    readme = README.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`FIELDVAULT_{name.upper()}`" in readme, name
