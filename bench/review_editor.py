"""Benchmark: the review editor of a 60-minute transcript — time to interactive, audio seek.

A generated 60-minute interview (the English clip repeated, re-encoded as Ogg/Opus, taken in by
``accept_recording``; 1000 segments of 3.6 s with names the pseudonymisation replaces, stored
and pseudonymised as in ``tests/review_fixture.py``) is opened in Debian's Chromium by a
logged-in owner against the real web app on 127.0.0.1:

- time to interactive: navigation start → ``DOMContentLoaded`` handled (review.js runs at the
  end of the body, so its listeners are attached then), median of 5 loads; the HTML's size;
- audio seek → first byte: a ``Range: bytes=N-`` request at 20 random offsets, from sending the
  request to the first body byte read, p50/p95 (each answer is decrypted from the segments the
  range needs only).

Targets (issue 13): ≤ 1 s and ≤ 150 ms.

    .venv/bin/python bench/review_editor.py [--minutes 60] [--postgres]

Most of its 4-5 minutes is the set-up (encoding and taking in an hour of audio); exit status 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import av  # noqa: E402
import numpy as np  # noqa: E402
from aiohttp import web  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from support import (  # noqa: E402  (bench/ is this script's own folder on sys.path)
    create_postgres_databases,
    database_env,
    drop_postgres_databases,
    pct,
)

from fieldvault.config.settings import load_settings  # noqa: E402
from fieldvault.config.study import load_study  # noqa: E402
from fieldvault.domain import studies  # noqa: E402
from fieldvault.domain.permissions import Role  # noqa: E402
from fieldvault.storage.db import transaction  # noqa: E402
from fieldvault.storage.services import initialise, open_services  # noqa: E402
from fieldvault.web.app import create_app  # noqa: E402
from tests.integration.conftest import NOW, example_still_running  # noqa: E402
from tests.integration.recording_helpers import DATA, decode_pcm  # noqa: E402
from tests.researcher_web import PASSWORD, add_member  # noqa: E402
from tests.review_fixture import reviewable  # noqa: E402

RATE = 48000
SENTENCE = (
    "I meet many young people who need help finding a job, and digital meetings make it "
    "harder to build a good relationship with them."
)
WORDS = SENTENCE.split()


def long_ogg(minutes: float) -> bytes:
    """The clip repeated to ``minutes``, encoded as Ogg/Opus at 32 kbit/s."""
    clip = decode_pcm(DATA / "interview_en.ogg", RATE)
    samples = np.resize(clip, int(minutes * 60 * RATE))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=RATE, layout="mono")
        stream.bit_rate = 32000
        for i in range(0, len(samples), RATE * 10):
            frame = av.AudioFrame.from_ndarray(
                samples[i : i + RATE * 10].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def lines(count: int) -> list[tuple[str, str]]:
    """``count`` segments of about 14 words; every 25th names the informant or a workplace."""
    rng = random.Random(7)
    out = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "."
        if i % 25 == 0:
            text += " Kari Nordmann worked at NAV Volda then."
        out.append((f"speaker-{1 + (i % 2)}", text))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        import os

        os.environ.update(create_postgres_databases())
    try:
        return run(args.minutes)
    finally:
        if args.postgres:
            drop_postgres_databases()


def run(minutes: float) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ=database_env(), data_dir=Path(tmp) / "data")
        initialise(settings)
        services = open_services(settings)
        path = example_still_running(Path(tmp))
        definition = load_study(path)
        with transaction(services.research) as session:
            studies.register_study(session, definition, path.read_text(encoding="utf-8"), NOW)
        t0 = time.perf_counter()
        audio = long_ogg(minutes)
        count = int(minutes * 60 / 3.6)
        fx = reviewable(
            services, definition.id, NOW, lines=lines(count), audio=audio, segment_s=3.6
        )
        print(
            f"set-up: {len(audio) / 1e6:.1f} MB of Ogg/Opus, {count} segments, "
            f"{time.perf_counter() - t0:.1f} s (encode, intake, pseudonymise)"
        )
        email = add_member(services, definition.id, Role.OWNER, NOW)
        url, stop, thread = serve(services)
        try:
            editor = f"{url}/studies/{definition.id}/transcripts/{fx.transcript_id}"
            tti, html_size = browser_tti(url, editor, email)
            seeks = asyncio.run(seek_times(url, editor + "/audio/0", email, len(audio)))
        finally:
            stop()
            thread.join(30)
            services.close()
    print(
        f"review page ({count} segments, {html_size / 1024:.0f} KiB HTML): time to interactive "
        f"median {statistics.median(tti) * 1000:.0f} ms, max {max(tti) * 1000:.0f} ms "
        f"(target <= 1000 ms)"
    )
    print(
        f"audio seek -> first byte over {len(seeks)} random offsets: p50 {pct(seeks, 0.5):.1f} ms, "
        f"p95 {pct(seeks, 0.95):.1f} ms (target <= 150 ms)"
    )
    ok = statistics.median(tti) <= 1.0 and pct(seeks, 0.95) <= 150
    return 0 if ok else 1


def serve(services):  # type: ignore[no-untyped-def]
    """The real app in a thread with its own loop; (url, stop, thread)."""
    app = create_app(services, clock=lambda: NOW)
    loop = asyncio.new_event_loop()
    ready, address = threading.Event(), []
    stopped = asyncio.Event()

    async def serve_() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        address.append(f"http://{host}:{port}")
        ready.set()
        await stopped.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve_()), daemon=True)
    thread.start()
    ready.wait(30)
    return address[0], lambda: loop.call_soon_threadsafe(stopped.set), thread


def browser_tti(base: str, editor: str, email: str) -> tuple[list[float], int]:
    """Five loads of the editor: navigation start → DOMContentLoaded handled, in seconds."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(f"{base}/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state()
        times, size = [], 0
        for _ in range(5):
            page.goto(editor, wait_until="domcontentloaded")
            entry = page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.domContentLoadedEventEnd, n.transferSize, n.decodedBodySize]; })()"
            )
            times.append(entry[0] / 1000)
            size = int(entry[2])
        assert page.locator("li.segment").count() > 0
        browser.close()
    return times, size


async def seek_times(base: str, audio_url: str, email: str, size: int) -> list[float]:
    """Time to the first body byte of ``Range: bytes=N-`` at 20 random offsets, in seconds."""
    from tests.researcher_web import log_in

    rng = random.Random(3)
    out = []
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
        await log_in(http, email)
        for _ in range(20):
            offset = rng.randrange(0, size)
            start = time.perf_counter()
            async with http.get(audio_url, headers={"Range": f"bytes={offset}-"}) as answer:
                assert answer.status == 206, answer.status
                await answer.content.readexactly(1)
                out.append(time.perf_counter() - start)
                await answer.read()
    return out


if __name__ == "__main__":
    sys.exit(main())
