"""The aiohttp application factory: shared state under typed keys, closed through cleanup_ctx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services
from fieldvault.web.consent.routes import setup_consent
from fieldvault.web.consent.security import Throttle
from fieldvault.web.errors import error_middleware
from fieldvault.web.keys import (
    AUDIT_BUDGET,
    CLOCK,
    DISPATCH,
    EXECUTOR,
    LIMITS,
    PROBES,
    SERVICES,
    UPLOAD_LIMIT,
    UPLOAD_POOL,
    UPLOAD_SLOTS,
    Clock,
    Dispatch,
    Probes,
)
from fieldvault.web.limits import AuditBudget, Pool, UploadSlots, WebLimits
from fieldvault.web.researcher.routes import setup_researcher
from fieldvault.web.routes import setup_routes

log = logging.getLogger("fieldvault.web")

MAX_UPLOAD_BYTES = 4 * 1024**3  # issue 4: up to 4 GB per upload


def create_app(
    services: Services,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    dispatch: Dispatch | None = None,
    clock: Clock = utcnow,
    consent_throttle: Throttle | None = None,
    limits: WebLimits | None = None,
    probes: Probes | None = None,
) -> web.Application:
    """The web app over ``services``; ``dispatch`` queues new transcription jobs.

    ``probes`` are readiness checks beside the databases and the blob store (``compose``
    hands in the queue's). ``clock`` is the time the domain is given (tests pass a fixed
    one, as the bot's do).
    ``consent_throttle`` limits failed attempts per address on the informant pages (default:
    20 a minute). ``limits`` are the timeouts and upload bounds (default: from the settings).

    Whoever builds the app hands it ``dispatch`` (``fieldvault.compose``: the in-process
    worker's under ``serve``, the configured queue's under ``web``). Without one, a new job
    waits for the next worker's sweep, which queues every job not yet queued.
    """
    # client_max_size guards only bodies read whole (none here): uploads are streamed and
    # counted against max_upload_bytes while they are read.
    app = web.Application(middlewares=[error_middleware])
    app[SERVICES] = services
    app[UPLOAD_LIMIT] = max_upload_bytes
    app[CLOCK] = clock
    app[LIMITS] = limits or WebLimits.from_settings(services.settings)
    app[UPLOAD_SLOTS] = UploadSlots(app[LIMITS].uploads_per_token, app[LIMITS].uploads_total)
    app[AUDIT_BUDGET] = AuditBudget(app[LIMITS].refusal_audits, app[LIMITS].refusal_audit_window)
    app.cleanup_ctx.append(_executor)
    app[DISPATCH] = _no_dispatch if dispatch is None else dispatch
    app[PROBES] = dict(probes or {})
    setup_routes(app)
    setup_consent(app, consent_throttle or Throttle())
    setup_researcher(app)
    return app


async def _executor(app: web.Application) -> AsyncIterator[None]:
    # Two pools: an upload holds its thread while its body arrives, so quick work (a token
    # check, an informant page) never waits behind uploads. One upload thread per slot.
    quick = Pool(app[LIMITS].quick_threads, "fieldvault-web")
    uploads = Pool(app[LIMITS].uploads_total, "fieldvault-upload")
    app[EXECUTOR], app[UPLOAD_POOL] = quick, uploads
    yield
    uploads.shutdown()
    quick.shutdown()


def _no_dispatch() -> None:
    """Queue nothing now: the next worker's sweep queues the job it finds."""
