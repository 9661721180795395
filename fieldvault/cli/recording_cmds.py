"""``fieldvault recording``: a recording's interview metadata (date, interviewer, mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from fieldvault.cli.context import services_from
from fieldvault.domain.interviews import (
    MODES,
    InterviewFacts,
    InterviewInfo,
    interview_of,
    parse_interview_date,
    set_interview,
)
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow


@click.group("recording")
def recording() -> None:
    """Recordings: when, by whom and how each interview was held."""


F = TypeVar("F", bound=Callable[..., Any])


def interview_options(command: F) -> F:
    """The interview options shared by `recording set` and `upload`."""
    for option in reversed(
        [
            click.option(
                "--date",
                "interview_date",
                metavar="YYYY-MM-DD",
                help="The day of the interview (default at upload: the file's creation time).",
            ),
            click.option(
                "--interviewer",
                metavar="LABEL",
                help="Who interviewed: a researcher's label such as initials (never a name "
                "of an informant).",
            ),
            click.option("--mode", type=click.Choice(MODES), help="How the interview was held."),
            click.option(
                "--host-track",
                type=click.IntRange(min=1),
                metavar="N",
                help="Which file (counting from 1) is the interviewer's track; default 1.",
            ),
        ]
    ):
        command = option(command)
    return command


def interview_facts(
    interview_date: str | None, interviewer: str | None, mode: str | None, host_track: int | None
) -> InterviewFacts:
    """The options as facts for the domain (dates parsed, tracks counted from 0)."""
    return InterviewFacts(
        date=parse_interview_date(interview_date) if interview_date else None,
        interviewer=interviewer,
        mode=mode,
        host_track=host_track - 1 if host_track is not None else None,
    )


def describe(info: InterviewInfo) -> str:
    """One line of a recording's interview metadata."""
    date = f"{info.date} ({info.date_source})" if info.date else "not set"
    host = info.host_track + 1 if info.host_track is not None else 1
    return (
        f"recording {info.recording_id}: date {date}, interviewer "
        f"{info.interviewer or 'not set'}, mode {info.mode or 'not set'}, host track {host}"
    )


@recording.command("set")
@click.argument("recording_id", metavar="RECORDING_ID", type=int)
@interview_options
@click.pass_context
def set_cmd(
    ctx: click.Context,
    recording_id: int,
    interview_date: str | None,
    interviewer: str | None,
    mode: str | None,
    host_track: int | None,
) -> None:
    """Set the interview's date, interviewer and mode (the export's case and document variables)."""
    facts = interview_facts(interview_date, interviewer, mode, host_track)
    if facts == InterviewFacts():
        raise click.UsageError("give at least one of --date, --interviewer, --mode, --host-track")
    services = services_from(ctx)
    with transaction(services.research) as session:
        info = set_interview(session, recording_id, facts, actor="researcher", now=utcnow())
    click.echo(describe(info))


@recording.command("show")
@click.argument("recording_id", metavar="RECORDING_ID", type=int)
@click.pass_context
def show(ctx: click.Context, recording_id: int) -> None:
    """Show a recording's interview metadata."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        click.echo(describe(interview_of(session, recording_id)))
