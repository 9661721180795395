"""Input bounds through the real command line: dates, `--at` offsets, texts and identities."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from .conftest import EXAMPLE
from .test_cli import Fieldvault

pytestmark = pytest.mark.slow


@pytest.fixture
def fv(tmp_path: Path) -> Fieldvault:
    return Fieldvault(tmp_path / "data")


def test_retention_run_at_a_time_with_an_offset_records_that_instant_in_utc(
    fv: Fieldvault,
) -> None:
    fv("init")
    fv("study", "create", str(EXAMPLE))  # processing ends 2021-06-30: due
    code = fv("participant", "add", "nav-veileder", "--name", "Halvard Strømsnes").stdout.strip()

    run = fv("retention", "run", "--at", "2026-12-03T10:00+01:00", "--json")
    assert json.loads(run.stdout)["at"] == "2026-12-03T09:00:00+00:00"

    report = json.loads(fv("retention", "report", "nav-veileder", "--json").stdout)
    assert report["ended_at"] == "2026-12-03T09:00:00+00:00"
    assert [(d["code"], d["at"]) for d in report["deleted"]] == [
        (code, "2026-12-03T09:00:00+00:00")
    ]


def test_retention_run_names_a_study_it_could_not_sweep_and_exits_1(fv: Fieldvault) -> None:
    fv("init")
    fv("study", "create", str(EXAMPLE))
    # A row spoilt by hand: no deadline can be computed from an unknown timezone.
    with closing(sqlite3.connect(fv.data_dir / "research.sqlite3")) as db, db:
        db.execute("UPDATE studies SET timezone = 'Mars/Olympus_Mons'")
    run = fv("retention", "run", "--at", "2026-12-03T10:00Z", ok=False)
    assert run.returncode == 1
    assert "error: nav-veileder: the sweep failed (deadline: ZoneInfoNotFoundError)" in run.stderr
    as_json = fv("retention", "run", "--at", "2026-12-03T10:00Z", "--json", ok=False)
    assert json.loads(as_json.stdout)["failed"] == {
        "nav-veileder": "deadline: ZoneInfoNotFoundError"
    }


def _study_ending(tmp_path: Path, processing_end: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "processing_end = 2021-06-30", f"processing_end = {processing_end}"
    )
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_study_check_and_create_refuse_a_processing_end_of_9999_12_31_and_say_why(
    fv: Fieldvault, tmp_path: Path
) -> None:
    path = _study_ending(tmp_path, "9999-12-31")
    checked = fv("study", "check", str(path), ok=False)
    assert checked.returncode == 1
    assert "processing_end: 9999-12-31 is after 2199-12-31" in checked.stderr
    fv("init")
    created = fv("study", "create", str(path), ok=False)
    assert created.returncode == 1
    assert "9999-12-31 is after 2199-12-31" in created.stderr
    assert "nav-veileder" not in fv("study", "list").stdout


def test_study_extend_refuses_a_date_past_the_bound_and_names_the_latest(
    fv: Fieldvault, tmp_path: Path
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("start_date = 2021-02-01", "start_date = 2095-02-01")
    text = text.replace("project_end = 2021-05-14", "project_end = 2099-05-14")
    text = text.replace("processing_end = 2021-06-30", "processing_end = 2099-06-30")
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    fv("init")
    fv("study", "create", str(path))
    refused = fv(
        "study", "extend", "nav-veileder", "--to", "2106-01-01", "--reason", "Ny vurdering",
        ok=False,
    )  # fmt: skip
    assert "more than 10 years after start_date (2095-02-01)" in refused.stderr
    assert "give a date up to 2105-02-01 with --to" in refused.stderr
    far = fv(
        "study", "extend", "nav-veileder", "--to", "9999-12-31", "--reason", "Ny vurdering",
        ok=False,
    )  # fmt: skip
    assert "9999-12-31 is after 2199-12-31" in far.stderr
    assert "2099-06-30" in fv("study", "list").stdout  # unchanged


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--email", "not-an-email", "the e-mail address is not an e-mail address"),
        ("--phone", "ring meg", "the phone number is not a phone number"),
        ("--name", "Halvard " * 1_300, "the name is 10,399 characters long; at most 200"),
        ("--name", "Halvard\u202e Strømsnes", "the name contains a bidirectional-text control"),
    ],
)
def test_participant_add_refuses_a_bad_identity_and_stores_nothing(
    fv: Fieldvault, option: str, value: str, says: str
) -> None:
    fv("init")
    fv("study", "create", str(EXAMPLE))
    args = ["--name", "Halvard Strømsnes", option, value]
    refused = fv("participant", "add", "nav-veileder", *args, ok=False)
    assert refused.returncode == 1
    assert says in refused.stderr
    assert f"correct {option}" in refused.stderr
    assert value.strip() not in refused.stderr
    assert "participants deleted: 0" in fv("retention", "report", "nav-veileder").stdout
    listed = fv("participants", "nav-veileder").stdout
    assert "invited" not in listed
