"""Benchmark: N informants completing the web consent flow concurrently on 127.0.0.1.

Each informant is its own aiohttp client session (its own cookie jar, so its own CSRF cookie)
and walks the flow as a browser without JavaScript would, one request per step, redirects
followed as steps of their own:

    GET /join/{invite} → POST /join/{invite} (language) → GET /p/{token}/letter →
    GET /p/{token}/items → POST (answers) → … confirm → GET /p/{token}/receipt →
    GET /p/{token}/receipt.pdf

The server is the real web app (``fieldvault.compose.build_web_app``) in a child process, so
the clients do not share its interpreter. The reference, measured in the same run and the same
way, is a bare aiohttp handler in a child process that answers the same number of requests
with a page of the same size (no template, database, crypto or PDF): the ratio shows what
fieldvault adds on top of aiohttp.

    .venv/bin/python bench/web_consent.py [--informants 200] [--ramp-s 0] [--postgres]

``--ramp-s`` spreads the informants' arrivals over that many seconds. 0 (the default) starts
all 200 at once, a closed-loop burst: then the figures are mostly queueing (for the reference
too) and show throughput. Target: p95 <= 100 ms per step on 2 cores with arrivals spread
(``--ramp-s 30``). The in-process time to build and render a receipt PDF is printed as well.
Exit status 1 unless exactly N consent records exist afterwards, one per informant (none lost,
none duplicated), each over the web channel. Runs in about 35 s (burst) or 70 s (--ramp-s 30).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from support import (  # noqa: E402  (bench/ is this script's own folder on sys.path)
    create_postgres_databases,
    database_env,
    drop_postgres_databases,
    pct,
)

from fieldvault.config.settings import load_settings  # noqa: E402
from fieldvault.config.study import load_study  # noqa: E402
from fieldvault.domain import consent, receipts, studies  # noqa: E402
from fieldvault.storage.db import transaction  # noqa: E402
from fieldvault.storage.models import ConsentRecord, Participant  # noqa: E402
from fieldvault.storage.services import Services, initialise, open_services  # noqa: E402

EXAMPLE = ROOT / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
NOW = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)
TARGET_P95_MS = 100.0
LANGUAGE = "en"
# Answers that grant an item, whatever the form calls them.
YES = {"yes", "true", "1", "on", "grant", "granted", "y", "ja"}


# --- a browser without JavaScript: forms as the page declares them -----------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str, str, bool]] = field(default_factory=list)  # name, type, value
    buttons: list[tuple[str, str]] = field(default_factory=list)  # named submit buttons

    def data(self, choose: dict[str, str] | None = None) -> dict[str, str]:
        """What submitting the form sends: hidden/text fields, one radio per group (yes)."""
        choose = choose or {}
        out: dict[str, str] = {}
        radios: dict[str, list[str]] = {}
        for name, kind, value, checked in self.fields:
            if not name:
                continue
            if kind == "radio":
                radios.setdefault(name, []).append(value)
            elif kind == "checkbox":
                if checked:
                    out[name] = value or "on"
            else:
                out[name] = value
        for name, values in radios.items():
            wanted = choose.get(name)
            if wanted in values:
                out[name] = wanted
            else:
                out[name] = next((v for v in values if v.lower() in YES), values[0])
        for name, value in self.buttons:
            if name in choose and choose[name] == value:
                out[name] = value
        if self.buttons and not any(n in out for n, _ in self.buttons):
            name, value = self.buttons[0]
            out[name] = choose.get(name, value)
        return out


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._current)
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif self._current is None:
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "submit":
                if a.get("name"):
                    self._current.buttons.append((a["name"], a.get("value", "")))
            else:
                name, value = a.get("name", ""), a.get("value", "")
                self._current.fields.append((name, kind, value, "checked" in a))
        elif tag == "button" and a.get("type", "submit").lower() == "submit" and a.get("name"):
            self._current.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


# --- the informants -----------------------------------------------------------------------------


class FlowError(RuntimeError):
    pass


@dataclass
class Informant:
    base: str
    invite: str
    timings: dict[str, list[float]]
    session: aiohttp.ClientSession
    sizes: list[int] = field(default_factory=list)  # of the HTML pages, for the reference

    async def request(self, step: str, method: str, url: str, **kw: object) -> tuple[int, str, str]:
        """One request of the flow (redirects not followed); its latency under ``step``."""
        start = time.perf_counter()
        async with self.session.request(
            method, urljoin(self.base, url), allow_redirects=False, **kw
        ) as response:
            body = await response.read()
            elapsed = time.perf_counter() - start
            self.timings.setdefault(step, []).append(elapsed)
            location = response.headers.get("Location", "")
            if response.status >= 400:
                raise FlowError(f"{step}: {method} → {response.status}")
            text = body.decode("utf-8", errors="replace") if not url.endswith(".pdf") else ""
            if text:
                self.sizes.append(len(body))
            if url.endswith(".pdf") and not body.startswith(b"%PDF"):
                raise FlowError(f"{step}: not a PDF")
            return response.status, location, text

    async def post_form(self, step: str, page_url: str, html: str, **choose: str) -> str:
        """Submit the page's POST form; return the URL the answer sends us to (or the page)."""
        forms = [f for f in parse(html).forms if f.method == "post"]
        if not forms:
            raise FlowError(f"{step}: no form on {urlsplit(page_url).path[:12]}…")
        form = forms[0]
        action = urljoin(page_url, form.action or page_url)
        status, location, body = await self.request(step, "POST", action, data=form.data(choose))
        if status in (301, 302, 303):
            return urljoin(action, location)
        self.last_html = body
        return action

    async def run(self) -> None:
        join = f"/join/{self.invite}"
        _, _, html = await self.request("join (GET)", "GET", join)
        url = await self.post_form("language (POST)", join, html, lang=LANGUAGE)
        token = re.search(r"/p/([^/?#]+)", url)
        if token is None:
            raise FlowError("the language step led to no personal page")
        page = f"/p/{token.group(1)}"
        await self.request("letter (GET)", "GET", url)
        _, _, html = await self.request("items (GET)", "GET", f"{page}/items")
        # Answers → confirmation → record: follow the forms until the receipt.
        url = await self.post_form("answers (POST)", f"{page}/items", html)
        for _ in range(3):
            if urlsplit(url).path.endswith("/receipt"):
                break
            if urlsplit(url).path == urlsplit(urljoin(self.base, f"{page}/items")).path:
                raise FlowError("the answers were sent back to the items page")
            if getattr(self, "last_html", None) is None:
                _, _, html = await self.request("confirm (GET)", "GET", url)
            else:
                html, self.last_html = self.last_html, None
            url = await self.post_form("confirm (POST)", url, html)
        else:
            raise FlowError("the flow did not reach the receipt")
        await self.request("receipt (GET)", "GET", url)
        await self.request("receipt.pdf (GET)", "GET", f"{page}/receipt.pdf")

    last_html: str | None = None


async def reference_informant(
    base: str, timings: dict[str, list[float]], steps: int, delay: float
) -> None:
    await asyncio.sleep(delay)
    async with aiohttp.ClientSession() as session:
        for i in range(steps):
            start = time.perf_counter()
            method = "POST" if i % 2 else "GET"
            async with session.request(method, f"{base}/page", data={"csrf": "x"}) as response:
                await response.read()
            timings.setdefault("reference", []).append(time.perf_counter() - start)


# --- the servers (child processes) --------------------------------------------------------------


def reference_app(size: int) -> web.Application:
    page = ("<!doctype html><html lang=en><main><h1>ref</h1>" + "x" * size)[:size].encode()

    async def handler(request: web.Request) -> web.Response:
        if request.method == "POST":
            await request.post()
        return web.Response(body=page, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/page", handler)
    return app


async def serve(kind: str, port: int, data_dir: Path, size: int) -> None:
    """Child process: the fieldvault web app (or the reference) until SIGTERM."""
    if kind == "reference":
        app = reference_app(size)
    else:
        from fieldvault.compose import build_web_app

        settings = load_settings(environ=database_env(), data_dir=data_dir)
        app = build_web_app(
            open_services(settings),
            dispatch=lambda: None,
            clock=lambda: NOW + dt.timedelta(hours=1),
        )
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


def start_child(kind: str, port: int, data_dir: Path, size: int) -> subprocess.Popen[bytes]:
    args = ["--child", kind, "--port", str(port), "--data-dir", str(data_dir), "--size", str(size)]
    return subprocess.Popen([sys.executable, __file__, *args])


def stop_child(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


async def warm_up(base: str, code: str) -> None:
    """Untimed: the templates compiled, the study loaded once (the invite is not used)."""
    async with aiohttp.ClientSession() as session:
        for path in (f"/join/{code}", f"/join/{code}?lang=nb", "/p/not-a-token"):
            async with session.get(base + path) as response:
                await response.read()


async def drive_fieldvault(
    base: str, codes: list[str], ramp: float
) -> tuple[dict[str, list[float]], float, list[str], int]:
    """Every informant (arriving over ``ramp`` s); timings per step, seconds, failures, size."""
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    sizes: list[int] = []
    connector_limit = len(codes)

    async def one(code: str, delay: float) -> None:
        await asyncio.sleep(delay)
        # One connector per informant: its own connection and its own cookie jar.
        connector = aiohttp.TCPConnector(limit=connector_limit)
        # unsafe: keep cookies from an IP address host (127.0.0.1), as a browser does.
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as session:
            try:
                await Informant(base, code, timings, session, sizes).run()
            except (TimeoutError, FlowError, aiohttp.ClientError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    start = time.perf_counter()
    n = len(codes)
    await asyncio.gather(*(one(c, ramp * i / n) for i, c in enumerate(codes)))
    elapsed = time.perf_counter() - start
    return timings, elapsed, errors, int(statistics.fmean(sizes)) if sizes else 4096


def figures(values: list[float]) -> str:
    p50, p95, p99 = (pct(values, q) for q in (0.5, 0.95, 0.99))
    return f"p50 {p50:7.1f}  p95 {p95:7.1f}  p99 {p99:7.1f} ms"


def example_still_running(folder: Path) -> Path:
    """The example study with end dates far ahead (as tests/integration/conftest.py does)."""
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace("start_date = 2021-02-01", "start_date = 2190-02-01")
        .replace("project_end = 2021-05-14", "project_end = 2199-05-14")
        .replace("processing_end = 2021-06-30", "processing_end = 2199-06-30")
    )
    path = folder / "example-still-running.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--informants", type=int, default=200)
    parser.add_argument(
        "--ramp-s", type=float, default=0.0, help="spread arrivals over this many s (0: at once)"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="use PostgreSQL on 127.0.0.1:5432 (user postgres)"
    )
    parser.add_argument("--child", choices=["reference", "fieldvault"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=4096, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(serve(args.child, args.port, args.data_dir, args.size))
        return 0
    n = args.informants

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        if args.postgres:
            os.environ.update(create_postgres_databases())
        settings = load_settings(environ=database_env(), data_dir=data_dir)
        initialise(settings)
        services = open_services(settings)
        path = example_still_running(Path(tmp))
        definition = load_study(path)
        with transaction(services.research) as session:
            studies.register_study(session, definition, path.read_text(encoding="utf-8"), NOW)
            codes = consent.create_invites(session, definition.id, n, dt.timedelta(days=30), NOW)
            [spare] = consent.create_invites(session, definition.id, 1, dt.timedelta(days=30), NOW)

        port = free_port()
        child = start_child("fieldvault", port, data_dir, 0)
        try:
            asyncio.run(wait_listening(port, child))
            base = f"http://127.0.0.1:{port}"
            asyncio.run(warm_up(base, spare))
            timings, elapsed, errors, size = asyncio.run(drive_fieldvault(base, codes, args.ramp_s))
        finally:
            stop_child(child)

        render_s = time_pdf_render(services, definition.id)

        steps_per_informant = max(1, round(sum(map(len, timings.values())) / n))
        ref_port = free_port()
        ref_child = start_child("reference", ref_port, data_dir, size)
        ref: dict[str, list[float]] = {}
        try:
            asyncio.run(wait_listening(ref_port, ref_child))
            ref_base = f"http://127.0.0.1:{ref_port}"

            async def reference_run() -> float:
                start = time.perf_counter()
                await asyncio.gather(
                    *(
                        reference_informant(ref_base, ref, steps_per_informant, args.ramp_s * i / n)
                        for i in range(n)
                    )
                )
                return time.perf_counter() - start

            ref_elapsed = asyncio.run(reference_run())
        finally:
            stop_child(ref_child)

        with transaction(services.research) as session:
            per_participant = Counter(
                session.scalars(
                    select(ConsentRecord.participant_id).where(
                        ConsentRecord.kind == "consent", ConsentRecord.channel == "web"
                    )
                )
            )
            records = session.scalar(select(func.count()).select_from(ConsentRecord)) or 0
            consented = (
                session.scalar(
                    select(func.count())
                    .select_from(Participant)
                    .where(Participant.state == "consented")
                )
                or 0
            )
        services.close()
        if args.postgres:
            drop_postgres_databases()

    every = [t for values in timings.values() for t in values]
    backend = "PostgreSQL" if args.postgres else "SQLite"
    ref_all = ref.get("reference", [])
    print(
        f"informants: {n}, arriving over {args.ramp_s:.0f} s, {backend}, "
        f"server in its own process, {os.cpu_count()} CPUs; {len(every)} requests in "
        f"{elapsed:.1f} s ({n / elapsed:.1f} consents/s)"
    )
    for name, values in timings.items():
        met = "" if pct(values, 0.95) <= TARGET_P95_MS else "  (over target)"
        print(f"  {name:<20} n={len(values):4d}  {figures(values)}{met}")
    print(f"  {'all steps':<20} n={len(every):4d}  {figures(every)}")
    if ref_all:
        print(
            f"reference (bare aiohttp, {size} B page, same requests): n={len(ref_all)}  "
            f"{figures(ref_all)}  ({len(ref_all) / ref_elapsed:.0f} requests/s)"
        )
        print(
            f"ratio fieldvault/reference: p50 {pct(every, 0.5) / pct(ref_all, 0.5):.1f}x  "
            f"p95 {pct(every, 0.95) / pct(ref_all, 0.95):.1f}x  throughput "
            f"{(len(every) / elapsed) / (len(ref_all) / ref_elapsed):.2f}"
        )
    if render_s:
        print(
            f"receipt PDF render (in process, {len(render_s)} receipts): "
            f"mean {statistics.fmean(render_s) * 1000:.1f} ms, {figures(render_s)}"
        )
    worst = max((pct(v, 0.95) for v in timings.values()), default=float("inf"))
    print(
        f"target p95 <= {TARGET_P95_MS:.0f} ms per step: "
        f"{'met' if worst <= TARGET_P95_MS else 'NOT met'} (worst step p95 {worst:.1f} ms)"
    )
    duplicated = sum(1 for c in per_participant.values() if c > 1)
    ok = (
        not errors
        and len(per_participant) == n
        and duplicated == 0
        and records == n
        and consented == n
    )
    for error, count in Counter(errors).most_common(5):
        print(f"  failed informants: {count} x {error}")
    print(
        f"consent records: {records} (expected {n}); web consents for {len(per_participant)} "
        f"participants, {duplicated} duplicated; consented participants: {consented} -> "
        f"{'OK' if ok else 'LOST OR DUPLICATED'}"
    )
    return 0 if ok else 1


def time_pdf_render(services: Services, study_id: str, limit: int = 50) -> list[float]:
    """Seconds to build and render the PDF of ``limit`` stored web receipts, in process."""
    from fieldvault.web.consent.texts import gettext_for
    from fieldvault.web.receipt_pdf import receipt_pdf

    seconds = []
    with transaction(services.research) as session:
        people = list(
            session.scalars(
                select(Participant).where(Participant.study_id == study_id).limit(limit)
            )
        )
        for person in people:
            start = time.perf_counter()
            receipt = receipts.receipt(session, person)
            pdf = receipt_pdf(receipt, gettext_for(receipt.language))
            seconds.append(time.perf_counter() - start)
            assert pdf.startswith(b"%PDF")
    return seconds


if __name__ == "__main__":
    raise SystemExit(main())
