"""Recording intake on real databases: rule 1 (consent) and rule 7 (bad audio loses nothing)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldvault.domain.consent import State
from fieldvault.domain.participants import get_participant
from fieldvault.domain.recordings import RecordingRefused, accept_recording, list_jobs
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    AuditEvent,
    BlobObject,
    Recording,
    RecordingTrack,
    TranscriptionJob,
)
from fieldvault.storage.services import Services

from .conftest import NOW
from .recording_helpers import DATA, decode_pcm, m4a_bytes, participant, wav_bytes


def _upload(
    services: Services,
    study_id: str,
    code: str,
    *files: tuple[str, bytes],
    now: dt.datetime = NOW,
) -> Recording:
    return accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[(name, io.BytesIO(data)) for name, data in files],
        language="en",
        source="cli",
        now=now,
    )


def _nothing_kept(services: Services) -> None:
    blob_files = [p for p in Path(services.settings.blob_path).rglob("*") if p.is_file()]
    assert blob_files == []
    with transaction(services.research) as session:
        for model in (BlobObject, Recording, RecordingTrack, TranscriptionJob):
            assert session.scalar(select(func.count()).select_from(model)) == 0


@pytest.fixture(scope="module")
def speech() -> bytes:
    return (DATA / "interview_en.ogg").read_bytes()


def test_an_upload_is_encrypted_recorded_audited_and_queued(
    services: Services, study_id: str, speech: bytes
) -> None:
    code = participant(services, study_id)
    pcm = decode_pcm(DATA / "track_informant.ogg")
    recording = _upload(
        services, study_id, code, ("voice.ogg", speech), ("zoom.m4a", m4a_bytes(pcm))
    )
    assert [t.container for t in recording.tracks] == ["ogg", "mov"]
    assert [t.codec for t in recording.tracks] == ["opus", "aac"]
    assert recording.duration_s == pytest.approx(18.27, abs=0.2)
    # Ciphertext only: the Ogg magic and the MP4 box names are nowhere in the blob store.
    for path in Path(services.settings.blob_path).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"OggS" not in data and b"ftyp" not in data
    with transaction(services.research) as session:
        [job] = list_jobs(session, study_id)
        assert (job.state, job.participant_code, job.attempts) == ("queued", code, 0)
        assert get_participant(session, study_id, code).state == State.INTERVIEWED
        events = session.scalars(select(AuditEvent.event).order_by(AuditEvent.seq)).all()
        assert audit.Event.UPLOAD_ACCEPTED in events
        assert audit.verify(session).ok
        first = session.get(BlobObject, recording.tracks[0].object_id)
        assert first is not None and first.kind == "recording"
        assert b"".join(services.content.read(first)) == speech


def test_no_recording_without_consent_to_the_recording_item(
    services: Services, study_id: str, speech: bytes
) -> None:
    code = participant(services, study_id, recording=False)
    with pytest.raises(RecordingRefused, match="no current consent to 'interview-recording'"):
        _upload(services, study_id, code, ("a.ogg", speech))
    _nothing_kept(services)
    with transaction(services.research) as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None and last.event == audit.Event.UPLOAD_REJECTED


@pytest.mark.parametrize(
    ("name", "make", "problem"),
    [
        ("empty.m4a", lambda s, p: b"", "is empty"),
        ("notes.txt", lambda s, p: b"Intervjuguide, versjon 2\n" * 50, "not a readable"),
        ("cut.wav", lambda s, p: wav_bytes(p)[: len(wav_bytes(p)) // 2], "is truncated"),
        ("cut.ogg", lambda s, p: s[: len(s) // 2], "is truncated"),
        ("cut.m4a", lambda s, p: m4a_bytes(p)[: len(m4a_bytes(p)) // 2], "truncated"),
        ("noise.mp3", lambda s, p: bytes(range(256)) * 64, "not a readable"),
    ],
)
def test_bad_audio_is_refused_by_name_and_leaves_nothing(
    services: Services, study_id: str, speech: bytes, name: str, make, problem: str
) -> None:
    code = participant(services, study_id)
    pcm = decode_pcm(DATA / "track_informant.ogg")
    bad = make(speech, pcm)
    # The good first file of the interview must go as well when the second one is refused.
    with pytest.raises(RecordingRefused, match=rf"file '{name}' .*{problem}"):
        _upload(services, study_id, code, ("good.ogg", speech), (name, bad))
    _nothing_kept(services)
    with transaction(services.research) as session:
        assert get_participant(session, study_id, code).state == State.CONSENTED
        assert audit.verify(session).ok


@pytest.mark.parametrize(
    ("local_time", "refused"),
    [("2021-06-30T23:59:00+02:00", False), ("2021-07-01T00:00:00+02:00", True)],
    ids=["last-minute-of-the-end-day", "midnight-after-in-oslo"],
)
def test_a_recording_after_the_processing_end_is_refused_and_nothing_kept(
    services: Services, study_id: str, speech: bytes, local_time: str, refused: bool
) -> None:
    code = participant(services, study_id)
    now = dt.datetime.fromisoformat(local_time).astimezone(dt.UTC)
    if not refused:
        assert _upload(services, study_id, code, ("voice.ogg", speech), now=now).id
        return
    with pytest.raises(RecordingRefused, match="ended its processing on 2021-06-30") as caught:
        _upload(services, study_id, code, ("voice.ogg", speech), now=now)
    assert caught.value.reason == "study-ended"
    _nothing_kept(services)


def test_the_upload_language_is_read_as_whisper_knows_it(
    services: Services, study_id: str, speech: bytes
) -> None:
    code = participant(services, study_id)
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[("voice.ogg", io.BytesIO(speech))],
        language="nb",  # the letter's code for bokmål; Whisper calls Norwegian "no"
        source="cli",
        now=NOW,
    )
    assert recording.language == "no"


def test_a_language_whisper_does_not_know_is_refused_before_anything_is_stored(
    services: Services, study_id: str, speech: bytes
) -> None:
    code = participant(services, study_id)
    with pytest.raises(RecordingRefused, match="'norsk' is not a language Whisper"):
        accept_recording(
            services,
            study_id=study_id,
            code=code,
            files=[("voice.ogg", io.BytesIO(speech))],
            language="norsk",
            source="cli",
            now=NOW,
        )
    _nothing_kept(services)
