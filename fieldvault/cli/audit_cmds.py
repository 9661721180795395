"""``fieldvault audit verify``."""

from __future__ import annotations

import sys

import click

from fieldvault.cli.context import services_from
from fieldvault.storage import audit
from fieldvault.storage.db import transaction


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.option(
    "--expected-head", metavar="SEQ:HASH", help="A head recorded earlier; detects a deleted tail."
)
@click.pass_context
def verify(ctx: click.Context, expected_head: str | None) -> None:
    """Check every link of the audit chain; exit 1 at the first broken one."""
    head = None
    if expected_head:
        seq, sep, digest = expected_head.partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("write it as SEQ:HASH", param_hint="--expected-head")
        head = (int(seq), digest)
    services = services_from(ctx)
    with transaction(services.research) as session:
        result = audit.verify(session, expected_head=head)
    if result.ok:
        click.echo(
            f"audit chain OK: {result.checked} events; head {result.head_seq}:{result.head_hash}"
        )
        return
    click.echo(
        f"audit chain BROKEN at event {result.first_broken_seq}: {result.reason} "
        f"({result.checked} events checked)",
        err=True,
    )
    sys.exit(1)
