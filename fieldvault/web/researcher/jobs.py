"""The jobs page: the study's transcription jobs, kept current by server-sent events.

``GET /studies/{study}/jobs`` renders the table; ``static/jobs.js`` opens an ``EventSource`` on
``/studies/{study}/jobs/events`` and updates each row's state, progress and time left. The
stream is bounded: it ends after ``JobBoard.stream_s`` (the browser reconnects, so the session
and the membership are checked again), and a researcher may hold only a few at once (429).
One poller per study reads the jobs (``domain.recordings.list_jobs``) at most every
``poll_s`` seconds for every open page of that study, and sends a snapshot only when it changed.
An event holds job ids, participant codes, states, progress and seconds left: no identity, no
error text.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

from fieldvault.domain.permissions import Action
from fieldvault.domain.recordings import JobView, list_jobs
from fieldvault.domain.studies import get_study
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from fieldvault.web.consent.texts import _
from fieldvault.web.keys import EXECUTOR, SERVICES
from fieldvault.web.researcher.access import current, page
from fieldvault.web.researcher.pages import blocking, render, study_context

log = logging.getLogger("fieldvault.web.researcher")

Snapshot = list[dict[str, Any]]
Reader = Callable[[str], Awaitable[Snapshot]]

STATES = {
    "queued": _("Queued"),
    "running": _("Transcribing"),
    "done": _("Done"),
    "failed": _("Failed"),
}
HEARTBEAT_S = 15.0  # a comment line this often finds a closed connection and keeps proxies open
RETRY_MS = 3000  # how long the browser waits before it reconnects


def job_row(job: JobView) -> dict[str, Any]:
    """What the page and an event show of one job (no identity, no error text)."""
    return {
        "id": job.job_id,
        "code": job.participant_code,
        "state": job.state if job.state in STATES else "queued",
        "progress": round(max(0.0, min(job.progress, 1.0)), 3),
        "eta_s": None if job.eta_s is None else max(0, round(job.eta_s)),
        "duration_s": round(job.duration_s),
    }


def clock(seconds: float | None) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss`` (what the page and its script show); None: ``–``."""
    if seconds is None:
        return "–"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def read_rows(services: Services, study_id: str) -> Snapshot:
    """The study's jobs as rows, newest first."""
    with transaction(services.research) as session:
        return [job_row(job) for job in reversed(list_jobs(session, study_id))]


class StreamsFull(web.HTTPTooManyRequests):
    """The researcher has as many job streams open as allowed."""


@dataclass
class _Watch:
    """One study's poller and the queues of the pages listening to it."""

    queues: set[asyncio.Queue[Snapshot]] = field(default_factory=set)
    latest: Snapshot | None = None
    task: asyncio.Task[None] | None = None


class JobBoard:
    """One poller per study, shared by every open jobs page of that study."""

    def __init__(
        self,
        *,
        poll_s: float = 1.0,
        stream_s: float = 300.0,
        per_account: int = 4,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        """Poll at most every ``poll_s``; end a stream after ``stream_s``; cap per account."""
        self.poll_s, self.stream_s, self.per_account = poll_s, stream_s, per_account
        self.heartbeat_s = heartbeat_s
        self._watches: dict[str, _Watch] = {}
        self._open: collections.Counter[int] = collections.Counter()
        self.closing = asyncio.Event()

    def polling(self) -> int:
        """How many studies are being polled now (for tests and metrics)."""
        return sum(1 for w in self._watches.values() if w.task is not None and not w.task.done())

    @contextlib.asynccontextmanager
    async def listen(
        self, study_id: str, account_id: int, read: Reader
    ) -> AsyncIterator[asyncio.Queue[Snapshot]]:
        """A queue that receives the study's snapshot now and whenever it changes."""
        if self._open[account_id] >= self.per_account:
            raise StreamsFull(text="too many open job pages; close one and reload")
        self._open[account_id] += 1
        queue: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=1)
        watch = self._watches.setdefault(study_id, _Watch())
        watch.queues.add(queue)
        if watch.latest is not None:
            queue.put_nowait(watch.latest)
        if watch.task is None or watch.task.done():
            watch.task = asyncio.create_task(self._poll(study_id, watch, read))
        try:
            yield queue
        finally:
            watch.queues.discard(queue)
            self._open[account_id] -= 1
            if not self._open[account_id]:
                del self._open[account_id]
            if not watch.queues and watch.task is not None:
                watch.task.cancel()
                self._watches.pop(study_id, None)

    async def _poll(self, study_id: str, watch: _Watch, read: Reader) -> None:
        while watch.queues and not self.closing.is_set():
            try:
                snapshot = await read(study_id)
            except Exception as exc:  # a failing read must not end the other pages' stream
                log.warning("reading the jobs of a study failed (%s)", type(exc).__name__)
            else:
                if snapshot != watch.latest:
                    watch.latest = snapshot
                    for queue in watch.queues:
                        _replace(queue, snapshot)
            await asyncio.sleep(self.poll_s)

    async def close(self) -> None:
        """End every stream and poller (the app is shutting down)."""
        self.closing.set()
        tasks = [w.task for w in self._watches.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _replace(queue: asyncio.Queue[Snapshot], snapshot: Snapshot) -> None:
    """Only the newest snapshot matters: a page that lags skips the ones in between."""
    with contextlib.suppress(asyncio.QueueEmpty):
        queue.get_nowait()
    queue.put_nowait(snapshot)


JOB_BOARD = web.AppKey("job_board", JobBoard)


def setup(app: web.Application) -> None:
    """The jobs page and its event stream."""
    app[JOB_BOARD] = JobBoard()
    app.on_shutdown.append(_close_board)
    page(app, "GET", "/studies/{study}/jobs", jobs_page, name="r.jobs", action=Action.VIEW_JOBS)
    page(
        app,
        "GET",
        "/studies/{study}/jobs/events",
        job_events,
        name="r.jobs.events",
        action=Action.VIEW_JOBS,
        passive=True,  # an open jobs page must not keep an idle session alive
    )


async def _close_board(app: web.Application) -> None:
    await app[JOB_BOARD].close()


async def jobs_page(request: web.Request) -> web.StreamResponse:
    """The study's jobs: state, progress and time left; live while the page is open."""
    services, study_id = request.app[SERVICES], request.match_info["study"]

    def read() -> tuple[str, Snapshot]:
        with transaction(services.research) as session:
            title = get_study(session, study_id).title
        return title, read_rows(services, study_id)

    title, rows = await blocking(request, read)
    context = {
        **study_context(request, study_id, title, "jobs"),
        "jobs": rows,
        "states": STATES,
        "clock": clock,
        "events_url": f"/studies/{quote(study_id, safe='')}/jobs/events",
    }
    return render(request, "researcher/jobs.html", context)


def _event(snapshot: Snapshot) -> bytes:
    data = json.dumps({"jobs": snapshot}, separators=(",", ":"))
    return f"event: jobs\ndata: {data}\n\n".encode()


async def job_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the study's job rows each time they change, for ``stream_s``."""
    board, services = request.app[JOB_BOARD], request.app[SERVICES]
    study_id, who = request.match_info["study"], current(request)
    pool = request.app[EXECUTOR]

    async def read(study: str) -> Snapshot:
        return await pool.run(lambda: read_rows(services, study))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + board.stream_s
    async with board.listen(study_id, who.account_id, read) as queue:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a proxy in front must not hold events back
            }
        )
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        closing = asyncio.ensure_future(board.closing.wait())
        try:
            while (left := deadline - loop.time()) > 0 and not board.closing.is_set():
                getting = asyncio.ensure_future(queue.get())
                done, _pending = await asyncio.wait(
                    {getting, closing},
                    timeout=min(left, board.heartbeat_s),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if getting in done:
                    await response.write(_event(getting.result()))
                    continue
                getting.cancel()
                if not done and deadline > loop.time():
                    await response.write(b": still here\n\n")
        except ConnectionError:
            pass  # the page was closed
        finally:
            closing.cancel()
    return response
