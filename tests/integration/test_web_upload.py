"""The upload API on a real aiohttp server and client, over real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from yarl import URL

from fieldvault.compose import build_web_app
from fieldvault.config.study import parse_study
from fieldvault.domain import api_tokens, studies
from fieldvault.domain.consent import State
from fieldvault.domain.participants import get_participant
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    AuditEvent,
    BlobObject,
    Recording,
    RecordingTrack,
    TranscriptionJob,
)
from fieldvault.storage.services import Services
from fieldvault.web.app import create_app
from fieldvault.workers.queue import build_huey

from .conftest import EXAMPLE, NOW
from .recording_helpers import DATA, participant

SPEECH = (DATA / "interview_en.ogg").read_bytes()
PATH = "/api/studies/{study}/participants/{code}/recordings"

Scenario = Callable[[aiohttp.ClientSession, URL], Awaitable[None]]


def _serve(services: Services, scenario: Scenario, **app_options: Any) -> None:
    """Run ``scenario`` against the app served on a free loopback port, then shut it down."""

    async def main() -> None:
        options = {"clock": lambda: NOW} | app_options
        runner = web.AppRunner(build_web_app(services, **options))
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


async def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``condition()`` holds, checking every 20 ms; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def _token(
    services: Services,
    study_id: str,
    label: str = "IH laptop",
    valid_for: dt.timedelta = api_tokens.DEFAULT_VALIDITY,
) -> str:
    with transaction(services.research) as session:
        return api_tokens.create_token(session, study_id, label, NOW, valid_for=valid_for)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _form(*files: tuple[str, bytes], language: str | None = "en") -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    if language is not None:
        form.add_field("language", language)
    for name, data in files:
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def _post(
    http: aiohttp.ClientSession,
    study_id: str,
    code: str,
    token: str,
    *files: tuple[str, bytes],
    language: str | None = "en",
) -> aiohttp.ClientResponse:
    """Upload ``files`` for ``code`` with ``token``, as a researcher's client would."""
    return await http.post(
        PATH.format(study=study_id, code=code),
        data=_form(*files, language=language),
        headers=_auth(token),
    )


def _blob_files(services: Services) -> list[Path]:
    return [p for p in Path(services.settings.blob_path).rglob("*") if p.is_file()]


def _assert_nothing_kept(services: Services) -> None:
    assert _blob_files(services) == []
    with transaction(services.research) as session:
        for model in (BlobObject, Recording, RecordingTrack, TranscriptionJob):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def _rejections(services: Services) -> list[dict[str, Any]]:
    with transaction(services.research) as session:
        return [
            e.details
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.event == audit.Event.UPLOAD_REJECTED)
            )
        ]


def test_an_uploaded_interview_is_stored_encrypted_and_its_transcription_queued(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await _post(http, study_id, code, token, ("interview_en.ogg", SPEECH))
        assert response.status == 201, await response.text()
        body = await response.json()
        assert body["duration_s"] == pytest.approx(18.27, abs=0.2)
        assert [(t["container"], t["codec"], t["speaker"]) for t in body["tracks"]] == [
            ("ogg", "opus", "unknown")
        ]
        assert (body["language"], body["transcription"]) == ("en", "queued")

    _serve(services, scenario)
    [blob] = _blob_files(services)
    stored = blob.read_bytes()
    # Ciphertext only: neither the Ogg magic nor any 64-byte run of the file is in the blob.
    assert b"OggS" not in stored
    assert not any(SPEECH[i : i + 64] in stored for i in range(0, len(SPEECH) - 64, 4096))
    with transaction(services.research) as session:
        obj = session.scalars(select(BlobObject)).one()
        assert b"".join(services.content.read(obj)) == SPEECH
        job = session.scalars(select(TranscriptionJob)).one()
        assert job.state == "queued" and job.enqueued_at is not None
        assert get_participant(session, study_id, code).state == State.INTERVIEWED
        accepted = session.scalars(
            select(AuditEvent).where(AuditEvent.event == audit.Event.UPLOAD_ACCEPTED)
        ).one()
        assert accepted.actor == "web" and accepted.participant_code == code
        assert audit.verify(session).ok
    # The job's message is on the configured queue, waiting for a worker.
    assert build_huey(services.settings).pending_count() == 1


def test_two_per_speaker_tracks_become_one_recording_with_speaker_labels(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)
    tracks = [
        ("interviewer.ogg", (DATA / "track_interviewer.ogg").read_bytes()),
        ("informant.ogg", (DATA / "track_informant.ogg").read_bytes()),
    ]

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await http.post(
            PATH.format(study=study_id, code=code), data=_form(*tracks), headers=_auth(token)
        )
        assert response.status == 201, await response.text()
        body = await response.json()
        assert [t["speaker"] for t in body["tracks"]] == ["speaker-1", "speaker-2"]

    _serve(services, scenario)
    with transaction(services.research) as session:
        recording = session.scalars(select(Recording)).one()
        ordered = sorted(recording.tracks, key=lambda t: t.position)
        for track, (_, data) in zip(ordered, tracks, strict=True):
            obj = session.get(BlobObject, track.object_id)
            assert obj is not None and b"".join(services.content.read(obj)) == data
    assert len(_blob_files(services)) == 2


def test_an_upload_for_a_participant_without_consent_to_recording_is_refused_with_403(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id, recording=False)
    token = _token(services, study_id)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await _post(http, study_id, code, token, ("interview_en.ogg", SPEECH))
        assert response.status == 403
        body = await response.json()
        assert body["error"] == "no-consent"
        assert code in body["message"] and "no current consent" in body["message"]

    _serve(services, scenario)
    _assert_nothing_kept(services)
    assert [r["reason"] for r in _rejections(services)] == ["no-consent"]


def test_an_upload_after_the_study_end_date_is_refused_with_409(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    # Valid beyond the end date (a default token made on NOW expires in May).
    token = _token(services, study_id, valid_for=dt.timedelta(days=365))
    after_the_end = dt.datetime(2021, 7, 1, 8, 0, tzinfo=dt.UTC)  # processing_end 2021-06-30

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await _post(http, study_id, code, token, ("interview_en.ogg", SPEECH))
        assert response.status == 409
        body = await response.json()
        assert body["error"] == "study-ended"
        assert "2021-06-30" in body["message"] and "study extend" in body["message"]

    _serve(services, scenario, clock=lambda: after_the_end)
    _assert_nothing_kept(services)
    assert [r["reason"] for r in _rejections(services)] == ["study-ended"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer fvt_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer revoked"],
    ids=["absent", "unknown", "other-scheme", "revoked"],
)
def test_an_upload_without_a_valid_token_is_answered_401_and_keeps_nothing(
    services: Services, study_id: str, header: str | None
) -> None:
    code = participant(services, study_id)
    if header == "Bearer revoked":
        header = f"Bearer {_token(services, study_id, 'old laptop')}"
        with transaction(services.research) as session:
            api_tokens.revoke_token(session, study_id, "old laptop", NOW)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await http.post(
            PATH.format(study=study_id, code=code),
            data=_form(("interview_en.ogg", SPEECH)),
            headers={} if header is None else {"Authorization": header},
        )
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = await response.json()
        assert body["error"] == "unauthorized" and "api-token" in body["message"]

    _serve(services, scenario)
    _assert_nothing_kept(services)


def test_a_token_of_another_study_answers_exactly_like_an_unknown_study(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        f'id = "{study_id}"', 'id = "other-study"', 1
    )
    with transaction(services.research) as session:
        studies.register_study(session, parse_study(text), text, NOW)
    other = _token(services, "other-study")
    own = _token(services, study_id)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        answers = []
        for study, token in ((study_id, other), ("no-such-study", other)):
            response = await http.post(
                PATH.format(study=study, code=code),
                data=_form(("interview_en.ogg", SPEECH)),
                headers=_auth(token),
            )
            answers.append((response.status, (await response.json())["error"]))
        assert answers == [(404, "not-found"), (404, "not-found")]
        # The same words, with the study id asked for in place: nothing tells them apart.
        texts = []
        for study in (study_id, "no-such-study"):
            response = await http.post(
                PATH.format(study=study, code=code), data=_form(), headers=_auth(other)
            )
            texts.append((await response.json())["message"].replace(study, "STUDY"))
        assert texts[0] == texts[1]
        unknown = await http.post(
            PATH.format(study=study_id, code="P-000000"),
            data=_form(("interview_en.ogg", SPEECH)),
            headers=_auth(own),
        )
        assert unknown.status == 404
        assert "P-000000" in (await unknown.json())["message"]

    _serve(services, scenario)
    _assert_nothing_kept(services)


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.ogg", b"", "is empty"),
        ("notes.txt", b"Interview notes, not audio at all.\n" * 200, "not a readable audio"),
        ("cut.ogg", SPEECH[: len(SPEECH) // 2], "truncated"),
        ("noise.m4a", bytes(range(256)) * 400, "not a readable audio"),
    ],
    ids=["empty", "text", "truncated", "corrupt"],
)
def test_bad_audio_is_refused_with_422_naming_the_file_and_the_problem(
    services: Services, study_id: str, name: str, data: bytes, problem: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        # A good first track does not save a bad second one: the interview is kept whole or not.
        response = await _post(http, study_id, code, token, ("good.ogg", SPEECH), (name, data))
        assert response.status == 422
        body = await response.json()
        assert body["error"] == "bad-audio"
        assert repr(name) in body["message"] and problem in body["message"]

    _serve(services, scenario)
    _assert_nothing_kept(services)
    assert [r["reason"] for r in _rejections(services)] == ["bad-audio"]


def test_an_upload_over_the_limit_is_refused_while_it_streams_and_keeps_nothing(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)
    limit = 1024 * 1024
    answered = asyncio.Event()
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        # Sends three times the limit, then holds the body open until the answer has come:
        # the server must refuse before the upload ends.
        nonlocal sent
        while sent < 3 * limit:
            sent += 64 * 1024
            yield SPEECH[:1024] * 64
        await asyncio.wait_for(answered.wait(), timeout=30)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        with aiohttp.MultipartWriter("form-data") as form:
            part = form.append(endless())
            part.set_content_disposition("form-data", name="file", filename="long.ogg")
            response = await http.post(
                PATH.format(study=study_id, code=code), data=form, headers=_auth(token)
            )
            answered.set()
            assert response.status == 413
            body = await response.json()
            assert body["error"] == "too-large" and "1 MiB" in body["message"]

    _serve(services, scenario, max_upload_bytes=limit)
    _assert_nothing_kept(services)
    assert [r["reason"] for r in _rejections(services)] == ["too-large"]


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        response = await _post(http, study_id, code, token, ("interview_en.ogg", SPEECH * 40))
        assert response.status == 413
        assert (await response.json())["error"] == "too-large"

    # 40 copies are ~3 MB; the limit plus the form allowance (1 MiB) is below that.
    _serve(services, scenario, max_upload_bytes=1024 * 1024)
    _assert_nothing_kept(services)


def test_a_malformed_form_gets_a_clear_answer_and_keeps_nothing(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)
    url = PATH.format(study=study_id, code=code)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        raw = await http.post(url, data=SPEECH, headers=_auth(token))
        assert raw.status == 415
        assert "multipart/form-data" in (await raw.json())["message"]
        empty = await http.post(url, data=_form(), headers=_auth(token))
        assert empty.status == 422
        assert "no audio file" in (await empty.json())["message"]
        stray = _form(("interview_en.ogg", SPEECH))
        stray.add_field("speaker", "Kari")
        odd = await http.post(url, data=stray, headers=_auth(token))
        assert odd.status == 422
        assert "'speaker'" in (await odd.json())["message"]
        late = aiohttp.FormData()
        late.add_field("file", SPEECH, filename="a.ogg", content_type="audio/ogg")
        late.add_field("language", "en")
        answer = await http.post(url, data=late, headers=_auth(token))
        assert answer.status == 422
        assert "before the files" in (await answer.json())["message"]
        bad_language = await http.post(
            url, data=_form(("a.ogg", SPEECH), language="english"), headers=_auth(token)
        )
        assert bad_language.status == 422
        assert "language" in (await bad_language.json())["message"]

    _serve(services, scenario)
    _assert_nothing_kept(services)


def test_health_and_the_openapi_document_describe_the_api(services: Services) -> None:
    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        health = await http.get("/api/health")
        assert health.status == 200 and (await health.json())["status"] == "ok"
        document = await (await http.get("/api/openapi.json")).json()
        upload = document["paths"]["/api/studies/{study}/participants/{code}/recordings"]["post"]
        assert {"201", "401", "403", "404", "413", "422"} <= set(upload["responses"])
        assert "multipart/form-data" in upload["requestBody"]["content"]
        missing = await http.get("/api/nothing-here")
        assert missing.status == 404 and (await missing.json())["error"] == "not-found"

    _serve(services, scenario)


def test_api_tokens_are_stored_as_hashes_and_audited_without_the_secret(
    services: Services, study_id: str
) -> None:
    token = _token(services, study_id, "IH laptop")
    with (
        transaction(services.research) as session,
        pytest.raises(api_tokens.ApiTokenError, match="revoke it first"),
    ):
        api_tokens.create_token(session, study_id, "IH laptop", NOW)
    with transaction(services.research) as session:
        assert api_tokens.revoke_token(session, study_id, "IH laptop", NOW) == 1
    again = _token(services, study_id, "IH laptop")
    assert again != token and again.startswith("fvt_")
    with transaction(services.research) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        kinds = [e.event for e in events if e.event.startswith("api_token.")]
        assert kinds == ["api_token.created", "api_token.revoked", "api_token.created"]
        everything = json.dumps([e.details for e in events])
        assert token not in everything and again not in everything
        with pytest.raises(api_tokens.InvalidApiToken):
            api_tokens.authorise(session, token, study_id, NOW)
        assert api_tokens.authorise(session, again, study_id, NOW).label == "IH laptop"
    for path in Path(services.settings.data_dir).rglob("*.sqlite3*"):
        assert token.encode() not in path.read_bytes()


def test_a_client_asking_to_continue_is_refused_before_it_sends_the_body(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)
    pulled: list[str] = []

    def form(tag: str) -> aiohttp.MultipartWriter:
        async def body() -> AsyncIterator[bytes]:
            pulled.append(tag)
            yield SPEECH

        writer = aiohttp.MultipartWriter("form-data")
        part = writer.append(body())
        part.set_content_disposition("form-data", name="file", filename="interview_en.ogg")
        return writer

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        url = PATH.format(study=study_id, code=code)
        refused = await http.post(
            url, data=form("refused"), headers=_auth("fvt_wrong"), expect100=True
        )
        assert refused.status == 401
        accepted = await http.post(url, data=form("accepted"), headers=_auth(token), expect100=True)
        assert accepted.status == 201, await accepted.text()

    _serve(services, scenario)
    assert pulled == ["accepted"]  # the refused client never started sending its file


def test_an_upload_cut_off_by_the_client_leaves_nothing_behind(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        _, writer = await asyncio.open_connection(base.host, base.port)
        head = (
            f"POST {PATH.format(study=study_id, code=code)} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=XyZ\r\n"
            f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
            "--XyZ\r\nContent-Disposition: form-data; name=file; filename=cut.ogg\r\n\r\n"
        )
        writer.write(head.encode() + SPEECH)
        await writer.drain()
        await _until(lambda: bool(_blob_files(services)))  # encrypting into a temp file
        writer.close()  # gone, after a hundredth of the declared 10 MiB
        await writer.wait_closed()
        await _until(lambda: bool(_rejections(services)))  # the server cleans up on its own

    _serve(services, scenario)
    assert [r["reason"] for r in _rejections(services)] == ["interrupted"]
    _assert_nothing_kept(services)


def test_the_default_limit_is_4_gib(services: Services) -> None:
    from fieldvault.web.keys import UPLOAD_LIMIT

    assert create_app(services)[UPLOAD_LIMIT] == 4 * 1024**3


def test_concurrent_uploads_for_different_participants_are_kept_apart(
    services: Services, study_id: str
) -> None:
    codes = [participant(services, study_id) for _ in range(3)]
    # One token each: a token may run two uploads at once (web_uploads_per_token).
    tokens = {code: _token(services, study_id, f"laptop {code}") for code in codes}
    tracks = {
        codes[0]: SPEECH,
        codes[1]: (DATA / "track_interviewer.ogg").read_bytes(),
        codes[2]: (DATA / "track_informant.ogg").read_bytes(),
    }

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        async def send(code: str) -> int:
            response = await _post(
                http, study_id, code, tokens[code], (f"{code}.ogg", tracks[code])
            )
            assert response.status == 201, await response.text()
            return int((await response.json())["recording_id"])

        ids = await asyncio.gather(*(send(code) for code in codes))
        assert len(set(ids)) == 3

    _serve(services, scenario)
    with transaction(services.research) as session:
        for code, data in tracks.items():
            person = get_participant(session, study_id, code)
            recording = session.scalars(
                select(Recording).where(Recording.participant_id == person.id)
            ).one()
            obj = session.get(BlobObject, recording.tracks[0].object_id)
            assert obj is not None and b"".join(services.content.read(obj)) == data
        assert audit.verify(session).ok


def test_an_upload_may_say_how_many_people_speak(services: Services, study_id: str) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)
    url = PATH.format(study=study_id, code=code)

    def form(speakers: str) -> aiohttp.FormData:
        data = aiohttp.FormData(default_to_multipart=True)
        data.add_field("speakers", speakers)
        data.add_field("file", SPEECH, filename="a.ogg", content_type="audio/ogg")
        return data

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        for bad, error in (("two", "bad-form"), ("0", "bad-speakers"), ("11", "bad-speakers")):
            refused = await http.post(url, data=form(bad), headers=_auth(token))
            assert refused.status == 422
            assert (await refused.json())["error"] == error
        given = await http.post(url, data=form("3"), headers=_auth(token))
        assert given.status == 201, await given.text()
        assert (await given.json())["speakers"] == 3
        plain = await _post(http, study_id, code, token, ("a.ogg", SPEECH))
        assert (await plain.json())["speakers"] is None

    _serve(services, scenario)
    with transaction(services.research) as session:
        assert sorted(session.scalars(select(Recording.speakers)), key=str) == [3, None]
