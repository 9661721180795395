"""Review: the items a researcher checks, and what they do about each one.

Review numbers run over all of the participant's transcripts under review, replacements
first, then suspects, per transcript. An item can be rejected (a replacement undone: the
original stays), accepted (checked: a replacement confirmed, a suspect seen and left), or
edited (given text of the researcher's in its place). ``redo`` runs the engine again after
new terms. Each change stores a new redaction map and is audited with counts only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from fieldvault.domain.redaction import bundle
from fieldvault.domain.redaction.bundle import REVIEW
from fieldvault.domain.redaction.errors import (
    NothingToReview,
    PseudonymisationError,
    ReviewConflict,
)
from fieldvault.domain.redaction.job import pseudonymise_pending
from fieldvault.domain.redaction.known import known_people
from fieldvault.domain.redaction.numbering import pseudonymise_document
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, PseudonymisedTranscript, Transcript
from fieldvault.storage.services import Services


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


def review_items(
    services: Services, study_id: str, code: str, now: dt.datetime
) -> list[ReviewItem]:
    """Every replacement and suspect of the participant's transcripts under review.

    Runs the pseudonymise job first for transcripts that have not had it yet. The items hold
    original text: they are for the researcher's screen, never for storage or logs.
    """
    pseudonymise_pending(services, now, study_id)
    items: list[ReviewItem] = []
    with transaction(services.research) as session:
        rows = bundle.participant_rows(session, study_id, code, REVIEW)
        if not rows:
            raise NothingToReview(
                f"{code} has no transcript waiting for review in {study_id}",
                code="review.nothing_waiting",
                study_id=study_id,
                participant=code,
            )
        for row in rows:
            items += _items_of(bundle.load(services, session, row), first=len(items) + 1)
    return items


def _items_of(data: dict[str, Any], first: int) -> list[ReviewItem]:
    """The review items of one bundle, numbered from ``first``."""
    source = "\n".join(data.get("source_lines") or [])
    rejected = set(data.get("rejected", []))
    accepted = set(data.get("accepted", []))
    edits = {int(k): v for k, v in data.get("edits", {}).items()}
    items = []
    for local, rep in enumerate(data["replacements"], start=1):
        items.append(
            ReviewItem(
                number=first + local - 1,
                kind="replacement",
                segment=rep["segment"],
                category=rep["category"],
                original=rep["original"],
                placeholder=rep["placeholder"],
                context=_context(source, rep["source_start"], rep["source_end"]),
                status=_status(local, rejected, accepted, edits),
            )
        )
    for local, sus in enumerate(data["suspects"], start=len(data["replacements"]) + 1):
        items.append(
            ReviewItem(
                number=first + local - 1,
                kind="suspect",
                segment=sus["segment"],
                category=sus["reason"],
                original=sus["original"],
                placeholder=edits.get(local, ""),
                context=_context(source, sus["source_start"], sus["source_end"]),
                status=_status(local, set(), accepted, edits, "suspect"),
            )
        )
    return items


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    """The item's words marked ⟦so⟧ with a little of its line either side ("" without source)."""
    if not text:
        return ""
    left = text[max(0, start - width) : start].split("\n")[-1]
    right = text[end : end + width].split("\n")[0]
    return f"…{left}⟦{text[start:end]}⟧{right}…"


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
        rows = bundle.participant_rows(session, study_id, code, REVIEW)
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
        document = bundle.read_raw(services, obj)
        lines, result, source_lines = pseudonymise_document(services, study_id, document, people)
        built = bundle.build(document, source_lines, result, lines)
        with transaction(services.research) as session:
            current = session.get(PseudonymisedTranscript, row_id)
            assert current is not None
            bundle.replace(services, session, current, built, now)
            current.replacements, current.suspects = len(result.spans), len(result.suspects)
            _audit_reviewed(session, current, study_id, code, {"action": "redo"}, now)
    return len(jobs)


def reject(
    services: Services,
    study_id: str,
    code: str,
    numbers: Sequence[int],
    now: dt.datetime,
    *,
    version: str | None = None,
) -> int:
    """Undo automatic replacements (by review number): the original text stays in."""

    def mark(data: dict[str, Any], mine: dict[int, int]) -> dict[str, Any]:
        local = set(mine.values())
        suspects = sorted(n for n, m in mine.items() if m > len(data["replacements"]))
        if suspects:
            listed = ", ".join(map(str, suspects))
            raise PseudonymisationError(
                f"item {listed} is a suspect left in, not a replacement",
                code="review.not_a_replacement",
                items=listed,
            )
        data["rejected"] = sorted(set(data.get("rejected", [])) | local)
        return {"rejected": len(local)}

    return _update_bundles(services, study_id, code, numbers, now, mark, version)


def accept(
    services: Services,
    study_id: str,
    code: str,
    numbers: Sequence[int],
    now: dt.datetime,
    *,
    version: str | None = None,
) -> int:
    """Mark review items as checked: a replacement confirmed, a suspect seen and left as it is."""

    def mark(data: dict[str, Any], mine: dict[int, int]) -> dict[str, Any]:
        data["accepted"] = sorted(set(data.get("accepted", [])) | set(mine.values()))
        return {"accepted": len(mine)}

    return _update_bundles(services, study_id, code, numbers, now, mark, version)


def edit(
    services: Services,
    study_id: str,
    code: str,
    number: int,
    text: str,
    now: dt.datetime,
    *,
    version: str | None = None,
) -> int:
    """Write ``text`` in place of review item ``number`` (a placeholder or a suspect's words)."""
    if not text.strip() or "\n" in text:
        raise PseudonymisationError(
            "the replacement text must be one non-empty line", code="review.bad_edit"
        )

    def mark(data: dict[str, Any], mine: dict[int, int]) -> dict[str, Any]:
        edits = dict(data.get("edits", {}))
        for local in mine.values():
            edits[str(local)] = text.strip()
        data["edits"] = edits
        # An edited item has been looked at; a rejection of it no longer applies.
        data["accepted"] = sorted(set(data.get("accepted", [])) | set(mine.values()))
        data["rejected"] = sorted(set(data.get("rejected", [])) - set(mine.values()))
        return {"edited": len(mine)}

    return _update_bundles(services, study_id, code, [number], now, mark, version)


# Changes a bundle in place given {review number: number in the bundle}; returns audit details.
BundleChange = Callable[[dict[str, Any], dict[int, int]], dict[str, Any]]


def _update_bundles(
    services: Services,
    study_id: str,
    code: str,
    numbers: Sequence[int],
    now: dt.datetime,
    change: BundleChange,
    version: str | None = None,
) -> int:
    """Apply ``change`` to the bundles holding review items ``numbers``; store and audit each.

    With ``version`` (the redaction map's object id the caller last read, see
    ``editor.transcript_editor``), a bundle whose map has been replaced since is refused with
    ReviewConflict instead of being changed: an editor's autosave never overwrites unseen work.
    """
    wanted = set(numbers)
    changed = 0
    with transaction(services.research) as session:
        offset = 0
        for row in bundle.participant_rows(session, study_id, code, REVIEW):
            data = bundle.load(services, session, row)
            count = len(data["replacements"]) + len(data["suspects"])
            mine = {n: n - offset for n in wanted if offset < n <= offset + count}
            offset += count
            if not mine:
                continue
            if version is not None:
                # Locked (PostgreSQL) so that two saves from the same version cannot both pass.
                session.refresh(row, with_for_update=True)
                if row.review_object_id != version:
                    raise ReviewConflict(
                        f"transcript {row.transcript_id} of {code} was saved by someone else "
                        "since it was opened; reload it to see their changes",
                        transcript_id=row.transcript_id,
                        participant=code,
                    )
                data = bundle.load(services, session, row)
            details = change(data, mine)
            bundle.replace(services, session, row, data, now)
            changed += len(mine)
            _audit_reviewed(session, row, study_id, code, details, now)
        unknown = sorted(n for n in wanted if not 0 < n <= offset)
    if unknown:
        raise NothingToReview(
            f"no review item {', '.join(map(str, unknown))} for {code}",
            code="review.unknown_item",
            study_id=study_id,
            participant=code,
            items=", ".join(map(str, unknown)),
            count=offset,
        )
    return changed


def _audit_reviewed(
    session: Session,
    row: PseudonymisedTranscript,
    study_id: str,
    code: str,
    details: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Audit a change to a transcript's review (counts and the action, never text)."""
    audit.append(
        session,
        audit.Event.TRANSCRIPT_REVIEWED,
        actor="researcher",
        study_id=study_id,
        participant_code=code,
        details={"transcript_id": row.transcript_id, **details},
        at=now,
    )
