"""``fieldvault demo``: a running demo study to look at in the browser."""

from __future__ import annotations

import click

from fieldvault.cli.context import services_from
from fieldvault.compose import build_worker
from fieldvault.domain.demo import DEMO_EMAIL, DEMO_STUDY, DemoReport, create_demo, demo_exists
from fieldvault.storage.models import utcnow
from fieldvault.storage.services import Services


@click.command()
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing but say how to log in when the demo study exists (what `make run` uses).",
)
@click.option(
    "--new-password",
    is_flag=True,
    help="Give the demo account a new password (printed once), e.g. when the first is lost.",
)
@click.pass_context
def demo(ctx: click.Context, if_missing: bool, new_password: bool) -> None:
    """Create a running demo study: an owner account, synthetic participants and recordings."""
    services = services_from(ctx)
    login = f"{services.settings.public_base_url.rstrip('/')}/login"
    if if_missing and not new_password and demo_exists(services):
        _banner(login, None)
        return
    report = create_demo(services, utcnow(), new_password=new_password)
    if report.recordings:
        _dispatch(services)
    click.echo(_summary(report))
    _banner(login, report.password)


def _summary(report: DemoReport) -> str:
    if not (report.study_created or report.registered or report.consents or report.recordings):
        return f"The demo study {DEMO_STUDY!r} is complete already; nothing was added."
    return (
        f"Demo study {DEMO_STUDY!r} {'created' if report.study_created else 'completed'}: "
        f"{report.registered} synthetic participant(s) registered, {report.consents} paper "
        f"consent(s), {report.recordings} recording(s) queued for transcription."
    )


def _banner(login: str, password: str | None) -> None:
    """The login, set apart so it is found in the terminal."""
    rule = "=" * 72
    click.echo(rule)
    click.echo(f"  Demo dashboard: {login}")
    click.echo(f"  E-mail:         {DEMO_EMAIL}")
    if password is not None:
        click.echo(f"  Password:       {password}    (shown only now; only its hash is kept)")
    else:
        click.echo("  Password:       the one printed the first time "
                   "(`fieldvault demo --new-password` sets a new one)")  # fmt: skip
    click.echo("  `fieldvault serve` (make run) serves it; its worker transcribes the demo")
    click.echo("  recordings within a minute or two.")
    click.echo(rule)


def _dispatch(services: Services) -> None:
    """Queue the new transcription jobs now (a worker's sweep would find them anyway)."""
    try:
        build_worker(services).dispatch()
    except Exception as exc:  # the recordings are stored; the next worker queues the jobs
        click.echo(
            f"note: the queue is not reachable now ({type(exc).__name__}); a worker will "
            "queue the jobs when it starts",
            err=True,
        )
