"""Every failure as a JSON answer with a status and a message a researcher can act on."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from fieldvault.domain.api_tokens import InvalidApiToken
from fieldvault.domain.errors import DomainError
from fieldvault.domain.recordings import RecordingRefused
from fieldvault.errors import NotFoundError, with_advice
from fieldvault.web.consent.security import loggable
from fieldvault.web.limits import UploadStalled
from fieldvault.web.uploads import BadForm, UploadInterrupted, UploadTooLarge

log = logging.getLogger("fieldvault.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The web's advice by error code (the domain says what is wrong; this says what to do here).
# Researchers create tokens and extend studies with the command line until the dashboard can.
ADVICE: dict[str, str] = {
    "api_token.invalid": (
        "create one with `fieldvault researcher api-token STUDY --label LABEL` and send it as "
        "'Authorization: Bearer <token>'"
    ),
    "recording.study-ended": (  # only before the sweep ended the study (it needs the date)
        "if Sikt has approved an end date later than {processing_end}, the study must be "
        "extended first (`fieldvault study extend`)"
    ),
    "recording.interrupted": "send the recording again",
    "recording.too-long": (
        "cut the recording into parts and upload each; the limit is the server's "
        "FIELDVAULT_MAX_RECORDING_HOURS"
    ),
    "recording.too-many-tracks": (
        "send at most {limit} files (one per speaker) per recording; the limit is the "
        "server's FIELDVAULT_MAX_RECORDING_TRACKS"
    ),
    "recording.bad-speakers": "send a 'speakers' field from 1 to {limit}, or leave it out",
}


def error_response(status: int, error: str, message: str) -> web.Response:
    """The JSON body every error has: a stable ``error`` word and a ``message`` for people."""
    return web.json_response({"error": error, "message": message}, status=status)


def _status(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, InvalidApiToken):
        return 401, "unauthorized"
    if isinstance(exc, NotFoundError):
        return 404, "not-found"
    if isinstance(exc, UploadTooLarge):
        return 413, "too-large"
    if isinstance(exc, UploadStalled):
        return 408, "stalled"
    if isinstance(exc, UploadInterrupted):
        return 400, "interrupted"
    if isinstance(exc, BadForm):
        return 422, "bad-form"
    if isinstance(exc, RecordingRefused):
        if exc.reason == "no-consent":
            return 403, "no-consent"
        if exc.reason == "study-ended":
            return 409, "study-ended"
        if exc.reason == "interrupted":
            return 409, "interrupted"
        if exc.reason in {"too-long", "too-many-tracks", "bad-interview", "bad-speakers"}:
            return 422, exc.reason
        return 422, "bad-audio"
    return 422, "refused"


def answer(request: web.Request, exc: Exception) -> web.Response:
    """The JSON answer to ``exc``; logs only what names nobody."""
    if isinstance(exc, web.HTTPException):
        response = error_response(exc.status, exc.reason.lower().replace(" ", "-"), exc.text or "")
        if "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    if isinstance(exc, DomainError | NotFoundError):
        status, error = _status(exc)
        # The message may hold a client's file name: the log gets the kind of error only.
        log.info("%s %s -> %s %s", request.method, loggable(request.path), status, error)
        response = error_response(status, error, with_advice(exc, ADVICE))
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="fieldvault"'
        return response
    log.error("%s %s failed: %s", request.method, loggable(request.path), type(exc).__name__)
    return error_response(
        500,
        "internal",
        "the server failed on this request; nothing was kept. The server log names the "
        "error type; try again or report it",
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn domain errors and HTTP errors into JSON answers."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return answer(request, exc)
    except Exception as exc:
        return answer(request, exc)
