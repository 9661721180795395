"""``fieldvault init`` and ``fieldvault serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import click

from fieldvault.bot.runner import run_bot
from fieldvault.cli.context import configure_logging, services_from, settings_from
from fieldvault.compose import build_web_app, build_worker
from fieldvault.config.settings import Settings
from fieldvault.errors import ConfigError
from fieldvault.storage.services import Services, initialise
from fieldvault.web.server import run_web
from fieldvault.workers.queue import SWEEP_EVERY_MIN, Worker, queue_name

log = logging.getLogger("fieldvault.serve")


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the data dir, both key files (mode 0600) and both databases."""
    settings = settings_from(ctx)
    audit_key_existed = settings.audit_key_path.exists()
    report = initialise(settings)
    click.echo(f"data dir:     {report.data_dir}")
    for label, path, created in (
        ("linkage key", settings.linkage_key_path, report.linkage_key_created),
        ("content key", settings.content_key_path, report.content_key_created),
        ("audit key", settings.audit_key_path, not audit_key_existed),
        ("lookup key", settings.lookup_key_path, report.lookup_key_created),
    ):
        click.echo(f"{label}:  {path} ({'created' if created else 'already there'}, mode 0600)")
    click.echo(f"audit checkpoints: {settings.audit_checkpoint_path} (keep a copy elsewhere)")
    click.echo("databases:    research and linkage vault are up to date")
    click.echo("Keep the key files apart and backed up separately: without them nothing opens.")


@click.command()
@click.option(
    "--once", is_flag=True, help="Start the web app and the worker, report what runs, and exit."
)
@click.pass_context
def serve(ctx: click.Context, once: bool) -> None:
    """Run the web app, the transcription worker and the Telegram bot in one process."""
    settings = settings_from(ctx)
    configure_logging(settings)
    services = services_from(ctx)
    log.info("research database and linkage vault open; keys loaded (%s)", services.keys)
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    # scheduler: the worker also runs the retention sweep, at start and every ten minutes.
    worker = build_worker(services, scheduler=True)
    threads = [_start_web(services, worker.dispatch, stop)]
    threads.append(_start_worker(worker, stop))
    log.info("worker: on, in this process, taking jobs from %s", _queue_where(settings))
    log.info("retention sweep: at start and every %d minutes", SWEEP_EVERY_MIN)
    bot_on = settings.telegram_token is not None
    if not bot_on:
        log.info("Telegram bot is off: FIELDVAULT_TELEGRAM_TOKEN is not set")
    elif once:
        log.info("Telegram bot: on (not started with --once)")
    else:
        log.info("Telegram bot: on")
        threads.append(_start_bot(services, stop))
    if once:
        stop.set()
    else:
        log.info("fieldvault is running; press Ctrl-C to stop")
    stop.wait()
    for thread in threads:
        thread.join(timeout=30)
    log.info("stopped")


def _queue_where(settings: Settings) -> str:
    """The queue in words, without a password from its URL."""
    if settings.queue_url is None:
        return f"the SQLite queue {settings.queue_path} ({queue_name(settings)})"
    url = urlsplit(settings.queue_url)
    return f"Redis at {url.hostname}:{url.port or 6379} ({queue_name(settings)})"


def _relay(stop: threading.Event, loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
    """Set ``done`` in another thread's ``loop`` once ``stop`` is set."""

    def relay() -> None:
        stop.wait()
        # The loop may have ended on its own already (the web app could not bind its port).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(done.set)

    threading.Thread(target=relay, name="stop-relay", daemon=True).start()


def _start_web(
    services: Services, dispatch: Callable[[], object], stop: threading.Event
) -> threading.Thread:
    """Serve the web app in a thread of its own until ``stop``; return once it listens."""
    listening = threading.Event()
    failure: list[Exception] = []
    settings = services.settings

    def started(url: str) -> None:
        log.info("web: on, listening on %s (upload API; description at /api/openapi.json)", url)
        listening.set()

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        _relay(stop, loop, done)
        app = build_web_app(services, dispatch=dispatch)
        await run_web(app, settings.web_host, settings.web_port, done, started)

    def target() -> None:
        try:
            asyncio.run(main())
        except Exception as exc:
            if listening.is_set():  # it ran, then failed: the worker and the bot keep running
                log.error("web app stopped on an error: %s", type(exc).__name__)
            failure.append(exc)
        else:
            log.info("web: stopped")
        finally:
            listening.set()

    thread = threading.Thread(target=target, name="web", daemon=True)
    thread.start()
    listening.wait()
    if failure:
        stop.set()
        raise ConfigError(
            f"the web app cannot listen on {settings.web_host}:{settings.web_port} "
            f"({getattr(failure[0], 'strerror', None) or type(failure[0]).__name__}); set "
            "FIELDVAULT_WEB_HOST/FIELDVAULT_WEB_PORT to a free address"
        )
    return thread


def _start_worker(worker: Worker, stop: threading.Event) -> threading.Thread:
    """Run the worker's own loop (jobs and periodic tasks) in a thread until ``stop``."""

    def target() -> None:
        try:
            done = worker.run(stop=stop)
        except Exception as exc:  # the web app and the bot keep running
            log.error("worker stopped on an error: %s", type(exc).__name__)
            return
        log.info("worker: stopped after %d task(s)", done)

    thread = threading.Thread(target=target, name="worker", daemon=True)
    thread.start()
    return thread


def _start_bot(services: Services, stop: threading.Event) -> threading.Thread:
    """Run the bot's event loop in a thread until ``stop`` is set."""

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        _relay(stop, loop, done)
        await run_bot(services, done)

    def target() -> None:
        try:
            asyncio.run(main())
        except Exception as exc:  # the rest of fieldvault keeps running
            log.error("Telegram bot stopped on an error: %s", type(exc).__name__)

    thread = threading.Thread(target=target, name="telegram-bot", daemon=True)
    thread.start()
    return thread
