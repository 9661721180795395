"""The ``fieldvault`` command line: one group, one module per command family."""

from __future__ import annotations

import os
import sys

import click
from sqlalchemy.exc import DBAPIError

from fieldvault import __version__
from fieldvault.cli.advice import describe
from fieldvault.errors import FieldvaultError
from fieldvault.storage.busy import database_busy


class FieldvaultGroup(click.Group):
    """A click group that turns fieldvault errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; report a FieldvaultError as ``error: ...`` without a traceback."""
        try:
            return super().invoke(ctx)
        except FieldvaultError as exc:
            click.echo(f"error: {describe(exc)}", err=True)
            sys.exit(1)
        except DBAPIError as exc:
            # A lock timeout is one line too: the driver's own text carries SQL and parameters.
            busy = database_busy(exc)
            if busy is None:
                raise
            click.echo(f"error: {describe(busy)}", err=True)
            sys.exit(1)


@click.group(cls=FieldvaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fieldvault")
def cli() -> None:
    """Fieldvault: consent, encrypted recordings and pseudonymised transcripts for interviews."""


def _register() -> None:
    # Imported here so that ``import fieldvault.cli`` has no side effects beyond building the group.
    from fieldvault.cli import commands

    commands.register(cli)


def main() -> None:
    """Console entry point."""
    # Everything fieldvault writes (databases, journals, key files, exports) is private to
    # the service account; group and others get nothing, whatever the caller's umask.
    os.umask(0o077)
    _register()
    cli(prog_name="fieldvault")
