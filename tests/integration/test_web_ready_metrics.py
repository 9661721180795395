"""/api/ready asks every store, /metrics counts what happened: a real server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import uuid

import aiohttp
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from fieldvault.metrics import OUTCOMES
from fieldvault.storage.db import make_engine, session_factory
from fieldvault.storage.services import Services
from fieldvault.workers.queue import Worker, build_huey

from ..conftest import PG_HOST, PG_PORT, PG_USER
from .recording_helpers import participant
from .test_retention_scheduler import ScriptEngine
from .test_web_upload import SPEECH, _post, _serve, _token

Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]
ALL_OK = {"research": "ok", "vault": "ok", "blobs": "ok", "queue": "ok"}


def test_ready_answers_200_when_the_databases_the_blob_store_and_the_queue_answer(
    services: Services,
) -> None:
    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await http.get("/api/ready")
        assert response.status == 200
        body = await response.json()
        assert body["status"] == "ready"
        assert body["checks"] == ALL_OK

    _serve(services, scenario)


def test_ready_answers_503_naming_the_vault_when_its_database_is_unreachable(
    services: Services, _postgres_admin: psycopg.Connection | str
) -> None:
    if isinstance(_postgres_admin, str):
        pytest.skip(f"PostgreSQL is not reachable: {_postgres_admin}")
    missing = f"fvtest_missing_{uuid.uuid4().hex[:12]}"  # a database that does not exist
    engine = make_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{missing}")
    broken = dataclasses.replace(services, vault_sessions=session_factory(engine))

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await http.get("/api/ready")
        assert response.status == 503
        text = await response.text()
        body = await response.json()
        assert body["status"] == "not-ready"
        assert body["checks"] == ALL_OK | {"vault": "unreachable (OperationalError)"}
        # Which part, never where it is or what the driver said.
        assert missing not in text and PG_HOST not in text and "does not exist" not in text

    try:
        _serve(broken, scenario)
    finally:
        engine.dispose()


def test_ready_answers_503_naming_the_queue_when_redis_does_not_answer(
    services: Services,
) -> None:
    # Port 1 on loopback: nothing listens there, so the PING is refused at once.
    settings = services.settings.model_copy(update={"queue_url": "redis://127.0.0.1:1/0"})

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await http.get("/api/ready")
        assert response.status == 503
        body = await response.json()
        assert body["checks"]["queue"] == "unreachable (ConnectionError)"
        assert body["checks"]["vault"] == "ok"

    _serve(dataclasses.replace(services, settings=settings), scenario)


def samples(text: str) -> Scrape:
    """Every sample of a scrape by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: Scrape, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_an_upload_its_bytes_and_its_job_and_name_no_study_or_code(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)
    scrapes: list[Scrape] = []
    texts: list[str] = []

    async def scrape(http: aiohttp.ClientSession) -> None:
        response = await http.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        texts.append(await response.text())
        scrapes.append(samples(texts[-1]))

    async def upload(http: aiohttp.ClientSession, base: URL) -> None:
        await scrape(http)
        response = await _post(http, study_id, code, token, ("interview_en.ogg", SPEECH))
        assert response.status == 201, await response.text()
        await scrape(http)

    _serve(services, upload)
    worker = Worker(services, build_huey(services.settings), lambda: ScriptEngine(script="Hi."))
    assert worker.run(until_idle=True, poll_s=0.01) >= 1

    async def after_job(http: aiohttp.ClientSession, base: URL) -> None:
        await scrape(http)

    _serve(services, after_job)
    before, uploaded, done = scrapes
    assert (
        value(uploaded, "fieldvault_uploads_total") == value(before, "fieldvault_uploads_total") + 1
    )
    grown = value(uploaded, "fieldvault_upload_bytes_total") - value(
        before, "fieldvault_upload_bytes_total"
    )
    assert len(SPEECH) <= grown < len(SPEECH) + 4096  # the body: the file and the form around it
    assert value(uploaded, "fieldvault_queue_depth") >= 1  # the job waits on the queue

    def transcriptions(scrape: Scrape) -> float:
        return sum(
            value(scrape, "fieldvault_jobs_total", task="transcribe", outcome=outcome)
            for outcome in OUTCOMES
        )

    assert transcriptions(done) == transcriptions(uploaded) + 1
    assert (
        value(done, "fieldvault_job_seconds_count", task="transcribe")
        == value(uploaded, "fieldvault_job_seconds_count", task="transcribe") + 1
    )
    assert "fieldvault_bot_update_seconds_count" in {name for name, _ in done}
    # Labels are task names and outcomes: the study and the participant appear nowhere.
    for text in texts:
        assert study_id not in text and code not in text
