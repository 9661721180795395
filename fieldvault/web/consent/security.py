"""Abuse and privacy for the informant pages: CSRF, throttling, headers, a log without tokens.

CSRF is a double-submit cookie: ``fv_csrf`` (HttpOnly, SameSite=Strict, the only cookie) must
equal each form's hidden ``csrf`` field. Attempts that fail (an unknown or used invite, an
unknown personal link) are counted per client address in a bounded, in-memory window; past the
limit every /join and /p request from that address is answered 429 until the window passes.
"""

from __future__ import annotations

import collections
import hmac
import logging
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

CSRF_COOKIE = "fv_csrf"
CSRF_FIELD = "csrf"
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
PRIVATE_PREFIXES = ("/p/", "/join/", "/recover")

log = logging.getLogger("fieldvault.web.access")
LOGGED_CHARS = 200  # the most characters of one request value a log line carries
# Control characters, format characters (bidi overrides, zero-width) and line separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
NEW_CSRF = web.RequestKey("fv_new_csrf", str)


def csrf_token(request: web.Request) -> str:
    """The request's CSRF token: its cookie's, or a new one the response will set."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) < 32:
        token = request.get(NEW_CSRF) or secrets.token_urlsafe(32)
        request[NEW_CSRF] = token
    return token


def set_csrf_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Set ``fv_csrf`` when this request made a new token."""
    token = request.get(NEW_CSRF)
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )


def csrf_ok(request: web.Request, form_value: object) -> bool:
    """Whether the form's ``csrf`` field equals the cookie (constant-time)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return (
        isinstance(form_value, str)
        and len(cookie) >= 32
        and hmac.compare_digest(cookie.encode(), form_value.encode())
    )


class Throttle:
    """Failed attempts per client address within ``window`` seconds; at most ``addresses`` kept."""

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.addresses, self.clock = limit, window, addresses, clock
        self._seen: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> collections.deque[float]:
        times = self._seen.get(address)
        if times is None:
            times = collections.deque()
            self._seen[address] = times
            while len(self._seen) > self.addresses:
                self._seen.popitem(last=False)
        self._seen.move_to_end(address)
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, address: str) -> bool:
        """Whether ``address`` has failed ``limit`` times within the window."""
        with self._lock:
            return len(self._recent(address, self.clock())) >= self.limit

    def failed(self, address: str) -> None:
        """Count one failed attempt from ``address``."""
        with self._lock:
            now = self.clock()
            self._recent(address, now).append(now)


def client_address(request: web.Request) -> str:
    """The peer's address (no proxy header is trusted)."""
    return request.remote or "unknown"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the privacy headers on every response, no-store on /p and /join."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith(PRIVATE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"


def loggable(value: str, limit: int = LOGGED_CHARS) -> str:
    """``value`` safe for one log line: control and bidi characters escaped, at most ``limit``.

    A path such as ``/api/%0Aforged`` cannot start a forged line, NUL or a right-to-left
    override cannot hide or reorder what follows, and a 4 KB path is cut (its length shown).
    """
    escaped = "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch == "\\" or unicodedata.category(ch) in _UNSAFE_CATEGORIES
        else ch
        for ch in value[: limit + 1]
    )
    if len(value) > limit or len(escaped) > limit:
        return f"{escaped[:limit]}…[{len(value)} chars]"
    return escaped


def route_name(request: web.BaseRequest) -> str:
    """The name of the matched route (never the path, which may hold a code or a token).

    An unmatched path is logged, escaped and cut by :func:`loggable`.
    """
    try:
        match = getattr(request, "match_info", None)
    except AssertionError:  # a request aiohttp could not parse (400) was never routed
        match = None
    route = getattr(match, "route", None)
    name = getattr(route, "name", None)
    if name:
        return str(name)
    path = request.path
    if path.startswith(PRIVATE_PREFIXES):
        return path.split("/")[1]
    return loggable(path)


class AccessLogger(AbstractAccessLogger):
    """Method, route name, status and time: no path, address or user agent."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log one answered request."""
        self.logger.info(
            "%s %s %s %.3fs", request.method, route_name(request), response.status, time
        )
