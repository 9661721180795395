"""Fixtures that build a whole fieldvault (settings, keys, both databases) per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldvault.config.settings import Settings, load_settings
from fieldvault.config.study import load_study, parse_study
from fieldvault.domain import studies
from fieldvault.domain.study_updates import update_study
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services, initialise, open_services

EXAMPLE = Path(__file__).parents[2] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
# A fixed "now" before the example study's end dates, so deadlines are in the future.
NOW = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)


def example_still_running(folder: Path) -> Path:
    """A copy of the example study whose end dates lie far ahead, for tests run at today's date.

    The example keeps the seed study's 2021 dates, so at the real date it has ended: uploads
    are refused and a worker's retention sweep deletes what it holds. The start moves too, as
    an end date may lie at most ten years after it (``config.study_limits``).
    """
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace("start_date = 2021-02-01", "start_date = 2190-02-01")
        .replace("project_end = 2021-05-14", "project_end = 2199-05-14")
        .replace("processing_end = 2021-06-30", "processing_end = 2199-06-30")
    )
    assert "2190-02-01" in text and "2199-06-30" in text and "2199-05-14" in text, (
        "the example's dates have changed"
    )
    path = folder / "example-still-running.toml"
    path.write_text(text, encoding="utf-8")
    return path


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
    with transaction(services.research) as session:
        studies.register_study(session, definition, EXAMPLE.read_text(encoding="utf-8"), NOW)
    return definition.id


@pytest.fixture
def running_study_id(services: Services, tmp_path: Path) -> str:
    """The example study registered with end dates far ahead (see ``example_still_running``)."""
    path = example_still_running(tmp_path)
    definition = load_study(path)
    with transaction(services.research) as session:
        studies.register_study(session, definition, path.read_text(encoding="utf-8"), NOW)
    return definition.id


def change_the_letter(services: Services, now: dt.datetime) -> None:
    """Register the example study again with its bokmål letter's first line revised."""
    text = EXAMPLE.read_text(encoding="utf-8")
    first_line = parse_study(text).letter_text("nb").splitlines()[0]
    changed = text.replace(first_line, first_line + " (revidert)", 1)
    with transaction(services.research) as session:
        update_study(session, parse_study(changed), changed, now)
