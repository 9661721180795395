"""Pseudonymisation in a study: terms sealed in the vault, review, approval, the command line."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text

from fieldvault.cli import cli
from fieldvault.cli.commands import register as register_commands
from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.domain.recordings import accept_recording
from fieldvault.domain.redaction import job, numbering, reading, review, terms
from fieldvault.domain.redaction.approval import approve
from fieldvault.domain.redaction.bundle import REVIEW
from fieldvault.domain.redaction.errors import NothingToReview, PseudonymisationError
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    AuditEvent,
    BlobObject,
    PseudonymisedTranscript,
    Recording,
    Transcript,
)
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity
from fieldvault.workers.queue import Worker, build_huey
from fieldvault.workers.transcription import Segment, TranscribeResult

from .conftest import NOW
from .recording_helpers import give_consent, wav_bytes

KARI = Identity(name="Kari Nordmann", email="kari.nordmann@example.no", phone="+47 912 34 567")
OLA = Identity(name="Ola Bakke", email="ola.bakke@example.no")
LATER = NOW + dt.timedelta(days=30)


def _transcript(services: Services, study_id: str, code: str, lines: list[str]) -> int:
    """Store a raw transcript the way the transcription worker does (encrypted blob + row)."""
    document: dict[str, Any] = {
        "language": "nb",
        "engine": "test",
        "model": "none",
        "suspect_count": 0,
        "segments": [
            {
                "start": 5.0 * i,
                "end": 5.0 * i + 4,
                "text": line,
                "speaker": "unknown",
                "suspect": [],
            }
            for i, line in enumerate(lines)
        ],
    }
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        recording = Recording(
            study_id=study_id,
            participant_id=participant.id,
            language="nb",
            source="cli",
            duration_s=60.0,
            created_at=LATER,
        )
        session.add(recording)
        session.flush()
        document["recording_id"] = recording.id
        obj = services.content.put(
            session,
            study_id=study_id,
            participant_id=participant.id,
            participant_code=code,
            kind="raw_transcript",
            source=[json.dumps(document, ensure_ascii=False).encode()],
            now=LATER,
        )
        row = Transcript(
            recording_id=recording.id,
            object_id=obj.object_id,
            language="nb",
            engine="test",
            model="none",
            segment_count=len(lines),
            suspect_count=0,
            created_at=LATER,
        )
        session.add(row)
        participant.state = State.TRANSCRIBED.value
        session.flush()
        return row.id


def _register(services: Services, study_id: str, identity: Identity) -> str:
    return register_participant(services, study_id, identity, {}, NOW)


def _research_dump(services: Services) -> str:
    """Every value in every table of the research database, as one string."""
    parts = []
    with transaction(services.research) as session:
        for table in ("pseudonymised_transcripts", "audit_events", "participants", "transcripts"):
            for row in session.execute(text(f"SELECT * FROM {table}")):
                parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


LINES = [
    "Jeg heter Kari Nordmann og jobber på NAV Volda.",
    "Kollegaen min Marte Olsen bor i Fjordbyen, og Ola Bakke kjenner henne.",
    "Ring meg på 912 34 567. Det er et godt liv, dag for dag.",
]


def test_review_then_approve_stores_only_the_pseudonymised_text_as_research_data(
    services: Services, study_id: str
) -> None:
    kari = _register(services, study_id, KARI)
    _register(services, study_id, OLA)
    terms.add_term(services, study_id, "Fjordbyen", "place", LATER)
    transcript_id = _transcript(services, study_id, kari, LINES)

    items = review.review_items(services, study_id, kari, LATER)
    originals = {i.original for i in items if i.kind == "replacement"}
    assert {"Kari Nordmann", "NAV Volda", "Marte Olsen", "Fjordbyen", "912 34 567"} <= originals
    with transaction(services.research) as session:
        row = session.scalar(
            select(PseudonymisedTranscript).where(
                PseudonymisedTranscript.transcript_id == transcript_id
            )
        )
        assert row is not None and row.state == "review" and row.document is None
        blob = session.get(BlobObject, row.review_object_id)
        assert blob is not None and blob.kind == "redaction_map"
    ciphertext = b"".join(
        p.read_bytes() for p in services.settings.blob_path.rglob("*") if p.is_file()
    )
    assert b"Nordmann" not in ciphertext and b"Fjordbyen" not in ciphertext

    assert approve(services, study_id, kari, LATER) == 1
    with transaction(services.research) as session:
        [doc] = reading.approved_documents(session, study_id, kari)
        participant = get_participant(session, study_id, kari)
        assert participant.state == State.APPROVED.value
        assert audit.verify(session).ok
    texts = [seg["text"] for seg in doc["segments"]]
    pseudonym = participant.pseudonym
    assert texts[0] == f"Jeg heter {pseudonym} og jobber på [ARBEIDSPLASS]."
    assert texts[1].startswith("Kollegaen min [PERSON 1] bor i [STED]")
    assert texts[2] == "Ring meg på [TELEFON]. Det er et godt liv, dag for dag."
    dump = _research_dump(services)
    for secret in ("Nordmann", "Marte", "Fjordbyen", "912 34 567", "Ola Bakke", "NAV Volda"):
        assert secret not in dump


def test_the_same_colleague_gets_the_same_placeholder_in_two_participants_transcripts(
    services: Services, study_id: str
) -> None:
    kari = _register(services, study_id, KARI)
    ola = _register(services, study_id, OLA)
    _transcript(services, study_id, kari, ["Jeg jobber med Marte Olsen."])
    _transcript(services, study_id, ola, ["Geir Johansen og Marte var der."])
    review.review_items(services, study_id, kari, LATER)
    review.review_items(services, study_id, ola, LATER)
    approve(services, study_id, kari, LATER)
    approve(services, study_id, ola, LATER)
    with transaction(services.research) as session:
        first = reading.approved_documents(session, study_id, kari)[0]["segments"][0]["text"]
        second = reading.approved_documents(session, study_id, ola)[0]["segments"][0]["text"]
    assert first == "Jeg jobber med [PERSON 1]."
    assert second == "[PERSON 2] og [PERSON 1] var der."


def test_a_rejected_replacement_stays_and_approval_refuses_a_name_from_the_vault(
    services: Services, study_id: str
) -> None:
    kari = _register(services, study_id, KARI)
    _transcript(services, study_id, kari, ["Jeg heter Kari Nordmann og bor i Ørsta."])
    items = review.review_items(services, study_id, kari, LATER)
    by_original = {i.original: i.number for i in items}
    assert review.reject(services, study_id, kari, [by_original["Ørsta"]], LATER) == 1
    assert any(i.status == "rejected" for i in review.review_items(services, study_id, kari, LATER))
    review.reject(services, study_id, kari, [by_original["Kari Nordmann"]], LATER)
    with pytest.raises(PseudonymisationError, match="still holds a name") as caught:
        approve(services, study_id, kari, LATER)
    assert "Kari" not in str(caught.value) and "Nordmann" not in str(caught.value)


def test_terms_added_during_review_are_applied_again(services: Services, study_id: str) -> None:
    kari = _register(services, study_id, KARI)
    _transcript(services, study_id, kari, ["Vi spiste middag, og Trollsenteret var fullt."])
    before = review.review_items(services, study_id, kari, LATER)
    assert [(i.kind, i.original) for i in before] == [("suspect", "Trollsenteret")]
    terms.add_term(services, study_id, "Trollsenteret", "workplace", LATER)
    review.redo(services, study_id, kari, LATER)
    after = review.review_items(services, study_id, kari, LATER)
    assert any(i.original == "Trollsenteret" for i in after if i.kind == "replacement")
    approve(services, study_id, kari, LATER)
    with transaction(services.research) as session:
        [doc] = reading.approved_documents(session, study_id, kari)
    assert doc["segments"][0]["text"] == "Vi spiste middag, og [ARBEIDSPLASS] var fullt."


def test_a_suspect_can_be_edited_or_checked_and_approval_records_what_was_left_unchecked(
    services: Services, study_id: str
) -> None:
    kari = _register(services, study_id, KARI)
    _transcript(
        services,
        study_id,
        kari,
        ["Vi spiste på Trollsenteret.", "Jeg heter Kari Nordmann, saken hadde nummer 4471239."],
    )
    items = {i.original: i for i in review.review_items(services, study_id, kari, LATER)}
    troll, case = items["Trollsenteret"].number, items["4471239"].number
    assert items["Trollsenteret"].status == items["4471239"].status == "suspect"
    with pytest.raises(PseudonymisationError, match="is a suspect left in"):
        review.reject(services, study_id, kari, [troll], LATER)
    with pytest.raises(NothingToReview, match="no review item 99"):
        review.accept(services, study_id, kari, [99], LATER)
    review.edit(services, study_id, kari, troll, "[ARBEIDSPLASS]", LATER)
    name = items["Kari Nordmann"].number
    review.accept(services, study_id, kari, [name], LATER)
    after = {i.number: i for i in review.review_items(services, study_id, kari, LATER)}
    assert after[troll].status == "edited" and after[troll].placeholder == "[ARBEIDSPLASS]"
    assert after[name].status == "checked" and after[case].status == "suspect"

    approve(services, study_id, kari, LATER)
    with transaction(services.research) as session:
        [doc] = reading.approved_documents(session, study_id, kari)
        [approval] = session.scalars(
            select(AuditEvent).where(AuditEvent.event == audit.Event.TRANSCRIPT_APPROVED)
        )
        assert audit.verify(session).ok
    texts = [seg["text"] for seg in doc["segments"]]
    assert texts[0] == "Vi spiste på [ARBEIDSPLASS]."
    assert "Nordmann" not in texts[1] and "4471239" in texts[1]  # left in, unchecked
    assert approval.details["edited"] == 1 and approval.details["suspects_unchecked"] == 1


def test_terms_are_sealed_in_the_vault_and_their_text_is_never_in_the_research_db(
    services: Services, study_id: str
) -> None:
    terms.add_term(services, study_id, "Marte Olsen", "person", LATER)
    terms.add_term(services, study_id, "NAV Eksempelvik", "workplace", LATER)
    assert [t.text for t in terms.load_terms(services, study_id)] == [
        "Marte Olsen",
        "NAV Eksempelvik",
    ]
    with services.vault_sessions() as session:
        sealed = session.execute(text("SELECT sealed FROM study_documents")).scalars().all()
    assert all(b"Marte" not in bytes(s) and b"Eksempelvik" not in bytes(s) for s in sealed)
    assert "Eksempelvik" not in _research_dump(services)
    with pytest.raises(PseudonymisationError, match="unknown term category"):
        terms.add_term(services, study_id, "X Y", "colleague", LATER)


def test_the_command_line_prints_json_without_originals(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    kari = _register(services, study_id, KARI)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDVAULT_")}
    env |= {
        "FIELDVAULT_DATA_DIR": str(services.settings.data_dir),
        "FIELDVAULT_DATABASE_URL": services.settings.research_url,
        "FIELDVAULT_VAULT_URL": services.settings.linkage_url,
    }

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fieldvault", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    added = run("terms", "add", study_id, "Trollkroa", "--category", "workplace")
    assert added.returncode == 0, added.stderr
    note = "Kari Nordmann møtte Geir på Trollkroa. Ring 41 22 33 44 eller skriv til Hemmelig."
    out = run("pseudonymise", "--study", study_id, "--term", "Hemmelig", "--json", "-", stdin=note)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    for secret in ("Kari", "Nordmann", "Geir", "Trollkroa", "41 22 33 44", "Hemmelig"):
        assert secret not in out.stdout and secret not in out.stderr
    assert {s["category"] for s in payload["spans"]} == {
        "own_name",
        "person",
        "workplace",
        "phone",
        "other",
    }
    for span in payload["spans"]:
        assert payload["text"][span["start"] : span["end"]] == span["placeholder"]
        assert set(span) == {"start", "end", "category", "placeholder"}
    plain = run("pseudonymise", "--study", study_id, "-", stdin="Geir ringte.")
    assert plain.stdout.strip() == "[PERSON 1] ringte."
    bad = run("terms", "add", study_id, "X", "--category", "colleague")
    assert bad.returncode != 0

    _transcript(services, study_id, kari, ["Kari Nordmann jobber på NAV Volda."])
    listed = run("review", study_id, kari)
    assert listed.returncode == 0, listed.stderr
    assert "'Kari Nordmann' → " in listed.stdout and "[ARBEIDSPLASS]" in listed.stdout
    assert run("transcript", "approve", study_id, kari).returncode == 0
    shown = run("transcript", "approved", study_id, kari)
    assert shown.returncode == 0, shown.stderr
    assert "jobber på [ARBEIDSPLASS]." in shown.stdout and "Kari" not in shown.stdout


def test_nothing_from_the_vault_reaches_the_logs(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    kari = _register(services, study_id, KARI)
    terms.add_term(services, study_id, "Trollkroa", "workplace", LATER)
    _transcript(services, study_id, kari, LINES)
    review.review_items(services, study_id, kari, LATER)
    approve(services, study_id, kari, LATER)
    numbering.pseudonymise_text(services, study_id, "Kari Nordmann var på Trollkroa.")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Kari", "Nordmann", "Trollkroa", "912 34 567", "example.no"):
        assert secret not in logged


# --- the pseudonymise job after each transcription ---------------------------------------------


class ScriptedEngine:
    """An Engine that "hears" fixed segments: the chaining is under test here, not Whisper."""

    name = "scripted"
    model_name = "none"

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.calls = 0

    def transcribe(self, audio: Any, language: str | None) -> TranscribeResult:
        self.calls += 1
        segments = (
            Segment(4.0 * i, 4.0 * i + 3, line, -0.2, 0.01, 1.2)
            for i, line in enumerate(self.lines)
        )
        return TranscribeResult(language or "nb", 4.0 * len(self.lines), segments)


HEARD = [
    "Jeg heter Kari Nordmann, og Karis kolleger kaller meg bare Kari.",
    "Ring meg på 912 34 567 hvis det er noe.",
]


def _consenting(services: Services, study_id: str, identity: Identity) -> str:
    """A participant the vault knows by name, with a current consent to being recorded."""
    code = _register(services, study_id, identity)
    give_consent(services, study_id, code)
    return code


def _upload_clip(services: Services, study_id: str, code: str) -> int:
    """Upload one second of tone, as the researcher's upload command would."""
    tone = (np.sin(np.arange(16000) / 8.0) * 8000).astype(np.int16)
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[("clip.wav", io.BytesIO(wav_bytes(tone)))],
        language="nb",
        source="cli",
        now=NOW,
    )
    return recording.id


def _pseudonymised(services: Services) -> list[PseudonymisedTranscript]:
    with transaction(services.research) as session:
        return list(session.scalars(select(PseudonymisedTranscript)))


def _pseudonymise_events(services: Services) -> int:
    with transaction(services.research) as session:
        return len(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.event == audit.Event.TRANSCRIPT_PSEUDONYMISED.value
                )
            ).all()
        )


def test_the_worker_pseudonymises_each_new_transcript_once_without_a_review_call(
    services: Services, study_id: str
) -> None:
    kari = _consenting(services, study_id, KARI)
    _upload_clip(services, study_id, kari)
    engine = ScriptedEngine(HEARD)
    worker = Worker(services, build_huey(services.settings), lambda: engine)

    assert worker.run(until_idle=True, poll_s=0.05) == 2  # transcribe, then pseudonymise
    [row] = _pseudonymised(services)
    assert row.state == REVIEW and row.document is None
    view = reading.pseudonymised_documents(services, study_id, kari)
    with transaction(services.research) as session:
        pseudonym = get_participant(session, study_id, kari).pseudonym
    texts = [seg["text"] for seg in view.documents[0]["segments"]]
    assert texts == [
        f"Jeg heter {pseudonym}, og {pseudonym}s kolleger kaller meg bare {pseudonym}.",
        "Ring meg på [TELEFON] hvis det er noe.",
    ]

    worker.dispatch()
    worker.dispatch()
    assert worker.run(until_idle=True, poll_s=0.05) == 0
    assert len(_pseudonymised(services)) == 1 and _pseudonymise_events(services) == 1
    assert engine.calls == 1


def test_a_transcript_whose_pseudonymise_message_was_lost_is_swept_up_once(
    services: Services, study_id: str
) -> None:
    kari = _consenting(services, study_id, KARI)
    _upload_clip(services, study_id, kari)
    engine = ScriptedEngine(HEARD)
    first = Worker(services, build_huey(services.settings), lambda: engine)
    first.dispatch()
    assert first.run_once()  # the transcription; it queues the pseudonymise task
    first.huey.flush()  # ...which a crash loses before it runs
    assert _pseudonymised(services) == []

    restarted = Worker(services, build_huey(services.settings), lambda: engine)
    restarted.dispatch()
    restarted.dispatch()
    Worker(services, build_huey(services.settings), lambda: engine).dispatch()  # another process
    assert restarted.huey.pending_count() == 1
    assert restarted.run(until_idle=True, poll_s=0.05) == 1
    assert len(_pseudonymised(services)) == 1 and _pseudonymise_events(services) == 1


def test_a_withdrawn_or_shredded_transcript_is_never_pseudonymised_nor_retried(
    services: Services, study_id: str
) -> None:
    kari = _consenting(services, study_id, KARI)
    ola = _consenting(services, study_id, OLA)
    _upload_clip(services, study_id, kari)
    _upload_clip(services, study_id, ola)
    worker = Worker(services, build_huey(services.settings), lambda: ScriptedEngine(HEARD))
    worker.dispatch()
    assert worker.run_once() and worker.run_once()  # both transcriptions
    worker.huey.flush()
    with transaction(services.research) as session:
        person = get_participant(session, study_id, kari)
        consent.withdraw(
            session, person, channel="paper", now=LATER, items=frozenset({"interview-recording"})
        )
        transcripts = dict(
            session.execute(
                select(Recording.participant_id, Transcript.id).join(
                    Recording, Recording.id == Transcript.recording_id
                )
            ).all()
        )
        other = get_participant(session, study_id, ola)
        shredded = session.scalar(
            select(BlobObject)
            .join(Transcript, Transcript.object_id == BlobObject.object_id)
            .join(Recording, Recording.id == Transcript.recording_id)
            .where(Recording.participant_id == other.id)
        )
        assert shredded is not None
        shredded.deleted_at = LATER

    assert job.pending_transcripts(services) == []
    worker.dispatch()
    assert worker.huey.pending_count() == 0
    for transcript_id in transcripts.values():
        worker.pseudonymise(transcript_id)  # a message sent before the withdrawal
    assert worker.run(until_idle=True, poll_s=0.05) == 2
    assert worker.huey.scheduled_count() == 0  # handled as done, not as a retry
    assert _pseudonymised(services) == []


# --- fieldvault transcript show ---------------------------------------------------------------


def _show(services: Services, *args: str) -> Result:
    """Run ``fieldvault transcript show`` in-process against the test's data dir."""
    return _fieldvault(services, "transcript", "show", *args)


def _fieldvault(services: Services, *args: str) -> Result:
    """Run a ``fieldvault`` command in-process against the test's data dir."""
    env = {
        "FIELDVAULT_DATA_DIR": str(services.settings.data_dir),
        "FIELDVAULT_DATABASE_URL": services.settings.research_url,
        "FIELDVAULT_VAULT_URL": services.settings.linkage_url,
    }
    register_commands(cli)
    return CliRunner().invoke(cli, list(args), env=env)


def test_transcript_show_prints_the_pseudonymised_text_and_raw_only_when_asked(
    services: Services, study_id: str
) -> None:
    kari = _register(services, study_id, KARI)
    _transcript(services, study_id, kari, LINES)

    waiting = _show(services, study_id, kari)
    assert waiting.exit_code == 1
    assert "not pseudonymised yet" in waiting.output
    assert "fieldvault worker" in waiting.output and "fieldvault review" in waiting.output
    assert "Kari" not in waiting.output

    job.pseudonymise_pending(services, LATER)
    shown = _show(services, study_id, kari)
    assert shown.exit_code == 0, shown.output
    assert "under review" in shown.output
    assert "[0:00:00] Jeg heter " in shown.output and "jobber på [ARBEIDSPLASS]." in shown.output
    assert "[0:00:10] Ring meg på [TELEFON]. Det er et godt liv, dag for dag." in shown.output
    for secret in ("Kari", "Nordmann", "NAV Volda", "912 34 567", "Marte"):
        assert secret not in shown.output

    as_json = json.loads(_show(services, study_id, kari, "--format", "json").output)
    assert [d["state"] for d in as_json] == ["review"]
    assert as_json[0]["segments"][2]["text"].startswith("Ring meg på [TELEFON].")

    raw = _show(services, study_id, kari, "--raw")
    assert raw.exit_code == 0, raw.output
    assert "Jeg heter Kari Nordmann og jobber på NAV Volda." in raw.output and "· raw" in raw.output

    approve(services, study_id, kari, LATER)
    approved = _show(services, study_id, kari)
    assert "· approved" in approved.output and "Kari" not in approved.output


def test_transcript_show_says_what_to_do_when_there_is_nothing_or_the_raw_text_is_gone(
    services: Services, study_id: str
) -> None:
    kari = _register(services, study_id, KARI)
    nothing = _show(services, study_id, kari)
    assert nothing.exit_code == 1 and f"fieldvault jobs {study_id}" in nothing.output

    transcript_id = _transcript(services, study_id, kari, LINES)
    job.pseudonymise_pending(services, LATER)
    with transaction(services.research) as session:
        transcript = session.get(Transcript, transcript_id)
        assert transcript is not None
        blob = session.get(BlobObject, transcript.object_id)
        assert blob is not None
        blob.deleted_at = LATER  # as the end-date sweep leaves it
    gone = _show(services, study_id, kari, "--raw")
    assert gone.exit_code == 1
    assert "has been deleted" in gone.output and f"transcript show {study_id} {kari}" in gone.output
    still = _show(services, study_id, kari)
    assert still.exit_code == 0 and "[ARBEIDSPLASS]" in still.output


def test_parallel_jobs_never_give_two_people_the_same_number_in_a_study(
    services: Services, study_id: str
) -> None:
    # Distinct first names: the book takes "Geir Olsen" after "Geir Hansen" for one Geir.
    firsts = "Geir Trond Hilde Siri Bjørn Elin Knut Randi Svein Tove Åse Øystein Frode Gro"
    lasts = "Hansen Olsen Larsen Berg Dahl Moe Lie Haugen Bakke Strand Ås Lund Vik Holm"
    people = [f"{a} {b}" for a, b in zip(firsts.split(), lasts.split(), strict=True)]
    failures: list[BaseException] = []

    def number(names: list[str]) -> None:
        try:
            for name in names:
                numbering.pseudonymise_text(services, study_id, f"Kollegaen min {name} kom sent.")
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            failures.append(exc)

    workers = [threading.Thread(target=number, args=(people[i::2],)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    book = numbering.load_book(services, study_id)
    numbers = [book.persons[name.casefold()] for name in people]
    assert sorted(numbers) == list(range(1, len(people) + 1))


def test_review_on_the_command_line_edits_and_checks_items_by_number(
    services: Services, study_id: str
) -> None:
    kari = _register(services, study_id, KARI)
    _transcript(
        services, study_id, kari, ["Vi spiste på Trollsenteret.", "Jeg heter Kari Nordmann."]
    )
    listed = _fieldvault(services, "review", study_id, kari)
    assert listed.exit_code == 0, listed.output
    assert "SUSPECT" in listed.output and "1 not yet checked" in listed.output
    numbers = {i.original: i.number for i in review.review_items(services, study_id, kari, LATER)}
    done = _fieldvault(
        services,
        "review",
        study_id,
        kari,
        "--edit",
        str(numbers["Trollsenteret"]),
        "[ARBEIDSPLASS]",
        "--accept",
        str(numbers["Kari Nordmann"]),
    )
    assert done.exit_code == 0, done.output
    assert "'Trollsenteret' → [ARBEIDSPLASS]  (edited)" in done.output
    assert "(checked)" in done.output and "0 not yet checked" in done.output
    wrong = _fieldvault(services, "review", study_id, kari, "--accept", "42")
    assert wrong.exit_code != 0 and "no review item 42" in wrong.output
