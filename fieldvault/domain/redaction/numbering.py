"""The study-wide placeholder numbering, its lock, and the engine runs that number through it.

Every run of the engine for a study goes through ``numbered``, so the same person or office
gets the same placeholder number in every transcript and note of the study.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from fieldvault.domain.participants import get_participant
from fieldvault.domain.redaction.known import documents, known_people
from fieldvault.domain.redaction.terms import load_terms
from fieldvault.domain.studies import load_definition
from fieldvault.pseudonymise import (
    Category,
    KnownPerson,
    PlaceholderBook,
    Result,
    Term,
    pseudonymise,
    pseudonymise_lines,
)
from fieldvault.storage.db import transaction
from fieldvault.storage.locks import LockKey, transaction_lock
from fieldvault.storage.services import Services

# How often a run may lose the race for the book before it runs once more under the lock.
NUMBERING_TRIES = 5

_T = TypeVar("_T")


def load_book(services: Services, study_id: str) -> PlaceholderBook:
    """The study's placeholder numbering (decrypted from the vault)."""
    data = documents(services).get(study_id, "placeholders")
    return PlaceholderBook() if data is None else PlaceholderBook.from_json(data)


def save_book(services: Services, study_id: str, book: PlaceholderBook) -> None:
    """Seal the numbering back into the vault."""
    documents(services).put(study_id, "placeholders", book.to_json())


@contextmanager
def _numbering_lock(services: Services, study_id: str) -> Iterator[None]:
    """Hold the study's numbering lock for the block (a research transaction of its own)."""
    with transaction(services.research) as session:
        transaction_lock(session, LockKey.NUMBERING, scope=study_id)
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


def pseudonymise_document(
    services: Services, study_id: str, document: dict[str, Any], people: list[KnownPerson]
) -> tuple[list[str], Result, list[str]]:
    """A raw transcript's segments through the engine: (pseudonymised lines, result, source).

    The source lines are the segments' text with whitespace folded, as the engine read them.
    """
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
