"""Thin views: parse the request, call the domain in a worker thread, render JSON."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar

from aiohttp import HttpVersion11, web

from fieldvault import __version__
from fieldvault.domain.api_tokens import authorise
from fieldvault.domain.recordings import accept_recording, speaker_label
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from fieldvault.web.errors import answer
from fieldvault.web.keys import CLOCK, DISPATCH, EXECUTOR, SERVICES, UPLOAD_LIMIT
from fieldvault.web.uploads import Files, UploadTooLarge, stream_upload

log = logging.getLogger("fieldvault.web")

T = TypeVar("T")
# Multipart boundaries and part headers on top of the audio bytes, allowed in Content-Length.
FORM_OVERHEAD = 1024 * 1024


def _blocking(request: web.Request) -> Callable[[Callable[[], T]], asyncio.Future[T]]:
    """Run a blocking callable (database, domain) on the app's thread pool."""
    loop = asyncio.get_running_loop()
    executor = request.app[EXECUTOR]
    return lambda fn: loop.run_in_executor(executor, fn)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authorise(services: Services, token: str | None, study_id: str) -> None:
    with transaction(services.research) as session:
        authorise(session, token, study_id)


def _accept(
    services: Services,
    study_id: str,
    code: str,
    files: Files,
    language: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=files,
        language=language,
        source="web",
        now=now,
    )
    tracks = sorted(recording.tracks, key=lambda t: t.position)
    return {
        "recording_id": recording.id,
        "tracks": [
            {
                "position": t.position,
                "speaker": speaker_label(t.position, len(tracks)),
                "container": t.container,
                "codec": t.codec,
                "duration_s": round(t.duration_s, 2),
            }
            for t in tracks
        ],
        "duration_s": round(recording.duration_s, 2),
        "language": recording.language or "detect",
        "transcription": "queued",
    }


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers (no database round trip, nothing about studies)."""
    return web.json_response({"status": "ok", "version": __version__})


@functools.cache
def _openapi_document() -> dict[str, Any]:
    text = resources.files("fieldvault.web").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    document["info"]["version"] = __version__
    return document


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    return web.json_response(_openapi_document())


async def _preflight(request: web.Request) -> None:
    """What can be refused before a byte of the body is read: token, declared size, type."""
    services = request.app[SERVICES]
    limit = request.app[UPLOAD_LIMIT]
    study_id = request.match_info["study"]
    await _blocking(request)(lambda: _authorise(services, _bearer(request), study_id))
    if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
        raise UploadTooLarge(limit)
    if request.content_type != "multipart/form-data":
        raise web.HTTPUnsupportedMediaType(
            text="send the recording as multipart/form-data, e.g. "
            "curl -F file=@interview.m4a -F language=nb …"
        )


async def expect_upload(request: web.Request) -> web.StreamResponse | None:
    """Say ``100 Continue`` only after the preflight, so a refused client sends no body."""
    if request.version != HttpVersion11:
        return None
    if request.headers.get("Expect", "").lower() != "100-continue":
        return answer(request, web.HTTPExpectationFailed(text="only Expect: 100-continue"))
    try:
        await _preflight(request)
    except Exception as exc:
        return answer(request, exc)
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the 100 is not part of the response proper
    return None


async def upload_recording(request: web.Request) -> web.Response:
    """Stream one interview's audio file(s) into the encrypted store and queue transcription."""
    services = request.app[SERVICES]
    study_id, code = request.match_info["study"], request.match_info["code"]
    run = _blocking(request)
    # Again after an Expect handshake too: it costs one indexed lookup and keeps this
    # handler safe on its own.
    await _preflight(request)
    body = await stream_upload(
        await request.multipart(),
        limit=request.app[UPLOAD_LIMIT],
        run_blocking=run,
        accept=lambda files, language: _accept(
            services, study_id, code, files, language, request.app[CLOCK]()
        ),
    )
    try:
        await run(request.app[DISPATCH])
    except Exception as exc:  # stored safely; the next worker sweep queues it
        log.warning(
            "recording %s stored; queueing failed (%s)",
            body["recording_id"],
            type(exc).__name__,
        )
    return web.json_response(body, status=201)
