"""Real-browser fixtures: Debian's Chromium through Playwright, the real web app on a free port.

Playwright's own browser download cannot run here, so the browser is the system's
``/usr/bin/chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it). Without it
these tests are skipped, except under ``CI=true``, where they fail: CI must run them.

The server is ``fieldvault.compose.build_web_app`` over the ``services`` fixture of the
integration tests (SQLite only here: the domain is tested on both backends elsewhere), served
from a background thread with its own event loop, with a clock the test can move.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from fieldvault.compose import build_web_app
from fieldvault.config.study import load_study
from fieldvault.domain import consent, studies
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from tests.integration.conftest import NOW, example_still_running, services, settings

__all__ = ["services", "settings"]  # re-used fixtures (pytest finds them by name here)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Every browser action and navigation gives up after this long: a hung page fails, fast.
ACTION_TIMEOUT_MS = 10_000
# A whole test (browser start included) gives up after this long; all of them take about 1 min.
TEST_TIMEOUT_S = 120
WEEK = dt.timedelta(days=7)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is end-to-end: marked ``e2e`` and ``slow`` (both run in CI), bounded."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


@pytest.fixture
def backend() -> str:
    """SQLite only: the browser tests exercise the pages, the domain runs on both elsewhere."""
    return "sqlite"


@dataclass
class MovableClock:
    """The server's "now": a fixed time the test may move forward."""

    now: dt.datetime = NOW + dt.timedelta(hours=1)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, by: dt.timedelta) -> None:
        self.now += by


@dataclass(frozen=True)
class LiveServer:
    """The running web app: its base URL, the services under it, its clock."""

    url: str
    services: Services
    clock: MovableClock


# Module scope, not session: while Playwright's sync API is alive its event loop counts as
# running in the main thread, and every later test's asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """One Chromium per test module (Playwright's own download is never used)."""
    launched = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test, phone-sized unless a test resizes it."""
    ctx = browser.new_context(viewport={"width": 375, "height": 800}, java_script_enabled=True)
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    ctx.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def live_server(services: Services, clock: MovableClock) -> Iterator[LiveServer]:
    """The real web app on 127.0.0.1, a free port, in a thread with its own event loop."""
    app = build_web_app(services, dispatch=lambda: None, clock=clock)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Event | None = None
    address: list[str] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            address.append(f"http://{host}:{port}")
            started.set()
            await stop.wait()
        finally:
            await runner.cleanup()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported to the test, not lost in the thread
            failure.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="e2e-web", daemon=True)
    thread.start()
    assert started.wait(30), "the web app did not start within 30 s"
    if failure:
        raise failure[0]
    yield LiveServer(address[0], services, clock)
    assert stop is not None
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    assert not thread.is_alive(), "the web app did not stop within 30 s"


@pytest.fixture
def study_id(services: Services, tmp_path: Path) -> str:
    """The example study, registered with end dates far ahead so it has not ended."""
    path = example_still_running(tmp_path)
    definition = load_study(path)
    with transaction(services.research) as session:
        studies.register_study(session, definition, path.read_text(encoding="utf-8"), NOW)
    return definition.id


def make_invites(services: Services, study_id: str, count: int = 1) -> list[str]:
    """``count`` fresh one-time invite codes for ``study_id``, valid for a week after NOW."""
    with transaction(services.research) as session:
        return consent.create_invites(session, study_id, count, WEEK, NOW)
