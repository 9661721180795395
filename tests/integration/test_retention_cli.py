"""``retention run|report``, ``study extend`` and ``consent withdraw`` through a real subprocess."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import EXAMPLE
from .test_cli import Fieldvault
from .test_retention import scan_for

pytestmark = pytest.mark.slow

PEOPLE = [
    ("Halvard Strømsnes", "halvard@example.no"),
    ("Gudrun Øvrebotten", "gudrun@example.no"),
]


@pytest.fixture
def fv(tmp_path: Path) -> Fieldvault:
    return Fieldvault(tmp_path / "data")


def _future_study(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    # End dates may lie at most ten years after the start (config.study_limits).
    text = re.sub(r"(?m)^start_date = .*$", "start_date = 2095-02-01", text)
    text = re.sub(r"(?m)^project_end = .*$", "project_end = 2099-06-30", text)
    text = re.sub(r"(?m)^processing_end = .*$", "processing_end = 2099-06-30", text)
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_withdraw_extend_sweep_and_report_from_the_command_line(
    fv: Fieldvault, tmp_path: Path
) -> None:
    fv("init")
    fv("study", "create", str(_future_study(tmp_path)))
    codes = []
    for name, email in PEOPLE:
        code = fv("participant", "add", "nav-veileder", "--name", name, "--email", email)
        codes.append(code.stdout.strip())
        scan = tmp_path / f"{codes[-1]}.pdf"
        scan.write_bytes(b"%PDF-1.4\n" + name.encode() + b"\n%%EOF\n")
        fv(
            "consent", "record", "nav-veileder", codes[-1],
            "--grant", "interview-recording", "--refuse", "identifiable-publication",
            "--evidence", str(scan), "--researcher", "Student A", "--signed-on", "2021-02-27",
        )  # fmt: skip
    gone, stays = codes

    refused = fv("consent", "withdraw", "nav-veileder", stays, "--item", "nope", ok=False)
    assert "nope" in refused.stderr
    withdrawn = fv("consent", "withdraw", "nav-veileder", gone)
    assert "identity deleted: yes" in withdrawn.stdout
    assert "evidence 1" in withdrawn.stdout

    no_reason = fv(
        "study", "extend", "nav-veileder", "--to", "2099-12-31", "--reason", " ", ok=False
    )
    assert "reason" in no_reason.stderr
    extended = fv(
        "study", "extend", "nav-veileder", "--to", "2099-12-31",
        "--reason", "Ny vurdering fra Sikt", "--assessment-ref", "654321",
    )  # fmt: skip
    assert "2099-12-31" in extended.stdout

    old_deadline = "2099-07-01T00:00+02:00"
    at_old = fv("retention", "run", "--at", old_deadline).stdout
    assert "deleted" not in at_old
    # The extension notices: the informant has no channel here, researchers get a log line.
    assert "notices: sent 1, unreachable 1" in at_old
    dry = fv("retention", "run", "--at", "2100-01-01T00:00+01:00", "--dry-run", "--json")
    preview = json.loads(dry.stdout)
    assert preview["deleted"]["nav-veileder"] == sorted(codes)
    run = fv("retention", "run", "--at", "2100-01-01T00:00+01:00")
    assert "deleted the data of 2 participant(s)" in run.stdout
    assert "nothing is due" in fv("retention", "run", "--at", "2100-01-02T00:00Z").stdout

    report = fv("retention", "report", "nav-veileder")
    assert stays in report.stdout and gone in report.stdout
    assert "654321" in report.stdout
    data = json.loads(fv("retention", "report", "nav-veileder", "--json").stdout)
    assert data["objects_deleted"] == {"evidence": 1}
    assert data["identities_deleted"] == 1
    assert [w["code"] for w in data["withdrawals"]] == [gone]
    assert "audit chain OK" in fv("audit", "verify").stdout

    outputs = withdrawn.stdout + run.stdout + dry.stdout + report.stdout + json.dumps(data)
    needles = [part for person in PEOPLE for part in (*person, person[0].split()[1])]
    for needle in needles:
        assert needle not in outputs
    assert scan_for(fv.data_dir, needles) == []


def test_retention_run_while_another_sweep_runs_says_so_in_one_line_and_changes_nothing(
    fv: Fieldvault,
) -> None:
    from fieldvault.config.settings import load_settings
    from fieldvault.domain import retention
    from fieldvault.storage.services import open_services

    fv("init")
    fv("study", "create", str(EXAMPLE))
    at = "2021-07-01T00:00+02:00"  # the example study's deadline
    services = open_services(load_settings(environ={}, data_dir=fv.data_dir))
    try:
        with retention.sweep_lock(services):  # as a worker's sweep would
            busy = fv("retention", "run", "--at", at, ok=False)
            preview = fv("retention", "run", "--at", at, "--dry-run")
    finally:
        services.close()
    assert "another retention sweep is running" in busy.stderr
    assert "Traceback" not in busy.stderr and len(busy.stderr.strip().splitlines()) == 1
    assert "would delete" in preview.stdout
    # Nothing was done meanwhile; once the lock is free the sweep ends the study.
    assert "nav-veileder: ended" in fv("retention", "run", "--at", at).stdout
