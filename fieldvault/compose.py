"""The composition root: how the parts of one fieldvault process are wired together.

Every entry point (the ``fieldvault`` commands) builds its process here, so the pieces that
must not know each other meet in one place: the worker's sweep is handed the bot's notifier,
the web app is handed the worker's ``dispatch``. Nothing below this module imports a front end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiohttp import web

from fieldvault import metrics
from fieldvault.bot.notifier import build_notifier
from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services
from fieldvault.web.app import MAX_UPLOAD_BYTES, create_app
from fieldvault.workers.queue import Worker, build_diarizer, build_engine, build_huey, queue_probe
from fieldvault.workers.scheduler import Scheduler

__all__ = ["build_scheduler", "build_web_app", "build_worker"]


def build_worker(
    services: Services, *, scheduler: bool = False, clock: Callable[[], dt.datetime] = utcnow
) -> Worker:
    """The worker of this process: the configured queue and engine, the bot's notifier."""
    settings = services.settings
    huey = build_huey(settings)
    metrics.watch_queue(huey.pending_count)
    return Worker(
        services,
        huey,
        lambda: build_engine(settings),
        diarizer_factory=lambda: build_diarizer(settings),
        scheduler=scheduler,
        clock=clock,
        notifier_factory=lambda: build_notifier(services),
    )


def build_scheduler(services: Services, *, clock: Callable[[], dt.datetime] = utcnow) -> Scheduler:
    """`fieldvault scheduler`: the periodic tasks (the sweep, with the bot's notifier)."""
    return Scheduler(build_worker(services, clock=clock))


def build_web_app(
    services: Services,
    *,
    dispatch: Callable[[], object] | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    clock: Callable[[], dt.datetime] = utcnow,
) -> web.Application:
    """The web app; new jobs are queued by ``dispatch``, else on the configured queue.

    ``/api/ready`` checks the configured queue too (a Redis PING, or a count in SQLite).
    """
    worker = build_worker(services)
    return create_app(
        services,
        dispatch=worker.dispatch if dispatch is None else dispatch,
        max_upload_bytes=max_upload_bytes,
        clock=clock,
        probes={"queue": queue_probe(worker.huey)},
    )
