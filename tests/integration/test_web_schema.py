"""Schemathesis against the web API's own OpenAPI document, on a real server on 127.0.0.1.

Every operation gets generated requests (valid and invalid: random study and participant
codes, forms with and without files, wrong types) with a valid token; no answer may be a 500
and every answer must be one the document describes (status, content type, body, headers).
The token is refused when left out (``ignored_auth``). Bounded: 50 examples an operation.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fieldvault.domain import api_tokens
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from fieldvault.web.app import create_app
from fieldvault.web.server import make_runner

from .conftest import NOW
from .recording_helpers import participant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]


def _served(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread of its own; yield its base URL."""
    loop = asyncio.new_event_loop()
    started: list[str] = []
    ready, stop = threading.Event(), asyncio.Event()

    async def main() -> None:
        runner = make_runner(app)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            started.append(f"http://{host}:{port}")
            ready.set()
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(timeout=30), "the server did not start"
    try:
        yield started[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()


def _operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_api_answers_as_its_openapi_document_says_and_never_500(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    with transaction(services.research) as session:
        token = api_tokens.create_token(session, study_id, "schemathesis", NOW)
    auth = {"Authorization": f"Bearer {token}"}
    statuses: dict[str, list[int]] = collections.defaultdict(list)
    for base in _served(create_app(services, clock=lambda: NOW)):
        schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json", timeout=10)
        operations = _operations(schema)
        # Schemathesis leaves out the document's own URL.
        assert {op.label for op in operations} >= {
            "GET /api/health",
            "GET /api/ready",
            "POST /api/studies/{study}/participants/{code}/recordings",
        }
        for operation in operations:
            real = {"study": study_id, "code": code} if operation.path_parameters else None
            cases = st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real),
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )

            @given(case=cases)
            @settings(
                max_examples=50,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            def answers_as_documented(case: schemathesis.Case) -> None:
                response = case.call_and_validate(headers=auth, checks=CHECKS, timeout=30)
                statuses[case.operation.label].append(response.status_code)

            answers_as_documented()
    # The upload got its 50 (the GETs take no input, so Hypothesis stops after a couple).
    assert len(statuses["POST /api/studies/{study}/participants/{code}/recordings"]) >= 25
