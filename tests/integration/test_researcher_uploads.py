"""The upload, jobs and exports pages on the real app: session uploads, live jobs, downloads.

A logged-in researcher uploads through the API's own endpoint with the session cookie and the
CSRF header (or, as a plain form, the CSRF secret as the first field); every refusal is the
endpoint's own. The jobs page's event stream is read by a real client while a job row changes.
The export download is the CLI's export as one ZIP, audited under the researcher's name.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select, update
from yarl import URL

from fieldvault.compose import build_web_app
from fieldvault.config.study import parse_study
from fieldvault.domain import consent, recordings, studies
from fieldvault.domain.participants import get_participant, list_participants
from fieldvault.domain.permissions import Role
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, Recording, TranscriptionJob
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity
from fieldvault.web.researcher.jobs import JOB_BOARD, JobBoard
from tests.researcher_web import add_member, csrf_of, log_in

from .conftest import EXAMPLE, NOW
from .recording_helpers import DATA, WEEK, give_consent, participant
from .test_export import SEGMENTS, add_participant, add_transcript

SPEECH = (DATA / "interview_en.ogg").read_bytes()
PATH = "/api/studies/{study}/participants/{code}/recordings"
BOUND_S = 30.0  # every wait on the server gives up after this long

Scenario = Callable[[aiohttp.ClientSession, web.Application], Awaitable[None]]


def _serve(services: Services, scenario: Scenario, board: JobBoard | None = None) -> None:
    async def main() -> None:
        app = build_web_app(services, clock=lambda: NOW, dispatch=lambda: None)
        if board is not None:
            app[JOB_BOARD] = board
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            jar = aiohttp.CookieJar(unsafe=True)
            base = URL.build(scheme="http", host=host, port=port)
            async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
                async with asyncio.timeout(BOUND_S * 3):
                    await scenario(http, app)
        finally:
            await runner.cleanup()

    asyncio.run(main())


async def _log_in(http: aiohttp.ClientSession, email: str, study_id: str) -> str:
    """Log in; the session's CSRF secret, from a page of ``study_id`` (its logout form)."""
    await log_in(http, email)
    async with http.get(f"/studies/{study_id}/jobs") as page:  # a 403 page has the form too
        return csrf_of(await page.text())


def _form(*, csrf: str | None = None, language: str = "en", tracks: int = 1) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    if csrf is not None:
        form.add_field("csrf", csrf)
    form.add_field("language", language)
    for n in range(tracks):  # per-speaker tracks of one interview
        form.add_field("file", SPEECH, filename=f"speaker-{n}.ogg", content_type="audio/ogg")
    return form


def _events(services: Services, event: str) -> list[AuditEvent]:
    with transaction(services.research) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event == event)))


def _recordings(services: Services) -> int:
    with transaction(services.research) as session:
        return session.scalar(select(func.count()).select_from(Recording)) or 0


def _other_study(services: Services) -> str:
    text = EXAMPLE.read_text(encoding="utf-8").replace('id = "nav-veileder"', 'id = "other"', 1)
    with transaction(services.research) as session:
        studies.register_study(session, parse_study(text), text, NOW)
    return "other"


def test_a_logged_in_researcher_uploads_with_the_csrf_header_and_is_audited_by_name(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    email = add_member(services, study_id, Role.RESEARCHER, NOW)

    async def scenario(http: aiohttp.ClientSession, app: web.Application) -> None:
        csrf = await _log_in(http, email, study_id)
        url = PATH.format(study=study_id, code=code)
        async with http.post(url, data=_form()) as missing:
            assert missing.status == 403, await missing.text()
            assert (await missing.json())["error"] == "csrf"
        async with http.post(url, data=_form(), headers={"X-CSRF-Token": "forged"}) as forged:
            assert forged.status == 403 and (await forged.json())["error"] == "csrf"
        assert _recordings(services) == 0
        headers = {"X-CSRF-Token": csrf}
        async with http.post(url, data=_form(tracks=2), headers=headers) as answer:
            assert answer.status == 201, await answer.text()
            body = await answer.json()
            assert body["transcription"] == "queued"
            assert [t["speaker"] for t in body["tracks"]] == ["speaker-1", "speaker-2"]

    _serve(services, scenario)
    [accepted] = _events(services, audit.Event.UPLOAD_ACCEPTED)
    assert accepted.actor.startswith("researcher:") and accepted.participant_code == code
    refused = _events(services, audit.Event.UPLOAD_REJECTED)
    assert [e.details["reason"] for e in refused] == ["csrf", "csrf"]
    assert all(e.actor == accepted.actor and e.study_id == study_id for e in refused)
    with transaction(services.research) as session:
        assert audit.verify(session).ok


def test_a_plain_form_sends_the_csrf_secret_first_and_is_answered_with_redirects(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    refusing = participant(services, study_id, recording=False)
    email = add_member(services, study_id, Role.OWNER, NOW)
    html = {"Accept": "text/html,application/xhtml+xml"}

    async def scenario(http: aiohttp.ClientSession, app: web.Application) -> None:
        csrf = await _log_in(http, email, study_id)
        async with http.get(f"/studies/{study_id}/upload") as page:
            text = await page.text()
            assert page.status == 200 and f">{code}</option>" in text
            assert refusing not in text  # no consent to recording: not offered
        url = PATH.format(study=study_id, code=code)
        async with http.post(
            url, data=_form(csrf="wrong"), headers=html, allow_redirects=False
        ) as bad:
            assert bad.status == 303
            assert bad.headers["Location"] == (
                f"/studies/{study_id}/upload?participant={code}&refused=csrf"
            )
        async with http.get(bad.headers["Location"] + "&lang=en") as shown:
            assert '<p class="error" role="alert">The form was out of date' in await shown.text()
        no = PATH.format(study=study_id, code=refusing)
        async with http.post(no, data=_form(csrf=csrf), headers=html, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].endswith("&refused=no-consent")
        async with http.post(url, data=_form(csrf=csrf), headers=html, allow_redirects=False) as ok:
            assert ok.status == 303 and ok.headers["Location"] == f"/studies/{study_id}/jobs"
        async with http.get(ok.headers["Location"]) as jobs:
            assert f">{code}</td>" in await jobs.text()

    _serve(services, scenario)
    assert _recordings(services) == 1


def test_roles_without_upload_and_foreign_studies_are_refused_before_the_body(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    other = _other_study(services)
    dpo = add_member(services, study_id, Role.DPO, NOW)
    supervisor = add_member(services, study_id, Role.SUPERVISOR, NOW)
    outsider = add_member(services, other, Role.OWNER, NOW, email="owner@other.example")

    async def answer(http: aiohttp.ClientSession, study: str, csrf: str) -> tuple[int, Any]:
        url = PATH.format(study=study, code=code)
        async with http.post(url, data=_form(), headers={"X-CSRF-Token": csrf}) as response:
            return response.status, await response.json()

    async def scenario(http: aiohttp.ClientSession, app: web.Application) -> None:
        for email in (dpo, supervisor):
            csrf = await _log_in(http, email, study_id)
            status, body = await answer(http, study_id, csrf)
            assert status == 403 and body["error"] == "forbidden", body
            http.cookie_jar.clear()
        csrf = await _log_in(http, outsider, other)
        foreign = await answer(http, study_id, csrf)
        unknown = await answer(http, "no-such-study", csrf)
        assert foreign[0] == 404 and foreign[1]["error"] == "not-found"
        assert json.dumps(foreign[1]).replace(study_id, "S") == json.dumps(unknown[1]).replace(
            "no-such-study", "S"
        )
        http.cookie_jar.clear()
        async with http.post(PATH.format(study=study_id, code=code), data=_form()) as anonymous:
            assert anonymous.status == 401  # no token, no session: the API's answer

    _serve(services, scenario)
    assert _recordings(services) == 0
    reasons = [e.details["reason"] for e in _events(services, audit.Event.UPLOAD_REJECTED)]
    assert reasons == ["forbidden", "forbidden", "not-found", "not-found", "unauthorized"]


async def _next_event(stream: aiohttp.StreamReader) -> tuple[str, Any]:
    """The next server-sent event (name, data); comments and ``retry`` lines are skipped."""
    name, data = "message", ""
    while True:
        line = (await stream.readline()).decode("utf-8")
        assert line, "the event stream ended"
        line = line.rstrip("\n")
        if not line:
            if data:
                return name, json.loads(data)
            continue
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data += line[len("data: ") :]


def _set_job(services: Services, **values: object) -> None:
    with transaction(services.research) as session:
        session.execute(update(TranscriptionJob).values(**values))


def test_the_jobs_stream_sends_a_jobs_progress_as_its_row_changes(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    email = add_member(services, study_id, Role.SUPERVISOR, NOW)
    uploader = add_member(services, study_id, Role.OWNER, NOW, email="up@uni.example")
    board = JobBoard(poll_s=0.05, stream_s=BOUND_S, heartbeat_s=0.1)

    async def scenario(http: aiohttp.ClientSession, app: web.Application) -> None:
        csrf = await _log_in(http, uploader, study_id)
        url = PATH.format(study=study_id, code=code)
        async with http.post(url, data=_form(), headers={"X-CSRF-Token": csrf}) as posted:
            assert posted.status == 201
        http.cookie_jar.clear()
        await log_in(http, email)
        events = f"/studies/{study_id}/jobs/events"
        async with http.get(events) as one, http.get(events) as two:
            assert one.status == 200 and one.headers["Content-Type"] == "text/event-stream"
            async with asyncio.timeout(BOUND_S):
                name, first = await _next_event(one.content)
                await _next_event(two.content)
                assert board.polling() == 1  # one poller for both pages of the study
                assert name == "jobs"
                [job] = first["jobs"]
                assert job["code"] == code and job["state"] == "queued"
                assert set(job) == {"id", "code", "state", "progress", "eta_s", "duration_s"}
                _set_job(services, state="running", progress=0.25, eta_s=90.0)
                _, second = await _next_event(one.content)
                changed = {"state": "running", "progress": 0.25, "eta_s": 90}
                assert second["jobs"] == [job | changed]
                _, also = await _next_event(two.content)
                assert also == second
                assert email not in json.dumps(second)
        async with http.get(f"/studies/{study_id}/jobs") as page:
            text = await page.text()
            assert "25 %" in text and "1:30" in text
        async with asyncio.timeout(BOUND_S):
            while board.polling():  # both pages closed: the poller stops
                await asyncio.sleep(0.02)

    _serve(services, scenario, board)


def test_a_job_stream_ends_after_its_time_is_capped_per_account_and_needs_a_login(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)
    board = JobBoard(poll_s=0.05, stream_s=0.5, per_account=1)

    async def scenario(http: aiohttp.ClientSession, app: web.Application) -> None:
        events = f"/studies/{study_id}/jobs/events"
        async with http.get(events, allow_redirects=False) as stranger:
            assert stranger.status == 401
        await log_in(http, email)
        async with http.get(events) as stream:
            async with asyncio.timeout(BOUND_S):
                _, first = await _next_event(stream.content)
                assert first == {"jobs": []}
                async with http.get(events) as second:  # one stream per account here
                    assert second.status == 429
                assert await stream.content.read() == b""  # ended by the server, bounded

    _serve(services, scenario, board)


def test_the_export_download_is_a_zip_of_the_chosen_formats_audited_by_name(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)
    kari = add_participant(services, study_id, Identity(name="Kari Nordmann"))

    async def scenario(http: aiohttp.ClientSession, app: web.Application) -> None:
        csrf = await _log_in(http, email, study_id)
        url = f"/studies/{study_id}/exports"
        form = {"csrf": csrf, "format": ["qdpx", "txt"]}
        async with http.post(url, data=form) as nothing:
            assert nothing.status == 409
            assert "no approved transcripts" in await nothing.text()
        add_transcript(services, study_id, kari, SEGMENTS)
        async with http.post(url, data={"format": "qdpx"}) as forged:
            assert forged.status == 403
        async with http.post(url, data={"csrf": csrf}) as none:
            assert none.status == 400
        async with http.post(url, data=form) as answer:
            assert answer.status == 200, await answer.text()
            assert answer.headers["Content-Type"] == "application/zip"
            assert "attachment" in answer.headers["Content-Disposition"]
            data = await answer.read()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None
            names = archive.namelist()
            text = b"".join(archive.read(n) for n in names if n.endswith(".txt"))
        assert f"{study_id}.qdpx" in names and "README.txt" in names
        assert any(n.startswith("txt/") for n in names) and any(
            n.startswith("nvivo/") for n in names
        )
        assert not any(n.endswith(".csv") for n in names)
        assert b"Nordmann" not in text

    _serve(services, scenario)
    [event] = _events(services, audit.Event.EXPORT_CREATED)
    assert event.actor.startswith("researcher:")
    assert event.details["formats"] == ["qdpx", "txt"] and event.details["delivery"] == "download"
    assert event.details["participant_codes"] == [kari]


def test_the_upload_page_lists_exactly_those_who_may_be_recorded(
    services: Services, study_id: str
) -> None:
    consented = participant(services, study_id)
    refused = participant(services, study_id, recording=False)
    again = participant(services, study_id, recording=False)
    give_consent(services, study_id, again, recording=True)  # read again and said yes
    withdrawn = participant(services, study_id)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, withdrawn)
        consent.withdraw(
            session, person, channel="web", now=NOW, items=frozenset({"interview-recording"})
        )
        [invite] = consent.create_invites(session, study_id, 1, WEEK, NOW)
    with transaction(services.research) as session:
        invited = consent.redeem_invite(session, invite, NOW).code
    with transaction(services.research) as session:
        listed = recordings.recordable_codes(session, study_id)
        one_by_one = sorted(
            p.code
            for p in list_participants(session, study_id)
            if consent.may_hold_recording(session, p)
        )
    assert listed == one_by_one == sorted([consented, again])
    assert not {refused, withdrawn, invited} & set(listed)
