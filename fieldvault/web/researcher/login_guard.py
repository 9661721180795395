"""Login throttling per account and address (never locking an owner out for good); the cookies.

Failed logins (a wrong password, a wrong second-factor code) are counted in bounded, in-memory
windows (``consent.security.Throttle``): per client address, and per account (the normalised
e-mail). Past a limit the login form answers 429 until the window has passed — a window, never
a permanent lock, so the lock ends on its own.

An attacker who keeps guessing at one account from many addresses could still keep that window
full for ever. So a browser that logged in to an account before carries a *device cookie*
(an HMAC of the account's e-mail under a key derived from the content key: it names no one and
survives restarts); the per-account lock does not apply to it, only a looser limit of its own
(OWASP's "device cookies"). The owner logs in from their own browser while the attack goes on.
The counts live in one process: behind several web processes each counts its own share.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TypeVar

from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fieldvault.domain import accounts
from fieldvault.web.consent.security import Throttle
from fieldvault.web.researcher.access import SESSION_COOKIE

R = TypeVar("R", bound=web.StreamResponse)

DEVICE_COOKIE = "fv_device"
DEVICE_DAYS = 180
WINDOW = 15 * 60.0
LOGIN_COOKIE = "fv_login"  # a login waiting for its second-factor code


class LoginGuard:
    """Whether a login attempt may be tried now, and the count of failures."""

    def __init__(
        self,
        device_key: bytes,
        *,
        per_account: Throttle | None = None,
        per_device: Throttle | None = None,
        per_address: Throttle | None = None,
    ) -> None:
        self._key = device_key
        self.per_account = per_account or Throttle(limit=5, window=WINDOW)
        self.per_device = per_device or Throttle(limit=20, window=WINDOW)
        self.per_address = per_address or Throttle(limit=30, window=WINDOW)

    @classmethod
    def from_content_key(cls, content_key: bytes) -> LoginGuard:
        """A guard whose device cookies stay valid across restarts of the app."""
        hkdf = HKDF(hashes.SHA256(), length=32, salt=None, info=b"fieldvault/device-cookie/v1")
        return cls(hkdf.derive(content_key))

    def device_cookie(self, email: str) -> str:
        """The device cookie's value for a browser that logged in to ``email``."""
        mac = hmac.new(self._key, email.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def _known_device(self, email: str, cookie: str) -> bool:
        return bool(cookie) and hmac.compare_digest(cookie, self.device_cookie(email))

    def _account_key(self, email: str, cookie: str) -> tuple[Throttle, str]:
        key = hashlib.sha256(email.encode("utf-8")).hexdigest()  # no e-mail in memory dumps
        if self._known_device(email, cookie):
            return self.per_device, key
        return self.per_account, key

    def blocked(self, address: str, email: str, cookie: str) -> bool:
        """Whether this address, or this account from this browser, must wait."""
        throttle, key = self._account_key(email, cookie)
        return self.per_address.blocked(address) or throttle.blocked(key)

    def failed(self, address: str, email: str, cookie: str) -> None:
        """Count one failed attempt for the address and the account."""
        throttle, key = self._account_key(email, cookie)
        self.per_address.failed(address)
        throttle.failed(key)


LOGIN_GUARD = web.AppKey("researcher_login_guard", LoginGuard)


def session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Secure over TLS, for this browser run."""
    response.set_cookie(
        SESSION_COOKIE, token, path="/", httponly=True, samesite="Strict", secure=request.secure
    )


def device_cookie(request: web.Request, response: web.StreamResponse, email: str) -> None:
    """Remember that this browser logged in to ``email`` (see ``login_guard``)."""
    response.set_cookie(
        DEVICE_COOKIE,
        request.app[LOGIN_GUARD].device_cookie(email),
        path="/login",
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def logged_in(request: web.Request, response: R, token: str, waiting: bool, email: str) -> R:
    """After the first factor: the session cookie, or the code form's cookie when one is due."""
    if waiting:
        response.set_cookie(
            LOGIN_COOKIE, token, path="/login", httponly=True, samesite="Strict",
            secure=request.secure, max_age=int(accounts.PENDING_MAX.total_seconds()),
        )  # fmt: skip
        return response
    session_cookie(request, response, token)
    device_cookie(request, response, email)
    return response
