"""Withdrawal: what the study's policy keeps, and why a running job cannot bring anything back.

After every withdrawal the issue's four checks hold: no identity string or word of the
recording in any file of the data dir (databases included), no remaining key opens a copy of
the participant's ciphertext, the research data still exports, and the audit chain verifies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select

from fieldvault.domain import consent, studies
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.domain.recordings import accept_recording
from fieldvault.domain.redaction import numbering
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.domain.redaction.job import pseudonymise_transcript
from fieldvault.domain.withdrawal import PurgeReport, purge_after_withdrawal
from fieldvault.export.bundle import write_export
from fieldvault.export.model import ExportError
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    PseudonymisedTranscript,
    Transcript,
    TranscriptionJob,
    WrappedDataKey,
)
from fieldvault.storage.services import Services
from fieldvault.workers import jobs
from fieldvault.workers.transcription import Segment, TranscribeResult

from .conftest import NOW
from .recording_helpers import transcript_row
from .test_retention import (
    APPROVED_TEXT,
    SPOKEN,
    _pseudonymised,
    add_informant,
    assert_copies_unreadable,
    counts,
    events,
    identity,
    identity_strings,
    register_variant,
    remaining_keys,
    scan_for,
    scan_tables,
    snapshot,
)

DATA = Path(__file__).parents[1] / "data"
LATER = NOW + dt.timedelta(hours=1)
RECORDING_ITEM = "interview-recording"
# What the held engine "hears": words that must not survive the withdrawal anywhere.
HEARD = [SPOKEN, "Solveig på Tøyen-kontoret sa det samme"]


def withdraw(
    services: Services, study_id: str, code: str, items: frozenset[str] | None = None
) -> PurgeReport:
    """Record a withdrawal (everything, or ``items``) and purge, as every front end does."""
    with transaction(services.research) as session:
        record = consent.withdraw(
            session,
            get_participant(session, study_id, code),
            channel="telegram",
            now=LATER,
            items=items,
        )
        withdrawn = frozenset(d.item_id for d in record.decisions)
    return purge_after_withdrawal(services, study_id, code, withdrawn, LATER)


def pseudonymised_states(services: Services, study_id: str) -> list[str]:
    with transaction(services.research) as session:
        return sorted(
            session.scalars(
                select(PseudonymisedTranscript.state).where(
                    PseudonymisedTranscript.study_id == study_id
                )
            )
        )


def exported_text(services: Services, study_id: str, out: Path) -> bytes:
    result = write_export(services, study_id, ["all"], out, LATER)
    assert result.transcripts == 1
    return b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())


# --- the policy ---------------------------------------------------------------------------------


def test_a_whole_withdrawal_under_keep_leaves_only_the_approved_text_and_nothing_identifying(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    approved = add_informant(services, study_id, 1, state="approved", evidence=True)
    in_review = add_informant(services, study_id, 2, state="transcribed")
    _pseudonymised(services, study_id, approved, approved=True)
    _pseudonymised(services, study_id, in_review, approved=False)
    copies = snapshot(services, study_id)
    before = counts(services, study_id)

    first = withdraw(services, study_id, approved)
    second = withdraw(services, study_id, in_review)

    assert first.pseudonymised == {"deleted": 0, "kept": 1}
    assert first.shredded == {"evidence": 1, "raw_transcript": 1, "recording": 1}
    # The text under review exists only in its redaction map, which names people: it goes.
    assert second.pseudonymised == {"deleted": 1, "kept": 0}
    assert second.shredded == {"raw_transcript": 1, "recording": 1, "redaction_map": 1}
    assert first.identity_deleted and second.identity_deleted
    assert pseudonymised_states(services, study_id) == ["approved"]
    # (1) nothing identifying in any file, nor in any row of either database.
    needles = identity_strings([1, 2, 9])
    assert scan_for(services.settings.data_dir, needles) == []
    assert scan_tables(services, needles) == []
    # (2) no key is left that opens any copy of their ciphertext.
    assert remaining_keys(services) == []
    assert_copies_unreadable(services, copies)
    # (3) the research data stays: participants, variables, consent records (plus the two
    # withdrawals), the codebook, and the approved text, which still exports.
    after = counts(services, study_id)
    assert after == {**before, "consent_records": before["consent_records"] + 2}
    with transaction(services.research) as session:
        assert studies.load_definition(session, study_id).codebook.codes
        assert audit.verify(session).ok
    texts = exported_text(services, study_id, tmp_path / "export")
    assert APPROVED_TEXT.encode() in texts
    assert scan_for(tmp_path / "export", needles) == []
    purges = [e for e in events(services, study_id) if e.event == "deletion.purge"]
    assert [(e.participant_code, e.details["pseudonymised"]) for e in purges] == [
        (approved, {"deleted": 0, "kept": 1}),
        (in_review, {"deleted": 1, "kept": 0}),
    ]
    assert {e.details["policy"] for e in purges} == {"keep"}


@pytest.mark.parametrize(
    ("policy", "items", "kept"),
    [
        ("keep", None, 1),
        ("keep", frozenset({RECORDING_ITEM}), 1),
        ("delete", None, 0),
        ("delete", frozenset({RECORDING_ITEM}), 0),
    ],
    ids=["keep-everything", "keep-recording-item", "delete-everything", "delete-recording-item"],
)
def test_the_study_policy_decides_whether_approved_transcripts_outlive_a_withdrawal(
    services: Services, tmp_path: Path, policy: str, items: frozenset[str] | None, kept: int
) -> None:
    sid = register_variant(
        services, f"{policy}-study", optional_recording=True, on_withdrawal_pseudonymised=policy
    )
    code = add_informant(services, sid, 3, state="approved")
    _pseudonymised(services, sid, code, approved=True)

    report = withdraw(services, sid, code, items)

    assert report.pseudonymised == {"deleted": 1 - kept, "kept": kept}
    assert report.shredded == {"raw_transcript": 1, "recording": 1}
    # Only a whole withdrawal takes the identity; the recording item alone leaves it.
    assert (services.vault.get(sid, code) is None) is (items is None)
    assert pseudonymised_states(services, sid) == ["approved"] * kept
    if kept:
        assert APPROVED_TEXT.encode() in exported_text(services, sid, tmp_path / "export")
    else:
        with pytest.raises(ExportError, match="no approved transcripts"):
            write_export(services, sid, ["all"], tmp_path / "export", LATER)
    # Idempotent: a rerun (the sweep's catch-up) destroys nothing more and keeps what it kept.
    again = purge_after_withdrawal(services, sid, code, items or frozenset(), LATER)
    assert again.shredded == {}
    assert again.pseudonymised == {"deleted": 0, "kept": kept}
    assert pseudonymised_states(services, sid) == ["approved"] * kept


# --- a job running while the informant withdraws ------------------------------------------------


@dataclasses.dataclass
class HeldEngine:
    """An engine (the Engine protocol) that hears one segment, then waits until released."""

    name: str = "held"
    model_name: str = "test"
    started: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)
    yielded: int = 0

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> TranscribeResult:
        return TranscribeResult(language or "nb", len(audio) / 16000, self._segments())

    def _segments(self) -> Iterator[Segment]:
        for n, text in enumerate(HEARD):
            if n == 1:
                self.started.set()  # mid-transcription: the test withdraws now
                assert self.release.wait(30), "the test never released the engine"
            self.yielded += 1
            yield Segment(2.0 * n, 2.0 * n + 2, text, -0.2, 0.01, 1.1)
        self.yielded += 1
        yield Segment(4.0, 6.0, "og så videre", -0.2, 0.01, 1.1)


def consented_with_recording(
    services: Services, study_id: str, n: int, clip: str = "interview_en.ogg"
) -> tuple[str, int]:
    """A consented informant whose uploaded recording waits for transcription: (code, job id)."""
    code = register_participant(services, study_id, identity(n), {}, NOW)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "nb", NOW)
        consent.record_consent(
            session,
            person,
            {RECORDING_ITEM: True, "identifiable-publication": False},
            language="nb",
            channel="telegram",
            letter_delivered_at=NOW,
            now=NOW,
        )
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[("intervju.ogg", io.BytesIO((DATA / clip).read_bytes()))],
        language="nb",
        source="cli",
        now=NOW,
    )
    with transaction(services.research) as session:
        job_id = session.scalars(
            select(TranscriptionJob.id).where(TranscriptionJob.recording_id == recording.id)
        ).one()
    return code, job_id


@pytest.mark.parametrize(
    ("items", "check"),
    [
        (None, "store"),
        (frozenset({RECORDING_ITEM}), "store"),
        (None, "progress"),
    ],
    ids=["everything-seen-at-store", "recording-item-seen-at-store", "everything-seen-at-progress"],
)
def test_a_withdrawal_during_transcription_leaves_no_transcript_and_no_blob(
    services: Services, monkeypatch: pytest.MonkeyPatch, items: frozenset[str] | None, check: str
) -> None:
    sid = register_variant(services, "job-study", optional_recording=True)
    code, job_id = consented_with_recording(services, sid, 4)
    # Progress after every segment, so its check sees the withdrawal first; or never, so only
    # the check in the storing transaction can.
    monkeypatch.setattr(jobs, "PROGRESS_EVERY_S", 0.0 if check == "progress" else float("inf"))
    engine = HeldEngine()
    outcome: list[jobs.Outcome] = []
    worker = threading.Thread(
        target=lambda: outcome.append(jobs.run_transcription(services, engine, job_id))
    )
    worker.start()
    try:
        assert engine.started.wait(30), "the job never reached the engine"
        withdraw(services, sid, code, items)
    finally:
        engine.release.set()
        worker.join(30)
    assert not worker.is_alive()

    [result] = outcome
    assert result.status == jobs.WITHDRAWN and result.transcript_id is None
    # Stopped at the progress check, the engine was not even asked for its last segment.
    assert engine.yielded == (2 if check == "progress" else 3)
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        assert job is not None
        assert (job.state, job.claimed_by, job.error) == (jobs.WITHDRAWN, None, None)
        recording_id = job.recording_id
        assert session.scalars(select(Transcript)).all() == []
        objects = session.scalars(select(BlobObject)).all()
        assert objects and all(o.deleted_at is not None for o in objects)
        assert {o.kind for o in objects} == {"recording"}
        assert audit.verify(session).ok
    assert not any(services.content.blobs.exists(o.object_id) for o in objects)
    assert [p for p in services.settings.blob_path.rglob("*") if p.is_file()] == []
    with services.vault_sessions() as vs:
        assert vs.scalars(select(WrappedDataKey.purpose)).all() == []
    assert (services.vault.get(sid, code) is None) is (items is None)
    names = [e.event for e in events(services, sid) if e.participant_code == code]
    assert "transcript.created" not in names
    assert names.index("consent.withdrawn") < names.index("deletion.purge")
    assert names.index("deletion.purge") < names.index("transcript.discarded")
    [discarded] = [e for e in events(services, sid) if e.event == "transcript.discarded"]
    assert discarded.details == {"recording_id": recording_id, "job": job_id, "reason": "withdrawn"}
    needles = HEARD if items else [*HEARD, *identity_strings([4])]
    assert scan_for(services.settings.data_dir, needles) == []
    assert scan_tables(services, needles) == []
    # The job, queued again (a duplicate message), does nothing: its state is final.
    assert jobs.run_transcription(services, engine, job_id).status == "skipped"


def test_a_job_claimed_after_the_withdrawal_ends_without_transcribing(
    services: Services, study_id: str
) -> None:
    code, job_id = consented_with_recording(services, study_id, 5)
    withdraw(services, study_id, code)
    engine = HeldEngine()
    engine.release.set()

    assert jobs.run_transcription(services, engine, job_id).status == jobs.WITHDRAWN

    assert engine.yielded == 0
    with transaction(services.research) as session:
        job = session.get(TranscriptionJob, job_id)
        assert job is not None and job.state == jobs.WITHDRAWN
        assert session.scalars(select(Transcript)).all() == []
    with services.vault_sessions() as vs:
        assert vs.scalars(select(WrappedDataKey.purpose)).all() == []


# --- the pseudonymise job while the informant withdraws -----------------------------------------


def raw_transcript_to_pseudonymise(services: Services, study_id: str, n: int) -> tuple[str, int]:
    """An informant with a stored raw transcript (JSON, as the job writes it): (code, its id)."""
    code = add_informant(services, study_id, n, state="transcribed")
    document = {
        "language": "nb",
        "segments": [
            {"start": 0.0, "end": 4.0, "speaker": "informant", "text": HEARD[1]},
            {
                "start": 4.0,
                "end": 8.0,
                "speaker": "informant",
                "text": f"Jeg er {identity(n).name}",
            },
        ],
    }
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        raw = services.content.put(
            session,
            study_id=study_id,
            participant_id=person.id,
            participant_code=code,
            kind="raw_transcript",
            source=[json.dumps(document, ensure_ascii=False).encode()],
            now=NOW,
        )
        transcript = transcript_row(
            session, study_id, person.id, raw.object_id, duration_s=8.0, segments=2
        )
        return code, transcript.id


def test_a_withdrawal_while_the_pseudonymiser_runs_leaves_no_review_bundle(
    services: Services, study_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, transcript_id = raw_transcript_to_pseudonymise(services, study_id, 6)
    real = numbering.pseudonymise_lines

    def withdrawn_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # The engine has read the raw text; the informant withdraws before it is stored.
        result = real(*args, **kwargs)
        withdraw(services, study_id, code)
        return result

    monkeypatch.setattr(numbering, "pseudonymise_lines", withdrawn_meanwhile)
    with pytest.raises(NothingToReview, match="withdrawn or deleted"):
        pseudonymise_transcript(services, transcript_id, LATER)

    with transaction(services.research) as session:
        assert session.scalars(select(PseudonymisedTranscript)).all() == []
        assert (
            session.scalars(select(BlobObject).where(BlobObject.deleted_at.is_(None))).all() == []
        )
        assert audit.verify(session).ok
    assert [p for p in services.settings.blob_path.rglob("*") if p.is_file()] == []
    assert remaining_keys(services) == []
    names = [e.event for e in events(services, study_id)]
    assert "transcript.pseudonymised" not in names and "deletion.purge" in names
    needles = [*HEARD, *identity_strings([6])]
    assert scan_for(services.settings.data_dir, needles) == []
    assert scan_tables(services, needles) == []
