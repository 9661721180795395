"""write_export end to end: approved transcripts from the database, guard, atomic files, audit."""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from fieldvault.cli import cli
from fieldvault.cli.commands import register as register_commands
from fieldvault.config.settings import Settings
from fieldvault.domain.errors import StudyNotFound
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.export import ExportError, LeakError, write_export
from fieldvault.export.qdpx import check_qdpx
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    AuditEvent,
    BlobObject,
    PseudonymisedTranscript,
    Recording,
)
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

from .conftest import NOW
from .recording_helpers import transcript_row

SCHEMAS = Path(__file__).parents[1] / "data" / "refi-qda"
LATER = NOW + dt.timedelta(days=30)
KARI = Identity(
    name="Kari Nordmann",
    email="kari.nordmann@example.no",
    phone="+47 912 34 567",
    telegram_username="kari_n",
)
LARS = Identity(name="Lars Bakketun", email="lb@example.org")

SEGMENTS = [
    {
        "start": 1.0,
        "end": 6.0,
        "speaker": "interviewer",
        "text": "Hva betyr det å være veileder for deg?",
    },
    {
        "start": 6.5,
        "end": 14.0,
        "speaker": "informant",
        "text": "Å være til stede, og å følge opp.",
    },
    {"start": 14.5, "end": 20.0, "speaker": "informant", "text": "Jeg jobber på [ARBEIDSPLASS]."},
]


def add_participant(services: Services, study_id: str, identity: Identity) -> str:
    return register_participant(
        services,
        study_id,
        identity,
        {"utdanning": "sosionom", "erfaring_ar": "12"},
        NOW,
    )


def add_transcript(
    services: Services,
    study_id: str,
    code: str,
    segments: list[dict[str, Any]],
    *,
    state: str = "approved",
) -> None:
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        number = session.scalar(select(Recording.id).order_by(Recording.id.desc())) or 0
        blob = BlobObject(
            object_id=f"obj-{code}-{number}",
            study_id=study_id,
            participant_id=participant.id,
            kind="raw_transcript",
            data_key_id="k",
            plaintext_size=1,
            created_at=NOW,
        )
        session.add(blob)
        session.flush()
        transcript = transcript_row(
            session,
            study_id,
            participant.id,
            blob.object_id,
            duration_s=2400.0,
            segments=len(segments),
            recorded_at=NOW + dt.timedelta(days=2),
        )
        session.add(
            PseudonymisedTranscript(
                transcript_id=transcript.id,
                study_id=study_id,
                participant_id=participant.id,
                language="nb",
                state=state,
                replacements=1,
                suspects=0,
                document={"language": "nb", "segments": segments},
                approved_at=LATER if state == "approved" else None,
                approved_by="researcher" if state == "approved" else None,
            )
        )


def export_events(services: Services) -> list[AuditEvent]:
    with transaction(services.research) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event == "export.created")))


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def kari(services: Services, study_id: str) -> str:
    code = add_participant(services, study_id, KARI)
    add_transcript(services, study_id, code, SEGMENTS)
    return code


def test_exports_only_approved_transcripts(
    services: Services, study_id: str, kari: str, tmp_path: Path
) -> None:
    lars = add_participant(services, study_id, LARS)
    add_transcript(services, study_id, lars, SEGMENTS, state="review")
    out = tmp_path / "export"
    result = write_export(services, study_id, ["all"], out, LATER)

    assert result.transcripts == 1 and result.participants == 1
    files = tree(out)
    assert set(files) == set(result.files)
    with transaction(services.research) as session:
        pseudonym = get_participant(session, study_id, kari).pseudonym
    assert pseudonym and f"txt/{pseudonym}.txt" in files
    text = files[f"txt/{pseudonym}.txt"].decode("utf-8")
    assert text.startswith("I: Hva betyr det å være veileder for deg? #00:00:06-0#\n\n")
    assert f"{pseudonym}: Å være til stede, og å følge opp. Jeg jobber på [ARBEIDSPLASS]." in text
    assert not any(name.startswith("txt/") and name != f"txt/{pseudonym}.txt" for name in files)

    document = check_qdpx(files["nav-veileder.qdpx"])
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "Project-mrt2019.xsd")))
    assert schema.validate(document)
    cases = document.findall("{urn:QDA-XML:project:1.0}Cases/{urn:QDA-XML:project:1.0}Case")
    assert [c.get("name") for c in cases] == [pseudonym]
    with zipfile.ZipFile(io.BytesIO(files["nav-veileder.qdpx"])) as archive:
        assert len(archive.namelist()) == 2
        assert archive.getinfo("project.qde").date_time == (2021, 3, 31, 9, 0, 0)

    for path in out.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_the_export_is_audited_without_identities(
    services: Services, study_id: str, kari: str, tmp_path: Path
) -> None:
    result = write_export(services, study_id, ["qdpx", "csv"], tmp_path / "out", LATER)
    [event] = export_events(services)
    assert event.study_id == study_id and event.participant_code is None
    assert event.details == {
        "formats": ["qdpx", "csv"],
        "transcripts": 1,
        "participants": 1,
        "participant_codes": [kari],
        "files": 4,
        "content_sha256": result.sha256,
    }
    flat = repr(event.details)
    assert "Nordmann" not in flat and "example.no" not in flat
    with transaction(services.research) as session:
        assert audit.verify(session).ok


def test_exporting_twice_gives_identical_files(
    services: Services, study_id: str, kari: str, tmp_path: Path
) -> None:
    first = write_export(services, study_id, ["all"], tmp_path / "one", LATER)
    second = write_export(
        services, study_id, ["all"], tmp_path / "two", LATER + dt.timedelta(hours=5)
    )
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert first.sha256 == second.sha256


def test_a_leaked_name_refuses_and_writes_nothing(
    services: Services, study_id: str, kari: str, tmp_path: Path
) -> None:
    lars = add_participant(services, study_id, LARS)
    leaky = [*SEGMENTS, {"start": 21, "end": 25, "speaker": "informant", "text": "Lars sa det."}]
    add_transcript(services, study_id, lars, leaky)
    exports = tmp_path / "exports"
    with pytest.raises(LeakError) as caught:
        write_export(services, study_id, ["all"], exports / "out", LATER)
    assert caught.value.participant_code == lars and caught.value.field == "name"
    assert "Lars" not in str(caught.value)
    assert not exports.exists()  # no folder, no half-written staging folder
    assert export_events(services) == []


def test_an_email_written_differently_is_refused(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    code = add_participant(
        services, study_id, Identity(name="Kari Nordmann", email="kn1987@nav.no")
    )
    line = {
        "start": 30,
        "end": 35,
        "speaker": "informant",
        "text": "Skriv til KN1987 (at) NAV dot no.",
    }
    add_transcript(services, study_id, code, [*SEGMENTS, line])
    with pytest.raises(LeakError) as caught:
        write_export(services, study_id, ["txt"], tmp_path / "out", LATER)
    assert (caught.value.participant_code, caught.value.field) == (code, "email")
    assert "kn1987" not in str(caught.value).casefold()
    assert not (tmp_path / "out").exists()


def test_nothing_approved_is_a_clear_error(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match="no approved transcripts in study 'nav-veileder'"):
        write_export(services, study_id, ["all"], tmp_path / "out", LATER)
    code = add_participant(services, study_id, KARI)
    add_transcript(services, study_id, code, SEGMENTS, state="review")
    with pytest.raises(ExportError, match="no approved transcripts"):
        write_export(services, study_id, ["all"], tmp_path / "out", LATER)
    assert not (tmp_path / "out").exists()
    with pytest.raises(StudyNotFound):
        write_export(services, "no-such-study", ["all"], tmp_path / "out", LATER)


def test_an_existing_folder_is_never_overwritten(
    services: Services, study_id: str, kari: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an empty folder"):
        write_export(services, study_id, ["csv"], out, LATER)
    assert os.listdir(out) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    write_export(services, study_id, ["csv"], empty, LATER)
    assert sorted(os.listdir(empty)) == ["README.txt", "overview.csv", "overview.md"]


def test_cli_export(
    services: Services, settings: Settings, study_id: str, kari: str, tmp_path: Path
) -> None:
    env = {
        "FIELDVAULT_DATA_DIR": str(settings.data_dir),
        "FIELDVAULT_DATABASE_URL": settings.research_url,
        "FIELDVAULT_VAULT_URL": settings.linkage_url,
    }
    register_commands(cli)
    runner = CliRunner()
    out = tmp_path / "cli-out"
    result = runner.invoke(
        cli, ["export", study_id, "--format", "qdpx,txt", "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "exported 1 approved transcript(s) of 1 participant(s)" in result.output
    assert (out / "nav-veileder.qdpx").is_file()
    again = runner.invoke(
        cli, ["export", study_id, "--format", "pdf", "--out", str(tmp_path / "x")], env=env
    )
    assert again.exit_code == 1 and "unknown export format 'pdf'" in again.output


def test_a_failure_after_staging_leaves_nothing_behind(
    services: Services, study_id: str, kari: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_append(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("fieldvault.export.bundle.audit.append", broken_append)
    exports = tmp_path / "exports"
    with pytest.raises(RuntimeError, match="disk full"):
        write_export(services, study_id, ["all"], exports / "out", LATER)
    assert list(exports.iterdir()) == []  # neither the export nor its staging folder
