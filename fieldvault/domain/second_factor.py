"""A second factor for researcher logins: TOTP (RFC 6238), and owners who require it.

The secret is sealed (AES-256-GCM, ``storage.crypto.seal``) under a key derived with HKDF from
the current content key, bound to the account id, so the research database never holds it in
plain text and a sealed secret copied to another account does not open. The key id is kept
beside it so that a newer content key does not strand older secrets.

Enrolment is two steps: :func:`start_enrolment` makes a new secret (shown once, as a QR code
and as text) and :func:`confirm_enrolment` turns it on once a code from it is right. A code is
accepted one step (30 s) early or late, and never twice: the last step used is stored.
"""

from __future__ import annotations

import datetime as dt
import hmac

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fieldvault.domain.errors import DomainError
from fieldvault.domain.studies import get_study
from fieldvault.storage import audit
from fieldvault.storage.crypto import DecryptionError, open_sealed, seal
from fieldvault.storage.keys import KeySet
from fieldvault.storage.models import ResearcherAccount, ResearcherSession, StudySecurity

ISSUER = "fieldvault"
DRIFT_STEPS = 1
_INFO = b"fieldvault/totp/v1"


class CodeWrong(DomainError):
    """The TOTP code is not the current one (or was used already)."""

    code = "account.totp_wrong"


class NotEnrolling(DomainError):
    """There is no second factor waiting to be confirmed."""

    code = "account.totp_not_enrolling"


def _key(keys: KeySet, key_id: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(keys.get(key_id))


def _binding(account_id: int) -> bytes:
    return b"fieldvault/totp/account/" + str(account_id).encode()


def _secret(keys: KeySet, account: ResearcherAccount) -> str | None:
    if account.totp_sealed is None or account.totp_key_id is None:
        return None
    try:
        plain = open_sealed(
            _key(keys, account.totp_key_id), account.totp_sealed, _binding(account.id)
        )
    except DecryptionError:
        return None
    return plain.decode("ascii")


def start_enrolment(session: Session, keys: KeySet, account_id: int) -> tuple[str, str]:
    """A new TOTP secret for the account, waiting for its first code; it and its otpauth:// URI.

    Refused once a second factor is enrolled (it is not replaced from a logged-in page alone).
    """
    account = _account(session, account_id)
    if account.totp_enrolled_at is not None:
        raise DomainError("a second factor is already enrolled", code="account.totp_enrolled")
    secret = pyotp.random_base32()
    account.totp_key_id = keys.current_id
    account.totp_sealed = seal(_key(keys, keys.current_id), secret.encode(), _binding(account.id))
    account.totp_last_step = None
    return secret, pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)


def enrolling(session: Session, keys: KeySet, account_id: int) -> tuple[str, str]:
    """The secret waiting for its first code and its otpauth:// URI (for the QR code)."""
    account = _account(session, account_id)
    secret = _secret(keys, account)
    if secret is None or account.totp_enrolled_at is not None:
        raise NotEnrolling("there is no second factor waiting to be confirmed")
    return secret, pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)


def confirm_enrolment(
    session: Session, keys: KeySet, account_id: int, code: str, now: dt.datetime
) -> None:
    """Turn the waiting secret on when ``code`` is right; audited."""
    account = _account(session, account_id)
    if account.totp_enrolled_at is not None or _secret(keys, account) is None:
        raise NotEnrolling("there is no second factor waiting to be confirmed")
    if not _accept(keys, account, code, now):
        raise CodeWrong("that code is not right: check the time on your phone and try again")
    account.totp_enrolled_at = now
    audit.append(
        session, "account.second_factor", actor=f"researcher:{account.id}", details={}, at=now
    )


def check_code(
    session: Session, keys: KeySet, account_id: int, code: str, now: dt.datetime
) -> None:
    """Refuse ``code`` unless it is the enrolled secret's current, unused one."""
    account = _account(session, account_id)
    if account.totp_enrolled_at is None or not _accept(keys, account, code, now):
        raise CodeWrong("that code is not right: check the time on your phone and try again")


def _accept(keys: KeySet, account: ResearcherAccount, code: str, now: dt.datetime) -> bool:
    secret = _secret(keys, account)
    given = "".join(code.split())[:16]
    if secret is None or not given.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        candidate = step + offset
        expected = totp.generate_otp(candidate)
        if hmac.compare_digest(expected.encode(), given.encode()):
            if account.totp_last_step is not None and candidate <= account.totp_last_step:
                return False  # a code seen before: a replay
            account.totp_last_step = candidate
            return True
    return False


def _account(session: Session, account_id: int) -> ResearcherAccount:
    account = session.get(ResearcherAccount, account_id)
    if account is None:
        raise DomainError("there is no such account", code="account.not_found")
    return account


def reset(session: Session, email: str, *, actor: str, now: dt.datetime) -> None:
    """Forget an account's second factor (a lost phone) and end its sessions; audited.

    Its next login is by password alone, and a study that requires one sends it to enrol.
    """
    account = session.scalars(
        select(ResearcherAccount).where(ResearcherAccount.email == email.strip().lower())
    ).one_or_none()
    if account is None:
        raise DomainError("no researcher account has that e-mail", code="account.not_found")
    account.totp_sealed = account.totp_key_id = account.totp_enrolled_at = None
    account.totp_last_step = None
    session.execute(
        update(ResearcherSession)
        .where(ResearcherSession.account_id == account.id, ResearcherSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    audit.append(
        session,
        "account.second_factor",
        actor=actor,
        details={"account": account.id, "reset": True},
        at=now,
    )


def second_factor_required(session: Session, study_id: str) -> bool:
    """Whether the study's owner requires a second factor of every member."""
    row = session.get(StudySecurity, study_id)
    return bool(row and row.require_second_factor)


def require_second_factor(
    session: Session, study_id: str, required: bool, *, actor: str, now: dt.datetime
) -> None:
    """Require (or stop requiring) a second factor of every member of the study; audited."""
    get_study(session, study_id)
    row = session.get(StudySecurity, study_id)
    if row is None:
        row = StudySecurity(study_id=study_id, require_second_factor=required, changed_at=now)
        session.add(row)
    elif row.require_second_factor == required:
        return
    row.require_second_factor, row.changed_at = required, now
    audit.append(
        session,
        "study.security",
        actor=actor,
        study_id=study_id,
        details={"second_factor_required": required},
        at=now,
    )
