"""The pseudonymise job: one raw transcript → a review bundle, idempotent, and what still waits.

The worker runs ``pseudonymise_transcript`` for every new transcript and sweeps up the ones
whose message was lost (``pending_transcripts``). The job never resurrects: consent and the
source are checked again inside the storing transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.redaction import bundle
from fieldvault.domain.redaction.bundle import REVIEW
from fieldvault.domain.redaction.errors import NothingToReview
from fieldvault.domain.redaction.known import known_people
from fieldvault.domain.redaction.numbering import pseudonymise_document
from fieldvault.domain.studies import load_definition
from fieldvault.pseudonymise import KnownPerson, Result
from fieldvault.storage import audit
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    Participant,
    PseudonymisedTranscript,
    Recording,
    Transcript,
)
from fieldvault.storage.services import Services


@dataclass(frozen=True)
class _Source:
    """A raw transcript the job may read, and what it needs to pseudonymise it."""

    transcript_id: int
    language: str
    study_id: str
    participant_id: int
    obj: BlobObject
    people: list[KnownPerson]


def pseudonymise_transcript(
    services: Services, transcript_id: int, now: dt.datetime
) -> PseudonymisedTranscript:
    """The pseudonymise job: one raw transcript → a review bundle (idempotent, takes an id)."""
    found = _source(services, transcript_id)
    if isinstance(found, PseudonymisedTranscript):
        return found
    document = bundle.read_raw(services, found.obj)
    lines, result, source_lines = pseudonymise_document(
        services, found.study_id, document, found.people
    )
    built = bundle.build(document, source_lines, result, lines)
    written: list[str] = []  # the redaction map stored, to delete when its row is not kept
    try:
        return _store(services, found, document, built, result, now, written)
    except NothingToReview:
        if _discard(services, written):
            _drop_unused_map_key(services, found.participant_id, found.study_id)
        raise
    except IntegrityError:
        # Another worker stored this transcript's pseudonymised row first: keep theirs.
        _discard(services, written)
        with transaction(services.research) as session:
            theirs = _stored_row(session, transcript_id)
            if theirs is None:
                raise
            session.expunge(theirs)
            return theirs
    except BaseException:
        _discard(services, written)
        raise


def _discard(services: Services, written: list[str]) -> bool:
    """Delete the blobs a failed job wrote; whether there were any."""
    for object_id in written:
        services.content.blobs.delete(object_id)
    return bool(written)


def _stored_row(session: Session, transcript_id: int) -> PseudonymisedTranscript | None:
    """The pseudonymised row of the transcript, if one was stored."""
    return session.scalar(
        select(PseudonymisedTranscript).where(
            PseudonymisedTranscript.transcript_id == transcript_id
        )
    )


def _source(services: Services, transcript_id: int) -> PseudonymisedTranscript | _Source:
    """The transcript's stored row if it has one, else what the job reads to make it."""
    with transaction(services.research) as session:
        existing = _stored_row(session, transcript_id)
        if existing is not None:
            return existing
        row = session.execute(
            select(Transcript, Recording, BlobObject)
            .join(Recording, Recording.id == Transcript.recording_id)
            .join(BlobObject, BlobObject.object_id == Transcript.object_id)
            .where(Transcript.id == transcript_id, BlobObject.deleted_at.is_(None))
        ).first()
        if row is None:
            raise NothingToReview(
                f"transcript {transcript_id} does not exist (any more)",
                code="pseudonymisation.transcript_gone",
                transcript_id=transcript_id,
            )
        transcript, recording, obj = row
        owner = session.get(Participant, recording.participant_id)
        if owner is None or recording_withdrawn(session, owner):
            # The purge will shred the raw transcript; nothing of it may be copied meanwhile.
            raise NothingToReview(
                f"transcript {transcript_id} may no longer be processed",
                code="pseudonymisation.withdrawn",
                transcript_id=transcript_id,
            )
        return _Source(
            transcript_id=transcript.id,
            language=transcript.language,
            study_id=recording.study_id,
            participant_id=recording.participant_id,
            obj=obj,
            people=known_people(services, session, recording.study_id),
        )


def _store(
    services: Services,
    found: _Source,
    document: dict[str, Any],
    built: dict[str, Any],
    result: Result,
    now: dt.datetime,
    written: list[str],
) -> PseudonymisedTranscript:
    """Store the bundle and its row in one transaction; ``written`` gets the blob's id."""
    with transaction(services.research) as session:
        participant = session.get(Participant, found.participant_id)
        assert participant is not None
        blob = bundle.store(services, session, participant, built, now)
        written.append(blob.object_id)
        pseudo = PseudonymisedTranscript(
            transcript_id=found.transcript_id,
            study_id=found.study_id,
            participant_id=participant.id,
            language=str(document.get("language") or found.language),
            state=REVIEW,
            review_object_id=blob.object_id,
            replacements=len(result.spans),
            suspects=len(result.suspects),
            created_at=now,
        )
        session.add(pseudo)
        audit.append(
            session,
            audit.Event.TRANSCRIPT_PSEUDONYMISED,
            actor="worker:pseudonymise",
            study_id=found.study_id,
            participant_code=participant.code,
            details={
                "transcript_id": found.transcript_id,
                "replacements": len(result.spans),
                "suspects": len(result.suspects),
                "categories": _category_counts(result),
            },
            at=now,
        )
        # Again now, under the lock the append took (a withdrawal appends too): a purge
        # while the engine ran must not get the raw text back in this bundle.
        if _source_gone(session, found.obj.object_id, participant.id):
            raise NothingToReview(
                f"transcript {found.transcript_id} was withdrawn or deleted",
                code="pseudonymisation.withdrawn",
                transcript_id=found.transcript_id,
            )
        session.flush()
        session.expunge(pseudo)
        return pseudo


def _source_gone(session: Session, object_id: str, participant_id: int) -> bool:
    """Whether the raw transcript was deleted or its participant withdrew the recording."""
    deleted = session.scalar(select(BlobObject.deleted_at).where(BlobObject.object_id == object_id))
    fresh = session.scalars(
        select(Participant)
        .where(Participant.id == participant_id)
        .execution_options(populate_existing=True)
    ).one()
    return deleted is not None or recording_withdrawn(session, fresh)


def _drop_unused_map_key(services: Services, participant_id: int, study_id: str) -> None:
    """Destroy the redaction-map key a discarded bundle created, unless a live map uses it."""
    with transaction(services.research) as session:
        participant = session.get(Participant, participant_id)
        live = session.scalar(
            select(BlobObject.object_id)
            .where(
                BlobObject.participant_id == participant_id,
                BlobObject.kind == BlobKind.REDACTION_MAP,
                BlobObject.deleted_at.is_(None),
            )
            .limit(1)
        )
    if participant is not None and live is None:
        services.content.keys.shred(study_id, participant.code, [BlobKind.REDACTION_MAP])


def _category_counts(result: Result) -> list[str]:
    # "email:2", not {"email": 2}: the audit refuses detail keys that look like identifiers.
    counts: dict[str, int] = {}
    for span in result.spans:
        counts[span.category.value] = counts.get(span.category.value, 0) + 1
    return [f"{k}:{v}" for k, v in sorted(counts.items())]


def recording_withdrawn(session: Session, participant: Participant) -> bool:
    """Whether the participant withdrew, or withdrew the recording item (rule 4: purge, no copy)."""
    if State(participant.state) is State.WITHDRAWN:
        return True
    item = load_definition(session, participant.study_id).recording_item_id
    return consent.current_consent(session, participant).items.get(item) is False


def pending_transcripts(services: Services, study_id: str | None = None) -> list[int]:
    """Ids of raw transcripts that still exist, may be processed and have no pseudonymised row."""
    with transaction(services.research) as session:
        stmt = (
            select(Transcript.id, Participant)
            .join(Recording, Recording.id == Transcript.recording_id)
            .join(Participant, Participant.id == Recording.participant_id)
            .join(BlobObject, BlobObject.object_id == Transcript.object_id)
            .outerjoin(
                PseudonymisedTranscript,
                PseudonymisedTranscript.transcript_id == Transcript.id,
            )
            .where(
                PseudonymisedTranscript.id.is_(None),
                BlobObject.deleted_at.is_(None),
                Participant.state != State.WITHDRAWN.value,
            )
            .order_by(Transcript.id)
        )
        if study_id is not None:
            stmt = stmt.where(Recording.study_id == study_id)
        rows = session.execute(stmt).all()
        return [tid for tid, person in rows if not recording_withdrawn(session, person)]


def is_pseudonymised(services: Services, transcript_id: int) -> bool:
    """Whether the raw transcript ``transcript_id`` already has its pseudonymised row."""
    with transaction(services.research) as session:
        return (
            session.scalar(
                select(PseudonymisedTranscript.id).where(
                    PseudonymisedTranscript.transcript_id == transcript_id
                )
            )
            is not None
        )


def pseudonymise_pending(
    services: Services, now: dt.datetime, study_id: str | None = None
) -> list[int]:
    """Run the pseudonymise job for every transcript that has none yet; return their ids."""
    done = []
    for transcript_id in pending_transcripts(services, study_id):
        try:
            pseudonymise_transcript(services, transcript_id, now)
        except NothingToReview:
            continue  # withdrawn or shredded since the query: nothing to do
        done.append(transcript_id)
    return done
