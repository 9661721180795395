"""Recording intake holds no database lock while it streams; a locked database is one CLI line.

Issue 17: an upload used to keep SQLite's write lock from its first track's row to its commit,
so a slow link locked out every consent, registration and sweep; and a writer that timed out
printed the driver's traceback with SQL and parameters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import io
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from yarl import URL

from fieldvault.cli import cli
from fieldvault.cli.commands import register as register_commands
from fieldvault.compose import build_web_app
from fieldvault.config.settings import Settings
from fieldvault.domain import api_tokens, retention
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.domain.recordings import RecordingRefused, accept_recording
from fieldvault.storage import db
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, Recording, Study
from fieldvault.storage.services import Services, open_services
from fieldvault.storage.vault import Identity

from .conftest import NOW
from .recording_helpers import DATA, decode_pcm, participant, wav_bytes

SPEECH = (DATA / "interview_en.ogg").read_bytes()
INTERVIEWER = (DATA / "track_interviewer.ogg").read_bytes()
PATH = "/api/studies/{study}/participants/{code}/recordings"
NAME, EMAIL = "Sigrun Åsheim-Lie", "sigrun.al@example.no"
QUICK_S = 2.0  # a write that does not wait for the upload is done in far less


def _serve(
    services: Services, scenario: Callable[[aiohttp.ClientSession], Awaitable[None]]
) -> None:
    """Run ``scenario`` against the real app on a free loopback port."""

    async def main() -> None:
        runner = web.AppRunner(build_web_app(services, clock=lambda: NOW))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            async with aiohttp.ClientSession(URL.build(scheme="http", host=host, port=port)) as h:
                await scenario(h)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def _blob_files(services: Services) -> list[Path]:
    return [p for p in Path(services.settings.blob_path).rglob("*") if p.is_file()]


async def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``condition()`` holds, checking every 20 ms; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def test_a_participant_is_registered_and_a_consent_recorded_while_an_upload_is_mid_stream(
    services: Services, settings: Settings, study_id: str
) -> None:
    code = participant(services, study_id)
    with transaction(services.research) as session:
        token = api_tokens.create_token(session, study_id, "IH laptop", NOW)
    release = asyncio.Event()
    # 18 s of 48 kHz WAV, 1.7 MB: the server's multipart reader looks one 256 KiB chunk ahead
    # for the boundary, so the piece sent before the pause must be larger than two of those.
    informant = wav_bytes(decode_pcm(DATA / "interview_en.ogg", 48000), 48000)
    piece = 1024 * 1024

    async def second_track() -> AsyncIterator[bytes]:
        # A megabyte of the informant's track, then nothing until the other writes are done:
        # the server holds one finished track and is in the middle of encrypting the next.
        yield informant[:piece]
        await asyncio.wait_for(release.wait(), timeout=60)
        yield informant[piece:]

    def mid_stream() -> bool:
        names = [p.name for p in _blob_files(services)]
        finished = [n for n in names if not n.startswith(".")]
        return len(finished) == 1 and len(names) == 2  # track 1 kept, track 2 being written

    def other_process_writes() -> tuple[float, float, str, str]:
        # Services of their own: another fieldvault process (`participant add`, the bot).
        other = open_services(settings)
        try:
            started = time.monotonic()
            added = register_participant(other, study_id, Identity(name=NAME, email=EMAIL), {}, NOW)
            registered = time.monotonic() - started
            started = time.monotonic()
            consenting = participant(other, study_id)
            consented = time.monotonic() - started
            return registered, consented, added, consenting
        finally:
            other.close()

    async def scenario(http: aiohttp.ClientSession) -> None:
        with aiohttp.MultipartWriter("form-data") as form:
            form.append("en").set_content_disposition("form-data", name="language")
            first = form.append(INTERVIEWER)
            first.set_content_disposition("form-data", name="file", filename="interviewer.ogg")
            second = form.append(second_track())
            second.set_content_disposition("form-data", name="file", filename="informant.ogg")
            upload = asyncio.ensure_future(
                http.post(
                    PATH.format(study=study_id, code=code),
                    data=form,
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
            try:
                await _until(mid_stream)
                registered, consented, added, consenting = await asyncio.to_thread(
                    other_process_writes
                )
                assert not upload.done()  # the upload was still waiting for its body
            finally:
                release.set()
            response = await upload
            assert response.status == 201, await response.text()
            assert len((await response.json())["tracks"]) == 2
        assert registered < QUICK_S and consented < QUICK_S, (registered, consented)
        with transaction(services.research) as session:
            assert get_participant(session, study_id, added).state == "invited"
            assert get_participant(session, study_id, consenting).state == "consented"

    _serve(services, scenario)
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(Recording)) == 1
        sizes = session.scalars(select(BlobObject.plaintext_size).order_by(BlobObject.created_at))
        assert sorted(sizes) == sorted([len(INTERVIEWER), len(informant)])


def _hold_the_write_lock(services: Services, url: str) -> Callable[[], None]:
    """Another connection's open transaction that keeps the research database locked."""
    if make_url(url).get_backend_name() == "sqlite":
        holder = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE studies SET timezone = timezone")
        return holder.close
    connection = services.research_engine.connect()
    connection.exec_driver_sql("LOCK TABLE studies IN ACCESS EXCLUSIVE MODE")
    return connection.close


def test_a_locked_database_is_one_line_from_the_command_line_without_sql_or_parameters(
    services: Services,
    settings: Settings,
    study_id: str,
    research_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Writers give up after 0.2 s instead of 10 (SQLite's busy timeout, PostgreSQL's).
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    url = research_url
    if make_url(url).get_backend_name() != "sqlite":
        url = (
            make_url(url)
            .update_query_dict({"options": "-c lock_timeout=200"})
            .render_as_string(hide_password=False)
        )
    env = {
        "FIELDVAULT_DATA_DIR": str(settings.data_dir),
        "FIELDVAULT_DATABASE_URL": url,
        "FIELDVAULT_VAULT_URL": settings.linkage_url,
    }
    register_commands(cli)
    release = _hold_the_write_lock(services, research_url)
    try:
        started = time.monotonic()
        result = CliRunner().invoke(
            cli, ["participant", "add", study_id, "--name", NAME, "--email", EMAIL], env=env
        )
        waited = time.monotonic() - started
    finally:
        release()
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: the database is busy")
    assert lines[0].endswith("try again in a moment; another fieldvault process is writing")
    for leak in ("Traceback", "SELECT", "INSERT", "UPDATE", "[SQL", "parameters", NAME, EMAIL):
        assert leak not in result.output
    assert waited < 10.0  # the shortened timeout, not the default
    # Nothing was half-written: neither the participant nor the identity exists.
    assert CliRunner().invoke(cli, ["participants", study_id], env=env).exit_code == 0
    assert services.vault.held([study_id]) == set()


def test_an_upload_after_the_sweep_ended_the_study_is_refused(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    # `fieldvault retention run --at` a time after the end date: the study is ended early.
    retention.run_sweep(services, dt.datetime(2021, 7, 2, tzinfo=dt.UTC))
    with transaction(services.research) as session:
        assert session.get(Study, study_id).ended_at is not None  # type: ignore[union-attr]
    with pytest.raises(RecordingRefused, match=f"study {study_id} has ended") as caught:
        accept_recording(
            services,
            study_id=study_id,
            code=code,
            files=[("voice.ogg", io.BytesIO(SPEECH))],
            language="en",
            source="cli",
            now=NOW,  # before the end date by the clock: the end recorded is what counts
        )
    assert caught.value.reason == "study-ended"
    assert _blob_files(services) == []
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(Recording)) == 0
        assert session.scalar(select(func.count()).select_from(BlobObject)) == 0


def _open_for_writing(fifo: Path, reader: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """Open the pipe's writing end once ``reader`` has opened it (bounded; fails if it exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: nobody reads yet
                raise
        assert reader.poll() is None, reader.communicate()
        assert time.monotonic() < deadline, "the upload never opened its file"
        time.sleep(0.05)  # another process: there is no event to wait on


def test_an_upload_whose_process_was_killed_mid_stream_is_cleaned_up_by_the_sweep_a_day_on(
    services: Services, settings: Settings, running_study_id: str, tmp_path: Path
) -> None:
    study_id = running_study_id
    code = participant(services, study_id)
    fifo = tmp_path / "interview.ogg"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDVAULT_")} | {
        "FIELDVAULT_DATA_DIR": str(settings.data_dir),
        "FIELDVAULT_DATABASE_URL": settings.research_url,
        "FIELDVAULT_VAULT_URL": settings.linkage_url,
    }
    upload = subprocess.Popen(
        [sys.executable, "-m", "fieldvault", "upload", study_id, code, str(fifo)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    feed = _open_for_writing(fifo, upload)
    try:
        os.write(feed, SPEECH[: len(SPEECH) // 2])  # fits the pipe's buffer
        deadline = time.monotonic() + 60
        while not _blob_files(services):  # the ciphertext is being written
            assert upload.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        upload.kill()  # SIGKILL mid-stream: no clean-up runs
        upload.communicate(timeout=30)
    finally:
        os.close(feed)
    with transaction(services.research) as session:
        [left] = session.scalars(select(BlobObject)).all()
        assert (left.kind, left.plaintext_size, left.deleted_at) == ("recording", 0, None)
        assert session.scalar(select(func.count()).select_from(Recording)) == 0
    killed_at = dt.datetime.now(dt.UTC)

    def finished_files() -> list[Path]:  # a temp file of the killed write may stay meanwhile
        return [p for p in _blob_files(services) if not p.name.startswith(".")]

    # An hour on, it may still be an upload in progress: kept.
    retention.run_sweep(services, killed_at + dt.timedelta(hours=1))
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(BlobObject)) == 1
    # A day on, it is abandoned: the row and any ciphertext go.
    retention.run_sweep(services, killed_at + dt.timedelta(hours=25))
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(BlobObject)) == 0
    assert finished_files() == []
    # The participant can upload again, and that upload is kept.
    recording = accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[("voice.ogg", io.BytesIO(SPEECH))],
        language="en",
        source="cli",
        now=killed_at + dt.timedelta(hours=26),
    )
    assert len(recording.tracks) == 1
