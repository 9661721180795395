"""Input bounds through the real command line: dates, `--at` offsets, texts and identities."""

from __future__ import annotations

import json
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
