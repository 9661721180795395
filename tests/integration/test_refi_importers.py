"""A two-participant study exported to .qdpx and imported by REFI-QDA tools that are not ours.

``qc`` (qualitative-coding, from PyPI) imports the project with its own ``qc init --import``;
its corpus is read back through its own API. qc 1.7.8 does not import cases or variables (it
logs "contains Cases, which are not supported by qc"), so those are read with pyrefiqda, a
binding generated from the REFI-QDA schema. Both live in a venv of their own, built from exact
pins by ``tests/importers/venv.py`` (``make importers``): qc's pins clash with ours.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fieldvault.domain.interviews import InterviewFacts, set_interview
from fieldvault.domain.participants import get_participant
from fieldvault.export import write_export
from fieldvault.export.qdpx import code_key
from fieldvault.storage.db import transaction
from fieldvault.storage.models import PseudonymisedTranscript, Transcript
from fieldvault.storage.services import Services
from tests.importers import venv as importers

from .conftest import NOW
from .test_export import KARI, LARS, LATER, add_participant, add_transcript
from .test_speakers_interviews import DIARIZED, guessed, transcript_of

READ_BACK = Path(importers.__file__).with_name("read_back.py")
INTERVIEWS = {
    "kari": (InterviewFacts(dt.date(2021, 2, 24), "IH", "in_person"), "IH"),
    "lars": (InterviewFacts(dt.date(2021, 2, 26), "AB", "video"), "AB"),
}


@pytest.fixture(scope="session")
def importer_bin() -> Path:
    try:
        return importers.ensure()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the importers' venv could not be built ({exc}); run `make importers`")


def two_participant_export(services: Services, study_id: str, out: Path) -> dict[str, str]:
    """Export Kari's and Lars's diarized, role-guessed, dated interviews; code -> pseudonym."""
    pseudonyms = {}
    for key, identity in (("kari", KARI), ("lars", LARS)):
        code = add_participant(services, study_id, identity)
        add_transcript(services, study_id, code, DIARIZED)
        tid = transcript_of(services, study_id, code)
        guessed(services, tid)
        facts, approver = INTERVIEWS[key]
        with transaction(services.research) as session:
            transcript = session.get(Transcript, tid)
            assert transcript is not None
            set_interview(session, transcript.recording_id, facts, actor="researcher", now=NOW)
            row = session.scalars(
                select(PseudonymisedTranscript).where(PseudonymisedTranscript.transcript_id == tid)
            ).one()
            row.approved_by = approver
            pseudonym = get_participant(session, study_id, code).pseudonym
            assert pseudonym is not None
            pseudonyms[key] = pseudonym
    write_export(services, study_id, ["qdpx"], out, LATER)
    return pseudonyms


def read_back(importer_bin: Path, project: Path, folder: Path) -> dict[str, Any]:
    folder.mkdir()
    result_file = folder.parent / "read-back.json"
    subprocess.run(
        [str(importer_bin / "python"), str(READ_BACK), str(project), str(folder), str(result_file)],
        check=True,
        timeout=600,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    found: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return found


def test_qc_imports_the_sources_codes_and_users_and_the_cases_carry_their_variables(
    services: Services, study_id: str, tmp_path: Path, importer_bin: Path
) -> None:
    pseudonyms = two_participant_export(services, study_id, tmp_path / "export")
    project = tmp_path / "export" / "nav-veileder.qdpx"
    found = read_back(importer_bin, project, tmp_path / "qc")
    assert found["qc_exit"] == 0, found["qc_log"]

    # Sources: one corpus document per transcript, its text exactly what the project holds,
    # turns labelled by role (I: and the pseudonym) with MAXQDA's time stamps kept.
    kari, lars = pseudonyms["kari"], pseudonyms["lars"]
    assert set(found["qc_documents"]) == {f"{kari}.txt", f"{lars}.txt"}
    with zipfile.ZipFile(project) as archive:
        stored = {n: archive.read(n).decode() for n in archive.namelist() if n != "project.qde"}
    assert sorted(found["qc_documents"].values()) == sorted(stored.values())
    text = found["qc_documents"][f"{kari}.txt"]
    assert text.startswith(f"{kari}: Ja, hei. #00:00:02-0#\n\nI: Hva betyr det å være veileder?")

    # Users and codes: the approving researchers are coders; no code name twice (folded), and
    # the guide's pre-coding arrived as codings by fieldvault.
    assert found["qc_coders"] == ["AB", "IH", "fieldvault"]
    keys = [code_key(name) for name in found["qc_codebook"]]
    assert len(keys) == len(set(keys)) and "relasjonsbygging" in found["qc_codebook"]
    assert ["relasjonsbygging", "fieldvault", f"{kari}.txt"] in found["qc_coded_lines"]

    # qc says it drops cases and variables; read them with the schema binding instead.
    assert "contains Cases, which are not supported by qc" in found["qc_log"]
    assert set(found["cases"]) == {kari, lars}
    for key, name in pseudonyms.items():
        facts, _ = INTERVIEWS[key]
        case = found["cases"][name]
        assert case["utdanning"] == "sosionom" and case["erfaring_ar"] == "12"
        assert case["interview_date"] == facts.date.isoformat()  # type: ignore[union-attr]
        assert (case["interviewer"], case["interview_mode"]) == (facts.interviewer, facts.mode)
        # The same variables on the document itself (what QualCoder reads), and the case
        # points at its document.
        source = found["sources"][name]
        assert source["variables"] == case
        assert found["case_sources"][name] == [source["guid"]]
    assert found["users"] == ["AB", "IH", "fieldvault"]
