"""``fieldvault study check`` through a real subprocess: no database, no data dir needed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"


def fieldvault(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIELDVAULT_")}
    return subprocess.run(
        [sys.executable, "-m", "fieldvault", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_checking_the_example_prints_ok_and_a_summary(tmp_path: Path) -> None:
    result = fieldvault("study", "check", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "OK: nav-veileder — Veilederrollen i NAV"
    assert "nb, nn, en" in result.stdout
    assert "interview-recording" in result.stdout
    assert "identifiable-publication" in result.stdout
    assert "2021-05-14" in result.stdout
    assert re.search(r"nb [0-9a-f]{12}\b", result.stdout)
    assert result.stderr == ""


def test_checking_a_file_with_three_mistakes_prints_each_and_exits_1(tmp_path: Path) -> None:
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace('title = "Veilederrollen i NAV"', 'titel = "Veilederrollen i NAV"')
        .replace("processing_end = 2021-06-30", "processing_end = 2021-06-31")
        .replace('id = "identifiable-publication"', 'id = "interview-recording"')
    )
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    result = fieldvault("study", "check", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    problems = [line for line in result.stderr.splitlines() if not line.startswith(str(path))]
    fields = sorted(line.split(":", 1)[0] for line in problems)
    assert fields == ["consent_items[1].id", "processing_end", "titel"]
    assert any("did you mean 'title'?" in line for line in problems)
    assert any("June has 30 days" in line for line in problems)


def test_checking_a_file_with_the_seed_forms_impossible_date_fails(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "processing_end = 2021-06-30", 'processing_end = "31/6 2021"'
    )
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    result = fieldvault("study", "check", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "processing_end: 31/6 2021 is not a real date: June has 30 days" in result.stderr


def test_checking_a_missing_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = fieldvault("study", "check", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
