"""``fieldvault backup create|verify|restore``: encrypted backups under rotating backup keys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from fieldvault.cli.context import settings_from
from fieldvault.domain import backups
from fieldvault.storage.models import utcnow


def _parse_at(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.datetime:
    if value is None:
        return utcnow()
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time, e.g. 2021-07-01T00:00Z"
        ) from None
    return at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)


KEY_FILE = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup key file to use (default: the configured one), e.g. on a new machine.",
)


@click.group()
def backup() -> None:
    """Encrypted backups of both databases and the blobs (never of the key files)."""


@backup.command("create")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--at",
    "now",
    callback=_parse_at,
    metavar="ISO-DATETIME",
    help="Run as of this time (default: now; no offset means UTC).",
)
@click.pass_context
def create(ctx: click.Context, folder: Path, now: dt.datetime) -> None:
    """Write a backup into FOLDER (outside the data dir); destroy backup keys past retention."""
    made = backups.create_backup(settings_from(ctx), folder, now)
    for key_id in made.destroyed_keys:
        click.echo(f"destroyed backup key {key_id} (its retention has passed)")
    s = made.summary
    click.echo(
        f"backup {made.path} under backup key {s.header.key_id}: {s.files} files "
        f"({s.blobs} blobs), {s.plaintext_bytes} bytes"
    )
    click.echo(
        "the key files are not in it: keep the linkage, content and backup keys apart from "
        "the backups and from each other"
    )


@backup.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_FILE
@click.pass_context
def verify(ctx: click.Context, file: Path, key_file: Path | None) -> None:
    """Check a backup's authentication tags and manifest; say which key it needs."""
    settings = settings_from(ctx)
    header, present = backups.needed_key(settings, file, key_file)
    click.echo(
        f"backup {header.backup_id} of {header.created:%Y-%m-%d %H:%M}Z needs backup key "
        f"{header.key_id} ({'present' if present else 'destroyed'})"
    )
    s = backups.verify_backup(settings, file, key_file)
    click.echo(f"OK: {s.files} files ({s.blobs} blobs), {s.plaintext_bytes} bytes authenticated")


@backup.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@KEY_FILE
@click.pass_context
def restore(ctx: click.Context, file: Path, target: Path, key_file: Path | None) -> None:
    """Restore a backup into TARGET, a new or empty data dir (all of it, or nothing)."""
    s = backups.restore_backup(settings_from(ctx), file, target, key_file)
    click.echo(f"restored {s.files} files ({s.blobs} blobs) into {target}")
    click.echo(
        f"now put the key files (linkage, content and the others) into {target / 'keys'} "
        "(mode 0600) from where you keep them, and point FIELDVAULT_DATA_DIR at it"
    )
