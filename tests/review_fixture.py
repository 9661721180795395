"""A transcribed, pseudonymised recording for the review editor's tests (web and browser).

The recording is the real clip ``tests/data/interview_en.ogg`` taken in by
``accept_recording``, as every front end does. Running Whisper over it would take most of a
test's time on two shared cores, so the raw transcript is a document made here, stored the way
the transcription job stores one (sealed under the participant's ``raw_transcript`` key, a
``Transcript`` row, the first guess of the speakers' roles, the participant moved to
*transcribed*); the pseudonymise job (``pseudonymise_transcript``) then makes its review
bundle, as the worker would.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.domain.recordings import accept_recording
from fieldvault.domain.redaction.job import pseudonymise_transcript
from fieldvault.domain.speakers import guess_roles
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Transcript
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

CLIP = Path(__file__).parent / "data" / "interview_en.ogg"
KARI = Identity(name="Kari Nordmann", email="kari.nordmann@example.no", phone="+47 912 34 567")
# What the clip says, cut into segments, with the names the pseudonymisation must find.
LINES = [
    ("speaker-1", "Thank you for taking part in this interview, Kari Nordmann."),
    ("speaker-1", "Could you tell me about your work as a counselor at NAV Volda?"),
    ("speaker-2", "I meet many young people who need help finding a job."),
    ("speaker-2", "Call me on 912 34 567. Building a good relationship with them takes time."),
    ("speaker-2", "And digital meetings make it harder."),
]
SEGMENT_S = 3.0


@dataclass(frozen=True)
class Reviewable:
    """What a test needs: the participant, the transcript, the clip's bytes."""

    code: str
    transcript_id: int
    audio: bytes


def document(lines: list[tuple[str, str]], segment_s: float = SEGMENT_S) -> dict[str, Any]:
    """A raw transcript document in the job's format (the second segment flagged suspect)."""
    return {
        "language": "en",
        "engine": "test",
        "model": "none",
        "suspect_count": 1,
        "segments": [
            {
                "start": segment_s * i,
                "end": segment_s * (i + 1),
                "text": text,
                "speaker": speaker,
                "suspect": ["low log-probability"] if i == 1 else [],
            }
            for i, (speaker, text) in enumerate(lines)
        ],
    }


def reviewable(
    services: Services,
    study_id: str,
    now: dt.datetime,
    *,
    lines: list[tuple[str, str]] | None = None,
    identity: Identity = KARI,
    audio: bytes | None = None,
    segment_s: float = SEGMENT_S,
) -> Reviewable:
    """A consented participant with a recording, its raw transcript and its review bundle."""
    code = register_participant(services, study_id, identity, {}, now)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "en", now)
        consent.record_consent(
            session,
            person,
            {"interview-recording": True, "identifiable-publication": False},
            language="en",
            channel="telegram",
            letter_delivered_at=now,
            now=now,
            how={"message_id": 1},
        )
    data = CLIP.read_bytes() if audio is None else audio
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[("interview.ogg", io.BytesIO(data))],
        language="en",
        source="cli",
        now=now,
    )
    raw = document(lines or LINES, segment_s)
    raw["recording_id"] = recording.id
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        obj = services.content.put(
            session,
            study_id=study_id,
            participant_id=person.id,
            participant_code=code,
            kind=BlobKind.RAW_TRANSCRIPT,
            source=[json.dumps(raw, ensure_ascii=False).encode("utf-8")],
            now=now,
        )
        row = Transcript(
            recording_id=recording.id,
            object_id=obj.object_id,
            language="en",
            engine="test",
            model="none",
            segment_count=len(raw["segments"]),
            suspect_count=raw["suspect_count"],
            created_at=now,
        )
        session.add(row)
        session.flush()
        guess_roles(session, row.id, raw["segments"], now=now)  # as the job does
        if State(person.state) is State.INTERVIEWED:
            consent.transition(person, State.TRANSCRIBED, now)
        transcript_id = row.id
    pseudonymise_transcript(services, transcript_id, now)
    return Reviewable(code, transcript_id, data)
