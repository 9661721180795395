"""The one adapter between the research database and the export contract.

``collect`` reads a study's approved, pseudonymised transcripts (``PseudonymisedTranscript`` rows
in state ``approved`` with an approval time and a document) and fills an
:class:`~fieldvault.export.model.ExportStudy`. Only approved transcripts may leave (rule 3);
raw transcripts and texts under review, which may still name people, are never read here.

The approved document is expected to be ``{"segments": [{"start", "end", "speaker", "text"},
...]}`` (seconds, end exclusive; speaker ``interviewer``, ``informant`` or another role), with an
optional ``interview_date`` (ISO date); without one, the day the recording was stored stands in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.studies import get_study, load_definition
from fieldvault.export.model import ExportError, ExportSegment, ExportStudy, ExportTranscript
from fieldvault.storage.models import (
    Participant,
    PseudonymisedTranscript,
    Recording,
    Transcript,
    as_utc,
)

__all__ = ["APPROVED", "collect"]

APPROVED = "approved"


def _segments(document: Mapping[str, Any], code: str) -> list[ExportSegment]:
    raw = document.get("segments")
    if not isinstance(raw, list):
        raise ExportError(
            f"the approved transcript of participant {code} has no segment list; approve it again"
        )
    segments = []
    for number, item in enumerate(raw):
        try:
            segments.append(
                ExportSegment(
                    start=float(item["start"]),
                    end=float(item["end"]),
                    speaker=str(item.get("speaker") or "unknown"),
                    text=str(item["text"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise ExportError(
                f"segment {number} of the approved transcript of participant {code} lacks a "
                "start, end or text"
            ) from None
    return segments


def _interview_date(document: Mapping[str, Any], recorded: dt.datetime, zone: str) -> dt.date:
    value = document.get("interview_date")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    return as_utc(recorded).astimezone(ZoneInfo(zone)).date()


def collect(session: Session, study_id: str) -> ExportStudy:
    """The study's definition and its approved pseudonymised transcripts, in a stable order."""
    study = get_study(session, study_id)  # StudyNotFound for an unknown study
    definition = load_definition(session, study_id)
    rows = session.execute(
        select(PseudonymisedTranscript, Participant, Recording)
        .join(Participant, Participant.id == PseudonymisedTranscript.participant_id)
        .join(Transcript, Transcript.id == PseudonymisedTranscript.transcript_id)
        .join(Recording, Recording.id == Transcript.recording_id)
        .where(
            PseudonymisedTranscript.study_id == study_id,
            PseudonymisedTranscript.state == APPROVED,
            PseudonymisedTranscript.approved_at.is_not(None),
        )
        .order_by(Participant.id, Recording.id, PseudonymisedTranscript.id)
    ).all()
    transcripts: list[ExportTranscript] = []
    for pseudonymised, participant, recording in rows:
        document = pseudonymised.document
        if not isinstance(document, dict):
            continue  # approved without an approved text: nothing that may leave
        approved_at = as_utc(pseudonymised.approved_at) if pseudonymised.approved_at else None
        transcripts.append(
            ExportTranscript(
                participant_code=participant.code,
                pseudonym=participant.pseudonym,
                variables=dict(participant.variables or {}),
                interview_date=_interview_date(document, recording.created_at, study.timezone),
                duration_s=float(recording.duration_s),
                language=pseudonymised.language,
                segments=_segments(document, participant.code),
                approved_at=approved_at,
            )
        )
    if not transcripts:
        raise ExportError(
            f"no approved transcripts in study {study_id!r}: nothing may be exported until a "
            "pseudonymised transcript has been reviewed and approved"
        )
    as_of = max(t.approved_at for t in transcripts if t.approved_at is not None)
    return ExportStudy(definition, transcripts, as_of=as_of)
