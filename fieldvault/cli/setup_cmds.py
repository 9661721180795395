"""``fieldvault init`` and ``fieldvault serve``."""

from __future__ import annotations

import logging
import signal
import threading

import click

from fieldvault.cli.context import services_from, settings_from
from fieldvault.services import Services, initialise

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
    logging.getLogger("alembic").setLevel(logging.WARNING)
    services = services_from(ctx)
    log.info("research database and linkage vault open; keys loaded (%s)", services.keys)
    bot_on = settings.telegram_token is not None
    if not bot_on:
        log.info("Telegram bot is off: FIELDVAULT_TELEGRAM_TOKEN is not set")
    else:
        log.info("Telegram bot: on")
    log.info("web, workers and retention scheduler: not part of this version yet")
    if once:
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    bot_thread = _start_bot(services, stop) if bot_on else None
    log.info("fieldvault is running; press Ctrl-C to stop")
    stop.wait()
    if bot_thread is not None:
        bot_thread.join(timeout=30)
    log.info("stopped")


def _start_bot(services: Services, stop: threading.Event) -> threading.Thread:
    """Run the bot's event loop in a thread until ``stop`` is set."""
    import asyncio

    from fieldvault.bot.runner import run_bot

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True
        ).start()
        await run_bot(services, done)

    def target() -> None:
        try:
            asyncio.run(main())
        except Exception as exc:  # the rest of fieldvault keeps running
            log.error("Telegram bot stopped on an error: %s", type(exc).__name__)

    thread = threading.Thread(target=target, name="telegram-bot", daemon=True)
    thread.start()
    return thread
