"""Pseudonymisation in a study: term lists, study-wide numbering, transcripts, review, approval.

Where each thing lives (DESIGN.md's data classes):

- study terms and the placeholder book name real people and offices: sealed in the vault
  (``StudyDocuments``), never in the research database;
- a transcript's review bundle — the pseudonymised segments, every replacement with what it
  replaced, and the suspects left — is the *redaction map*: encrypted under the participant's
  ``redaction_map`` data key, so shredding the participant destroys it;
- only an approved pseudonymised transcript is written to the research database in the clear
  (``PseudonymisedTranscript.document``); approval refuses text that still holds a name or
  contact the vault knows for the study.

Audit events carry counts and categories, never text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.errors import DomainError
from fieldvault.domain.participants import get_participant
from fieldvault.domain.recordings import read_transcripts
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.errors import NotFoundError
from fieldvault.pseudonymise import (
    Category,
    KnownPerson,
    PlaceholderBook,
    Result,
    Term,
    pseudonymise,
    pseudonymise_lines,
)
from fieldvault.pseudonymise.engine import TERM_CATEGORIES
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    BlobObject,
    Participant,
    PseudonymisedTranscript,
    Recording,
    Transcript,
)
from fieldvault.storage.services import Services
from fieldvault.storage.study_documents import StudyDocuments

REVIEW = "review"
APPROVED = "approved"


class PseudonymisationError(DomainError):
    """A pseudonymisation request that cannot be carried out as asked."""


class NothingToReview(NotFoundError):
    """The participant has no transcript to review or approve."""


def documents(services: Services) -> StudyDocuments:
    """The vault's sealed study documents, opened with the linkage key."""
    return StudyDocuments(services.vault_sessions, services.keys.linkage)


# --- study terms ----------------------------------------------------------------------------------


def parse_category(value: str) -> Category:
    """A term category from the command line (person, workplace, place, other)."""
    for category in TERM_CATEGORIES:
        if category.value == value:
            return category
    allowed = ", ".join(c.value for c in TERM_CATEGORIES)
    raise PseudonymisationError(f"unknown term category {value!r}; use one of {allowed}")


def load_terms(services: Services, study_id: str) -> list[Term]:
    """The study's term list (decrypted from the vault)."""
    data = documents(services).get(study_id, "terms")
    if data is None:
        return []
    return [Term(t["text"], Category(t["category"])) for t in json.loads(data)]


def add_term(services: Services, study_id: str, text: str, category: str, now: dt.datetime) -> int:
    """Add a term to the study's list (sealed in the vault); return how many terms it has."""
    cat = parse_category(category)
    clean = " ".join(text.split())
    if len(clean) < 2:
        raise PseudonymisationError("a term needs at least two characters")
    with transaction(services.research) as session:
        get_study(session, study_id)
    terms = load_terms(services, study_id)
    if not any(t.text.casefold() == clean.casefold() for t in terms):
        terms.append(Term(clean, cat))
    payload = [{"text": t.text, "category": t.category.value} for t in terms]
    documents(services).put(study_id, "terms", json.dumps(payload, ensure_ascii=False).encode())
    with transaction(services.research) as session:
        audit.append(
            session,
            audit.Event.TERM_ADDED,
            actor="researcher",
            study_id=study_id,
            details={"category": cat.value, "terms": len(terms)},
            at=now,
        )
    return len(terms)


# --- who the vault knows, and the study-wide numbering -------------------------------------------


def known_people(services: Services, session: Session, study_id: str) -> list[KnownPerson]:
    """Every participant of the study with a name in the vault, each with their pseudonym.

    All participants, not only the one speaking: informants mention each other.
    """
    people = []
    rows = session.scalars(select(Participant).where(Participant.study_id == study_id)).all()
    for participant in rows:
        identity = services.vault.get(study_id, participant.code)
        if identity is None or not participant.pseudonym:
            continue
        if not (identity.name or identity.email or identity.phone or identity.telegram_username):
            continue
        people.append(
            KnownPerson.from_identity(
                identity.name,
                participant.pseudonym,
                email=identity.email,
                phone=identity.phone,
                username=identity.telegram_username,
            )
        )
    return people


def load_book(services: Services, study_id: str) -> PlaceholderBook:
    """The study's placeholder numbering (decrypted from the vault)."""
    data = documents(services).get(study_id, "placeholders")
    return PlaceholderBook() if data is None else PlaceholderBook.from_json(data)


def save_book(services: Services, study_id: str, book: PlaceholderBook) -> None:
    """Seal the numbering back into the vault."""
    documents(services).put(study_id, "placeholders", book.to_json())


# pg_advisory_xact_lock(class, study) key class of the numbering lock ("fvps").
NUMBERING_LOCK = 0x66_76_70_73
NUMBERING_TRIES = 5

_T = TypeVar("_T")


@contextmanager
def _numbering_lock(services: Services, study_id: str) -> Iterator[None]:
    """Hold the study's numbering lock: an advisory lock on PostgreSQL, the write lock on SQLite."""
    with transaction(services.research) as session:
        if session.connection().dialect.name == "postgresql":
            study_key = zlib.crc32(study_id.encode()) - 2**31  # a signed 32-bit integer
            session.execute(
                sql_text("SELECT pg_advisory_xact_lock(:cls, :key)"),
                {"cls": NUMBERING_LOCK, "key": study_key},
            )
        else:  # SQLite: a no-op UPDATE takes the one write lock until the end of the block
            session.execute(sql_text("UPDATE pseudonymised_transcripts SET id = id WHERE 0 = 1"))
        yield


def numbered(services: Services, study_id: str, run: Callable[[PlaceholderBook], _T]) -> _T:
    """Run ``run`` with the study's placeholder book and keep the numbers it gave.

    Workers pseudonymise transcripts in parallel; two that loaded the same book would each
    give their new person the next number, and the later save would drop the other's. So the
    book is saved only if it is still the one ``run`` started from, checked under a lock;
    otherwise ``run`` goes again on the newer book (it takes milliseconds). The lock is held
    for that check and save only, never while the engine runs, unless ``run`` lost that race
    ``NUMBERING_TRIES`` times: then it runs once more under the lock, so it always finishes.
    """
    docs = documents(services)
    for _ in range(NUMBERING_TRIES):
        seen = docs.get(study_id, "placeholders")
        book = PlaceholderBook() if seen is None else PlaceholderBook.from_json(seen)
        result = run(book)
        with _numbering_lock(services, study_id):
            if docs.get(study_id, "placeholders") != seen:
                continue  # another job numbered someone meanwhile
            if book.to_json() != seen:
                save_book(services, study_id, book)
            return result
    with _numbering_lock(services, study_id):
        seen = docs.get(study_id, "placeholders")
        book = PlaceholderBook() if seen is None else PlaceholderBook.from_json(seen)
        result = run(book)
        if book.to_json() != seen:
            save_book(services, study_id, book)
        return result


def pseudonymise_text(
    services: Services,
    study_id: str,
    text: str,
    *,
    language: str | None = None,
    participant_code: str | None = None,
    extra_terms: Sequence[str] = (),
) -> Result:
    """Pseudonymise any text of a study (field notes too) with its vault, terms and numbering."""
    with transaction(services.research) as session:
        definition = load_definition(session, study_id)
        if participant_code is not None:
            get_participant(session, study_id, participant_code)
        people = known_people(services, session, study_id)
    terms = load_terms(services, study_id) + [Term(t, Category.OTHER) for t in extra_terms]
    language = language or definition.languages[0]
    return numbered(
        services,
        study_id,
        lambda book: pseudonymise(
            text, language=language, known_people=people, terms=terms, placeholders=book
        ),
    )


# --- transcripts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    """One line of a review: a replacement (with what it replaced) or a suspect left in."""

    number: int
    kind: str  # replacement | suspect
    segment: int
    category: str
    original: str
    placeholder: str
    context: str
    status: str  # auto | suspect (unchecked) | checked | rejected | edited


def _bundle(
    document: dict[str, Any], result: Result, lines: list[str], rejected: Sequence[int] = ()
) -> dict[str, Any]:
    """The review bundle stored encrypted as the redaction map."""
    text = "\n".join(document.get("_source_lines") or [])
    starts = [0]
    for line in text.split("\n")[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def segment_of(offset: int) -> int:
        index = 0
        for i, start in enumerate(starts):
            if start <= offset:
                index = i
        return index

    return {
        "version": 1,
        "language": document["language"],
        "source_lines": document.get("_source_lines") or [],
        "segments": [
            {"start": s["start"], "end": s["end"], "speaker": s["speaker"], "text": line}
            for s, line in zip(document["segments"], lines, strict=True)
        ],
        "replacements": [
            {
                "segment": segment_of(span.source_start),
                "category": span.category.value,
                "placeholder": span.placeholder,
                "original": span.original,
                "source_start": span.source_start,
                "source_end": span.source_end,
            }
            for span in result.spans
        ],
        "suspects": [
            {
                "segment": segment_of(s.source_start),
                "reason": s.reason,
                "original": text[s.source_start : s.source_end],
                "source_start": s.source_start,
                "source_end": s.source_end,
            }
            for s in result.suspects
        ],
        "rejected": sorted(rejected),
    }


def _run_engine(
    services: Services, study_id: str, document: dict[str, Any], people: list[KnownPerson]
) -> tuple[list[str], Result, list[str]]:
    source = [" ".join(str(seg["text"]).split()) for seg in document["segments"]]
    terms = load_terms(services, study_id)
    language = str(document.get("language") or "nb")
    lines, result = numbered(
        services,
        study_id,
        lambda book: pseudonymise_lines(
            source, language=language, known_people=people, terms=terms, placeholders=book
        ),
    )
    return lines, result, source


def _read_raw(services: Services, obj: BlobObject) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(b"".join(services.content.read(obj)))
    return document


def _store_bundle(
    services: Services,
    session: Session,
    participant: Participant,
    bundle: dict[str, Any],
    now: dt.datetime,
) -> BlobObject:
    payload = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    return services.content.put(
        session,
        study_id=participant.study_id,
        participant_id=participant.id,
        participant_code=participant.code,
        kind="redaction_map",
        source=[payload],
        now=now,
    )


def pseudonymise_transcript(
    services: Services, transcript_id: int, now: dt.datetime
) -> PseudonymisedTranscript:
    """The pseudonymise job: one raw transcript → a review bundle (idempotent, takes an id)."""
    with transaction(services.research) as session:
        existing = session.scalar(
            select(PseudonymisedTranscript).where(
                PseudonymisedTranscript.transcript_id == transcript_id
            )
        )
        if existing is not None:
            return existing
        row = session.execute(
            select(Transcript, Recording, BlobObject)
            .join(Recording, Recording.id == Transcript.recording_id)
            .join(BlobObject, BlobObject.object_id == Transcript.object_id)
            .where(Transcript.id == transcript_id, BlobObject.deleted_at.is_(None))
        ).first()
        if row is None:
            raise NothingToReview(f"transcript {transcript_id} does not exist (any more)")
        transcript, recording, obj = row
        study_id = recording.study_id
        owner = session.get(Participant, recording.participant_id)
        if owner is None or recording_withdrawn(session, owner):
            # The purge will shred the raw transcript; nothing of it may be copied meanwhile.
            raise NothingToReview(f"transcript {transcript_id} may no longer be processed")
        people = known_people(services, session, study_id)
    document = _read_raw(services, obj)
    lines, result, source = _run_engine(services, study_id, document, people)
    document["_source_lines"] = source
    bundle = _bundle(document, result, lines)
    written: str | None = None
    try:
        with transaction(services.research) as session:
            participant = session.get(Participant, recording.participant_id)
            assert participant is not None
            blob = _store_bundle(services, session, participant, bundle, now)
            written = blob.object_id
            pseudo = PseudonymisedTranscript(
                transcript_id=transcript.id,
                study_id=study_id,
                participant_id=participant.id,
                language=str(document.get("language") or transcript.language),
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
                study_id=study_id,
                participant_code=participant.code,
                details={
                    "transcript_id": transcript.id,
                    "replacements": len(result.spans),
                    "suspects": len(result.suspects),
                    "categories": _category_counts(result),
                },
                at=now,
            )
            # Again now, under the lock the append took (a withdrawal appends too): a purge
            # while the engine ran must not get the raw text back in this bundle.
            if _source_gone(session, obj.object_id, participant.id):
                raise NothingToReview(f"transcript {transcript_id} was withdrawn or deleted")
            session.flush()
            session.expunge(pseudo)
            return pseudo
    except NothingToReview:
        if written is not None:
            services.content.blobs.delete(written)
            _drop_unused_map_key(services, recording.participant_id, study_id)
        raise
    except IntegrityError:
        # Another worker stored this transcript's pseudonymised row first: keep theirs.
        if written is not None:
            services.content.blobs.delete(written)
        with transaction(services.research) as session:
            theirs = session.scalar(
                select(PseudonymisedTranscript).where(
                    PseudonymisedTranscript.transcript_id == transcript_id
                )
            )
            if theirs is None:
                raise
            session.expunge(theirs)
            return theirs
    except BaseException:
        if written is not None:
            services.content.blobs.delete(written)
        raise


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
                BlobObject.kind == "redaction_map",
                BlobObject.deleted_at.is_(None),
            )
            .limit(1)
        )
    if participant is not None and live is None:
        services.content.keys.shred(study_id, participant.code, ["redaction_map"])


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


def _participant_rows(
    session: Session, study_id: str, code: str, state: str | None = None
) -> list[PseudonymisedTranscript]:
    participant = get_participant(session, study_id, code)
    stmt = (
        select(PseudonymisedTranscript)
        .where(PseudonymisedTranscript.participant_id == participant.id)
        .order_by(PseudonymisedTranscript.transcript_id)
    )
    if state is not None:
        stmt = stmt.where(PseudonymisedTranscript.state == state)
    return list(session.scalars(stmt))


def _load_bundle(services: Services, session: Session, row: PseudonymisedTranscript) -> Any:
    if row.review_object_id is None:
        raise NothingToReview("the redaction map of this transcript has been destroyed")
    obj = session.get(BlobObject, row.review_object_id)
    if obj is None or obj.deleted_at is not None:
        raise NothingToReview("the redaction map of this transcript has been destroyed")
    return json.loads(b"".join(services.content.read(obj)))


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    left = text[max(0, start - width) : start].split("\n")[-1]
    right = text[end : end + width].split("\n")[0]
    return f"…{left}⟦{text[start:end]}⟧{right}…"


def review(services: Services, study_id: str, code: str, now: dt.datetime) -> list[ReviewItem]:
    """Every replacement and suspect of the participant's transcripts under review.

    Runs the pseudonymise job first for transcripts that have not had it yet. The items hold
    original text: they are for the researcher's screen, never for storage or logs.
    """
    pseudonymise_pending(services, now, study_id)
    items: list[ReviewItem] = []
    with transaction(services.research) as session:
        rows = _participant_rows(session, study_id, code, REVIEW)
        if not rows:
            raise NothingToReview(
                f"{code} has no transcript waiting for review in {study_id}; "
                f"`fieldvault jobs {study_id}` shows the transcription jobs"
            )
        for row in rows:
            bundle = _load_bundle(services, session, row)
            source = "\n".join(bundle.get("source_lines") or [])
            rejected = set(bundle.get("rejected", []))
            accepted = set(bundle.get("accepted", []))
            edits = {int(k): v for k, v in bundle.get("edits", {}).items()}
            base = len(items)
            for rep in bundle["replacements"]:
                number = len(items) + 1
                items.append(
                    ReviewItem(
                        number=number,
                        kind="replacement",
                        segment=rep["segment"],
                        category=rep["category"],
                        original=rep["original"],
                        placeholder=rep["placeholder"],
                        context=_context(source, rep["source_start"], rep["source_end"])
                        if source
                        else "",
                        status=_status(number - base, rejected, accepted, edits),
                    )
                )
            for sus in bundle["suspects"]:
                number = len(items) + 1
                items.append(
                    ReviewItem(
                        number=number,
                        kind="suspect",
                        segment=sus["segment"],
                        category=sus["reason"],
                        original=sus["original"],
                        placeholder=edits.get(number - base, ""),
                        context=_context(source, sus["source_start"], sus["source_end"])
                        if source
                        else "",
                        status=_status(number - base, set(), accepted, edits, "suspect"),
                    )
                )
    return items


def _status(
    local: int,
    rejected: set[int],
    accepted: set[int],
    edits: dict[int, str],
    unchecked: str = "auto",
) -> str:
    if local in edits:
        return "edited"
    if local in rejected:
        return "rejected"
    return "checked" if local in accepted else unchecked


def redo(services: Services, study_id: str, code: str, now: dt.datetime) -> int:
    """Pseudonymise the participant's transcripts under review again (after new terms)."""
    with transaction(services.research) as session:
        rows = _participant_rows(session, study_id, code, REVIEW)
        people = known_people(services, session, study_id)
        jobs = []
        for row in rows:
            transcript = session.get(Transcript, row.transcript_id)
            assert transcript is not None
            obj = session.get(BlobObject, transcript.object_id)
            if obj is None or obj.deleted_at is not None:
                continue
            jobs.append((row.id, obj))
    for row_id, obj in jobs:
        document = _read_raw(services, obj)
        lines, result, source = _run_engine(services, study_id, document, people)
        document["_source_lines"] = source
        bundle = _bundle(document, result, lines)
        with transaction(services.research) as session:
            current = session.get(PseudonymisedTranscript, row_id)
            assert current is not None
            row = current
            participant = session.get(Participant, row.participant_id)
            assert participant is not None
            old = row.review_object_id
            blob = _store_bundle(services, session, participant, bundle, now)
            row.review_object_id = blob.object_id
            row.replacements, row.suspects = len(result.spans), len(result.suspects)
            if old is not None:
                old_obj = session.get(BlobObject, old)
                if old_obj is not None:
                    services.content.blobs.delete(old)
                    old_obj.deleted_at = now
            audit.append(
                session,
                audit.Event.TRANSCRIPT_REVIEWED,
                actor="researcher",
                study_id=study_id,
                participant_code=code,
                details={"transcript_id": row.transcript_id, "action": "redo"},
                at=now,
            )
    return len(jobs)


def reject(
    services: Services, study_id: str, code: str, numbers: Sequence[int], now: dt.datetime
) -> int:
    """Undo automatic replacements (by review number): the original text stays in."""

    def mark(bundle: dict[str, Any], mine: dict[int, int]) -> dict[str, Any]:
        local = set(mine.values())
        suspects = sorted(n for n, m in mine.items() if m > len(bundle["replacements"]))
        if suspects:
            raise PseudonymisationError(
                f"item {', '.join(map(str, suspects))} is a suspect left in, not a replacement: "
                "`--edit N TEXT` writes TEXT in its place, `--accept N` keeps it as it is"
            )
        bundle["rejected"] = sorted(set(bundle.get("rejected", [])) | local)
        return {"rejected": len(local)}

    return _update_bundles(services, study_id, code, numbers, now, mark)


def accept(
    services: Services, study_id: str, code: str, numbers: Sequence[int], now: dt.datetime
) -> int:
    """Mark review items as checked: a replacement confirmed, a suspect seen and left as it is."""

    def mark(bundle: dict[str, Any], mine: dict[int, int]) -> dict[str, Any]:
        bundle["accepted"] = sorted(set(bundle.get("accepted", [])) | set(mine.values()))
        return {"accepted": len(mine)}

    return _update_bundles(services, study_id, code, numbers, now, mark)


def edit(
    services: Services, study_id: str, code: str, number: int, text: str, now: dt.datetime
) -> int:
    """Write ``text`` in place of review item ``number`` (a placeholder or a suspect's words)."""
    if not text.strip() or "\n" in text:
        raise PseudonymisationError("the replacement text must be one non-empty line")

    def mark(bundle: dict[str, Any], mine: dict[int, int]) -> dict[str, Any]:
        edits = dict(bundle.get("edits", {}))
        for local in mine.values():
            edits[str(local)] = text.strip()
        bundle["edits"] = edits
        # An edited item has been looked at; a rejection of it no longer applies.
        bundle["accepted"] = sorted(set(bundle.get("accepted", [])) | set(mine.values()))
        bundle["rejected"] = sorted(set(bundle.get("rejected", [])) - set(mine.values()))
        return {"edited": len(mine)}

    return _update_bundles(services, study_id, code, [number], now, mark)


BundleChange = Callable[[dict[str, Any], dict[int, int]], dict[str, Any]]


def _update_bundles(
    services: Services,
    study_id: str,
    code: str,
    numbers: Sequence[int],
    now: dt.datetime,
    change: BundleChange,
) -> int:
    """Apply ``change`` to the bundles holding review items ``numbers``; store and audit each.

    Review numbers run over all of the participant's transcripts under review, replacements
    first, then suspects, per transcript; ``change`` gets {review number: number in bundle}.
    """
    wanted = set(numbers)
    changed = 0
    with transaction(services.research) as session:
        rows = _participant_rows(session, study_id, code, REVIEW)
        offset = 0
        for row in rows:
            bundle = _load_bundle(services, session, row)
            count = len(bundle["replacements"]) + len(bundle["suspects"])
            mine = {n: n - offset for n in wanted if offset < n <= offset + count}
            offset += count
            if not mine:
                continue
            details = change(bundle, mine)
            participant = session.get(Participant, row.participant_id)
            assert participant is not None
            old = row.review_object_id
            blob = _store_bundle(services, session, participant, bundle, now)
            row.review_object_id = blob.object_id
            if old is not None:
                services.content.blobs.delete(old)
                old_obj = session.get(BlobObject, old)
                if old_obj is not None:
                    old_obj.deleted_at = now
            changed += len(mine)
            audit.append(
                session,
                audit.Event.TRANSCRIPT_REVIEWED,
                actor="researcher",
                study_id=study_id,
                participant_code=code,
                details={"transcript_id": row.transcript_id, **details},
                at=now,
            )
        unknown = sorted(n for n in wanted if not 0 < n <= offset)
    if unknown:
        raise NothingToReview(
            f"no review item {', '.join(map(str, unknown))} for {code}; "
            f"`fieldvault review {study_id} {code}` lists items 1 to {offset}"
        )
    return changed


def _apply_rejections(bundle: dict[str, Any]) -> list[str]:
    """The pseudonymised lines as reviewed: rejections put back, edits written in."""
    rejected = set(bundle.get("rejected", []))
    edits = {int(k): v for k, v in bundle.get("edits", {}).items()}
    lines = [seg["text"] for seg in bundle["segments"]]
    if not rejected and not edits:
        return lines
    # Rebuild each line from the source with only the accepted replacements.
    source = bundle.get("source_lines")
    if not source:
        return lines
    text = "\n".join(source)
    changes: list[tuple[int, int, str]] = []
    for number, rep in enumerate(bundle["replacements"], start=1):
        chosen = rep["original"] if number in rejected else rep["placeholder"]
        changes.append((rep["source_start"], rep["source_end"], edits.get(number, chosen)))
    first_suspect = len(bundle["replacements"]) + 1
    for number, sus in enumerate(bundle["suspects"], start=first_suspect):
        if number in edits:
            changes.append((sus["source_start"], sus["source_end"], edits[number]))
    out: list[str] = []
    pos = 0
    for start, end, replacement in sorted(changes):
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out).split("\n")


def _vault_leftovers(lines: list[str], people: list[KnownPerson]) -> int:
    """How many lines still hold a full name, an e-mail or a phone number the vault knows."""
    hits = 0
    for line in lines:
        for person in people:
            secrets = [n for n in person.names if " " in n] + list(person.emails)
            secrets += [re.sub(r"\D", "", p)[-8:] for p in person.phones]
            digits = re.sub(r"\D", "", line)
            if any(s and (s.casefold() in line.casefold() or s in digits) for s in secrets):
                hits += 1
                break
    return hits


def approve(
    services: Services, study_id: str, code: str, now: dt.datetime, actor: str = "researcher"
) -> int:
    """Approve the participant's reviewed transcripts: their pseudonymised text becomes data.

    Refused while a name or contact the vault knows is still in the text.
    """
    with transaction(services.research) as session:
        rows = _participant_rows(session, study_id, code, REVIEW)
        if not rows:
            raise NothingToReview(f"{code} has no transcript waiting for approval in {study_id}")
        people = known_people(services, session, study_id)
        for row in rows:
            bundle = _load_bundle(services, session, row)
            lines = _apply_rejections(bundle)
            looked_at = set(bundle.get("accepted", [])) | {int(k) for k in bundle.get("edits", {})}
            first_suspect = len(bundle["replacements"]) + 1
            unchecked = sum(
                1
                for n in range(first_suspect, first_suspect + len(bundle["suspects"]))
                if n not in looked_at
            )
            if _vault_leftovers(lines, people):
                raise PseudonymisationError(
                    f"transcript {row.transcript_id} of {code} still holds a name or contact of "
                    "a participant; review it again (undo the rejection or add a term)"
                )
            row.document = {
                "language": bundle["language"],
                "segments": [
                    {"start": seg["start"], "end": seg["end"], "speaker": seg["speaker"], "text": t}
                    for seg, t in zip(bundle["segments"], lines, strict=True)
                ],
            }
            row.state = APPROVED
            row.approved_at = now
            row.approved_by = actor
            audit.append(
                session,
                audit.Event.TRANSCRIPT_APPROVED,
                actor=actor,
                study_id=study_id,
                participant_code=code,
                details={
                    "transcript_id": row.transcript_id,
                    "replacements": row.replacements,
                    "rejected": len(bundle.get("rejected", [])),
                    "edited": len(bundle.get("edits", {})),
                    # Approving with suspects nobody marked checked is allowed, and recorded.
                    "suspects_unchecked": unchecked,
                },
                at=now,
            )
        participant = get_participant(session, study_id, code)
        if State(participant.state) is State.TRANSCRIBED:
            consent.transition(participant, State.APPROVED, now)
        return len(rows)


def approved_documents(session: Session, study_id: str, code: str) -> list[dict[str, Any]]:
    """The participant's approved pseudonymised transcripts (research data)."""
    return [
        dict(row.document or {}, transcript_id=row.transcript_id)
        for row in _participant_rows(session, study_id, code, APPROVED)
    ]


# --- reading them back ---------------------------------------------------------------------


@dataclass(frozen=True)
class PseudonymisedView:
    """A participant's pseudonymised transcripts as they stand, and how many still wait."""

    documents: list[dict[str, Any]]
    waiting: int  # raw transcripts not pseudonymised yet


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
        rows = _participant_rows(session, study_id, code)
        done = {row.transcript_id for row in rows}
        waiting = [tid for tid, exists in _raw_transcripts(session, participant) if exists]
        waiting = [tid for tid in waiting if tid not in done]
        if not rows:
            if waiting:
                raise NothingToReview(
                    f"{code}'s transcript is not pseudonymised yet; run `fieldvault worker` "
                    f"(it pseudonymises after transcribing) or `fieldvault review {study_id} "
                    f"{code}`, or add --raw for the raw text"
                )
            raise NothingToReview(
                f"{code} has no transcript in {study_id}; `fieldvault jobs {study_id}` shows "
                "the transcription jobs"
            )
        documents = []
        for row in rows:
            if row.state == APPROVED and row.document is not None:
                document = dict(row.document)
            else:
                bundle = _load_bundle(services, session, row)
                lines = _apply_rejections(bundle)
                document = {
                    "language": bundle["language"],
                    "segments": [
                        {"start": s["start"], "end": s["end"], "speaker": s["speaker"], "text": t}
                        for s, t in zip(bundle["segments"], lines, strict=True)
                    ],
                }
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
                f"the raw transcript of {code} has been deleted (withdrawal or end date); "
                f"`fieldvault transcript show {study_id} {code}` prints the pseudonymised one"
            )
        return read_transcripts(session, services.content, study_id, code)
