"""The one adapter between the research database and the export contract.

``collect`` reads a study's approved, pseudonymised transcripts (``PseudonymisedTranscript`` rows
in state ``approved`` with an approval time and a document) and fills an
:class:`~fieldvault.export.model.ExportStudy`. Only approved transcripts may leave (rule 3);
raw transcripts and texts under review, which may still name people, are never read here.

The approved document is expected to be ``{"segments": [{"start", "end", "speaker", "text"},
...]}`` (seconds, end exclusive). Its speakers are the raw transcript's labels (``speaker-1``,
``unknown``); the roles the researcher confirmed (``domain.speakers``) are applied here, when
the export is built, so every format reads the same roles and a role corrected after approval
needs no second approval. A speaker with no stored role keeps what the document says (older
documents already name ``interviewer`` and ``informant``).

The interview date is the recording's (``domain.interviews``: the container's creation time or
the researcher's), else the document's ``interview_date``; never the day of the upload, which
is only when the file reached fieldvault.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.speakers import INFORMANT, INTERVIEWER, export_speakers
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


def _role_names(speakers: Mapping[str, tuple[str, str | None]]) -> dict[str, str]:
    """Raw label -> the export's speaker: interviewer (interviewer2 …), informant, or display."""
    names: dict[str, str] = {}
    interviewers = 0
    for label in sorted(speakers):
        role, display = speakers[label]
        if role == INTERVIEWER:
            interviewers += 1
            names[label] = "interviewer" if interviewers == 1 else f"interviewer{interviewers}"
        elif role == INFORMANT:
            names[label] = "informant"
        else:
            shown = display or label
            # A display label may not pass for a role the export labels by itself.
            reserved = shown.casefold().startswith(("interviewer", "informant"))
            names[label] = label if reserved else shown
    return names


def _segments(
    document: Mapping[str, Any], code: str, roles: Mapping[str, str] | None = None
) -> list[ExportSegment]:
    raw = document.get("segments")
    if not isinstance(raw, list):
        raise ExportError(
            f"the approved transcript of participant {code} has no segment list; approve it again"
        )
    segments = []
    roles = roles or {}
    for number, item in enumerate(raw):
        try:
            speaker = str(item.get("speaker") or "unknown")
            segments.append(
                ExportSegment(
                    start=float(item["start"]),
                    end=float(item["end"]),
                    speaker=roles.get(speaker, speaker),
                    text=str(item["text"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise ExportError(
                f"segment {number} of the approved transcript of participant {code} lacks a "
                "start, end or text"
            ) from None
    return segments


def _interview_date(document: Mapping[str, Any], recording: Recording) -> dt.date | None:
    if recording.interview_date is not None:
        return recording.interview_date
    value = document.get("interview_date")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    return None


def collect(session: Session, study_id: str) -> ExportStudy:
    """The study's definition and its approved pseudonymised transcripts, in a stable order."""
    get_study(session, study_id)  # StudyNotFound for an unknown study
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
        raw_segments = document.get("segments")
        roles = _role_names(
            export_speakers(
                session,
                pseudonymised.transcript_id,
                raw_segments if isinstance(raw_segments, list) else (),
            )
        )
        transcripts.append(
            ExportTranscript(
                participant_code=participant.code,
                pseudonym=participant.pseudonym,
                variables=dict(participant.variables or {}),
                interview_date=_interview_date(document, recording),
                duration_s=float(recording.duration_s),
                language=pseudonymised.language,
                segments=_segments(document, participant.code, roles),
                approved_at=approved_at,
                approved_by=pseudonymised.approved_by,
                interviewer=recording.interviewer,
                mode=recording.interview_mode,
            )
        )
    if not transcripts:
        raise ExportError(
            f"no approved transcripts in study {study_id!r}: nothing may be exported until a "
            "pseudonymised transcript has been reviewed and approved"
        )
    as_of = max(t.approved_at for t in transcripts if t.approved_at is not None)
    return ExportStudy(definition, transcripts, as_of=as_of)
