"""A participant's transcripts read back: approved, as review stands now, or raw.

Text under review may still hold what the automatic pass missed, and raw text is identifying:
both are for the researcher's screen only. Approved text is research data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.participants import get_participant
from fieldvault.domain.recordings import read_transcripts
from fieldvault.domain.redaction import bundle
from fieldvault.domain.redaction.bundle import APPROVED
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, Participant, Recording, Transcript
from fieldvault.storage.services import Services


@dataclass(frozen=True)
class PseudonymisedView:
    """A participant's pseudonymised transcripts as they stand, and how many still wait."""

    documents: list[dict[str, Any]]
    waiting: int  # raw transcripts not pseudonymised yet


def approved_documents(session: Session, study_id: str, code: str) -> list[dict[str, Any]]:
    """The participant's approved pseudonymised transcripts (research data)."""
    return [
        dict(row.document or {}, transcript_id=row.transcript_id)
        for row in bundle.participant_rows(session, study_id, code, APPROVED)
    ]


def _raw_transcripts(session: Session, participant: Participant) -> list[tuple[int, bool]]:
    """(transcript id, whether its raw text still exists) for each of the participant's."""
    rows = session.execute(
        select(Transcript.id, BlobObject.deleted_at)
        .join(Recording, Recording.id == Transcript.recording_id)
        .join(BlobObject, BlobObject.object_id == Transcript.object_id)
        .where(Recording.participant_id == participant.id)
        .order_by(Transcript.id)
    ).all()
    return [(tid, deleted is None) for tid, deleted in rows]


def pseudonymised_documents(services: Services, study_id: str, code: str) -> PseudonymisedView:
    """The approved text of each transcript, or under review its current text (rejections applied).

    Text under review may still hold what the automatic pass missed: for the researcher's
    screen only, like the raw transcript.
    """
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        rows = bundle.participant_rows(session, study_id, code)
        done = {row.transcript_id for row in rows}
        waiting = [tid for tid, exists in _raw_transcripts(session, participant) if exists]
        waiting = [tid for tid in waiting if tid not in done]
        if not rows and waiting:
            raise NothingToReview(
                f"{code}'s transcript is not pseudonymised yet",
                code="pseudonymisation.not_yet",
                study_id=study_id,
                participant=code,
            )
        if not rows:
            raise NothingToReview(
                f"{code} has no transcript in {study_id}",
                code="pseudonymisation.no_transcript",
                study_id=study_id,
                participant=code,
            )
        documents = []
        for row in rows:
            if row.state == APPROVED and row.document is not None:
                document = dict(row.document)
            else:
                document = bundle.reviewed_document(bundle.load(services, session, row))
            documents.append(
                document
                | {
                    "transcript_id": row.transcript_id,
                    "state": row.state,
                    "replacements": row.replacements,
                    "suspects": row.suspects,
                }
            )
    return PseudonymisedView(documents, len(waiting))


def raw_documents(services: Services, study_id: str, code: str) -> list[dict[str, Any]]:
    """The participant's raw transcripts while they exist; a clear error once deleted."""
    with transaction(services.research) as session:
        participant = get_participant(session, study_id, code)
        raw = _raw_transcripts(session, participant)
        if raw and not any(exists for _, exists in raw):
            raise NothingToReview(
                f"the raw transcript of {code} has been deleted (withdrawal or end date)",
                code="pseudonymisation.raw_deleted",
                study_id=study_id,
                participant=code,
            )
        return read_transcripts(session, services.content, study_id, code)
