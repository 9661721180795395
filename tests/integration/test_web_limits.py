"""Slow and hostile clients against a real server on 127.0.0.1: timeouts, slots, readiness."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from yarl import URL

from fieldvault.config.study import parse_study
from fieldvault.domain import api_tokens, studies
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    ApiToken,
    AuditEvent,
    BlobObject,
    Recording,
    Study,
    TranscriptionJob,
    as_utc,
)
from fieldvault.storage.services import Services
from fieldvault.web.app import create_app
from fieldvault.web.limits import WebLimits
from fieldvault.web.server import make_runner

from .conftest import EXAMPLE, NOW
from .recording_helpers import DATA, participant

SPEECH = (DATA / "interview_en.ogg").read_bytes()
PATH = "/api/studies/{study}/participants/{code}/recordings"

Scenario = Callable[[aiohttp.ClientSession, URL], Awaitable[None]]
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _serve(services: Services, scenario: Scenario, **app_options: Any) -> None:
    """Run ``scenario`` against the app served as ``fieldvault web`` serves it, on loopback."""

    async def main() -> None:
        runner = make_runner(create_app(services, **({"clock": lambda: NOW} | app_options)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            base = URL.build(scheme="http", host=host, port=port)
            async with aiohttp.ClientSession(base) as http:
                await scenario(http, base)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def _token(services: Services, study_id: str, label: str) -> str:
    with transaction(services.research) as session:
        return api_tokens.create_token(session, study_id, label, NOW)


async def _stalled_upload(base: URL, path: str, token: str) -> Connection:
    """Send an upload's head, its file part's head and 64 KiB of audio, then send nothing more."""
    reader, writer = await asyncio.open_connection(base.host, base.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=XyZ\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=file; filename=a.ogg\r\n\r\n"
    )
    writer.write(head.encode() + SPEECH[: 64 * 1024])
    await writer.drain()
    return reader, writer


async def _status(reader: asyncio.StreamReader, timeout: float = 10.0) -> tuple[int, str]:
    """The status and the head of the response on a raw connection."""
    async with asyncio.timeout(timeout):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    return int(head.split(" ", 2)[1]), head


async def _closed_by_server(reader: asyncio.StreamReader, timeout: float = 10.0) -> float:
    """Seconds until the server closes the connection (EOF), reading and dropping what comes."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while await reader.read(65536):
            pass
    return time.monotonic() - start


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


def _blob_files(services: Services) -> list[Path]:
    return [p for p in Path(services.settings.blob_path).rglob("*") if p.is_file()]


def _assert_nothing_kept(services: Services) -> None:
    assert _blob_files(services) == []
    with transaction(services.research) as session:
        for model in (BlobObject, Recording, TranscriptionJob):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def _rejection_reasons(services: Services) -> list[str]:
    with transaction(services.research) as session:
        return [
            e.details.get("reason", "")
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.event == audit.Event.UPLOAD_REJECTED)
            )
        ]


def test_eight_stalled_uploads_leave_refusals_and_readiness_answered_at_once(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    path = PATH.format(study=study_id, code=code)
    tokens = {name: _token(services, study_id, name) for name in "abcd"}

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        async def in_flight(n: int) -> bool:
            body = await (await http.get("/api/ready")).json()
            return bool(body["uploads"]["in_flight"] == n)

        held: list[Connection] = []
        refused: list[tuple[int, str]] = []
        for name, count in (("a", 2), ("b", 2), ("c", 2)):
            for _ in range(count):
                held.append(await _stalled_upload(base, path, tokens[name]))
                await _until(functools.partial(in_flight, len(held)))
        # A third upload on one token, and a fourth token when all six slots are taken.
        for name in "ad":
            reader, writer = await _stalled_upload(base, path, tokens[name])
            refused.append(await _status(reader))
            writer.close()
        assert [status for status, _ in refused] == [429, 429]
        assert all("Retry-After: 30" in head for _, head in refused)

        async with asyncio.timeout(1):
            anonymous = await http.post(path, data=b"x")
            assert anonymous.status == 401
            unknown = await http.post(path, data=b"x", headers={"Authorization": "Bearer fvt_x"})
            assert unknown.status == 401
            health = await http.get("/api/health")
            assert health.status == 200
            ready = await http.get("/api/ready")
            assert ready.status == 503
            body = await ready.json()
            assert body["status"] == "saturated"
            assert body["uploads"] == {"in_flight": 6, "limit": 6}
        for _, writer in held:
            writer.close()
        await _until(lambda: in_flight(0))
        assert (await http.get("/api/ready")).status == 200

    _serve(services, scenario)
    _assert_nothing_kept(services)
    assert _rejection_reasons(services).count("busy") == 2


def test_a_stalled_body_is_stopped_after_the_body_timeout_and_nothing_is_kept(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id, "IH laptop")

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        reader, writer = await _stalled_upload(base, PATH.format(study=study_id, code=code), token)
        started = time.monotonic()
        status, _ = await _status(reader)
        assert status == 408
        assert 0.4 <= time.monotonic() - started < 5
        writer.close()
        await writer.wait_closed()

    _serve(services, scenario, limits=WebLimits(body_timeout=0.5))
    _assert_nothing_kept(services)
    assert _rejection_reasons(services) == ["stalled"]


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    services: Services,
) -> None:
    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        reader, writer = await asyncio.open_connection(base.host, base.port)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        assert (await _status(reader))[0] == 200
        assert 0.4 <= await _closed_by_server(reader) < 5
        writer.close()

    _serve(services, scenario, limits=WebLimits(idle_timeout=0.5))


def test_a_connection_stalled_half_way_through_a_header_line_is_closed(
    services: Services,
) -> None:
    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        reader, writer = await asyncio.open_connection(base.host, base.port)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0")
        await writer.drain()
        assert await _closed_by_server(reader) < 5
        writer.close()

    _serve(services, scenario, limits=WebLimits(idle_timeout=0.5))


def test_request_paths_in_the_logs_are_escaped_and_cut_so_no_line_can_be_forged(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    paths = [
        "/api/%0Aforged%20line",
        "/api/%0D%0A2026-01-01%20INFO%20fieldvault.web:%20forged",
        "/api/nul%00here",
        "/api/%E2%80%AEtxt.exe",
        "/api/" + "A" * 4096,
        f"/api/studies/{study_id}/participants/%0Aforged/recordings",
    ]

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        for path in paths:
            response = await http.post(URL(path, encoded=True), data=b"x")
            assert response.status in (401, 404)
        # A request line aiohttp cannot parse is answered 400 and logged like any other.
        reader, writer = await asyncio.open_connection(base.host, base.port)
        writer.write(b"POST /api/a\nforged b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await _status(reader))[0] == 400
        writer.close()

    _serve(services, scenario)
    records = [r for r in caplog.records if r.name.startswith(("aiohttp", "fieldvault"))]
    assert not [r for r in records if r.levelno >= logging.ERROR]
    lines = [r.getMessage() for r in records]
    # One access line per forged path (two), the upload route's access and refusal lines.
    assert sum("forged" in line for line in lines) == 4
    assert sum(" 400 " in line for line in lines) == 1
    for line in lines:
        assert not any(ch in line for ch in "\n\r\x00\u202e"), repr(line)
        assert len(line) < 400
    assert any("\\nforged line" in line for line in lines)
    assert any("\\x00here" in line for line in lines)
    assert any("\\u202etxt.exe" in line for line in lines)
    assert any("…[4101 chars]" in line for line in lines)


def test_a_multipart_upload_without_a_boundary_is_answered_400_with_what_to_do(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id, "IH laptop")

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await http.post(
            PATH.format(study=study_id, code=code),
            data=b"--XyZ\r\n",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data"},
        )
        assert response.status == 400
        assert "no boundary" in (await response.json())["message"]

    _serve(services, scenario)
    _assert_nothing_kept(services)


def _empty_upload_status(services: Services, study_id: str, token: str, now: dt.datetime) -> Any:
    """(status, body) of an upload with no file, as the server sees it at ``now``."""
    code = participant(services, study_id)
    answers: list[tuple[int, dict[str, Any]]] = []

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("language", "en")
        response = await http.post(
            PATH.format(study=study_id, code=code),
            data=form,
            headers={"Authorization": f"Bearer {token}"},
        )
        answers.append((response.status, await response.json()))

    _serve(services, scenario, clock=lambda: now)
    return answers[0]


def test_an_api_token_is_refused_once_it_has_expired(services: Services, study_id: str) -> None:
    with transaction(services.research) as session:
        token = api_tokens.create_token(
            session, study_id, "IH laptop", NOW, valid_for=dt.timedelta(days=30)
        )
    day_29, day_30 = NOW + dt.timedelta(days=29), NOW + dt.timedelta(days=30)
    # Still valid on day 29: the token passes, the empty form is what is refused.
    assert _empty_upload_status(services, study_id, token, day_29)[0] == 422
    status, body = _empty_upload_status(services, study_id, token, day_30)
    assert status == 401 and "expired on 2021-03-31" in body["message"]
    assert "api-token" in body["message"]  # the advice: how to make a new one


def test_an_api_token_is_refused_once_its_study_has_ended(
    services: Services, study_id: str
) -> None:
    token = _token(services, study_id, "IH laptop")
    with transaction(services.research) as session:
        study = session.get(Study, study_id)
        assert study is not None
        study.ended_at = NOW  # what the deletion sweep sets at the end of the study
    status, body = _empty_upload_status(services, study_id, token, NOW)
    assert status == 401 and "study has ended" in body["message"]
    with (
        transaction(services.research) as session,
        pytest.raises(api_tokens.ApiTokenError, match="no new API tokens"),
    ):
        api_tokens.create_token(session, study_id, "new laptop", NOW)


def test_a_new_api_token_is_valid_for_90_days_by_default(services: Services, study_id: str) -> None:
    _token(services, study_id, "IH laptop")
    with transaction(services.research) as session:
        row = session.scalars(select(ApiToken)).one()
        assert as_utc(row.expires_at) == NOW + dt.timedelta(days=90)
    assert services.settings.api_token_days == 90


def _before_body_refusals(services: Services) -> list[AuditEvent]:
    with transaction(services.research) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.event == audit.Event.UPLOAD_REJECTED)
            .order_by(AuditEvent.seq)
        ).all()
        assert audit.verify(session).ok
        session.expunge_all()
    return [e for e in events if e.details.get("stage") == "before-body"]


def test_every_upload_refused_before_its_body_is_audited_without_the_token(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        f'id = "{study_id}"', 'id = "other-study"', 1
    )
    with transaction(services.research) as session:
        studies.register_study(session, parse_study(text), text, NOW)
    other, own = _token(services, "other-study", "other"), _token(services, study_id, "own")
    path = PATH.format(study=study_id, code=code)
    multipart = "multipart/form-data; boundary=XyZ"
    attempts = [
        ({}, multipart, 401),
        ({"Authorization": "Bearer fvt_not-a-token"}, multipart, 401),
        ({"Authorization": f"Bearer {other}"}, multipart, 404),
        ({"Authorization": f"Bearer {own}"}, "audio/ogg", 415),
        ({"Authorization": f"Bearer {own}"}, "multipart/form-data", 400),
    ]

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        for headers, content_type, status in attempts:
            response = await http.post(
                path, data=b"--XyZ--\r\n", headers=headers | {"Content-Type": content_type}
            )
            assert response.status == status, await response.text()
        large = await http.post(
            path,
            data=b"x" * (3 * 1024 * 1024),
            headers={"Authorization": f"Bearer {own}", "Content-Type": multipart},
        )
        assert large.status == 413

    _serve(services, scenario, max_upload_bytes=1024)
    events = _before_body_refusals(services)
    assert [e.details["reason"] for e in events] == [
        "unauthorized",
        "unauthorized",
        "not-found",
        "unsupported-type",
        "bad-form",
        "too-large",
    ]
    route = "/api/studies/{study}/participants/{code}/recordings"
    assert {e.details["route"] for e in events} == {route}
    # Who is not authorised for the study learns nothing into the chain; who is, is named.
    assert [(e.study_id, e.participant_code) for e in events[:3]] == [(None, None)] * 3
    assert {(e.study_id, e.participant_code) for e in events[3:]} == {(study_id, code)}
    everything = json.dumps([(e.details, e.actor) for e in events])
    assert own not in everything and other not in everything and "fvt_" not in everything


def test_a_flood_of_refused_uploads_is_audited_within_a_budget_that_counts_the_rest(
    services: Services, study_id: str
) -> None:
    path = PATH.format(study=study_id, code="P-000000")

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        for _ in range(10):
            assert (await http.post(path, data=b"x")).status == 401
        await asyncio.sleep(0.6)  # the budget's window (0.5 s) passes
        assert (await http.post(path, data=b"x")).status == 401

    _serve(services, scenario, limits=WebLimits(refusal_audits=3, refusal_audit_window=0.5))
    events = _before_body_refusals(services)
    assert len(events) == 4
    assert [e.details.get("suppressed", 0) for e in events] == [0, 0, 0, 7]
