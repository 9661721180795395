"""Whether an upload may start: the checks before its body, and the audit of what they refuse.

A request without a token is answered without a thread; a token lookup runs on the quick
pool, which uploads never occupy (``web/limits.py``), so refusals are answered at once even
while every upload slot is taken. Each refusal is audited (``upload.rejected``, stage
``before-body``) within the caller's :class:`~fieldvault.web.limits.AuditBudget`.
"""

from __future__ import annotations

import datetime as dt
import email.message
import logging

from aiohttp import web

from fieldvault.domain.api_tokens import InvalidApiToken, authorise
from fieldvault.domain.upload_refusals import record_refused_upload
from fieldvault.errors import NotFoundError
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from fieldvault.web.keys import AUDIT_BUDGET, CLOCK, EXECUTOR, SERVICES, UPLOAD_LIMIT, UPLOAD_SLOTS
from fieldvault.web.uploads import UploadTooLarge

log = logging.getLogger("fieldvault.web")

# Multipart boundaries and part headers on top of the audio bytes, allowed in Content-Length.
FORM_OVERHEAD = 1024 * 1024
# The audit's word for each refusal answered with a plain HTTP status.
_HTTP_REASONS = {400: "bad-form", 415: "unsupported-type", 429: "busy"}


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


async def admit(request: web.Request) -> int:
    """The token's id when the upload may start: token, declared size, type, a free slot.

    Anything refused is audited, then raised for the error answer.
    """
    token_id: int | None = None
    try:
        token_id = await _token(request)
        _form(request)
        request.app[UPLOAD_SLOTS].check(token_id)
    except Exception as exc:
        await _audit(request, exc, token_id)
        raise
    return token_id


def _reason(exc: Exception) -> str | None:
    if isinstance(exc, InvalidApiToken):
        return "unauthorized"
    if isinstance(exc, NotFoundError):
        return "not-found"
    if isinstance(exc, UploadTooLarge):
        return "too-large"
    if isinstance(exc, web.HTTPException):
        return _HTTP_REASONS.get(exc.status, str(exc.status))
    return None  # a failure, not a refusal: the error answer logs it


async def _audit(request: web.Request, exc: Exception, token_id: int | None) -> None:
    """Audit a refusal within the caller's budget; a failing audit never changes the answer."""
    reason = _reason(exc)
    if reason is None:
        return
    skipped = request.app[AUDIT_BUDGET].take("anonymous" if token_id is None else str(token_id))
    if skipped is None:
        return
    services, now = request.app[SERVICES], request.app[CLOCK]()
    authorised = token_id is not None
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
            )

    try:
        await request.app[EXECUTOR].run(write)
    except Exception as error:
        log.warning("a refused upload could not be audited (%s)", type(error).__name__)
