"""Fixtures that build a whole fieldvault (settings, keys, both databases) per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldvault.config.settings import Settings, load_settings
from fieldvault.config.study import load_study
from fieldvault.domain import studies
from fieldvault.services import Services, initialise, open_services

EXAMPLE = Path(__file__).parents[2] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
# A fixed "now" before the example study's end dates, so deadlines are in the future.
NOW = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings(tmp_path: Path, research_url: str, vault_url: str) -> Settings:
    return load_settings(
        environ={},
        data_dir=tmp_path / "data",
        database_url=research_url,
        vault_url=vault_url,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    initialise(settings)
    built = open_services(settings)
    yield built
    built.close()


@pytest.fixture
def study_id(services: Services) -> str:
    definition = load_study(EXAMPLE)
    with services.unit_of_work() as session:
        studies.register_study(session, definition, EXAMPLE.read_text(encoding="utf-8"), NOW)
    return definition.id
