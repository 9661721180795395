"""``fieldvault upload``, ``worker`` and ``jobs``: recordings in, transcription out."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from fieldvault.cli.context import configure_logging, serve_metrics, services_from, settings_from
from fieldvault.cli.recording_cmds import interview_facts, interview_options
from fieldvault.compose import build_worker
from fieldvault.domain.recordings import JobView, accept_recording, list_jobs
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow
from fieldvault.workers.queue import run_threads

log = logging.getLogger("fieldvault.worker")


@click.command()
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--language",
    metavar="xx",
    help="Language of the interview (no, nn, en…); default: the study's transcription_language.",
)
@interview_options
@click.option(
    "--speakers",
    type=int,
    metavar="N",
    help="How many people speak in a single-track recording (for telling voices apart); "
    "default: the study's [interviews] speakers.",
)
@click.pass_context
def upload(
    ctx: click.Context,
    study_id: str,
    code: str,
    files: tuple[Path, ...],
    language: str | None,
    interview_date: str | None,
    interviewer: str | None,
    mode: str | None,
    host_track: int | None,
    speakers: int | None,
) -> None:
    """Encrypt one interview's recording (several files = per-speaker tracks) and queue it."""
    facts = interview_facts(interview_date, interviewer, mode, host_track)
    services = services_from(ctx)
    with contextlib.ExitStack() as stack:
        opened = [(path.name, stack.enter_context(path.open("rb"))) for path in files]
        recording = accept_recording(
            services,
            study_id=study_id,
            code=code,
            files=opened,
            language=language,
            source="cli",
            now=utcnow(),
            interview=facts,
            speakers=speakers,
        )
    # Queue it now so a running worker starts at once; a worker's sweep would find it anyway.
    try:
        build_worker(services).dispatch()
    except Exception as exc:  # the recording is safely stored; the next worker sweep queues it
        click.echo(
            f"note: the queue is not reachable now ({type(exc).__name__}); a worker will "
            "queue the job when it starts",
            err=True,
        )
    click.echo(
        f"recording {recording.id} of {code}: {len(files)} file(s), "
        f"{recording.duration_s:.0f} s, encrypted; transcription queued"
    )


@click.command()
@click.option(
    "--until-idle",
    is_flag=True,
    help="Exit when nothing is queued (for scripts); the retention sweep is then not run.",
)
@click.option(
    "--periodic/--no-periodic",
    default=None,
    help="Also run the periodic tasks (the retention sweep every 10 min); default: "
    "FIELDVAULT_WORKER_PERIODIC (off: `fieldvault scheduler` runs them).",
)
@click.pass_context
def worker(ctx: click.Context, until_idle: bool, periodic: bool | None) -> None:
    """Run the worker: transcription and pseudonymisation jobs from the queue."""
    settings = settings_from(ctx)
    configure_logging(settings)
    services = services_from(ctx)
    # The periodic tasks belong to `fieldvault scheduler` (or `serve`); a worker runs them only
    # when told to, and never one that only drains the queue (--until-idle).
    periodic = settings.worker_periodic if periodic is None else periodic
    # One Worker per thread (its own queue connection and model); only the first runs periodic
    # tasks.
    runners = [
        build_worker(services, scheduler=periodic and not until_idle and n == 0)
        for n in range(settings.worker_threads)
    ]
    if not until_idle:
        log.info(
            "worker: taking jobs in %d thread(s); periodic tasks (retention sweep): %s",
            settings.worker_threads,
            "here too, at start and every 10 minutes"
            if periodic
            else "not here, `fieldvault scheduler` runs them",
        )
    serve_metrics(settings)
    stop = threading.Event()
    # SIGTERM (docker stop, systemd) lets the running task finish, then exits; a task cut short
    # any other way is taken over by the next worker when its lease lapses.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    done = run_threads(runners, until_idle=until_idle, stop=stop)
    click.echo(f"worker: {done} task(s) run", err=True)


def _jobs_table(views: list[JobView]) -> Table:
    table = Table("job", "study", "participant", "audio", "state", "progress", "ETA", "tries")
    for v in views:
        eta = f"{v.eta_s:.0f} s" if v.eta_s is not None and v.state == "running" else ""
        state = v.state if not v.error or v.state == "done" else f"{v.state} ({v.error})"
        table.add_row(
            str(v.job_id),
            v.study_id,
            v.participant_code,
            f"{v.duration_s / 60:.1f} min",
            state,
            ProgressBar(total=1.0, completed=v.progress, width=20),
            eta,
            str(v.attempts),
        )
    return table


@click.command()
@click.argument("study_id", metavar="STUDY", required=False)
@click.option("--watch", is_flag=True, help="Keep the table live until every job has ended.")
@click.pass_context
def jobs(ctx: click.Context, study_id: str | None, watch: bool) -> None:
    """List transcription jobs with their progress."""
    services = services_from(ctx)

    def views() -> list[JobView]:
        with transaction(services.research) as session:
            return list_jobs(session, study_id)

    current = views()
    if not watch:
        Console().print(_jobs_table(current))
        return
    with Live(_jobs_table(current), refresh_per_second=2) as live:
        while any(v.state in {"queued", "running"} for v in current):
            time.sleep(1.0)
            current = views()
            live.update(_jobs_table(current))
