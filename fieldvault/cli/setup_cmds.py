"""``fieldvault init`` and ``fieldvault serve``."""

from __future__ import annotations

import logging
import signal
import threading

import click

from fieldvault.cli.context import services_from, settings_from
from fieldvault.services import initialise

log = logging.getLogger("fieldvault.serve")


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the data dir, both key files (mode 0600) and both databases."""
    settings = settings_from(ctx)
    report = initialise(settings)
    click.echo(f"data dir:     {report.data_dir}")
    for label, path, created in (
        ("linkage key", settings.linkage_key_path, report.linkage_key_created),
        ("content key", settings.content_key_path, report.content_key_created),
    ):
        click.echo(f"{label}:  {path} ({'created' if created else 'already there'}, mode 0600)")
    click.echo("databases:    research and linkage vault are up to date")
    click.echo("Keep the two key files apart and backed up separately: without them nothing opens.")


@click.command()
@click.option("--once", is_flag=True, help="Start, report what runs, and exit (for checks).")
@click.pass_context
def serve(ctx: click.Context, once: bool) -> None:
    """Run everything that exists so far in one process, until interrupted."""
    settings = settings_from(ctx)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    services = services_from(ctx)
    log.info("research database and linkage vault open; keys loaded (%s)", services.keys)
    if settings.telegram_token is None:
        log.info("Telegram bot is off: FIELDVAULT_TELEGRAM_TOKEN is not set")
    else:
        log.info("Telegram bot: not part of this version yet")
    log.info("web, workers and retention scheduler: not part of this version yet")
    if once:
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("fieldvault is running; press Ctrl-C to stop")
    stop.wait()
    log.info("stopped")
