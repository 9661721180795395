"""Thin views: parse the request, call the domain in a worker thread, render JSON."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar, cast

from aiohttp import HttpVersion11, MultipartReader, StreamReader, web

from fieldvault import __version__, metrics
from fieldvault.domain.recordings import accept_recording, speaker_label
from fieldvault.storage.readiness import storage_probes
from fieldvault.storage.services import Services
from fieldvault.web.admission import admit
from fieldvault.web.errors import answer
from fieldvault.web.keys import (
    CLOCK,
    DISPATCH,
    EXECUTOR,
    LIMITS,
    PROBES,
    SERVICES,
    UPLOAD_LIMIT,
    UPLOAD_POOL,
    UPLOAD_SLOTS,
    Probes,
)
from fieldvault.web.limits import StallGuard
from fieldvault.web.uploads import Files, FormFields, stream_upload

log = logging.getLogger("fieldvault.web")

T = TypeVar("T")

# How long /api/ready waits for each store before it calls it not ready.
READY_TIMEOUT_S = 3.0


def _blocking(request: web.Request) -> Callable[[Callable[[], T]], asyncio.Future[T]]:
    """Run a quick blocking callable (a lookup, an audit line) on the app's quick pool."""
    return request.app[EXECUTOR].run


def _uploading(request: web.Request) -> Callable[[Callable[[], T]], asyncio.Future[T]]:
    """Run the domain's read of an upload on the upload pool (one thread per upload slot)."""
    return request.app[UPLOAD_POOL].run


def _accept(
    services: Services,
    study_id: str,
    code: str,
    files: Files,
    fields: FormFields,
    now: dt.datetime,
) -> dict[str, Any]:
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=files,
        language=fields.language,
        source="web",
        now=now,
        speakers=fields.speakers,
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
        "speakers": recording.speakers,
        "transcription": "queued",
    }


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers (no database round trip, nothing about studies)."""
    return web.json_response({"status": "ok", "version": __version__})


async def _probe(check: Callable[[], object]) -> str:
    """``ok``, or why not in words without detail (no URL, host or message: no secrets)."""
    try:
        # Off the app's pools: a hanging database must not take a thread uploads need.
        await asyncio.wait_for(asyncio.to_thread(check), READY_TIMEOUT_S)
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


async def ready(request: web.Request) -> web.Response:
    """Readiness: 503 when a store does not answer, or while uploads or quick work are full.

    Checked on each call: the research database and the vault (``SELECT 1``), the blob store
    (one HEAD or stat) and the queue (a Redis PING, or a count in the SQLite queue).
    """
    slots, quick = request.app[UPLOAD_SLOTS], request.app[EXECUTOR]
    handed_in: Probes = request.app[PROBES]
    checks = storage_probes(request.app[SERVICES]) | handed_in
    answers = await asyncio.gather(*(_probe(check) for check in checks.values()))
    parts = dict(zip(checks, answers, strict=True))
    down = any(answer != "ok" for answer in answers)
    saturated = slots.in_flight >= slots.total or quick.queued >= quick.threads
    return web.json_response(
        {
            "status": "not-ready" if down else "saturated" if saturated else "ready",
            "checks": parts,
            "uploads": {"in_flight": slots.in_flight, "limit": slots.total},
            "executor": {"queued": quick.queued, "threads": quick.threads},
        },
        status=503 if down or saturated else 200,
    )


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus metrics of this process (counts and durations; no identity, no study data)."""
    body = await asyncio.to_thread(metrics.exposition)
    response = web.Response(body=body)
    response.headers["Content-Type"] = metrics.CONTENT_TYPE_LATEST
    return response


@functools.cache
def _openapi_document() -> dict[str, Any]:
    text = resources.files("fieldvault.web").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    document["info"]["version"] = __version__
    return document


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    return web.json_response(_openapi_document())


def _body(request: web.Request) -> MultipartReader:
    """The multipart reader over the body, each read under the body-progress deadline."""
    guarded = StallGuard(request.content, request.app[LIMITS].body_timeout)
    return MultipartReader(
        request.headers,
        cast(StreamReader, guarded),
        max_field_size=request.protocol.max_field_size,
        max_headers=request.protocol.max_headers,
    )


async def expect_upload(request: web.Request) -> web.StreamResponse | None:
    """Say ``100 Continue`` only after the preflight, so a refused client sends no body."""
    if request.version != HttpVersion11:
        return None
    if request.headers.get("Expect", "").lower() != "100-continue":
        return answer(request, web.HTTPExpectationFailed(text="only Expect: 100-continue"))
    try:
        await admit(request)
    except Exception as exc:
        return answer(request, exc)
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the 100 is not part of the response proper
    return None


async def upload_recording(request: web.Request) -> web.Response:
    """Stream one interview's audio file(s) into the encrypted store and queue transcription."""
    services = request.app[SERVICES]
    study_id, code = request.match_info["study"], request.match_info["code"]
    # Again after an Expect handshake too: it costs one indexed lookup and keeps this
    # handler safe on its own.
    token_id = await admit(request)
    with request.app[UPLOAD_SLOTS].hold(token_id):
        body = await stream_upload(
            _body(request),
            limit=request.app[UPLOAD_LIMIT],
            run_blocking=_uploading(request),
            accept=lambda files, fields: _accept(
                services, study_id, code, files, fields, request.app[CLOCK]()
            ),
        )
    metrics.UPLOADS.inc()
    metrics.UPLOAD_BYTES.inc(request.content.total_bytes)
    try:
        await _blocking(request)(request.app[DISPATCH])
    except Exception as exc:  # stored safely; the next worker sweep queues it
        log.warning(
            "recording %s stored; queueing failed (%s)",
            body["recording_id"],
            type(exc).__name__,
        )
    return web.json_response(body, status=201)
