"""``fieldvault audit verify`` and ``fieldvault audit checkpoint``."""

from __future__ import annotations

import sys

import click

from fieldvault.cli.context import services_from
from fieldvault.storage import audit
from fieldvault.storage.audit import Checkpoint
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow


@click.group("audit")
def audit_group() -> None:
    """The keyed, hash-chained audit log and its signed checkpoints."""


def _describe(checkpoint: Checkpoint) -> str:
    at = checkpoint.at.isoformat(timespec="seconds")
    return f"event {checkpoint.seq} head {checkpoint.head} at {at} (line {checkpoint.line})"


@audit_group.command("verify")
@click.option(
    "--expected-head", metavar="SEQ:HASH", help="A head recorded earlier; detects a deleted tail."
)
@click.pass_context
def verify(ctx: click.Context, expected_head: str | None) -> None:
    """Check every link of the chain and every checkpoint; exit 1 at the first failure.

    A chain that verifies gets a new checkpoint.
    """
    head = None
    if expected_head:
        seq, sep, digest = expected_head.partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("write it as SEQ:HASH", param_hint="--expected-head")
        head = (int(seq), digest)
    services = services_from(ctx)
    checkpoints = services.audit.read()  # a missing or forged file is an error (exit 1)
    with transaction(services.research) as session:
        result = audit.verify(session, expected_head=head, checkpoints=checkpoints)
    if not result.ok:
        against = f"; it contradicts {result.checkpoint.label}" if result.checkpoint else ""
        click.echo(
            f"audit chain BROKEN at event {result.first_broken_seq}: {result.reason} "
            f"({result.checked} events checked{against}; checkpoints in "
            f"{services.audit.path})",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"audit chain OK: {result.checked} events ({result.keyed} keyed); head "
        f"{result.head_seq}:{result.head_hash}; matches {result.checkpoints} checkpoint(s)"
    )
    recorded = services.audit.record(services.research, utcnow(), "verify")
    click.echo(f"checkpoint recorded: {_describe(recorded)} in {services.audit.path}")


@audit_group.command("checkpoint")
@click.option(
    "--new-file",
    is_flag=True,
    help="Start a new checkpoint file when it is missing (a cut tail before now goes unseen).",
)
@click.pass_context
def checkpoint(ctx: click.Context, new_file: bool) -> None:
    """Record the chain's head, signed with the audit key, in the checkpoint file."""
    services = services_from(ctx)
    recorded = services.audit.record(services.research, utcnow(), "command", start=new_file)
    click.echo(f"checkpoint recorded: {_describe(recorded)} in {services.audit.path}")
    click.echo("Keep a copy where the database's writers cannot change it.")
