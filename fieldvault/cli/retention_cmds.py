"""``fieldvault retention run|report``: the deletion sweep by hand, and the DPO's report."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import click

from fieldvault.bot.notifier import build_notifier
from fieldvault.cli.context import services_from
from fieldvault.domain import retention
from fieldvault.storage.models import utcnow


def _aware(value: dt.datetime) -> dt.datetime:
    # A time given without an offset is taken as UTC, the clock of everything stored; one with
    # an offset is the same instant in UTC (10:00+01:00 is 09:00 UTC, not 10:00 UTC).
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _parse_at(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.datetime:
    if value is None:
        return utcnow()
    try:
        return _aware(dt.datetime.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time, e.g. 2021-07-01T00:00+02:00"
        ) from None


@click.group()
def retention_group() -> None:
    """Deletion at the processing end date: sweep, reminders, report."""


@retention_group.command("run")
@click.option(
    "--at",
    "now",
    callback=_parse_at,
    metavar="ISO-DATETIME",
    help="Run as of this time (default: now; no offset means UTC).",
)
@click.option("--dry-run", is_flag=True, help="Only show what is due; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def run(ctx: click.Context, now: dt.datetime, dry_run: bool, as_json: bool) -> None:
    """Send due reminders and delete what is due (recordings, raw transcripts, identities)."""
    services = services_from(ctx)
    notifier = build_notifier(services)
    try:
        report = retention.run_sweep(services, now, notifier=notifier, dry_run=dry_run)
    finally:
        close = getattr(notifier, "close", None)
        if callable(close):
            close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "at": report.at.isoformat(),
                    "dry_run": report.dry_run,
                    "reminders": report.reminders,
                    "studies_due": report.studies_due,
                    "studies_ended": report.studies_ended,
                    "deleted": report.deleted,
                    "objects": dict(report.objects),
                    "keys": report.keys,
                    "identities": report.identities,
                    "study_documents": report.study_documents,
                    "notices": dict(report.notices),
                    "withdrawals": report.withdrawals,
                    "unapproved": report.unapproved,
                    "failed": report.failed,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        _exit_on_failures(ctx, report)
        return
    verb = "would delete" if dry_run else "deleted"
    if report.nothing_to_do:
        click.echo(f"{now.isoformat()}: nothing is due")
    for entry in report.reminders:
        click.echo(
            f"reminder: {entry['study']} is deleted in {entry['days']} day(s), at "
            f"{entry['deadline']}; {len(entry['unapproved_codes'])} transcript(s) not approved"
        )
    for study_id, codes in report.deleted.items():
        click.echo(f"{study_id}: {verb} the data of {len(codes)} participant(s)")
        if codes:
            click.echo("  codes: " + ", ".join(codes))
    if report.studies_due:
        objects = ", ".join(f"{k} {v}" for k, v in sorted(report.objects.items())) or "none"
        click.echo(
            f"objects {verb}: {objects}; identities {verb}: {report.identities}; "
            f"study term lists/placeholder books deleted: {report.study_documents}"
        )
    for study_id, codes in report.unapproved.items():
        if codes:
            click.echo(f"warning: {study_id}: not approved by the deadline: {', '.join(codes)}")
    if report.notices:
        click.echo("notices: " + ", ".join(f"{k} {v}" for k, v in sorted(report.notices.items())))
    for item in report.withdrawals:
        click.echo(f"withdrawal purge {'due' if dry_run else 'completed'}: {item}")
    for study_id in report.studies_ended:
        click.echo(f"{study_id}: ended")
    _exit_on_failures(ctx, report)


def _exit_on_failures(ctx: click.Context, report: retention.SweepReport) -> None:
    """Name each study (or part) the sweep could not finish, on stderr; exit 1 if there is one."""
    for study_id, what in sorted(report.failed.items()):
        click.echo(
            f"error: {study_id}: the sweep failed ({what}); everything else was swept. The log "
            "has the details (`fieldvault study list` shows a study's dates); the next sweep "
            "tries again",
            err=True,
        )
    if report.failed:
        ctx.exit(1)


@retention_group.command("report")
@click.argument("study_id", metavar="STUDY")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def report_cmd(ctx: click.Context, study_id: str, as_json: bool) -> None:
    """For the data protection officer: what was deleted when (codes and counts only)."""
    result = retention.study_report(services_from(ctx), study_id)
    data = result.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    local = result.deadline.astimezone(ZoneInfo(result.timezone))
    click.echo(f"study {result.study_id}")
    click.echo(
        f"  processing ends {result.processing_end} ({result.timezone}); deletion due "
        f"{local.isoformat()} = {result.deadline.isoformat()}"
    )
    for ext in result.extensions:
        ref = f", assessment {ext['assessment_ref']}" if ext["assessment_ref"] else ""
        click.echo(f"  extended {ext['from']} -> {ext['to']} at {ext['at']}: {ext['reason']}{ref}")
    for rem in result.reminders:
        click.echo(f"  reminder {rem['days']} day(s) before, at {rem['at']} ({rem['delivery']})")
    click.echo(f"  ended: {data['ended_at'] or 'not yet'}")
    click.echo(f"  participants deleted: {len(result.deleted)}")
    for entry in result.deleted:
        click.echo(f"    {entry['code']} at {entry['at']}")
    if result.in_progress:
        click.echo(f"  in progress (rerun the sweep): {', '.join(result.in_progress)}")
    objects = ", ".join(f"{k} {v}" for k, v in result.objects.items()) or "none"
    click.echo(f"  objects deleted: {objects}; identities deleted: {result.identities}")
    if result.notices:
        click.echo(
            "  deletion notices: " + ", ".join(f"{k} {v}" for k, v in result.notices.items())
        )
    for w in result.withdrawals:
        scope = "whole" if w["whole"] else "in part"
        click.echo(f"  withdrawal ({scope}) {w['code']} at {w['at']}: objects {w['objects']}")
    left = result.remaining["objects"]
    if left:
        click.echo(f"  still held: {', '.join(f'{k} {v}' for k, v in left.items())}")
    mark = result.audit_checkpoint or {}
    if "seq" in mark:
        click.echo(
            f"  audit checkpoint: event {mark['seq']} head {mark['head']} at {mark['at']} "
            f"({mark['reason']}; line {mark['line']} of {mark['file']})"
        )
    else:
        click.echo(f"  audit checkpoint: none ({mark.get('problem')})")
