"""Researcher accounts of the web app: roles per study, passwords, one-time links, sessions.

A password is kept as an argon2id hash (argon2-cffi's defaults, RFC 9106's second choice) and
rehashed at the next login when those parameters change. Secrets the browser or the CLI holds
(a set-password link, a session cookie) are 256 random bits; the database keeps their SHA-256
only, as for API tokens (nothing there to brute-force).

A session expires after ``SESSION_IDLE`` without a request, and after ``SESSION_MAX`` in all.
A login whose account has a second factor first opens a ``totp`` session, good for
``PENDING_MAX`` and for nothing but entering the code; the code then opens a new, full one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain.errors import DomainError
from fieldvault.domain.permissions import Action, Role, may
from fieldvault.domain.studies import get_study
from fieldvault.storage import audit
from fieldvault.storage.models import (
    AccountLink,
    ResearcherAccount,
    ResearcherSession,
    StudyMember,
    StudySecurity,
    as_utc,
)

SET_PASSWORD = "set_password"
LINK_VALIDITY = dt.timedelta(days=7)
SESSION_IDLE = dt.timedelta(minutes=30)
SESSION_MAX = dt.timedelta(hours=12)
SEEN_EVERY = dt.timedelta(seconds=30)
PENDING_MAX = dt.timedelta(minutes=5)
FULL = "full"
AWAITING_CODE = "totp"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_EMAIL = 254

_hasher = PasswordHasher()


class AccountError(DomainError):
    """An account cannot be made or changed as asked."""


class LoginFailed(DomainError):
    """The e-mail and password do not match an active account (which one is never said)."""

    code = "account.login_failed"


class LinkInvalid(DomainError):
    """A set-password link is unknown, used or expired."""

    code = "account.link_invalid"


class SessionInvalid(DomainError):
    """No session, or it has expired or ended."""

    code = "account.session_invalid"


@dataclass(frozen=True)
class Researcher:
    """Who is logged in, and their role in each of their studies."""

    account_id: int
    email: str
    roles: dict[str, Role]
    second_factor: bool = False  # a TOTP second factor is enrolled
    second_factor_required: frozenset[str] = frozenset()  # studies whose owner requires one

    @property
    def actor(self) -> str:
        """How the audit names this researcher (the account id, not the e-mail)."""
        return f"researcher:{self.account_id}"

    def may(self, study_id: str, action: Action) -> bool:
        """Whether this researcher may take ``action`` in ``study_id``."""
        role = self.roles.get(study_id)
        return role is not None and may(role, action)

    def must_enrol(self, study_id: str) -> bool:
        """Whether ``study_id`` requires a second factor this researcher has not enrolled."""
        return study_id in self.second_factor_required and not self.second_factor


def secret_hash(secret: str) -> str:
    """The SHA-256 (hex) a link or session secret is stored and looked up under."""
    return hashlib.sha256(secret.strip().encode("utf-8", errors="replace")).hexdigest()


def normalised_email(email: str) -> str:
    """``email`` trimmed and lower-cased; refused unless it looks like one address."""
    clean = email.strip().lower()
    local, _, domain = clean.partition("@")
    if (
        not local
        or "." not in domain
        or len(clean) > MAX_EMAIL
        or any(ch.isspace() or ord(ch) < 32 for ch in clean)
    ):
        raise AccountError("that is not an e-mail address", code="account.email_invalid")
    return clean


def add_researcher(
    session: Session, email: str, study_id: str, role: Role | str, *, actor: str, now: dt.datetime
) -> tuple[ResearcherAccount, str | None]:
    """Give ``email`` ``role`` in the study (creating the account); the one-time link code.

    The code is None when the account already has a password (it only gains the role).
    """
    get_study(session, study_id)
    try:
        role = Role(role)
    except ValueError:
        raise AccountError(
            f"there is no role {str(role)[:20]!r}", code="account.role_unknown", role=str(role)
        ) from None
    address = normalised_email(email)
    account = session.scalars(
        select(ResearcherAccount).where(ResearcherAccount.email == address)
    ).one_or_none()
    if account is None:
        account = ResearcherAccount(email=address, created_at=now)
        session.add(account)
        session.flush()
    member = session.get(StudyMember, (account.id, study_id))
    if member is None:
        session.add(StudyMember(account_id=account.id, study_id=study_id, role=role, added_at=now))
    else:
        member.role = role
    audit.append(
        session,
        "account.added",
        actor=actor,
        study_id=study_id,
        details={"account": account.id, "role": role.value},
        at=now,
    )
    code = None if account.password_hash else new_link(session, account, now)
    return account, code


def new_link(session: Session, account: ResearcherAccount, now: dt.datetime) -> str:
    """A new one-time set-password link code for ``account`` (valid ``LINK_VALIDITY``)."""
    code = secrets.token_urlsafe(32)
    session.add(
        AccountLink(
            account_id=account.id,
            purpose=SET_PASSWORD,
            code_hash=secret_hash(code),
            created_at=now,
            expires_at=now + LINK_VALIDITY,
        )
    )
    return code


def link_account(session: Session, code: str, now: dt.datetime) -> ResearcherAccount:
    """The account a set-password link is for, while it is unused and unexpired."""
    link = session.scalars(
        select(AccountLink).where(AccountLink.code_hash == secret_hash(code))
    ).one_or_none()
    if link is None or link.used_at is not None or as_utc(link.expires_at) <= now:
        raise LinkInvalid("this link is not valid: it is unknown, used or expired")
    account = session.get(ResearcherAccount, link.account_id)
    if account is None or account.disabled_at is not None:
        raise LinkInvalid("this link is not valid: it is unknown, used or expired")
    return account


def check_password(password: str) -> None:
    """Refuse a password that is too short or too long."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"a password needs at least {MIN_PASSWORD} characters",
            code="account.password_short",
            least=MIN_PASSWORD,
        )
    if len(password) > MAX_PASSWORD:
        raise AccountError("that password is too long", code="account.password_long")


def set_password(session: Session, code: str, password: str, now: dt.datetime) -> ResearcherAccount:
    """Set the password through a one-time link, which is then used up."""
    account = link_account(session, code, now)
    check_password(password)
    link = session.scalars(
        select(AccountLink).where(AccountLink.code_hash == secret_hash(code))
    ).one()
    link.used_at = now
    account.password_hash = _hasher.hash(password)
    audit.append(
        session, "account.password_set", actor=f"researcher:{account.id}", details={}, at=now
    )
    return account


def authenticate(
    session: Session,
    email: str,
    password: str,
    now: dt.datetime,
    *,
    hasher: PasswordHasher | None = None,
) -> ResearcherAccount:
    """The active account with this e-mail and password; rehashed when parameters changed.

    ``hasher`` holds today's parameters (argon2-cffi's defaults unless a test gives others).
    """
    hasher = hasher or _hasher
    try:
        address = normalised_email(email)
    except AccountError:
        raise LoginFailed("wrong e-mail or password") from None
    account = session.scalars(
        select(ResearcherAccount).where(ResearcherAccount.email == address)
    ).one_or_none()
    stored = account.password_hash if account is not None else None
    if account is None or stored is None or account.disabled_at is not None:
        # The same work as a real check, so timing does not tell which accounts exist.
        _verify(_DUMMY_HASH, password)
        raise LoginFailed("wrong e-mail or password")
    if not _verify(stored, password):
        raise LoginFailed("wrong e-mail or password")
    if hasher.check_needs_rehash(stored):
        account.password_hash = hasher.hash(password)
    return account


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def open_session(
    session: Session, account: ResearcherAccount, now: dt.datetime, *, stage: str = FULL
) -> str:
    """A new session for ``account`` (logged in, or awaiting its code); the cookie's secret."""
    token = secrets.token_urlsafe(32)
    session.add(
        ResearcherSession(
            token_hash=secret_hash(token),
            account_id=account.id,
            csrf=secrets.token_urlsafe(32),
            stage=stage,
            created_at=now,
            last_seen_at=now,
            expires_at=now + (SESSION_MAX if stage == FULL else PENDING_MAX),
        )
    )
    return token


def needs_code(account: ResearcherAccount) -> bool:
    """Whether logging in to ``account`` asks for a TOTP code after the password."""
    return account.totp_enrolled_at is not None


def begin_login(session: Session, account: ResearcherAccount, now: dt.datetime) -> tuple[str, bool]:
    """After the password (or OIDC): a session token, and whether it still awaits a code."""
    if needs_code(account):
        return open_session(session, account, now, stage=AWAITING_CODE), True
    account.last_login_at = now
    return open_session(session, account, now), False


def _session_row(session: Session, token: str) -> ResearcherSession | None:
    return session.scalars(
        select(ResearcherSession).where(ResearcherSession.token_hash == secret_hash(token))
    ).one_or_none()


def awaiting_code(session: Session, token: str, now: dt.datetime) -> ResearcherAccount:
    """The account whose login ``token`` waits for its second factor."""
    row = _session_row(session, token)
    if (
        row is None
        or row.stage != AWAITING_CODE
        or row.ended_at is not None
        or as_utc(row.expires_at) <= now
    ):
        raise SessionInvalid("your login has expired: start again with your password")
    account = session.get(ResearcherAccount, row.account_id)
    if account is None or account.disabled_at is not None:
        raise SessionInvalid("your login has expired: start again with your password")
    return account


def finish_login(session: Session, token: str, now: dt.datetime) -> str:
    """The code was right: the waiting session ends and a new, full one opens (its token)."""
    account = awaiting_code(session, token, now)
    end_session(session, token, now)
    account.last_login_at = now
    return open_session(session, account, now)


def resolve_session(session: Session, token: str, now: dt.datetime) -> tuple[Researcher, str]:
    """Who holds the session ``token`` and its CSRF secret; the session's idle clock restarts."""
    row = _session_row(session, token)
    if (
        row is None
        or row.stage != FULL
        or row.ended_at is not None
        or as_utc(row.expires_at) <= now
        or as_utc(row.last_seen_at) + SESSION_IDLE <= now
    ):
        raise SessionInvalid("you are not logged in, or your session has expired")
    account = session.get(ResearcherAccount, row.account_id)
    if account is None or account.disabled_at is not None:
        raise SessionInvalid("you are not logged in, or your session has expired")
    if now - as_utc(row.last_seen_at) >= SEEN_EVERY:  # not a write on every request
        row.last_seen_at = now
    return researcher(session, account), row.csrf


def researcher(session: Session, account: ResearcherAccount) -> Researcher:
    """``account`` with its roles."""
    members = session.scalars(select(StudyMember).where(StudyMember.account_id == account.id))
    roles = {m.study_id: Role(m.role) for m in members}
    required = session.scalars(
        select(StudySecurity.study_id).where(
            StudySecurity.study_id.in_(list(roles)), StudySecurity.require_second_factor
        )
    )
    return Researcher(
        account.id,
        account.email,
        roles,
        second_factor=account.totp_enrolled_at is not None,
        second_factor_required=frozenset(required),
    )


def end_session(session: Session, token: str, now: dt.datetime) -> None:
    """Log out: the session ``token`` ends (nothing happens when it is unknown)."""
    row = _session_row(session, token)
    if row is not None and row.ended_at is None:
        row.ended_at = now


def account_for_verified_email(session: Session, email: str) -> ResearcherAccount:
    """The active account of an e-mail address a trusted provider verified (OIDC login).

    Never creates one: roles are given only by ``fieldvault researcher add``.
    """
    try:
        address = normalised_email(email)
    except AccountError:
        raise LoginFailed("no account has that e-mail address") from None
    account = session.scalars(
        select(ResearcherAccount).where(ResearcherAccount.email == address)
    ).one_or_none()
    if account is None or account.disabled_at is not None:
        raise LoginFailed("no account has that e-mail address")
    return account
