"""Audio bombs: recordings too long or with too many tracks are refused at intake and in the worker.

Every file is made at test time (a FLAC of hours of silence is some 50 KB): nothing big is kept
in the repository.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update
from yarl import URL

from fieldvault.domain.recordings import RecordingRefused, accept_recording, read_transcripts
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    AuditEvent,
    BlobObject,
    Recording,
    RecordingTrack,
    Transcript,
    TranscriptionJob,
)
from fieldvault.storage.services import Services
from fieldvault.workers import jobs
from fieldvault.workers.leases import MAX_ATTEMPTS
from fieldvault.workers.transcription import Segment, TranscribeResult
from tests.audio_files import many_streams, silence_flac, with_declared_samples

from .conftest import NOW
from .recording_helpers import DATA, participant
from .test_web_upload import _post, _rejections, _serve, _token


def _upload(services: Services, study_id: str, code: str, *files: tuple[str, bytes]) -> Recording:
    return accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[(name, io.BytesIO(data)) for name, data in files],
        language="en",
        source="cli",
        now=NOW,
    )


def _nothing_kept(services: Services) -> None:
    assert [p for p in Path(services.settings.blob_path).rglob("*") if p.is_file()] == []
    with transaction(services.research) as session:
        for model in (BlobObject, Recording, RecordingTrack, TranscriptionJob):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def _last_refusal(services: Services) -> dict[str, Any]:
    with transaction(services.research) as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None and last.event == audit.Event.UPLOAD_REJECTED
        assert audit.verify(session).ok
        return dict(last.details)


def _limited(services: Services, **limits: Any) -> Services:
    """The same services under lowered limits (as if the settings changed after an upload)."""
    return dataclasses.replace(services, settings=services.settings.model_copy(update=limits))


def test_seven_hours_of_silence_in_a_small_flac_are_refused_naming_the_limit_and_the_duration(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    bomb = silence_flac(tmp_path, 7 * 3600)
    assert len(bomb) < 200_000
    code = participant(services, study_id)
    started = time.monotonic()
    with pytest.raises(RecordingRefused) as refused:
        _upload(services, study_id, code, ("silence.flac", bomb))
    assert "file 'silence.flac'" in str(refused.value)
    assert "7 h 00 min" in str(refused.value) and "limit of 6 h 00 min" in str(refused.value)
    assert refused.value.code == "recording.too-long"
    # Its header said so: the probe refused without decoding seven hours.
    assert time.monotonic() - started < 5.0
    _nothing_kept(services)
    assert _last_refusal(services)["reason"] == "too-long"


@pytest.mark.parametrize("declared_s", [0, 3600], ids=["length-unknown", "forged-one-hour"])
def test_a_header_that_hides_the_length_does_not_let_hours_past_the_limit(
    services: Services, study_id: str, tmp_path: Path, declared_s: int
) -> None:
    bomb = with_declared_samples(silence_flac(tmp_path, 3 * 3600), declared_s * 8000)
    small = _limited(services, max_recording_hours=1.5)
    code = participant(small, study_id)
    with pytest.raises(RecordingRefused, match="lasts more than 1 h 30 min, the limit") as refused:
        _upload(small, study_id, code, ("silence.flac", bomb))
    assert refused.value.reason == "too-long"
    _nothing_kept(small)


def test_more_files_than_a_recording_may_have_tracks_are_refused_before_anything_is_stored(
    services: Services, study_id: str
) -> None:
    clip = (DATA / "track_informant.ogg").read_bytes()
    code = participant(services, study_id)
    files = [(f"speaker-{n}.ogg", clip) for n in range(9)]
    with pytest.raises(RecordingRefused, match="9 audio files; a recording may have at most 8"):
        _upload(services, study_id, code, *files)
    _nothing_kept(services)
    assert _last_refusal(services) == {"reason": "too-many-tracks", "files": 9}
    # Eight per-speaker tracks are still one recording.
    assert len(_upload(services, study_id, code, *files[:8]).tracks) == 8


@pytest.mark.parametrize("count", [9, 1000])
def test_a_file_holding_more_audio_streams_than_a_recording_may_have_tracks_is_refused(
    services: Services, study_id: str, count: int
) -> None:
    code = participant(services, study_id)
    with pytest.raises(RecordingRefused, match=f"holds {count} audio streams") as refused:
        _upload(services, study_id, code, ("many.mka", many_streams(count)))
    assert refused.value.reason == "too-many-tracks"
    _nothing_kept(services)


# --- the worker: a recording that came in before the limit existed --------------------------------


@dataclasses.dataclass
class PieceEngine:
    """An engine (the Engine protocol) that hears one segment over each piece it is given."""

    name: str = "pieces"
    model_name: str = "test"
    pieces: list[int] = dataclasses.field(default_factory=list)
    spill_s: float = 0.0

    def transcribe(self, audio: Any, language: str | None) -> TranscribeResult:
        self.pieces.append(len(audio))
        length = len(audio) / 16000
        heard = iter([Segment(0.0, length + self.spill_s, f"piece {len(self.pieces)}", -0.2, 0, 1)])
        return TranscribeResult(language or "en", length, heard)


def _job(services: Services) -> TranscriptionJob:
    with transaction(services.research) as session:
        job = session.scalars(select(TranscriptionJob)).one()
        session.expunge(job)
        return job


def test_the_worker_fails_a_recording_over_the_limit_once_with_its_reason_and_no_retry(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    _upload(services, study_id, code, ("voice.ogg", (DATA / "interview_en.ogg").read_bytes()))
    small = _limited(services, max_recording_hours=10 / 3600)
    engine = PieceEngine()
    outcome = jobs.run_transcription(small, engine, _job(services).id)  # returns, not raises
    job = _job(services)
    assert (outcome.status, job.state, job.attempts) == ("failed", "failed", 1)
    assert job.error is not None and "lasts 18.3 s, longer than the limit of 10.0 s" in job.error
    assert engine.pieces == []  # refused before anything was decoded
    assert jobs.run_transcription(small, engine, job.id).status == "skipped"
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(Transcript)) == 0


def test_the_worker_stops_decoding_at_the_limit_when_the_stored_duration_understated_it(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    _upload(services, study_id, code, ("voice.ogg", (DATA / "interview_en.ogg").read_bytes()))
    with transaction(services.research) as session:  # as a forged header had made the probe say
        session.execute(update(RecordingTrack).values(duration_s=5.0))
    small = _limited(services, max_recording_hours=10 / 3600)
    outcome = jobs.run_transcription(small, PieceEngine(), _job(services).id)
    job = _job(services)
    assert (outcome.status, job.state) == ("failed", "failed") and job.attempts < MAX_ATTEMPTS
    assert job.error is not None and "lasts more than 10.0 s, the limit" in job.error


def test_a_long_recording_is_transcribed_piece_by_piece_and_its_times_never_go_back(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    code = participant(services, study_id)
    _upload(services, study_id, code, ("long.flac", silence_flac(tmp_path, 40 * 60)))
    engine = PieceEngine(spill_s=3.0)  # each piece's segment ends after the piece
    assert jobs.run_transcription(services, engine, _job(services).id).status == "done"
    assert len(engine.pieces) == 4 and sum(engine.pieces) == 40 * 60 * 16000
    assert max(engine.pieces) <= 15 * 60 * 16000
    with transaction(services.research) as session:
        [doc] = read_transcripts(session, services.content, study_id, code)
    times = [(s["start"], s["end"]) for s in doc["segments"]]
    assert [s["text"] for s in doc["segments"]] == ["piece 1", "piece 2", "piece 3", "piece 4"]
    assert times[0][0] == 0.0 and times[-1][1] >= 40 * 60
    for (_, end), (start, _) in itertools.pairwise(times):
        assert start >= end  # no overlap, never backwards


# --- the same refusals through the upload API -----------------------------------------------------


def test_the_upload_api_refuses_hours_of_silence_and_a_tenth_file_with_422_and_the_limit(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    bomb = silence_flac(tmp_path, 7 * 3600)
    clip = (DATA / "track_informant.ogg").read_bytes()
    code = participant(services, study_id)
    token = _token(services, study_id)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await _post(http, study_id, code, token, ("silence.flac", bomb))
        body = await response.json()
        assert (response.status, body["error"]) == (422, "too-long")
        assert "7 h 00 min" in body["message"] and "limit of 6 h 00 min" in body["message"]
        assert "FIELDVAULT_MAX_RECORDING_HOURS" in body["message"]
        # The parts of a web upload arrive one by one: the ninth is refused as it comes.
        files = [(f"speaker-{n}.ogg", clip) for n in range(9)]
        response = await _post(http, study_id, code, token, *files)
        body = await response.json()
        assert (response.status, body["error"]) == (422, "too-many-tracks")
        assert "more than 8 audio files; a recording may have at most 8" in body["message"]

    _serve(services, scenario)
    _nothing_kept(services)
    assert [r["reason"] for r in _rejections(services)] == ["too-long", "too-many-tracks"]
