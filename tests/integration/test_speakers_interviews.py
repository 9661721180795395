"""Speakers' roles and interview metadata, from intake and review to every export format."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
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
from fieldvault.domain.interviews import (
    InterviewError,
    InterviewFacts,
    interview_of,
    parse_interview_date,
    set_interview,
)
from fieldvault.domain.participants import get_participant
from fieldvault.domain.recordings import RecordingRefused, accept_recording
from fieldvault.domain.speakers import (
    SpeakerError,
    SpeakerNotFound,
    guess_roles,
    set_speaker,
    speakers_of,
)
from fieldvault.export import write_export
from fieldvault.export.qdpx import PROJECT_NS
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, PseudonymisedTranscript, Recording, Transcript
from fieldvault.storage.services import Services

from .conftest import NOW
from .recording_helpers import participant
from .test_export import KARI, LARS, LATER, add_participant, add_transcript, tree

NS = {"q": PROJECT_NS}

# A single-track interview the diarization split into two voices; the informant speaks first.
DIARIZED: list[dict[str, Any]] = [
    {"start": 0.5, "end": 2.0, "speaker": "speaker-1", "text": "Ja, hei."},
    {"start": 2.5, "end": 6.0, "speaker": "speaker-2", "text": "Hva betyr det å være veileder?"},
    {"start": 6.5, "end": 14.0, "speaker": "speaker-1", "text": "Å være til stede."},
    {"start": 14.5, "end": 18.0, "speaker": "speaker-2", "text": "Hvordan bygger du tillit"},
    {"start": 18.5, "end": 25.0, "speaker": "speaker-1", "text": "Ved å følge opp, hver gang."},
]


def transcript_of(services: Services, study_id: str, code: str) -> int:
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        row = session.scalars(
            select(PseudonymisedTranscript).where(
                PseudonymisedTranscript.participant_id == person.id
            )
        ).one()
        return row.transcript_id


def guessed(services: Services, transcript_id: int) -> None:
    with transaction(services.research) as session:
        guess_roles(session, transcript_id, DIARIZED, now=NOW)


@pytest.fixture
def kari(services: Services, study_id: str) -> str:
    code = add_participant(services, study_id, KARI)
    add_transcript(services, study_id, code, DIARIZED)
    guessed(services, transcript_of(services, study_id, code))
    return code


def test_the_first_guess_is_stored_unconfirmed_and_listed(
    services: Services, study_id: str, kari: str
) -> None:
    tid = transcript_of(services, study_id, kari)
    with transaction(services.research) as session:
        infos = speakers_of(session, tid)
    assert [(i.label, i.role, i.confirmed) for i in infos] == [
        ("speaker-1", "informant", False),
        ("speaker-2", "interviewer", False),
    ]
    assert infos[1].guessed_because == "asks 2 of the 2 questions"


def test_setting_a_speaker_confirms_it_audits_it_and_survives_a_new_guess(
    services: Services, study_id: str, kari: str
) -> None:
    tid = transcript_of(services, study_id, kari)
    with transaction(services.research) as session:
        info = set_speaker(
            session, tid, "speaker-1", role="other", display="Tolk", actor="IH", now=NOW
        )
    assert (info.role, info.display, info.confirmed) == ("other", "Tolk", True)
    guessed(services, tid)  # a re-run of the job's guess does not undo the researcher
    with transaction(services.research) as session:
        roles = {i.label: (i.role, i.confirmed) for i in speakers_of(session, tid)}
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.event == "speaker.set"))
        assert audit.verify(session).ok
    assert roles == {"speaker-1": ("other", True), "speaker-2": ("interviewer", False)}
    assert event.actor == "IH" and "Tolk" not in repr(event.details)
    assert event.details["role"] == "other" and event.details["role_before"] == "informant"


@pytest.mark.parametrize(
    ("label", "role", "display", "error", "words"),
    [
        ("speaker-1", "host", None, SpeakerError, "'host' is not a speaker role"),
        ("speaker-1", "other", "Tolk\x1b[31m", SpeakerError, "control character"),
        ("speaker-1", "other", "x" * 65, SpeakerError, "at most 64 are accepted"),
        ("speaker-9", "other", None, SpeakerNotFound, "has no speaker 'speaker-9'"),
    ],
)
def test_a_bad_role_display_or_label_is_refused_and_changes_nothing(
    services: Services,
    study_id: str,
    kari: str,
    label: str,
    role: str,
    display: str | None,
    error: type[Exception],
    words: str,
) -> None:
    tid = transcript_of(services, study_id, kari)
    with pytest.raises(error, match=words), transaction(services.research) as session:
        set_speaker(session, tid, label, role=role, display=display, actor="IH", now=NOW)
    with transaction(services.research) as session:
        assert not any(i.confirmed for i in speakers_of(session, tid))
    with pytest.raises(SpeakerNotFound), transaction(services.research) as session:
        speakers_of(session, 999_999)


def test_exports_label_turns_by_role_with_the_interviews_metadata(
    services: Services, study_id: str, kari: str, tmp_path: Path
) -> None:
    tid = transcript_of(services, study_id, kari)
    lars = add_participant(services, study_id, LARS)
    add_transcript(services, study_id, lars, DIARIZED)
    with transaction(services.research) as session:
        transcript = session.get(Transcript, tid)
        assert transcript is not None
        set_interview(
            session,
            transcript.recording_id,
            InterviewFacts(dt.date(2021, 2, 24), "IH", "in_person"),
            actor="researcher",
            now=NOW,
        )
        for row in session.scalars(select(PseudonymisedTranscript)):
            row.approved_by = "IH"
        pseudonym = get_participant(session, study_id, kari).pseudonym
    out = tmp_path / "out"
    write_export(services, study_id, ["all"], out, LATER, qdpx_timestamps="bracket")
    files = tree(out)
    text = files[f"txt/{pseudonym}.txt"].decode()
    assert text.startswith(f"{pseudonym}: Ja, hei. #00:00:02-0#\n\nI: Hva betyr det")
    assert f"{pseudonym}: Å være til stede." in text
    # Lars's speakers were never stored (a transcript from before roles): the same first
    # guess is made from the approved text, so his turns are labelled by role too.
    lars_name = next(n for n in files if n.startswith("txt/") and pseudonym not in n)
    assert "\n\nI: Hva betyr det" in files[lars_name].decode()
    with zipfile.ZipFile(io.BytesIO(files["nav-veileder.qdpx"])) as archive:
        root = etree.fromstring(archive.read("project.qde"))
        sources = root.findall("q:Sources/q:TextSource", NS)
        first = archive.read("sources/" + sources[0].get("plainTextPath")[11:]).decode()
    assert first.startswith(f"[00:00:00] {pseudonym}: Ja, hei.\n\n[00:00:02] I: Hva betyr")
    names = {v.get("guid"): v.get("name") for v in root.iter(f"{{{PROJECT_NS}}}Variable")}
    values = {
        names[v.find("q:VariableRef", NS).get("targetGUID")]: v[1].text
        for v in sources[0].findall("q:VariableValue", NS)
    }
    assert values["interview_date"] == "2021-02-24"  # the interview's day, not the upload's
    assert values["interviewer"] == "IH" and values["interview_mode"] == "in_person"
    assert values["utdanning"] == "sosionom"
    users = [u.get("name") for u in root.findall("q:Users/q:User", NS)]
    assert users == ["fieldvault", "IH"]
    overview = files["overview.csv"].decode()
    assert "2021-02-24" in overview


def test_interview_dates_are_held_to_the_study(services: Services, study_id: str) -> None:
    code = participant(services, study_id)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        recording = Recording(
            study_id=study_id,
            participant_id=person.id,
            language="nb",
            source="cli",
            duration_s=60.0,
            created_at=NOW,
        )
        session.add(recording)
        session.flush()
        rid = recording.id
    refusals = {
        dt.date(2021, 3, 2): "is in the future (today is 2021-03-01)",
        dt.date(2021, 1, 31): "is before the study began (2021-02-01)",
        dt.date(1970, 1, 1): "is outside 1990-01-01",
    }
    for day, words in refusals.items():
        with (
            pytest.raises(InterviewError, match=re.escape(words)),
            transaction(services.research) as s,
        ):
            set_interview(s, rid, InterviewFacts(date=day), actor="researcher", now=NOW)
    with pytest.raises(InterviewError, match="June has 30 days"):
        parse_interview_date("31.06.2021")
    zoom = InterviewFacts(mode="zoom")
    with (
        pytest.raises(InterviewError, match="'zoom' is not an"),
        transaction(services.research) as s,
    ):
        set_interview(s, rid, zoom, actor="r", now=NOW)
    with transaction(services.research) as session:
        info = interview_of(session, rid)
        assert info.date is None and info.mode is None  # nothing was stored half


def stamped_clip(path: Path, when: str | None) -> Path:
    """Two seconds of tone in an m4a, with ``when`` as its container creation_time."""
    tags = ["-metadata", f"creation_time={when}"] if when else []
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=frequency=300:duration=2", *tags, "-c:a", "aac", str(path), "-y"],
        check=True,
    )  # fmt: skip
    return path


def test_intake_takes_the_date_from_the_container_unless_the_upload_gives_one(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    code = participant(services, study_id)
    clip = stamped_clip(tmp_path / "a.m4a", "2021-02-20T13:30:00.000000Z")
    unset = stamped_clip(tmp_path / "b.m4a", "2000-01-01T00:00:00.000000Z")  # clock never set

    def upload(path: Path, facts: InterviewFacts | None = None) -> Recording:
        with path.open("rb") as fh:
            return accept_recording(
                services,
                study_id=study_id,
                code=code,
                files=[(path.name, fh)],
                language="nb",
                source="cli",
                now=NOW,
                interview=facts,
            )

    stamped = upload(clip)
    assert (stamped.interview_date, stamped.interview_date_source) == (
        dt.date(2021, 2, 20),
        "container",
    )
    given = upload(clip, InterviewFacts(dt.date(2021, 2, 22), "IH", "phone"))
    assert (given.interview_date, given.interview_date_source) == (
        dt.date(2021, 2, 22),
        "researcher",
    )
    assert (given.interviewer, given.interview_mode) == ("IH", "phone")
    assert upload(unset).interview_date is None
    with pytest.raises(RecordingRefused, match="host track 2 does not exist"):
        upload(clip, InterviewFacts(host_track=1))
    with pytest.raises(RecordingRefused, match="is in the future"):
        upload(clip, InterviewFacts(date=dt.date(2022, 1, 1)))
    with transaction(services.research) as session:
        assert len(list(session.scalars(select(Recording)))) == 3  # the refused kept nothing


def test_the_cli_lists_and_sets_speakers_and_interview_metadata(
    services: Services, settings: Settings, study_id: str, kari: str
) -> None:
    env = {
        "FIELDVAULT_DATA_DIR": str(settings.data_dir),
        "FIELDVAULT_DATABASE_URL": settings.research_url,
        "FIELDVAULT_VAULT_URL": settings.linkage_url,
    }
    register_commands(cli)
    runner = CliRunner()
    tid = transcript_of(services, study_id, kari)
    listed = runner.invoke(cli, ["transcript", "speakers", str(tid)], env=env)
    assert listed.exit_code == 0, listed.output
    assert "speaker-2    interviewer   (guessed: asks 2 of the 2 questions)" in listed.output
    changed = runner.invoke(
        cli, ["transcript", "speaker", str(tid), "speaker-2", "--role", "interviewer"], env=env
    )
    assert changed.exit_code == 0, changed.output
    assert "speaker-2 is the interviewer (confirmed)" in changed.output
    wrong = runner.invoke(
        cli, ["transcript", "speaker", str(tid), "speaker-7", "--role", "other"], env=env
    )
    assert wrong.exit_code == 1
    assert "has no speaker 'speaker-7'" in wrong.output
    assert f"`fieldvault transcript speakers {tid}` lists them" in wrong.output
    with transaction(services.research) as session:
        transcript = session.get(Transcript, tid)
        assert transcript is not None
        rid = transcript.recording_id
    impossible = runner.invoke(cli, ["recording", "set", str(rid), "--date", "31.06.2021"], env=env)
    assert impossible.exit_code == 1
    assert "31.06.2021 is not a real date: June has 30 days" in impossible.output
    ok = runner.invoke(
        cli,
        ["recording", "set", str(rid), "--date", "2021-02-24", "--mode", "video",
         "--interviewer", "IH"],
        env=env,
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "date 2021-02-24 (researcher), interviewer IH, mode video" in ok.output
