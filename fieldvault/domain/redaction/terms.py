"""The study's term list: offices, colleagues, places always replaced (sealed in the vault)."""

from __future__ import annotations

import datetime as dt
import json

from fieldvault.domain.redaction.errors import PseudonymisationError
from fieldvault.domain.redaction.known import documents
from fieldvault.domain.studies import get_study
from fieldvault.pseudonymise import Category, Term
from fieldvault.pseudonymise.engine import TERM_CATEGORIES
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services


def parse_category(value: str) -> Category:
    """A term category from its name (person, workplace, place, other)."""
    for category in TERM_CATEGORIES:
        if category.value == value:
            return category
    allowed = ", ".join(c.value for c in TERM_CATEGORIES)
    raise PseudonymisationError(
        f"unknown term category {value!r}; use one of {allowed}",
        code="terms.unknown_category",
        category=value,
        allowed=allowed,
    )


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
        raise PseudonymisationError(
            "a term needs at least two characters", code="terms.too_short", study_id=study_id
        )
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
