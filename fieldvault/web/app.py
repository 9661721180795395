"""The aiohttp application factory: shared state under typed keys, closed through cleanup_ctx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services
from fieldvault.web.errors import error_middleware
from fieldvault.web.keys import CLOCK, DISPATCH, EXECUTOR, SERVICES, UPLOAD_LIMIT, Clock, Dispatch
from fieldvault.web.routes import setup_routes

log = logging.getLogger("fieldvault.web")

MAX_UPLOAD_BYTES = 4 * 1024**3  # issue 4: up to 4 GB per upload
# Threads for blocking work: database calls and the domain's read of each upload in flight.
BLOCKING_THREADS = 8


def create_app(
    services: Services,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    dispatch: Dispatch | None = None,
    clock: Clock = utcnow,
) -> web.Application:
    """The web app over ``services``; ``dispatch`` queues new transcription jobs.

    ``clock`` is the time the domain is given (tests pass a fixed one, as the bot's do).

    Without ``dispatch`` the app queues jobs on the configured queue itself, as ``fieldvault
    upload`` does; ``fieldvault serve`` passes its in-process worker's.
    """
    # client_max_size guards only bodies read whole (none here): uploads are streamed and
    # counted against max_upload_bytes while they are read.
    app = web.Application(middlewares=[error_middleware])
    app[SERVICES] = services
    app[UPLOAD_LIMIT] = max_upload_bytes
    app[CLOCK] = clock
    app.cleanup_ctx.append(_executor)
    if dispatch is None:
        app.cleanup_ctx.append(_queue)
    else:
        app[DISPATCH] = dispatch
    setup_routes(app)
    return app


async def _executor(app: web.Application) -> AsyncIterator[None]:
    executor = ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="fieldvault-web")
    app[EXECUTOR] = executor
    yield
    executor.shutdown(wait=True)


async def _queue(app: web.Application) -> AsyncIterator[None]:
    # Imported here: the queue module brings huey and the engines, which the app needs only
    # for queueing.
    from fieldvault.workers.queue import Worker, build_engine, build_huey

    services = app[SERVICES]
    settings = services.settings
    worker = Worker(services, build_huey(settings), lambda: build_engine(settings))
    app[DISPATCH] = worker.dispatch
    yield
