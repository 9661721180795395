"""A soak: uploads, web consents and deletion sweeps at once on 127.0.0.1, for a bounded time.

Each kind of work runs in its own loop against one real server and one real database: three
informants at a time walk the consent pages, a researcher's client uploads recordings for
consented participants, and a thread runs the retention sweep over a second study whose end
date has passed, adding a fresh informant with identity and content between sweeps (each sweep
has real deletions to do). Afterwards nothing is lost, nothing is duplicated, the ended study's
identities and data keys are gone, and the audit chain verifies.

``FIELDVAULT_SOAK_SECONDS`` sets how long the loops run (default 40 s per backend).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import threading
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import Select, func, select
from yarl import URL

from fieldvault.domain import api_tokens, consent
from fieldvault.domain.participants import get_participant
from fieldvault.domain.retention import run_sweep
from fieldvault.domain.retention.sweep import SweepBusy
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    ConsentRecord,
    Participant,
    Recording,
    TranscriptionJob,
    VaultIdentity,
    WrappedDataKey,
)
from fieldvault.storage.services import Services
from fieldvault.web.app import create_app
from fieldvault.web.consent.security import AccessLogger, Throttle

from .conftest import NOW
from .recording_helpers import DATA, participant
from .test_retention import add_informant, register_variant

SECONDS = float(os.environ.get("FIELDVAULT_SOAK_SECONDS", "40"))
MAX_ROUNDS = 400  # per loop: the time bound is the usual stop, this one the guarantee
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ANSWERS = {"item-interview-recording": "yes", "item-identifiable-publication": "no"}
CLIP = (DATA / "interview_en.ogg").read_bytes()
UPLOAD = "/api/studies/{study}/participants/{code}/recordings"
# The second study ends a fortnight after the web clock's "now"; the sweep runs a month later.
ENDING_ON = NOW.date() + dt.timedelta(days=14)
SWEEP_AT = NOW + dt.timedelta(days=31)


class Tally:
    """What the loops were told happened, to compare with what the databases hold."""

    def __init__(self) -> None:
        self.receipts = 0
        self.uploads: Counter[str] = Counter()  # participant code -> recordings accepted
        self.interrupted = 0  # uploads the sweep cleaned up as abandoned (its clock is ahead)
        self.sweeps = 0
        self.ended_informants = 0
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []


async def _consent_loop(
    base: URL, services: Services, study_id: str, tally: Tally, end: float
) -> None:
    """Informants, one after another, from invite to receipt on the web pages."""
    loop = asyncio.get_running_loop()
    for _ in range(MAX_ROUNDS):
        if loop.time() > end:
            return
        with transaction(services.research) as session:
            [invite] = consent.create_invites(session, study_id, 1, dt.timedelta(days=7), NOW)
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
            join = await _page(http, "GET", f"/join/{invite}", tally)
            location = await _form(http, f"/join/{invite}", join, {"lang": "nb"}, tally)
            page = location.removesuffix("/letter")
            await _page(http, "GET", location, tally)  # the letter is read first
            items = await _page(http, "GET", f"{page}/items", tally)
            confirm = await _page(
                http, "POST", f"{page}/confirm", tally, _with_csrf(items, ANSWERS)
            )
            done = await _form(http, f"{page}/confirm", confirm, {**ANSWERS, "record": "1"}, tally)
            assert done == f"{page}/receipt", done
            await _page(http, "GET", done, tally)
            tally.receipts += 1


def _with_csrf(page: str, data: dict[str, str]) -> dict[str, str]:
    match = CSRF.search(page)
    assert match is not None, page[:300]
    return {**data, "csrf": match.group(1)}


async def _page(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    tally: Tally,
    data: dict[str, str] | None = None,
) -> str:
    async with http.request(method, path, data=data, allow_redirects=False) as response:
        tally.statuses[response.status] += 1
        text = await response.text()
        assert response.status == 200, (path, response.status, text[:300])
        return text


async def _form(
    http: aiohttp.ClientSession, path: str, page: str, data: dict[str, str], tally: Tally
) -> str:
    async with http.post(path, data=_with_csrf(page, data), allow_redirects=False) as response:
        tally.statuses[response.status] += 1
        assert response.status == 303, (path, response.status, (await response.text())[:300])
        return response.headers["Location"]


async def _upload_loop(
    base: URL, study_id: str, codes: list[str], token: str, tally: Tally, end: float
) -> None:
    """A researcher's client uploading recordings, one participant after another."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base) as http:
        for round_ in range(MAX_ROUNDS):
            if loop.time() > end:
                return
            code = codes[round_ % len(codes)]
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("language", "en")
            form.add_field("file", CLIP, filename="interview.ogg", content_type="audio/ogg")
            async with http.post(
                UPLOAD.format(study=study_id, code=code),
                data=form,
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                tally.statuses[response.status] += 1
                body = await response.text()
                if response.status == 409 and '"interrupted"' in body:
                    # The sweep's clock is a month ahead of the web's, so an upload in flight
                    # looks abandoned to it: refused whole, and sent again, as a client would.
                    tally.interrupted += 1
                    continue
                assert response.status == 201, (response.status, body[:300])
                tally.uploads[code] += 1


def _sweep_loop(services: Services, ended_study: str, tally: Tally, stop: threading.Event) -> None:
    """Sweep as a worker would, adding an informant to the ended study before each sweep."""
    try:
        for n in range(MAX_ROUNDS):
            if stop.is_set():
                return
            add_informant(services, ended_study, 100 + n)
            tally.ended_informants += 1
            try:
                run_sweep(services, SWEEP_AT)
            except SweepBusy:  # pragma: no cover - only this thread sweeps
                continue
            tally.sweeps += 1
            stop.wait(0.2)
    except Exception as exc:
        tally.errors.append(f"sweep: {type(exc).__name__}: {exc}")


def _count(services: Services, query: Select[int]) -> int:
    with transaction(services.research) as session:
        return int(session.scalar(query) or 0)


def _vault_count(
    services: Services, model: type[VaultIdentity] | type[WrappedDataKey], study_id: str
) -> int:
    with services.vault_sessions() as session:
        query = select(func.count()).select_from(model).where(model.study_id == study_id)
        return int(session.scalar(query) or 0)


@pytest.mark.slow
def test_uploads_consents_and_sweeps_at_once_lose_nothing_and_duplicate_nothing(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    ended = register_variant(services, "soak-ending", ENDING_ON)
    codes = [participant(services, study_id) for _ in range(3)]
    with transaction(services.research) as session:
        token = api_tokens.create_token(session, study_id, "soak laptop", NOW)
    consented_before = _count(
        services,
        select(func.count())
        .select_from(ConsentRecord)
        .join(Participant)
        .where(Participant.study_id == study_id),
    )
    tally = Tally()
    stop = threading.Event()

    async def main() -> None:
        # No throttle worth the name: the soak's informants all come from 127.0.0.1.
        app = create_app(services, clock=lambda: NOW, consent_throttle=Throttle(limit=100_000))
        runner = web.AppRunner(app, access_log_class=AccessLogger)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base = URL.build(scheme="http", host=host, port=port)
        sweeper = threading.Thread(target=_sweep_loop, args=(services, ended, tally, stop))
        sweeper.start()
        end = asyncio.get_running_loop().time() + SECONDS
        try:
            async with asyncio.timeout(SECONDS + 120):
                await asyncio.gather(
                    *(_consent_loop(base, services, study_id, tally, end) for _ in range(3)),
                    _upload_loop(base, study_id, codes, token, tally, end),
                )
        finally:
            stop.set()
            await asyncio.to_thread(sweeper.join, 120)
            await runner.cleanup()

    asyncio.run(main())

    assert tally.errors == []
    assert tally.receipts >= 3 and sum(tally.uploads.values()) >= 3 and tally.sweeps >= 2, tally
    assert not [s for s in tally.statuses if s >= 500], tally.statuses
    # Nothing lost, nothing duplicated: one consent record per receipt, one recording and one
    # job per accepted upload, for the participant it was sent for.
    web_records = _count(
        services,
        select(func.count())
        .select_from(ConsentRecord)
        .join(Participant)
        .where(Participant.study_id == study_id, ConsentRecord.channel == "web"),
    )
    assert web_records == tally.receipts
    total = _count(
        services,
        select(func.count())
        .select_from(ConsentRecord)
        .join(Participant)
        .where(Participant.study_id == study_id),
    )
    assert total == consented_before + tally.receipts
    with transaction(services.research) as session:
        for code, accepted in tally.uploads.items():
            person = get_participant(session, study_id, code)
            held = session.scalar(
                select(func.count())
                .select_from(Recording)
                .where(Recording.participant_id == person.id)
            )
            jobs = session.scalar(
                select(func.count())
                .select_from(TranscriptionJob)
                .join(Recording)
                .where(Recording.participant_id == person.id)
            )
            assert (held, jobs) == (accepted, accepted), code
    # One last sweep after the loops: every informant the ended study got is destroyed in the
    # vault, and the research data (participants) stays.
    run_sweep(services, SWEEP_AT)
    assert _vault_count(services, VaultIdentity, ended) == 0
    assert _vault_count(services, WrappedDataKey, ended) == 0
    assert (
        _count(
            services,
            select(func.count()).select_from(Participant).where(Participant.study_id == ended),
        )
        == tally.ended_informants
    )
    with transaction(services.research) as session:
        assert audit.verify(session).ok
