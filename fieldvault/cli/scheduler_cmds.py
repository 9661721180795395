"""``fieldvault scheduler``: the periodic tasks (the retention sweep), apart from the workers."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable

import click

from fieldvault.cli.context import configure_logging, serve_metrics, services_from, settings_from
from fieldvault.compose import build_scheduler
from fieldvault.storage.models import utcnow
from fieldvault.workers.queue import SWEEP_EVERY_MIN

log = logging.getLogger("fieldvault.scheduler")


def _parse_at(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time, e.g. 2021-07-01T00:00+02:00"
        ) from None
    # No offset means UTC, as in `retention run --at`.
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def clock_from(at: dt.datetime | None) -> Callable[[], dt.datetime]:
    """The scheduler's clock: the real one, or one that starts at ``at`` and runs on from it."""
    if at is None:
        return utcnow
    started = time.monotonic()
    return lambda: at + dt.timedelta(seconds=time.monotonic() - started)


@click.command()
@click.option(
    "--at",
    callback=_parse_at,
    metavar="ISO-DATETIME",
    help="Run as if the clock showed this time at start (and ran on from it): for tests, "
    "drills and catching up after a stop. No offset means UTC. Default: the real time.",
)
@click.pass_context
def scheduler(ctx: click.Context, at: dt.datetime | None) -> None:
    """Run the periodic tasks: the retention sweep at start and every 10 minutes.

    Run one beside the workers (`fieldvault worker` leaves them to it); a second one stands by
    and takes over when the first stops. `serve` runs them itself.
    """
    settings = settings_from(ctx)
    configure_logging(settings)
    services = services_from(ctx)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    serve_metrics(settings)
    log.info("scheduler: retention sweep at start and every %d minutes", SWEEP_EVERY_MIN)
    if at is not None:
        log.warning("scheduler: running as of %s, not the real time (--at)", at.isoformat())
    done = build_scheduler(services, clock=clock_from(at)).run(stop)
    log.info("scheduler: stopped after %d periodic task(s)", done)
