"""Prometheus metrics of every fieldvault process: how much and how long, never who.

One module below the front ends, so the web app, the workers and the bot count into the same
registry without importing each other. The web app serves it at ``/metrics``; `fieldvault
worker`, `scheduler` and `bot` serve it on ``FIELDVAULT_METRICS_PORT`` when that is set.

Label values are fixed words only (a task name, an outcome from a closed list): never a study
id, participant code, name, chat id or token, so a scrape can be stored anywhere.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

__all__ = [
    "BOT_UPDATE_SECONDS",
    "CONTENT_TYPE_LATEST",
    "JOBS",
    "JOB_SECONDS",
    "QUEUE_DEPTH",
    "SWEEPS",
    "SWEEP_ITEMS",
    "UPLOADS",
    "UPLOAD_BYTES",
    "exposition",
    "job",
    "outcome_label",
    "record_sweep",
    "serve",
    "watch_queue",
]

log = logging.getLogger(__name__)

# The outcomes a label may carry; anything else is counted as "other".
OUTCOMES = frozenset(
    {"done", "skipped", "already-done", "failed", "nothing-to-do", "busy", "error", "partial"}
)

JOBS = Counter("fieldvault_jobs", "Queue tasks run, by task and outcome.", ["task", "outcome"])
JOB_SECONDS = Histogram(
    "fieldvault_job_seconds",
    "How long queue tasks ran, by task.",
    ["task"],
    # a pseudonymise task takes seconds, a transcription up to hours
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800),
)
QUEUE_DEPTH = Gauge("fieldvault_queue_depth", "Tasks waiting in the queue (read at scrape time).")
UPLOADS = Counter("fieldvault_uploads", "Recordings accepted by the web upload API.")
UPLOAD_BYTES = Counter(
    "fieldvault_upload_bytes", "Bytes received in accepted web uploads (request bodies)."
)
SWEEPS = Counter("fieldvault_sweeps", "Retention sweeps run, by outcome.", ["outcome"])
SWEEP_ITEMS = Counter(
    "fieldvault_sweep_items",
    "What retention sweeps did: reminders sent, participants deleted, withdrawal purges "
    "completed, studies that failed.",
    ["kind"],
)
BOT_UPDATE_SECONDS = Histogram(
    "fieldvault_bot_update_seconds",
    "Seconds from an update's arrival at the bot to the end of its handling (its wait for "
    "the chat's turn included).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def outcome_label(status: str) -> str:
    """``status`` when it is one of the known outcomes, else ``other`` (labels stay few)."""
    return status if status in OUTCOMES else "other"


@contextmanager
def job(task: str) -> Iterator[Callable[[str], None]]:
    """Time one run of ``task``; call the yielded function with its outcome (error if raised)."""
    started = time.monotonic()
    outcome = ["done"]
    try:
        yield lambda status: outcome.__setitem__(0, outcome_label(status))
    except BaseException:
        outcome[0] = "error"
        raise
    finally:
        JOB_SECONDS.labels(task).observe(time.monotonic() - started)
        JOBS.labels(task, outcome[0]).inc()


def record_sweep(
    outcome: str, *, reminders: int = 0, deleted: int = 0, purges: int = 0, failed: int = 0
) -> None:
    """Count one retention sweep and what it did."""
    SWEEPS.labels(outcome_label(outcome)).inc()
    for kind, count in (
        ("reminders", reminders),
        ("deleted", deleted),
        ("withdrawal_purges", purges),
        ("failed_studies", failed),
    ):
        if count:
            SWEEP_ITEMS.labels(kind).inc(count)


def watch_queue(depth: Callable[[], int]) -> None:
    """Read the queue depth from ``depth`` at each scrape (NaN while the queue is unreachable)."""

    def read() -> float:
        try:
            return float(depth())
        except Exception:
            return math.nan

    QUEUE_DEPTH.set_function(read)


def exposition() -> bytes:
    """The registry in Prometheus's text format."""
    return generate_latest(REGISTRY)


def serve(host: str, port: int) -> None:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread (worker, scheduler, bot)."""
    start_http_server(port, addr=host)
    log.info("metrics: on http://%s:%d/metrics", host, port)
