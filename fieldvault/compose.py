"""The composition root: how the parts of one fieldvault process are wired together.

Every entry point (the ``fieldvault`` commands) builds its process here, so the pieces that
must not know each other meet in one place: the worker's sweep is handed the bot's notifier,
the web app is handed the worker's ``dispatch``. Nothing below this module imports a front end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiohttp import web

from fieldvault.bot.notifier import build_notifier
from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services
from fieldvault.web.app import MAX_UPLOAD_BYTES, create_app
from fieldvault.workers.queue import Worker, build_engine, build_huey

__all__ = ["build_web_app", "build_worker"]


def build_worker(
    services: Services, *, scheduler: bool = False, clock: Callable[[], dt.datetime] = utcnow
) -> Worker:
    """The worker of this process: the configured queue and engine, the bot's notifier."""
    settings = services.settings
    return Worker(
        services,
        build_huey(settings),
        lambda: build_engine(settings),
        scheduler=scheduler,
        clock=clock,
        notifier_factory=lambda: build_notifier(services),
    )


def build_web_app(
    services: Services,
    *,
    dispatch: Callable[[], object] | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    clock: Callable[[], dt.datetime] = utcnow,
) -> web.Application:
    """The web app; new jobs are queued by ``dispatch``, else on the configured queue."""
    if dispatch is None:
        dispatch = build_worker(services).dispatch
    return create_app(services, dispatch=dispatch, max_upload_bytes=max_upload_bytes, clock=clock)
