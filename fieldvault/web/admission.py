"""Whether an upload may start: the checks before its body, and the audit of what they refuse.

Two kinds of caller: an API token (``Authorization: Bearer``), or a researcher logged in to the
web app (the ``fv_session`` cookie) whose role in the study allows :attr:`Action.UPLOAD` and who
sends the session's CSRF secret — in the ``X-CSRF-Token`` header (the upload page's script), or
as the form's first field ``csrf`` (the same page without JavaScript), which the view reads
before any file (:func:`check_csrf_field`). A study the researcher is not a member of is
refused with exactly the words of one that does not exist. Both kinds pass the same form checks,
upload slots and refusal audit.

A request without a token is answered without a thread; a token lookup runs on the quick
pool, which uploads never occupy (``web/limits.py``), so refusals are answered at once even
while every upload slot is taken. Each refusal is audited (``upload.rejected``, stage
``before-body``) within the caller's :class:`~fieldvault.web.limits.AuditBudget`.
"""

from __future__ import annotations

import datetime as dt
import email.message
import logging
from dataclasses import dataclass

from aiohttp import BodyPartReader, MultipartReader, web

from fieldvault.domain import accounts
from fieldvault.domain.accounts import Researcher, SessionInvalid
from fieldvault.domain.api_tokens import InvalidApiToken, authorise
from fieldvault.domain.errors import StudyNotFound
from fieldvault.domain.permissions import Action
from fieldvault.domain.upload_refusals import record_refused_upload
from fieldvault.errors import NotFoundError
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from fieldvault.web.keys import AUDIT_BUDGET, CLOCK, EXECUTOR, SERVICES, UPLOAD_LIMIT, UPLOAD_SLOTS
from fieldvault.web.researcher.access import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_matches
from fieldvault.web.uploads import UploadTooLarge

log = logging.getLogger("fieldvault.web")

# Multipart boundaries and part headers on top of the audio bytes, allowed in Content-Length.
FORM_OVERHEAD = 1024 * 1024
# The audit's word for each refusal answered with a plain HTTP status.
_HTTP_REASONS = {400: "bad-form", 401: "unauthorized", 415: "unsupported-type", 429: "busy"}
MAX_CSRF = 128  # the session's secret is 43 characters; anything much longer is no secret


class LoginNeeded(web.HTTPUnauthorized):
    """The session cookie is unknown, ended or expired."""

    def __init__(self) -> None:
        """Say what to do: log in again in the browser."""
        super().__init__(
            text="you are not logged in, or your session has expired; log in again and "
            "send the upload again"
        )


class UploadForbidden(web.HTTPForbidden):
    """The researcher's role in the study does not allow uploads."""

    def __init__(self) -> None:
        """One message: which roles may upload is the study owner's business."""
        super().__init__(
            text="your role in this study does not allow uploading recordings; ask the "
            "study's owner"
        )


class CsrfRefused(web.HTTPForbidden):
    """A logged-in upload without the session's CSRF secret (a forged or stale form)."""

    def __init__(self) -> None:
        """The ``error`` word of the answer is ``csrf``."""
        super().__init__(
            reason="CSRF",
            text="the upload form is out of date or was not sent from fieldvault; reload the "
            "page and send it again",
        )


@dataclass(frozen=True)
class Caller:
    """Who sends an upload: an API token, or a logged-in researcher of the study."""

    slot: int | str  # the key of its upload slots: the token's id, or "researcher:<id>"
    actor: str | None = None  # whom the audit names; None: the source ("web")
    csrf: str | None = None  # the session's secret, still to come as the form's first field


@dataclass
class _Known:
    """What the checks learnt about the caller before one refused (for its audit)."""

    budget: str = "anonymous"
    actor: str | None = None
    study_ok: bool = False  # the caller may name the study: the audit records it and the code


def bearer(request: web.Request) -> str | None:
    """The bearer token of the request, if it sends one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authorise(services: Services, token: str, study_id: str, now: dt.datetime) -> int:
    with transaction(services.research) as session:
        return authorise(session, token, study_id, now).id


def _boundary(request: web.Request) -> str:
    message = email.message.Message()
    message["Content-Type"] = request.headers.get("Content-Type", "")
    boundary = message.get_param("boundary")
    return boundary if isinstance(boundary, str) else ""


async def _token(request: web.Request) -> int:
    token = bearer(request)
    if token is None:
        raise InvalidApiToken("the API token is missing, unknown or revoked")
    services, study_id = request.app[SERVICES], request.match_info["study"]
    now = request.app[CLOCK]()
    return await request.app[EXECUTOR].run(lambda: _authorise(services, token, study_id, now))


def _form(request: web.Request) -> None:
    limit = request.app[UPLOAD_LIMIT]
    if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
        raise UploadTooLarge(limit)
    if request.content_type != "multipart/form-data":
        raise web.HTTPUnsupportedMediaType(
            text="send the recording as multipart/form-data, e.g. "
            "curl -F file=@interview.m4a -F language=nb …"
        )
    if not _boundary(request):
        raise web.HTTPBadRequest(
            text="the Content-Type multipart/form-data has no boundary parameter; let the "
            "client build the form (curl -F file=@interview.m4a) rather than setting the "
            "header by hand"
        )


def _session(services: Services, token: str, now: dt.datetime) -> tuple[Researcher, str]:
    with transaction(services.research) as session:
        return accounts.resolve_session(session, token, now)


async def _researcher(request: web.Request, known: _Known) -> Caller:
    """The logged-in researcher as a caller: session, membership, role, CSRF header."""
    services, study_id = request.app[SERVICES], request.match_info["study"]
    token, now = request.cookies.get(SESSION_COOKIE, ""), request.app[CLOCK]()
    try:
        who, secret = await request.app[EXECUTOR].run(lambda: _session(services, token, now))
    except SessionInvalid:
        raise LoginNeeded() from None
    known.budget = known.actor = who.actor
    if study_id not in who.roles:
        # Rule 6: not a member answers exactly like a study that does not exist (get_study's).
        raise StudyNotFound(f"no study {study_id!r}", study_id=study_id)
    known.study_ok = True
    if not who.may(study_id, Action.UPLOAD):
        raise UploadForbidden()
    header = request.headers.get(CSRF_HEADER)
    if header is not None and not csrf_matches(secret, header):
        raise CsrfRefused()
    return Caller(slot=who.actor, actor=who.actor, csrf=None if header is not None else secret)


async def _caller(request: web.Request, known: _Known) -> Caller:
    if bearer(request) is None and request.cookies.get(SESSION_COOKIE):
        return await _researcher(request, known)
    token_id = await _token(request)
    known.budget, known.study_ok = str(token_id), True
    return Caller(slot=token_id)


async def admit(request: web.Request) -> Caller:
    """Who may start this upload: token or session, declared size, type, a free slot.

    A bearer token wins over a session cookie; without either, the token's refusal. Anything
    refused is audited, then raised for the error answer.
    """
    known = _Known()
    try:
        caller = await _caller(request, known)
        _form(request)
        request.app[UPLOAD_SLOTS].check(caller.slot)
    except Exception as exc:
        await _audit(request, exc, known)
        raise
    return caller


async def _first_field(reader: MultipartReader) -> str | None:
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != CSRF_FIELD or part.filename:
        return None
    value = b""
    while chunk := await part.read_chunk(MAX_CSRF + 1):
        value += chunk
        if len(value) > MAX_CSRF:
            return None
    return value.decode("ascii", errors="replace").strip()


async def check_csrf_field(request: web.Request, reader: MultipartReader, caller: Caller) -> None:
    """For a session upload sent as a plain form: its first field must be the CSRF secret.

    Only that field is read (at most a few hundred bytes of the body) before the refusal,
    which is audited like those before the body.
    """
    if caller.csrf is None:
        return
    given = await _first_field(reader)
    if given is None or not csrf_matches(caller.csrf, given):
        exc = CsrfRefused()
        await _audit(request, exc, _Known(str(caller.slot), caller.actor, study_ok=True))
        raise exc


def _reason(exc: Exception) -> str | None:
    if isinstance(exc, InvalidApiToken | LoginNeeded):
        return "unauthorized"
    if isinstance(exc, UploadForbidden):
        return "forbidden"
    if isinstance(exc, CsrfRefused):
        return "csrf"
    if isinstance(exc, NotFoundError):
        return "not-found"
    if isinstance(exc, UploadTooLarge):
        return "too-large"
    if isinstance(exc, web.HTTPException):
        return _HTTP_REASONS.get(exc.status, str(exc.status))
    return None  # a failure, not a refusal: the error answer logs it


async def _audit(request: web.Request, exc: Exception, known: _Known) -> None:
    """Audit a refusal within the caller's budget; a failing audit never changes the answer."""
    reason = _reason(exc)
    if reason is None:
        return
    skipped = request.app[AUDIT_BUDGET].take(known.budget)
    if skipped is None:
        return
    services, now = request.app[SERVICES], request.app[CLOCK]()
    authorised = known.study_ok
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "?"

    def write() -> None:
        with transaction(services.research) as session:
            record_refused_upload(
                session,
                reason=reason,
                route=route,
                now=now,
                source="web",
                study_id=request.match_info["study"] if authorised else None,
                code=request.match_info["code"] if authorised else None,
                suppressed=skipped,
                actor=known.actor,
            )

    try:
        await request.app[EXECUTOR].run(write)
    except Exception as error:
        log.warning("a refused upload could not be audited (%s)", type(error).__name__)
