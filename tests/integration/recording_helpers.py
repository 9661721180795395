"""Shared set-up for the recording and transcription tests: consented participants, audio files."""

from __future__ import annotations

import datetime as dt
import io
import wave
from pathlib import Path

import av
import numpy as np
from sqlalchemy.orm import Session

from fieldvault.domain import consent
from fieldvault.domain.participants import get_participant
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Recording, Transcript
from fieldvault.storage.services import Services

from .conftest import NOW

DATA = Path(__file__).parents[1] / "data"
WEEK = dt.timedelta(days=7)


def participant(services: Services, study_id: str, *, recording: bool = True) -> str:
    """A participant who consented (or refused, with ``recording=False``) to being recorded."""
    with transaction(services.research) as session:
        [invite] = consent.create_invites(session, study_id, 1, WEEK, NOW)
    with transaction(services.research) as session:
        code = consent.redeem_invite(session, invite, NOW).code
    give_consent(services, study_id, code, recording=recording)
    return code


def give_consent(services: Services, study_id: str, code: str, *, recording: bool = True) -> None:
    """Record that ``code`` read the letter and consented, to being recorded or not."""
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "nb", NOW)
        consent.record_consent(
            session,
            person,
            {"interview-recording": recording, "identifiable-publication": False},
            language="nb",
            channel="telegram",
            letter_delivered_at=NOW,
            now=NOW + dt.timedelta(minutes=5),
            how={"message_id": 42},
        )


def transcript_row(
    session: Session,
    study_id: str,
    participant_id: int,
    object_id: str,
    *,
    duration_s: float,
    segments: int,
    recorded_at: dt.datetime = NOW,
) -> Transcript:
    """A recording and the transcript row over an already stored raw-transcript blob."""
    recording = Recording(
        study_id=study_id,
        participant_id=participant_id,
        language="nb",
        source="cli",
        duration_s=duration_s,
        created_at=recorded_at,
    )
    session.add(recording)
    session.flush()
    transcript = Transcript(
        recording_id=recording.id,
        object_id=object_id,
        language="nb",
        engine="faster-whisper",
        model="base",
        segment_count=segments,
        suspect_count=0,
        created_at=NOW,
    )
    session.add(transcript)
    session.flush()
    return transcript


def decode_pcm(path: Path, rate: int = 16000) -> np.ndarray:
    """Samples of a fixture as 16-bit mono."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    return np.concatenate(chunks).astype(np.int16)


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    """A WAV file in memory."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def m4a_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    """An AAC-in-MP4 file in memory, like a Zoom export."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()
