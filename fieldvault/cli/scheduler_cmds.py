"""``fieldvault scheduler``: the periodic tasks (the retention sweep), apart from the workers."""

from __future__ import annotations

import logging
import signal
import threading

import click

from fieldvault.cli.context import configure_logging, serve_metrics, services_from, settings_from
from fieldvault.compose import build_scheduler
from fieldvault.workers.queue import SWEEP_EVERY_MIN

log = logging.getLogger("fieldvault.scheduler")


@click.command()
@click.pass_context
def scheduler(ctx: click.Context) -> None:
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
    done = build_scheduler(services).run(stop)
    log.info("scheduler: stopped after %d periodic task(s)", done)
