"""Who is asking: the session cookie, the route's required action, CSRF — checked before a page.

Every researcher route is added with :func:`page`, which records the :class:`Action` it needs.
``access_middleware`` resolves the session cookie for those routes and, before the handler
runs, answers:

- not logged in: a redirect to ``/login`` (GET) or 401;
- a study the researcher is not a member of: exactly the 404 of a study that does not exist;
- a member of a study that requires a second factor they have not enrolled: a redirect to
  ``/account/second-factor`` (GET) or 403;
- a member whose role lacks the action: 403;
- a state-changing request without the session's CSRF token (form field ``csrf``, the first
  part of a multipart form, or header ``X-CSRF-Token``): 403.

So a handler never checks membership itself; the authorisation test walks ``PAGES``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import BodyPartReader, MultipartReader, web

from fieldvault.domain import accounts
from fieldvault.domain.accounts import Researcher, SessionInvalid
from fieldvault.domain.permissions import Action
from fieldvault.storage.db import transaction
from fieldvault.web.keys import CLOCK, EXECUTOR, SERVICES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "fv_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
STUDY_PARAM = "study"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ENROL_PATH = "/account/second-factor"
# Researcher pages: scripts and styles from this origin only (no inline script or handler),
# no plug-ins, no <base> tricks, forms post here only, never framed.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The same policy with inline (data:) images, for a page that shows QR codes it must not
# serve from a URL holding the code; a handler sets it, and page_headers keeps it.
PAGE_CSP_INLINE_IMAGES = PAGE_CSP.replace("img-src 'self';", "img-src 'self' data:;")
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class PageRule:
    """What a route needs: ``action`` in the URL's ``{study}``, or just a login, or nothing."""

    name: str
    method: str
    path: str
    action: Action | None
    login: bool = True
    # A request the browser makes by itself (an event stream reconnecting) is not activity:
    # it must not keep an idle session alive.
    passive: bool = False


PAGES = web.AppKey("researcher_pages", dict[str, PageRule])
RESEARCHER = web.RequestKey("fv_researcher", Researcher)
SESSION_CSRF = web.RequestKey("fv_session_csrf", str)
# A multipart form's reader, past its ``csrf`` part (see ``_multipart_csrf``).
MULTIPART = web.RequestKey("fv_multipart", MultipartReader)
MAX_CSRF_BYTES = 512


class NotYours(web.HTTPNotFound):
    """A study that does not exist or is not the researcher's: the same answer."""


class RoleForbids(web.HTTPForbidden):
    """The researcher's role in the study does not allow this page."""


def page(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    *,
    name: str,
    action: Action | None,
    login: bool = True,
    passive: bool = False,
) -> None:
    """Add a researcher route that needs ``action`` (in ``{study}``) or, with None, a login.

    ``passive``: the route checks the session without restarting its idle clock.
    """
    if action is not None and "{" + STUDY_PARAM + "}" not in path:
        raise ValueError(f"route {name} needs an action but has no {{study}} in {path}")
    if action is not None and not login:
        raise ValueError(f"route {name} needs an action, so it needs a login too")
    app.router.add_route(method, path, handler, name=name)
    if PAGES not in app:
        app[PAGES] = {}
    app[PAGES][name] = PageRule(name, method, path, action, login, passive)


def rule_of(request: web.Request) -> PageRule | None:
    """The rule of the route this request matched, if it is a researcher route."""
    route = request.match_info.route
    name = getattr(route, "name", None)
    pages = request.app.get(PAGES, {})
    return pages.get(name) if name else None


def current(request: web.Request) -> Researcher:
    """The logged-in researcher (set by the middleware on every researcher route)."""
    return request[RESEARCHER]


async def _resolve(request: web.Request, *, touch: bool = True) -> tuple[Researcher, str] | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if len(token) < 32:
        return None
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> tuple[Researcher, str] | None:
        with transaction(services.research) as session:
            try:
                return accounts.resolve_session(session, token, now, touch=touch)
            except SessionInvalid:
                return None

    return await request.app[EXECUTOR].run(run)


async def _csrf_given(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.content_type == "application/x-www-form-urlencoded":
        value = (await request.post()).get(CSRF_FIELD)  # cached: the handler reads it again
        return value if isinstance(value, str) else ""
    if request.content_type == "multipart/form-data":
        return await _multipart_csrf(request)
    return ""


async def _multipart_csrf(request: web.Request) -> str:
    """The ``csrf`` field a plain (no-JavaScript) multipart form sends as its first part.

    ``request.post()`` would spool file parts to unencrypted temporary files, so the stream is
    read part by part instead: the first part must be the token (forms put the hidden field
    first); the handler reads the rest from :data:`MULTIPART`.
    """
    reader = await request.multipart()
    request[MULTIPART] = reader
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != CSRF_FIELD:
        return ""
    value = bytearray()
    while chunk := await part.read_chunk(256):
        value += chunk
        if len(value) > MAX_CSRF_BYTES:
            return ""
    return value.decode("ascii", errors="replace")


def csrf_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of the session's CSRF secret with what the request sent."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Login, membership, role and CSRF checks for every route added with :func:`page`."""
    rule = rule_of(request)
    if rule is None or not rule.login:
        return await handler(request)
    resolved = await _resolve(request, touch=not rule.passive)
    if resolved is None:
        if request.method in SAFE_METHODS and not request.path.endswith("/events"):
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="log in first")
    who, csrf = resolved
    request[RESEARCHER], request[SESSION_CSRF] = who, csrf
    if rule.action is not None:
        study_id = request.match_info.get(STUDY_PARAM, "")
        if study_id not in who.roles:
            raise NotYours()
        if who.must_enrol(study_id):
            if request.method in SAFE_METHODS:
                raise web.HTTPSeeOther(ENROL_PATH)
            raise RoleForbids()
        if not who.may(study_id, rule.action):
            raise RoleForbids()
    if request.method not in SAFE_METHODS and not csrf_matches(csrf, await _csrf_given(request)):
        raise web.HTTPForbidden(text="the form is out of date: reload the page and try again")
    return await handler(request)


async def page_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: never framed anywhere; the strict policy on researcher pages."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    if rule_of(request) is not None:
        inline_images = response.headers.get("Content-Security-Policy") == PAGE_CSP_INLINE_IMAGES
        response.headers.update(PAGE_HEADERS)
        if inline_images:
            response.headers["Content-Security-Policy"] = PAGE_CSP_INLINE_IMAGES
