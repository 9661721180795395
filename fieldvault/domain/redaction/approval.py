"""Approval: the reviewed pseudonymised text becomes research data, stored in the clear.

Refused while the text still holds a name or contact the vault knows for the study.
Approving with suspects nobody marked checked is allowed, and recorded in the audit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.participants import get_participant
from fieldvault.domain.redaction import bundle
from fieldvault.domain.redaction.bundle import APPROVED, REVIEW
from fieldvault.domain.redaction.errors import NothingToReview, PseudonymisationError
from fieldvault.domain.redaction.known import known_people, vault_leftovers
from fieldvault.domain.speakers import speakers_of
from fieldvault.pseudonymise import KnownPerson
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import PseudonymisedTranscript
from fieldvault.storage.services import Services


def approve(
    services: Services, study_id: str, code: str, now: dt.datetime, actor: str = "researcher"
) -> int:
    """Approve the participant's reviewed transcripts: their pseudonymised text becomes data."""
    with transaction(services.research) as session:
        rows = bundle.participant_rows(session, study_id, code, REVIEW)
        if not rows:
            raise NothingToReview(
                f"{code} has no transcript waiting for approval in {study_id}",
                code="approval.nothing_waiting",
                study_id=study_id,
                participant=code,
            )
        people = known_people(services, session, study_id)
        for row in rows:
            _approve_row(services, session, row, people, code, now, actor)
        participant = get_participant(session, study_id, code)
        if State(participant.state) is State.TRANSCRIBED:
            consent.transition(participant, State.APPROVED, now)
        return len(rows)


def _approve_row(
    services: Services,
    session: Session,
    row: PseudonymisedTranscript,
    people: list[KnownPerson],
    code: str,
    now: dt.datetime,
    actor: str,
) -> None:
    """Write one reviewed transcript's text into its row as approved, and audit it."""
    data = bundle.load(services, session, row)
    document = bundle.reviewed_document(data)
    if vault_leftovers([seg["text"] for seg in document["segments"]], people):
        raise PseudonymisationError(
            f"transcript {row.transcript_id} of {code} still holds a name or contact of "
            "a participant; review it again (undo the rejection or add a term)",
            code="approval.identity_left",
            study_id=row.study_id,
            participant=code,
            transcript_id=row.transcript_id,
        )
    row.document = document
    row.state = APPROVED
    row.approved_at = now
    row.approved_by = actor
    audit.append(
        session,
        audit.Event.TRANSCRIPT_APPROVED,
        actor=actor,
        study_id=row.study_id,
        participant_code=code,
        details={
            "transcript_id": row.transcript_id,
            "replacements": row.replacements,
            "rejected": len(data.get("rejected", [])),
            "edited": len(data.get("edits", {})),
            # Approving with suspects nobody marked checked is allowed, and recorded.
            "suspects_unchecked": _unchecked_suspects(data),
            # Likewise speakers whose role is still the first guess (domain/speakers.py).
            "speakers_unconfirmed": sum(
                not info.confirmed for info in speakers_of(session, row.transcript_id)
            ),
        },
        at=now,
    )


def _unchecked_suspects(data: dict[str, Any]) -> int:
    """How many suspects of a bundle nobody accepted or edited."""
    looked_at = set(data.get("accepted", [])) | {int(k) for k in data.get("edits", {})}
    first_suspect = len(data["replacements"]) + 1
    return sum(
        1 for n in range(first_suspect, first_suspect + len(data["suspects"])) if n not in looked_at
    )
