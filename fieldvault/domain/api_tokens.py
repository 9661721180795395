"""Researcher API tokens: one study each, shown once, stored as a hash, revocable, audited.

A token expires (90 days unless the caller says otherwise: ``FIELDVAULT_API_TOKEN_DAYS``,
``--expires``) and stops working once its study has ended (the deletion sweep sets
``studies.ended_at``) or is gone.

A token is 256 random bits, so a plain SHA-256 is enough to make the stored column useless to
whoever reads the database (nothing to brute-force, no key to keep); the secret itself is only
ever printed once, by the CLI that creates it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.errors import DomainError, StudyNotFound
from fieldvault.domain.studies import get_study
from fieldvault.errors import NotFoundError
from fieldvault.storage import audit
from fieldvault.storage.models import ApiToken, Study, as_utc

TOKEN_PREFIX = "fvt_"
TOKEN_BYTES = 32
MAX_LABEL = 64
DEFAULT_VALIDITY = dt.timedelta(days=90)
MAX_VALIDITY = dt.timedelta(days=3650)


class InvalidApiToken(DomainError):
    """No token was given, or it is unknown, revoked, expired or its study ended (HTTP 401)."""

    code = "api_token.invalid"


class ApiTokenError(DomainError):
    """A token cannot be created or revoked as asked."""


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.strip().encode("utf-8", errors="replace")).hexdigest()


def _active(session: Session, study_id: str, label: str) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(
                ApiToken.study_id == study_id,
                ApiToken.label == label,
                ApiToken.revoked_at.is_(None),
            )
        )
    )


def create_token(
    session: Session,
    study_id: str,
    label: str,
    now: dt.datetime,
    *,
    valid_for: dt.timedelta = DEFAULT_VALIDITY,
    actor: str = "cli",
) -> str:
    """A new token for ``study_id``, valid for ``valid_for``; the secret is shown only once."""
    study = get_study(session, study_id)
    if not dt.timedelta(0) < valid_for <= MAX_VALIDITY:
        raise ApiTokenError(
            f"a token is valid for 1 day to {MAX_VALIDITY.days} days",
            code="api_token.bad_validity",
            max_days=MAX_VALIDITY.days,
        )
    if study.ended_at is not None:
        raise ApiTokenError(
            f"study {study_id!r} has ended; it takes no new API tokens",
            code="api_token.study_ended",
            study_id=study_id,
        )
    label = label.strip()
    if not label or len(label) > MAX_LABEL:
        raise ApiTokenError(
            f"give a label of 1 to {MAX_LABEL} characters (e.g. the researcher's initials "
            "and the machine: 'IH laptop')",
            code="api_token.bad_label",
            max_label=MAX_LABEL,
        )
    if _active(session, study_id, label):
        raise ApiTokenError(
            f"study {study_id!r} already has a token labelled {label!r}; revoke it first or "
            "pick another label",
            code="api_token.label_taken",
            study_id=study_id,
            label=label,
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + valid_for
    row = ApiToken(
        study_id=study_id,
        label=label,
        token_hash=token_hash(secret),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        audit.Event.API_TOKEN_CREATED,
        actor=actor,
        study_id=study_id,
        details={"token_id": row.id, "label": label, "expires_at": expires_at.isoformat()},
        at=now,
    )
    return secret


def revoke_token(
    session: Session, study_id: str, label: str, now: dt.datetime, *, actor: str = "cli"
) -> int:
    """Revoke the study's active token labelled ``label``; return how many were revoked."""
    get_study(session, study_id)
    rows = _active(session, study_id, label.strip())
    if not rows:
        raise NotFoundError(
            f"study {study_id!r} has no active API token labelled {label.strip()!r}",
            code="api_token.not_found",
            study_id=study_id,
        )
    for row in rows:
        row.revoked_at = now
        audit.append(
            session,
            audit.Event.API_TOKEN_REVOKED,
            actor=actor,
            study_id=study_id,
            details={"token_id": row.id, "label": row.label},
            at=now,
        )
    session.flush()
    return len(rows)


def authorise(session: Session, token: str | None, study_id: str, now: dt.datetime) -> ApiToken:
    """The token's row when it is valid for ``study_id``; InvalidApiToken or StudyNotFound else."""
    row = None
    if token:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        raise InvalidApiToken("the API token is missing, unknown or revoked")
    if now >= as_utc(row.expires_at):
        raise InvalidApiToken(
            f"the API token expired on {as_utc(row.expires_at).date().isoformat()}",
            expired=as_utc(row.expires_at).date().isoformat(),
        )
    own = session.get(Study, row.study_id)
    if own is None or own.ended_at is not None:
        raise InvalidApiToken("the API token's study has ended; its tokens no longer work")
    if row.study_id != study_id:
        # Rule 6: a study the token does not belong to answers exactly like one that does not
        # exist (the same words as get_study), so a token cannot probe for other studies.
        raise StudyNotFound(f"no study {study_id!r}", study_id=study_id)
    get_study(session, study_id)
    return row
