"""Benchmark: the researcher web app — 50 researchers browsing, the review editor, audio seek.

One study of 500 participants and 200 transcripts, served by the real web app
(``fieldvault.compose.build_web_app``) in a child process on a free port of 127.0.0.1, so the
clients do not share its interpreter:

1. **Browsing.** 50 researchers (each an aiohttp client with its own cookie jar, logged in) open
   the studies list, the study's overview, pages of its participant list and single
   participants' pages, each waiting ``--think-s`` (±50 %) between pages as a person does, for
   ``--seconds``; p50/p95 latency (request sent → whole body read). Target p95 <= 100 ms.
2. **Review editor**, a 60-minute transcript (1000 segments) in Debian's Chromium, logged in as
   an owner: time to interactive = navigation start → the review script's
   ``performance.mark('review-ready')`` (set when its listeners are attached), or
   ``DOMContentLoaded`` end where the page sets no mark; median of 5 loads. Target <= 1 s.
3. **Audio seek → first byte**: ``Range: bytes=N-`` on the editor's audio route at 20 random
   offsets of the 60-minute recording; p50/p95 time to the first body byte. Target <= 150 ms.

How the data is built, fast. The study is ``fieldvault demo``'s study file (dates around today).
The 500 participants are made by the calls ``register_participant`` makes (``new_participant``,
the variables, the ``participant.added`` audit event, the identity sealed in the vault), all in
one research transaction instead of one each, and without its pseudonym-clash scan over every
name in the vault (quadratic in the participants; the names here are all different); each then
consents through ``consent.mark_informed`` + ``consent.record_consent`` (web channel) as the web
page does. 199 of the 200 transcripts are the rows the transcription job writes — a raw
transcript sealed under the participant's key (``ContentStore.put``), a ``Recording``, a done
``TranscriptionJob``, a ``Transcript`` and the participant moved to *transcribed* — with no
audio track (none of the pages measured reads audio) and no review bundle. The 200th is the
60-minute one, taken in through ``accept_recording`` and pseudonymised by the pseudonymise job
(``bench/review_editor.py``'s audio and segments, ``tests/review_fixture.py``). The researchers'
sessions are opened with ``accounts.open_session`` and handed to each client as its session
cookie (50 logins through the form would only measure argon2id and trip the login throttle).

    .venv/bin/python bench/web_researcher.py [--researchers 50] [--seconds 30] [--think-s 1]
                                             [--minutes 60] [--postgres]

Prints a table of the figures against their targets; exit status 1 when a check fails (or a
page answered other than 200). About 5 minutes on 2 busy cores, most of it making the 60-minute
recording (encoding, intake, pseudonymising 1000 segments).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from review_editor import lines, long_ogg  # noqa: E402  (the 60-minute audio and segments)
from support import (  # noqa: E402  (bench/ is this script's own folder on sys.path)
    create_postgres_databases,
    database_env,
    drop_postgres_databases,
    pct,
)
from yarl import URL  # noqa: E402

from fieldvault.config.settings import load_settings  # noqa: E402
from fieldvault.config.study import parse_study  # noqa: E402
from fieldvault.domain import accounts, consent, studies  # noqa: E402
from fieldvault.domain.demo import DEMO_STUDY, demo_study_text  # noqa: E402
from fieldvault.domain.participants import get_participant, new_participant  # noqa: E402
from fieldvault.domain.permissions import Role  # noqa: E402
from fieldvault.domain.states import State, transition  # noqa: E402
from fieldvault.storage import audit  # noqa: E402
from fieldvault.storage.content import BlobKind  # noqa: E402
from fieldvault.storage.db import transaction  # noqa: E402
from fieldvault.storage.models import Recording, Transcript, TranscriptionJob, utcnow  # noqa: E402
from fieldvault.storage.services import Services, initialise, open_services  # noqa: E402
from fieldvault.storage.vault import Identity  # noqa: E402
from fieldvault.web.researcher.access import SESSION_COOKIE  # noqa: E402
from tests.review_fixture import reviewable  # noqa: E402

STUDY = DEMO_STUDY
PASSWORD = "bench password, long enough"
TARGET_BROWSE_P95_MS = 100.0
TARGET_TTI_MS = 1000.0
TARGET_SEEK_P95_MS = 150.0
READY_MARK = "review-ready"  # static/review.js: performance.mark('review-ready')
CHROMIUM = "/usr/bin/chromium"


# --- the data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """What the benchmark needs from the data: codes, the long transcript, owner and tokens."""

    codes: list[str]
    transcript_id: int
    audio_bytes: int
    owner_email: str
    tokens: list[str]


def build_study(services: Services, now: dt.datetime) -> None:
    """The demo study file, registered (dates around today, so it is running)."""
    text = demo_study_text(now.date())
    with transaction(services.research) as session:
        studies.register_study(session, parse_study(text), text, now)


def build_participants(services: Services, count: int, now: dt.datetime) -> list[str]:
    """``count`` consented participants (see the module docstring for what differs)."""
    rng = random.Random(11)
    made: list[str] = []
    with transaction(services.research) as session:
        for i in range(count):
            person = new_participant(session, STUDY, now)
            person.variables = {
                "aldersgruppe": rng.choice(["under 35", "35-49", "50-65"]),
                "erfaring_ar": rng.randrange(1, 30),
            }
            audit.append(
                session,
                audit.Event.PARTICIPANT_ADDED,
                actor="researcher",
                study_id=STUDY,
                participant_code=person.code,
                details={"variables": sorted(person.variables), "identity_fields": ["name"]},
                at=now,
            )
            consent.mark_informed(session, person, "nb", now)
            consent.record_consent(
                session,
                person,
                {"interview-recording": True, "identifiable-publication": i % 3 == 0},
                language="nb",
                channel="web",
                letter_delivered_at=now,
                now=now,
                how={"bench": True},
            )
            made.append(person.code)
    for i, code in enumerate(made):
        services.vault.put(STUDY, code, Identity(name=f"Bench Person {i:03d}"), now)
    return made


def build_transcripts(services: Services, codes: list[str], now: dt.datetime) -> None:
    """The rows the transcription job leaves for each of ``codes`` (no audio, no bundle)."""
    with transaction(services.research) as session:
        for n, code in enumerate(codes):
            person = get_participant(session, STUDY, code)
            recording = Recording(
                study_id=STUDY,
                participant_id=person.id,
                language="no",
                source="cli",
                duration_s=160.0,
                created_at=now,
            )
            session.add(recording)
            session.flush()
            document = {  # the job's document (workers/jobs.py _transcribe)
                "recording_id": recording.id,
                "language": "no",
                "engine": "faster-whisper",
                "model": "base",
                "duration_s": recording.duration_s,
                "suspect_count": 0,
                "segments": [
                    {
                        "start": 4.0 * i,
                        "end": 4.0 * (i + 1),
                        "text": f"Segment {i} of interview {n}, about guidance and meetings.",
                        "speaker": f"speaker-{1 + i % 2}",
                        "suspect": [],
                    }
                    for i in range(40)
                ],
            }
            obj = services.content.put(
                session,
                study_id=STUDY,
                participant_id=person.id,
                participant_code=code,
                kind=BlobKind.RAW_TRANSCRIPT,
                source=[json.dumps(document).encode("utf-8")],
                now=now,
            )
            session.add(
                TranscriptionJob(
                    recording_id=recording.id,
                    study_id=STUDY,
                    state="done",
                    attempts=1,
                    progress=1.0,
                    enqueued_at=now,
                    started_at=now,
                    finished_at=now,
                    created_at=now,
                )
            )
            session.add(
                Transcript(
                    recording_id=recording.id,
                    object_id=obj.object_id,
                    language="no",
                    engine="faster-whisper",
                    model="base",
                    segment_count=len(document["segments"]),
                    suspect_count=0,
                    created_at=now,
                )
            )
            transition(person, State.INTERVIEWED, now)
            transition(person, State.TRANSCRIBED, now)


def build_long_review(services: Services, minutes: float, now: dt.datetime) -> tuple[int, int]:
    """The 60-minute transcript through intake and the pseudonymise job; (id, audio bytes)."""
    audio = long_ogg(minutes)
    count = int(minutes * 60 / 3.6)
    fixture = reviewable(services, STUDY, now, lines=lines(count), audio=audio, segment_s=3.6)
    return fixture.transcript_id, len(audio)


def build_researchers(services: Services, count: int, now: dt.datetime) -> tuple[str, list[str]]:
    """An owner with a password (for the browser) and ``count`` members' session tokens."""
    tokens = []
    with transaction(services.research) as session:
        owner, code = accounts.add_researcher(
            session, "owner@bench.example", STUDY, Role.OWNER, actor="bench", now=now
        )
        assert code is not None
        accounts.set_password(session, code, PASSWORD, now)
        for i in range(count):
            role = Role.OWNER if i % 2 else Role.RESEARCHER
            account, _ = accounts.add_researcher(
                session, f"r{i:02d}@bench.example", STUDY, role, actor="bench", now=now
            )
            tokens.append(accounts.open_session(session, account, now))
    return owner.email, tokens


def build(services: Services, args: argparse.Namespace) -> Built:
    """The whole data set; prints how long each part took."""
    now = utcnow()
    steps: list[tuple[str, float]] = []
    t = time.perf_counter()
    build_study(services, now)
    codes = build_participants(services, args.participants, now)
    steps.append((f"{len(codes)} participants", time.perf_counter() - t))
    t = time.perf_counter()
    build_transcripts(services, codes[: args.transcripts - 1], now)
    steps.append((f"{args.transcripts - 1} transcripts", time.perf_counter() - t))
    t = time.perf_counter()
    transcript_id, audio_bytes = build_long_review(services, args.minutes, now)
    steps.append((f"the {args.minutes:.0f}-minute one", time.perf_counter() - t))
    owner, tokens = build_researchers(services, args.researchers, now)
    print("set-up: " + ", ".join(f"{what} {s:.1f} s" for what, s in steps))
    return Built(codes, transcript_id, audio_bytes, owner, tokens)


# --- the server (a child process) ----------------------------------------------------------------


async def serve(port: int, data_dir: Path) -> None:
    """Child process: the fieldvault web app until SIGTERM."""
    from fieldvault.compose import build_web_app

    settings = load_settings(environ=database_env(), data_dir=data_dir)
    app = build_web_app(open_services(settings), dispatch=lambda: None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_listening(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the server exited with {child.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise SystemExit("the server did not listen within 60 s")


def start_child(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    args = ["--child", "--port", str(port), "--data-dir", str(data_dir)]
    return subprocess.Popen([sys.executable, __file__, *args])


def stop_child(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


# --- 1. researchers browsing ------------------------------------------------------------------


def client(base: str, token: str) -> aiohttp.ClientSession:
    """A researcher's browser: its own cookie jar holding its session cookie."""
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({SESSION_COOKIE: token}, response_url=URL(base))
    return aiohttp.ClientSession(base, cookie_jar=jar)


def next_page(rng: random.Random, codes: list[str], pages: int) -> tuple[str, str]:
    """(kind, path) of the next page a researcher opens."""
    roll = rng.random()
    if roll < 0.15:
        return "studies list", "/studies"
    if roll < 0.35:
        return "study overview", f"/studies/{STUDY}"
    if roll < 0.65:
        return "participants", f"/studies/{STUDY}/participants?page={rng.randrange(1, pages + 1)}"
    return "participant", f"/studies/{STUDY}/participants/{rng.choice(codes)}"


async def browse(
    base: str, tokens: list[str], codes: list[str], seconds: float, think_s: float
) -> tuple[dict[str, list[float]], Counter[int], float]:
    """Every researcher browsing until ``seconds`` are up; latencies per kind, statuses, elapsed."""
    timings: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[int] = Counter()
    pages = max(1, (len(codes) + 49) // 50)
    end = time.monotonic() + seconds

    async def researcher(n: int, token: str) -> None:
        rng = random.Random(n)
        async with client(base, token) as http:
            await asyncio.sleep(rng.uniform(0, think_s))  # arrivals spread over one think time
            while time.monotonic() < end:
                kind, path = next_page(rng, codes, pages)
                start = time.perf_counter()
                async with http.get(path, allow_redirects=False) as answer:
                    await answer.read()
                    statuses[answer.status] += 1
                timings[kind].append(time.perf_counter() - start)
                await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))

    start = time.perf_counter()
    await asyncio.gather(*(researcher(n, t) for n, t in enumerate(tokens)))
    return timings, statuses, time.perf_counter() - start


async def warm_up(base: str, token: str, codes: list[str]) -> None:
    """Untimed: templates compiled, the study definition parsed once."""
    async with client(base, token) as http:
        for path in ("/studies", f"/studies/{STUDY}", f"/studies/{STUDY}/participants",
                     f"/studies/{STUDY}/participants/{codes[0]}"):  # fmt: skip
            async with http.get(path, allow_redirects=False) as answer:
                await answer.read()
                if answer.status != 200:
                    raise SystemExit(f"warm-up: {path} answered {answer.status}")


# --- 2. the review editor in Chromium ---------------------------------------------------------


def review_tti(base: str, editor: str, email: str, loads: int = 5) -> tuple[list[float], str, int]:
    """``loads`` loads of the editor: navigation start → ready mark (or DOMContentLoaded), s."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], timeout=30_000
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(f"{base}/studies**")
        times, how, size = [], "", 0
        for _ in range(loads):
            page.goto(editor, wait_until="load")
            ready, dcl, size = page.evaluate(
                "(name) => { const n = performance.getEntriesByType('navigation')[0];"
                " const m = performance.getEntriesByName(name, 'mark')[0];"
                " return [m ? m.startTime : null, n.domContentLoadedEventEnd,"
                " n.decodedBodySize]; }",
                READY_MARK,
            )
            how = f"mark '{READY_MARK}'" if ready is not None else "DOMContentLoaded end"
            times.append((ready if ready is not None else dcl) / 1000)
        segments = page.locator("li.segment").count()
        browser.close()
    if segments == 0:
        raise SystemExit("the review page shows no segment")
    return times, how, int(size)


# --- 3. audio seek -------------------------------------------------------------------------------


async def seek_times(base: str, audio_url: str, token: str, size: int) -> list[float]:
    """Time to the first body byte of ``Range: bytes=N-`` at 20 random offsets, in seconds."""
    rng = random.Random(3)
    out = []
    async with client(base, token) as http:
        for _ in range(20):
            offset = rng.randrange(0, size)
            start = time.perf_counter()
            async with http.get(audio_url, headers={"Range": f"bytes={offset}-"}) as answer:
                if answer.status != 206:
                    raise SystemExit(f"the audio route answered {answer.status}, not 206")
                await answer.content.readexactly(1)
                out.append(time.perf_counter() - start)
                answer.close()  # the rest is not wanted: a player drops it on the next seek
    return out


# --- the run -------------------------------------------------------------------------------------


def row(what: str, figure: str, target: str, ok: bool) -> str:
    return f"| {what:<52} | {figure:>26} | {target:>10} | {'ok' if ok else 'FAIL':<4} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--researchers", type=int, default=50)
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--transcripts", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long they browse")
    parser.add_argument("--think-s", type=float, default=1.0, help="mean pause between pages")
    parser.add_argument("--minutes", type=float, default=60.0, help="the long recording")
    parser.add_argument(
        "--postgres", action="store_true", help="use PostgreSQL on 127.0.0.1:5432 (user postgres)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(serve(args.port, args.data_dir))
        return 0
    if args.postgres:
        os.environ.update(create_postgres_databases())
    try:
        return run(args)
    finally:
        if args.postgres:
            drop_postgres_databases()


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        settings = load_settings(environ=database_env(), data_dir=data_dir)
        initialise(settings)
        services = open_services(settings)
        try:
            built = build(services, args)
        finally:
            services.close()
        port = free_port()
        child = start_child(port, data_dir)
        base = f"http://127.0.0.1:{port}"
        editor = f"{base}/studies/{STUDY}/transcripts/{built.transcript_id}"
        try:
            asyncio.run(wait_listening(port, child))
            asyncio.run(warm_up(base, built.tokens[0], built.codes))
            timings, statuses, elapsed = asyncio.run(
                browse(base, built.tokens, built.codes, args.seconds, args.think_s)
            )
            tti, how, html_size = review_tti(base, editor, built.owner_email)
            seeks = asyncio.run(
                seek_times(base, editor + "/audio/0", built.tokens[-1], built.audio_bytes)
            )
        finally:
            stop_child(child)

    every = [t for values in timings.values() for t in values]
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\n{args.researchers} researchers, {args.seconds:.0f} s, think {args.think_s} s "
        f"(±50 %), {backend}: {len(every)} pages, {len(every) / elapsed:.0f}/s; "
        f"statuses {dict(statuses)}"
    )
    for kind, values in sorted(timings.items()):
        print(
            f"  {kind:<15} n={len(values):>4}  p50 {pct(values, 0.5):6.1f} ms  "
            f"p95 {pct(values, 0.95):6.1f} ms  max {max(values) * 1000:6.1f} ms"
        )
    browse_ok = pct(every, 0.95) <= TARGET_BROWSE_P95_MS and set(statuses) == {200}
    tti_ms = statistics.median(tti) * 1000
    seek_p95 = pct(seeks, 0.95)
    lines = [
        row("check", "figure", "target", True).replace("ok  ", "    "),
        "|" + "-" * 54 + "|" + "-" * 28 + "|" + "-" * 12 + "|------|",
        row(
            f"browse p50 / p95 ({len(every)} pages)",
            f"{pct(every, 0.5):.1f} / {pct(every, 0.95):.1f} ms",
            f"p95 <= {TARGET_BROWSE_P95_MS:.0f}",
            browse_ok,
        ),
        row(
            f"review TTI, {args.minutes:.0f} min ({how}, {html_size // 1024} KiB)",
            f"median {tti_ms:.0f} ms (max {max(tti) * 1000:.0f})",
            f"<= {TARGET_TTI_MS:.0f}",
            tti_ms <= TARGET_TTI_MS,
        ),
        row(
            "audio seek → first byte p50 / p95",
            f"{pct(seeks, 0.5):.1f} / {seek_p95:.1f} ms",
            f"p95 <= {TARGET_SEEK_P95_MS:.0f}",
            seek_p95 <= TARGET_SEEK_P95_MS,
        ),
    ]
    print("\n" + "\n".join(lines))
    ok = browse_ok and tti_ms <= TARGET_TTI_MS and seek_p95 <= TARGET_SEEK_P95_MS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
