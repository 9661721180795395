"""Thin views: parse the request, call the domain in a worker thread, render JSON."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar, cast
from urllib.parse import quote

from aiohttp import HttpVersion11, MultipartReader, StreamReader, web
from yarl import URL

from fieldvault import __version__, metrics
from fieldvault.domain.interviews import InterviewError, InterviewFacts, parse_interview_date
from fieldvault.domain.recordings import RecordingRefused, accept_recording, speaker_label
from fieldvault.storage.readiness import storage_probes
from fieldvault.storage.services import Services
from fieldvault.web.admission import admit, bearer, check_csrf_field
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
from fieldvault.web.researcher.access import CSRF_HEADER, SESSION_COOKIE
from fieldvault.web.uploads import BadForm, Files, UploadFields, stream_upload

log = logging.getLogger("fieldvault.web")

T = TypeVar("T")

# A participant code as the intake makes them (only such a code goes back into a redirect).
CODE = re.compile(r"[A-Za-z0-9-]{1,32}")
# How long /api/ready waits for each store before it calls it not ready.
READY_TIMEOUT_S = 3.0


def _blocking(request: web.Request) -> Callable[[Callable[[], T]], asyncio.Future[T]]:
    """Run a quick blocking callable (a lookup, an audit line) on the app's quick pool."""
    return request.app[EXECUTOR].run


def _uploading(request: web.Request) -> Callable[[Callable[[], T]], asyncio.Future[T]]:
    """Run the domain's read of an upload on the upload pool (one thread per upload slot)."""
    return request.app[UPLOAD_POOL].run


def _interview(fields: UploadFields) -> InterviewFacts:
    """The form's interview fields as facts (the domain checks them against the study)."""
    host: int | None = None
    if fields.host_track is not None:
        if not fields.host_track.isdigit() or int(fields.host_track) < 1:
            raise BadForm("the 'host_track' field is the number of the host's file, from 1")
        host = int(fields.host_track) - 1
    try:
        date = parse_interview_date(fields.interview_date) if fields.interview_date else None
    except InterviewError as exc:
        raise RecordingRefused(str(exc), "bad-interview") from None
    return InterviewFacts(date, fields.interviewer, fields.mode, host)


def _accept(
    services: Services,
    study_id: str,
    code: str,
    files: Files,
    fields: UploadFields,
    now: dt.datetime,
    actor: str | None,
) -> dict[str, Any]:
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=files,
        language=fields.language,
        source="web",
        now=now,
        interview=_interview(fields),
        actor=actor,
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
        "interview": {
            "date": recording.interview_date.isoformat() if recording.interview_date else None,
            "date_source": recording.interview_date_source,
            "interviewer": recording.interviewer,
            "mode": recording.interview_mode,
            "host_track": (recording.host_track or 0) + 1,
        },
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


def _plain_form(request: web.Request) -> bool:
    """A browser's own form post from the upload page (no script): answered with redirects."""
    return (
        bearer(request) is None
        and CSRF_HEADER not in request.headers
        and bool(request.cookies.get(SESSION_COOKIE))
        and "text/html" in request.headers.get("Accept", "")
    )


async def upload_recording(request: web.Request) -> web.Response:
    """Stream one interview's audio file(s) into the encrypted store and queue transcription."""
    if not _plain_form(request):
        return web.json_response(await _upload(request), status=201)
    study_id, code = request.match_info["study"], request.match_info["code"]
    try:
        await _upload(request)
    except Exception as exc:
        # The JSON answer's ``error`` word, which the upload page shows in words.
        error = json.loads(cast(bytes, answer(request, exc).body))["error"]
        query = {"participant": code, "refused": error} if CODE.fullmatch(code) else {}
        location = URL(f"/studies/{quote(study_id, safe='')}/upload").with_query(query)
        raise web.HTTPSeeOther(str(location)) from None
    raise web.HTTPSeeOther(f"/studies/{quote(study_id, safe='')}/jobs")


async def _upload(request: web.Request) -> dict[str, Any]:
    services = request.app[SERVICES]
    study_id, code = request.match_info["study"], request.match_info["code"]
    # Again after an Expect handshake too: it costs one indexed lookup and keeps this
    # handler safe on its own.
    caller = await admit(request)
    with request.app[UPLOAD_SLOTS].hold(caller.slot):
        reader = _body(request)
        await check_csrf_field(request, reader, caller)
        body = await stream_upload(
            reader,
            limit=request.app[UPLOAD_LIMIT],
            run_blocking=_uploading(request),
            accept=lambda files, fields: _accept(
                services, study_id, code, files, fields, request.app[CLOCK](), caller.actor
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
    return body
