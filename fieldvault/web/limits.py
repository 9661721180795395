"""What keeps slow or hostile clients from exhausting the web app: timeouts, pools, upload slots.

- **Idle and header deadline.** aiohttp's ``keepalive_timeout`` closes a connection that has
  not sent a complete request head within that time of connecting or of its last answer.
  aiohttp (3.14) has no separate header read timeout; this timer is the one that closes a
  connection stalled half-way through its headers, so one setting (``web_idle_timeout``)
  bounds both.
- **Body progress.** :class:`StallGuard` wraps the request body: a read that gets no byte for
  ``web_body_timeout`` seconds raises :class:`UploadStalled` inside the upload, whose clean-up
  keeps nothing.
- **Two thread pools.** Quick blocking work (a token lookup, an audit line, queueing a job)
  runs on its own small :class:`Pool`, so uploads, which hold a thread for as long as their body
  arrives, can never keep a 401 waiting. Uploads run on a pool with one thread per slot.
- **Upload slots.** :class:`UploadSlots` admits at most ``web_uploads_per_token`` uploads per
  token and ``web_uploads_total`` in all; past either, 429 with ``Retry-After``.
- **Audit budget.** Refusals before the body are audited, at most ``refusal_audits`` a
  minute per caller (a token, or "anonymous" for every caller without a valid one), so a
  flood cannot grow the chain without bound; :class:`AuditBudget` counts the refusals it
  did not write, and the next event written for that caller carries the count.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from aiohttp import StreamReader, web

from fieldvault.domain.recordings import RecordingRefused

if TYPE_CHECKING:
    from fieldvault.config.settings import Settings

T = TypeVar("T")

RETRY_AFTER_S = 30  # what a refused upload is told to wait before it tries again


@dataclass(frozen=True)
class WebLimits:
    """The web app's timeouts and bounds (``FIELDVAULT_WEB_*``; tests lower them)."""

    idle_timeout: float = 20.0
    body_timeout: float = 60.0
    uploads_per_token: int = 2
    uploads_total: int = 6
    quick_threads: int = 4
    refusal_audits: int = 30
    refusal_audit_window: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        """The limits the settings ask for."""
        return cls(
            idle_timeout=settings.web_idle_timeout,
            body_timeout=settings.web_body_timeout,
            uploads_per_token=settings.web_uploads_per_token,
            uploads_total=settings.web_uploads_total,
        )


class UploadStalled(RecordingRefused):
    """The client sent no byte of the body for too long; the upload was dropped."""

    def __init__(self, seconds: float) -> None:
        """``seconds`` is how long the body may make no progress."""
        super().__init__(
            f"the upload sent no data for {seconds:g} seconds and was stopped; nothing was "
            "kept. Check the connection and send it again",
            "stalled",
            seconds=seconds,
        )


class StallGuard:
    """The request body, as the multipart reader reads it, with a deadline on every read."""

    def __init__(self, content: StreamReader, seconds: float) -> None:
        """Each read of ``content`` that gets nothing for ``seconds`` raises UploadStalled."""
        self._content = content
        self._seconds = seconds

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes."""
        try:
            async with asyncio.timeout(self._seconds):
                return await self._content.read(n)
        except TimeoutError:
            raise UploadStalled(self._seconds) from None

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        """One line."""
        try:
            async with asyncio.timeout(self._seconds):
                return await self._content.readline(max_line_length=max_line_length)
        except TimeoutError:
            raise UploadStalled(self._seconds) from None

    def at_eof(self) -> bool:
        """Whether the body is read to its end."""
        return self._content.at_eof()

    def unread_data(self, data: bytes) -> None:
        """Put ``data`` back in front of the stream (the multipart reader looks ahead)."""
        self._content.unread_data(data)


class Pool:
    """A thread pool that counts the calls waiting for a thread (for readiness)."""

    def __init__(self, threads: int, name: str) -> None:
        """``threads`` workers named ``name``-N."""
        self.threads = threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._queued = 0

    @property
    def queued(self) -> int:
        """Calls submitted that no thread has started yet."""
        with self._lock:
            return self._queued

    def run(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn`` on a thread of this pool."""
        with self._lock:
            self._queued += 1

        def started() -> T:
            with self._lock:
                self._queued -= 1
            return fn()

        return asyncio.get_running_loop().run_in_executor(self._executor, started)

    def shutdown(self) -> None:
        """Wait for what runs, then stop the threads."""
        self._executor.shutdown(wait=True)


class UploadSlots:
    """How many uploads run, per token and in all (event loop only, so no lock)."""

    def __init__(self, per_token: int, total: int) -> None:
        """At most ``per_token`` uploads per token, ``total`` in all."""
        self.per_token, self.total = per_token, total
        # Keyed by the API token's id, or by "researcher:<id>" for a logged-in researcher.
        self._held: collections.Counter[int | str] = collections.Counter()

    @property
    def in_flight(self) -> int:
        """Uploads running now."""
        return sum(self._held.values())

    def check(self, token_id: int | str) -> None:
        """429 unless an upload by ``token_id`` (a token, or a researcher) would get a slot now."""
        if self._held[token_id] >= self.per_token:
            who = "this API token already has" if isinstance(token_id, int) else "you already have"
            raise _busy(
                f"{who} {self.per_token} uploads running; wait for one "
                "to finish (send them one after another), then send this one again"
            )
        if self.in_flight >= self.total:
            raise _busy(
                f"the server is receiving {self.total} uploads already; nothing was kept, "
                "send this one again in a little while"
            )

    @contextlib.contextmanager
    def hold(self, token_id: int | str) -> Iterator[None]:
        """One slot for an upload by ``token_id`` (a token or a researcher); 429 if none is free."""
        self.check(token_id)
        self._held[token_id] += 1
        try:
            yield
        finally:
            self._held[token_id] -= 1
            if not self._held[token_id]:
                del self._held[token_id]


def _busy(message: str) -> web.HTTPTooManyRequests:
    return web.HTTPTooManyRequests(text=message, headers={"Retry-After": str(RETRY_AFTER_S)})


@dataclass
class _Window:
    start: float
    written: int = 0
    skipped: int = 0  # refusals not written since the last one that was


class AuditBudget:
    """How many refusals each caller may have audited per window; the rest are counted."""

    def __init__(
        self,
        per_window: int,
        window: float,
        callers: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``per_window`` events per caller each ``window`` seconds; ``callers`` kept at most."""
        self.per_window, self.window, self.callers, self.clock = per_window, window, callers, clock
        self._seen: collections.OrderedDict[str, _Window] = collections.OrderedDict()

    def take(self, caller: str) -> int | None:
        """None when this refusal is not to be written; else how many were skipped before it."""
        now = self.clock()
        entry = self._seen.get(caller)
        if entry is None or now - entry.start >= self.window:
            entry = _Window(now, skipped=entry.skipped if entry else 0)
            self._seen[caller] = entry
            while len(self._seen) > self.callers:
                self._seen.popitem(last=False)
        self._seen.move_to_end(caller)
        if entry.written >= self.per_window:
            entry.skipped += 1
            return None
        entry.written += 1
        skipped, entry.skipped = entry.skipped, 0
        return skipped
