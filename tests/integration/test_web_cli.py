"""``fieldvault researcher api-token``, ``web`` and ``serve`` through real subprocesses."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from fieldvault.config.settings import load_settings
from fieldvault.storage.db import transaction
from fieldvault.storage.models import ApiToken, BlobObject, Recording, TranscriptionJob
from fieldvault.storage.services import open_services

from .conftest import EXAMPLE, example_still_running
from .recording_helpers import DATA, participant
from .test_cli import Fieldvault

pytestmark = pytest.mark.slow

STUDY = "nav-veileder"
LISTENING = re.compile(r"web: (?:on, )?listening on (http://\S+)")


def _consented(data_dir: Path) -> str:
    settings = load_settings(environ={}, data_dir=data_dir)
    services = open_services(settings)
    try:
        return participant(services, STUDY)
    finally:
        services.close()


def test_api_tokens_are_printed_once_kept_as_hashes_and_revocable(tmp_path: Path) -> None:
    fv = Fieldvault(tmp_path / "data")
    fv("init")
    fv("study", "create", str(EXAMPLE))
    made = fv("researcher", "api-token", STUDY, "--label", "IH laptop")
    token = made.stdout.strip()
    assert re.fullmatch(r"fvt_[A-Za-z0-9_-]{43}", token)
    assert "shown only now" in made.stderr and "expires in 90 days" in made.stderr
    short = fv("researcher", "api-token", STUDY, "--label", "visit", "--expires", "7")
    assert "expires in 7 days" in short.stderr
    again = fv("researcher", "api-token", STUDY, "--label", "IH laptop", ok=False)
    assert "revoke it first" in again.stderr
    assert "give --label" in fv("researcher", "api-token", STUDY, ok=False).stderr
    assert "no study" in fv("researcher", "api-token", "nope", "--label", "x", ok=False).stderr
    revoked = fv("researcher", "api-token", STUDY, "--revoke", "IH laptop")
    assert "revoked" in revoked.stdout
    missing = fv("researcher", "api-token", STUDY, "--revoke", "IH laptop", ok=False)
    assert "no active API token" in missing.stderr
    for path in fv.data_dir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path.name
    settings = load_settings(environ={}, data_dir=fv.data_dir)
    services = open_services(settings)
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 2
    services.close()


def test_serve_once_starts_the_web_app_and_the_worker_and_says_what_runs(
    tmp_path: Path,
) -> None:
    fv = Fieldvault(tmp_path / "data")
    fv("init")
    result = fv("serve", "--once")
    assert LISTENING.search(result.stderr), result.stderr
    assert "worker: on, in this process, taking jobs from the SQLite queue" in result.stderr
    assert "Telegram bot is off" in result.stderr
    assert "worker: stopped" in result.stderr and "web: stopped" in result.stderr


def test_serve_refuses_clearly_when_the_web_port_is_taken(tmp_path: Path) -> None:
    fv = Fieldvault(tmp_path / "data")
    fv("init")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        fv.env["FIELDVAULT_WEB_PORT"] = str(taken.getsockname()[1])
        result = fv("serve", "--once", ok=False)
    assert "the web app cannot listen on 127.0.0.1:" in result.stderr
    assert "FIELDVAULT_WEB_PORT" in result.stderr
    assert "Traceback" not in result.stderr


@contextmanager
def _web_process(
    fv: Fieldvault, command: str = "web"
) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """``fieldvault web`` (or ``serve``) on a free port; yields the process, URL and log lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldvault", command],
        env=fv.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = LISTENING.search(line)
            if match:
                url.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert found.wait(60) and url, "".join(lines)
        yield process, url[0], lines
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        found.clear()


def _peak_rss(pid: int) -> int:
    """The process's peak resident set size (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def _wav_header(data_bytes: int, rate: int = 16000) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_a_200_mb_upload_streams_through_fieldvault_web_in_bounded_memory(
    tmp_path: Path,
) -> None:
    fv = Fieldvault(tmp_path / "data")
    fv("init")
    fv("study", "create", str(example_still_running(tmp_path)))
    token = fv("researcher", "api-token", STUDY, "--label", "bench").stdout.strip()
    code = _consented(fv.data_dir)
    total_mib = 200
    data_bytes = total_mib * 1024 * 1024
    block = bytearray(os.urandom(1024 * 1024))  # noise as 16-bit PCM: valid, if loud, audio

    async def wav() -> AsyncIterator[bytes]:
        # Generated on the fly and sent chunked: the client never holds the file either.
        yield _wav_header(data_bytes)
        for i in range(total_mib):
            block[:8] = i.to_bytes(8, "little")
            yield bytes(block)

    async def scenario(url: str, pid: int) -> tuple[int, int, float, dict[str, object]]:
        path = f"/api/studies/{STUDY}/participants/{code}/recordings"
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(url) as http:
            # A small upload first, so PyAV, the queue and the database pools are warm.
            warm = aiohttp.FormData()
            warm.add_field("file", (DATA / "interview_en.ogg").read_bytes(), filename="w.ogg")
            assert (await http.post(path, data=warm, headers=headers)).status == 201
            before = _peak_rss(pid)
            started = time.perf_counter()
            with aiohttp.MultipartWriter("form-data") as form:
                part = form.append(wav())
                part.set_content_disposition("form-data", name="file", filename="long.wav")
                response = await http.post(path, data=form, headers=headers)
                body = await response.json()
                assert response.status == 201, body
            return before, _peak_rss(pid), time.perf_counter() - started, body

    with _web_process(fv) as (process, url, lines):
        before, after, elapsed, body = asyncio.run(scenario(url, process.pid))
    growth = after - before
    print(
        f"\n{total_mib} MiB upload: {elapsed:.1f} s ({total_mib / elapsed:.0f} MiB/s, stored, "
        f"probed and answered); server peak RSS {before / 1e6:.0f} -> {after / 1e6:.0f} MB"
    )
    assert growth < 64 * 1024 * 1024, f"peak RSS grew by {growth / 1e6:.1f} MB"
    assert body["duration_s"] == pytest.approx(data_bytes / 32000, rel=0.01)
    log = "".join(lines)
    assert code in log  # the access log shows the participant code …
    assert token not in log  # … never the token
    settings = load_settings(environ={}, data_dir=fv.data_dir)
    services = open_services(settings)
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(Recording)) == 2
        sizes = session.scalars(select(BlobObject.plaintext_size)).all()
        assert data_bytes + 44 in sizes
    services.close()


def _models() -> Path:
    """The installed Whisper base model of this checkout (`fieldvault models install base`)."""
    folder = Path(__file__).parents[2] / "fieldvault-data" / "models"
    if not (folder / "base").is_dir():
        pytest.skip("run `fieldvault models install base` first")
    return folder


def test_serve_transcribes_a_web_upload_with_its_in_process_worker(tmp_path: Path) -> None:
    fv = Fieldvault(tmp_path / "data")
    fv.env.update(
        FIELDVAULT_MODEL_DIR=str(_models()), FIELDVAULT_WHISPER_THREADS="2", HF_HUB_OFFLINE="1"
    )
    fv("init")
    fv("study", "create", str(example_still_running(tmp_path)))
    token = fv("researcher", "api-token", STUDY, "--label", "IH").stdout.strip()
    code = _consented(fv.data_dir)
    settings = load_settings(environ={}, data_dir=fv.data_dir)

    def job_state() -> str | None:
        services = open_services(settings)
        try:
            with transaction(services.research) as session:
                return session.scalar(select(TranscriptionJob.state))
        finally:
            services.close()

    async def upload(url: str) -> None:
        form = aiohttp.FormData()
        form.add_field("language", "en")
        form.add_field("file", (DATA / "track_interviewer.ogg").read_bytes(), filename="a.ogg")
        async with aiohttp.ClientSession(url) as http:
            response = await http.post(
                f"/api/studies/{STUDY}/participants/{code}/recordings",
                data=form,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status == 201, await response.text()
        async with asyncio.timeout(120):
            while job_state() != "done":
                await asyncio.sleep(0.5)

    with _web_process(fv, "serve") as (process, url, lines):
        try:
            asyncio.run(upload(url))
        except TimeoutError:
            pytest.fail("the job was not done in time:\n" + "".join(lines))
    assert process.returncode == 0, "".join(lines)
    log = "".join(lines)
    assert "worker: on, in this process" in log and "Telegram bot is off" in log
    assert re.search(r"job \d+: done", log), log
    shown = fv("transcript", "show", STUDY, code, "--raw").stdout
    reference = (DATA / "track_interviewer.txt").read_text(encoding="utf-8").split()
    assert any(word.strip(".,?").lower() in shown.lower() for word in reference[:8]), shown
