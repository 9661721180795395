"""Backups and their keys: which key encrypts a new backup, and when a key is destroyed.

The rules, all as of the ``now`` passed in:

- A backup key encrypts new backups for ``backup_key_rotation_days`` from when it was made;
  the first backup after that makes a new key (the first backup of all makes the first key).
- A key is destroyed ``backup_key_rotation_days + backup_retention_days`` after it was made,
  so every backup stays restorable for at least ``backup_retention_days``, and a backup that
  still held a person deleted since becomes noise at most rotation + retention days (35 by
  default) after the deletion: no backup can bring the identity back after that.
- Destruction runs at every ``backup create`` and in every retention sweep (the workers run it
  every 10 minutes), so keys expire on time even when no backup is being taken.

The key files (linkage, content, backup, and any other under the keys folder) are never in a
backup: the mechanism (``storage/backups.py``) writes only the two databases and the blobs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from fieldvault.config.settings import Settings
from fieldvault.storage import backup_keys, backups
from fieldvault.storage.backups import (
    BackupError,
    BackupHeader,
    BackupKeyGone,
    BackupSummary,
    BackupUnsupported,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupMade:
    """A backup just written, and the keys destroyed on the way."""

    path: Path
    summary: BackupSummary
    destroyed_keys: list[str]


def key_lifetime(settings: Settings) -> dt.timedelta:
    """How long after it was made a backup key is destroyed."""
    return dt.timedelta(days=settings.backup_key_rotation_days + settings.backup_retention_days)


def expire_keys(settings: Settings, now: dt.datetime) -> list[str]:
    """Destroy every backup key whose lifetime has passed at ``now``; return their ids."""
    path = settings.backup_key_path
    due = [k.id for k in backup_keys.load_keys(path) if k.created + key_lifetime(settings) <= now]
    gone = backup_keys.destroy_keys(path, due) if due else []
    if gone:
        log.info("destroyed %d backup key(s) past their retention: %s", len(gone), gone)
    return gone


def _current_key(settings: Settings, now: dt.datetime) -> backup_keys.BackupKey:
    """The key new backups are encrypted under at ``now``; a new one when the last is too old."""
    rotation = dt.timedelta(days=settings.backup_key_rotation_days)
    for key in backup_keys.load_keys(settings.backup_key_path):
        if key.created <= now < key.created + rotation:
            return key
    return backup_keys.add_key(settings.backup_key_path, now)


def _outside_data_dir(settings: Settings, folder: Path) -> None:
    keys = {settings.linkage_key_path.parent, settings.content_key_path.parent}
    resolved = folder.resolve()
    for inside in (settings.data_dir, *keys):
        if resolved == inside.resolve() or inside.resolve() in resolved.parents:
            raise BackupError(
                f"backups must not be written into {inside}: it holds the key files, and a "
                "backup kept beside its keys protects nothing",
                code="backup.inside_data_dir",
                folder=str(folder),
            )


def create_backup(settings: Settings, folder: Path, now: dt.datetime) -> BackupMade:
    """Destroy expired keys, then write an encrypted backup of both databases and the blobs.

    Refused with ``backup.not_sqlite`` when a database is PostgreSQL (use pg_dump), and with
    ``backup.inside_data_dir`` for a folder inside the data dir or a keys folder.
    """
    research = backups.sqlite_path(settings.research_url, "research")
    vault = backups.sqlite_path(settings.linkage_url, "vault")
    # An S3 blob store (a newer setting, hence getattr) is not in the folder: refuse rather than
    # write a backup without the recordings.
    if getattr(settings, "blob_url", None):
        raise BackupUnsupported(
            "the blobs are in an S3 bucket, which `backup` does not copy; back the bucket up "
            "with its own versioning and expire it within the same retention (README Backups)",
            code="backup.s3_blobs",
        )
    _outside_data_dir(settings, folder)
    destroyed = expire_keys(settings, now)
    key = _current_key(settings, now)
    path, summary = backups.write_backup(
        folder,
        research=research,
        vault=vault,
        blob_root=settings.blob_path,
        key_id=key.id,
        key=key.key,
        now=now,
    )
    return BackupMade(path, summary, destroyed)


def needed_key(
    settings: Settings, path: Path, key_file: Path | None = None
) -> tuple[BackupHeader, bool]:
    """Which key a backup needs, and whether the backup key file still holds it."""
    header = backups.read_header(path)
    held = backup_keys.find_key(key_file or settings.backup_key_path, header.key_id)
    return header, held is not None


def _key_for(settings: Settings, path: Path, key_file: Path | None) -> bytes:
    header = backups.read_header(path)
    found = backup_keys.find_key(key_file or settings.backup_key_path, header.key_id)
    if found is None:
        raise BackupKeyGone(
            f"the backup {path.name} (made {header.created:%Y-%m-%d}) is encrypted under backup "
            f"key {header.key_id}, which no longer exists: backup keys are destroyed "
            f"{settings.backup_key_rotation_days + settings.backup_retention_days} days after "
            "they were made, so this backup can never be decrypted again",
            backup=path.name,
            key_id=header.key_id,
        )
    return found.key


def verify_backup(settings: Settings, path: Path, key_file: Path | None = None) -> BackupSummary:
    """Authenticate a whole backup against its manifest; BackupKeyGone or BackupDamaged if not."""
    return backups.verify(path, _key_for(settings, path, key_file))


def restore_backup(
    settings: Settings, path: Path, target: Path, key_file: Path | None = None
) -> BackupSummary:
    """Restore a backup into an empty or new data dir, all of it or nothing."""
    return backups.restore(path, _key_for(settings, path, key_file), target)
