"""The backup key file: the keys backups are encrypted under, each destroyed after its time.

A JSON file readable by its owner only (0600), like the other key files but of its own
purpose, and never inside a backup::

    {"purpose": "backup", "keys": [{"id": "…", "created": "2024-…Z", "key": "<base64>"}, …]}

Newest first; the list may be empty (every key destroyed, none made yet). Which key is current
and which is due for destruction is decided by the caller (``domain/backups.py``) from the
``created`` times; this module only reads, adds and destroys. Destroying rewrites the file
atomically and then overwrites the old file's bytes with zeros before unlinking it, so the
destroyed key does not stay behind in an unlinked inode (on a copy-on-write file system or an
SSD the old blocks may survive all the same: keep the key folder on storage you trust).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import secrets
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldvault.errors import ConfigError
from fieldvault.storage.crypto import KEY_SIZE, generate_key

__all__ = ["BackupKey", "add_key", "destroy_keys", "find_key", "load_keys"]

PURPOSE = "backup"


@dataclass(frozen=True)
class BackupKey:
    """One backup key; its repr shows the id and time, never the key."""

    id: str
    created: dt.datetime
    key: bytes = field(repr=False)


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _read(path: Path) -> list[dict[str, str]]:
    """The file's entries; [] when there is no file. Every problem is a ConfigError."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    except PermissionError:
        raise ConfigError(
            f"the backup key file {path} cannot be read by this user; run fieldvault as the "
            "user that owns it"
        ) from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"the backup key file {path} is not a regular file")
        if mode & 0o077:
            raise ConfigError(
                f"the backup key file {path} can be read or changed by other users; run "
                f"`chmod 600 {path}`, and consider whether the key has leaked"
            )
        raw = f.read()
    damaged = f"the backup key file {path} is damaged"
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"{damaged} (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("purpose") != PURPOSE:
        raise ConfigError(f"{path} is not a backup key file (its purpose is not 'backup')")
    entries = doc.get("keys")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and all(isinstance(e.get(n), str) for n in ("id", "created", "key"))
        for e in entries
    ):
        raise ConfigError(f"{damaged} (a key entry lacks id, created or key)")
    return [{n: e[n] for n in ("id", "created", "key")} for e in entries]


def _parse(path: Path, entry: dict[str, str]) -> BackupKey:
    try:
        key = base64.b64decode(entry["key"], validate=True)
        created = dt.datetime.fromisoformat(entry["created"])
    except (binascii.Error, ValueError):
        raise ConfigError(f"the backup key file {path} is damaged (key {entry['id']!r})") from None
    if len(key) != KEY_SIZE or created.tzinfo is None:
        raise ConfigError(f"the backup key file {path} is damaged (key {entry['id']!r})")
    return BackupKey(entry["id"], created.astimezone(dt.UTC), key)


def load_keys(path: Path) -> list[BackupKey]:
    """Every backup key held, newest first; [] when the file does not exist yet."""
    keys = [_parse(path, entry) for entry in _read(path)]
    return sorted(keys, key=lambda k: k.created, reverse=True)


def find_key(path: Path, key_id: str) -> BackupKey | None:
    """The backup key ``key_id``, or None when it was destroyed (or never held here)."""
    return next((k for k in load_keys(path) if k.id == key_id), None)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _shred_file(path: Path) -> None:
    """Overwrite a file's bytes with zeros, make that durable, unlink it."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def _write(path: Path, entries: list[dict[str, str]]) -> None:
    """Replace the file atomically; the replaced file's bytes are zeroed, not just unlinked."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A crash between the link and the shred below leaves a dying copy: finish it first.
    for leftover in path.parent.glob(f".{path.name}.*.dying"):
        _shred_file(leftover)
    data = (json.dumps({"purpose": PURPOSE, "keys": entries}, indent=2) + "\n").encode()
    token = secrets.token_hex(6)
    tmp = path.with_name(f".{path.name}.{token}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        dying = path.with_name(f".{path.name}.{token}.dying")
        old = path.exists()
        if old:
            os.link(path, dying)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    if old:
        _shred_file(dying)
        _fsync_dir(path.parent)


def add_key(path: Path, now: dt.datetime) -> BackupKey:
    """Make a new backup key, created ``now``, the newest in the file (created if missing)."""
    entries = _read(path)
    key = BackupKey(secrets.token_hex(8), now.astimezone(dt.UTC).replace(microsecond=0), b"")
    secret = generate_key()
    entry = {"id": key.id, "created": _iso(key.created), "key": base64.b64encode(secret).decode()}
    _write(path, [entry, *entries])
    return BackupKey(key.id, key.created, secret)


def destroy_keys(path: Path, key_ids: Collection[str]) -> list[str]:
    """Destroy the keys ``key_ids``: every backup under them becomes noise. Returns those gone."""
    entries = _read(path)
    gone = [e["id"] for e in entries if e["id"] in key_ids]
    if gone:
        _write(path, [e for e in entries if e["id"] not in key_ids])
    return gone
