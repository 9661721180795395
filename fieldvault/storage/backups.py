"""Backups: one encrypted file holding a snapshot of both databases and the blob folder.

File format (version 1)::

    magic (the 8 letters FVBACKUP, then bytes 01 0a) | header length (u32)
    | header (JSON: format, backup id, created, key id)
    | the stream of crypto.encrypt_stream under the backup key

The stream's object id is ``fieldvault/backup/v1/`` + the SHA-256 of magic, length and header,
so a changed header (another key id, another date) fails authentication like a changed byte
of the body. The header is readable without the key, which lets ``verify`` say which key a
backup needs and whether that key still exists. The decrypted body is a sequence of records::

    "F" | name length (u32) | name | size (u64) | the file's bytes      (one per file)
    "M" | length (u32) | manifest (JSON: backup id, created, files with size and SHA-256)

Names are ``research.sqlite3``, ``vault.sqlite3`` and ``blobs/<fan>/<object id>``. Key files
are never in a backup: only these three kinds of name are written, and read back.

The databases are copied with SQLite's backup API into memory (a consistent snapshot even
while others write; no plaintext temp file; memory holds one database, twice, at a time), the
vault first, then the research database, then the blobs: an identity deleted in between
appears as a withdrawal or deletion a crash interrupted, which the next sweep completes.
A blob deleted while the backup runs is left out (its key was destroyed first). Blobs are
copied as the ciphertext they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import make_url

from fieldvault.errors import FieldvaultError
from fieldvault.storage.crypto import DecryptionError, decrypt_stream, encrypt_stream

__all__ = [
    "BackupDamaged",
    "BackupError",
    "BackupHeader",
    "BackupKeyGone",
    "BackupSummary",
    "BackupUnsupported",
    "RestoreTargetNotEmpty",
    "read_header",
    "restore",
    "sqlite_path",
    "verify",
    "write_backup",
]

MAGIC = b"FVBACKUP\x01\n"
FORMAT = 1
SUFFIX = ".fvbackup"
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_MAX_HEADER = 4096
_MAX_NAME = 512
_MAX_MANIFEST = 256 * 1024 * 1024
_CHUNK = 1024 * 1024
DATABASES = ("research.sqlite3", "vault.sqlite3")
_BLOB_NAME = re.compile(r"blobs/[0-9a-f]{2}/[A-Za-z0-9_-]{8,128}")


class BackupError(FieldvaultError):
    """A backup cannot be made, read or restored."""

    code = "backup.error"


class BackupDamaged(BackupError):
    """The backup does not authenticate: changed, cut short, or not a backup at all."""

    code = "backup.damaged"


class BackupKeyGone(BackupError):
    """The key the backup was encrypted under has been destroyed (its retention passed)."""

    code = "backup.key_destroyed"


class BackupUnsupported(BackupError):
    """A database is not SQLite; PostgreSQL is backed up with pg_dump."""

    code = "backup.not_sqlite"


class RestoreTargetNotEmpty(BackupError):
    """A restore goes into an empty (or new) folder only."""

    code = "backup.target_not_empty"


@dataclass(frozen=True)
class BackupHeader:
    """The readable part of a backup: which it is and the key it needs."""

    backup_id: str
    created: dt.datetime
    key_id: str
    object_id: str


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds (after it was written or authenticated)."""

    header: BackupHeader
    files: int
    blobs: int
    plaintext_bytes: int


def sqlite_path(url: str, which: str) -> Path:
    """The file of an SQLite database URL; BackupUnsupported for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        raise BackupUnsupported(
            f"the {which} database is not an SQLite file; back up PostgreSQL with pg_dump "
            "(the blob folder with it) as the README's Backups section describes",
            which=which,
        )
    return Path(str(parsed.database))


# --- writing ------------------------------------------------------------------------------------


def _snapshot(path: Path) -> bytes:
    """A consistent copy of an SQLite database, made in memory by the backup API."""
    source = sqlite3.connect(path)
    target = sqlite3.connect(":memory:")
    try:
        source.execute("PRAGMA busy_timeout=10000")
        source.backup(target)
        return target.serialize()
    finally:
        target.close()
        source.close()


def _blob_files(root: Path) -> list[tuple[str, Path]]:
    """Every stored object under ``root`` (temp files of writes in progress left out)."""
    found = []
    if root.is_dir():
        for path in sorted(root.glob("*/*")):
            name = f"blobs/{path.parent.name}/{path.name}"
            if path.is_file() and _BLOB_NAME.fullmatch(name):
                found.append((name, path))
    return found


def _record(name: str, size: int) -> bytes:
    encoded = name.encode("utf-8")
    return b"F" + _U32.pack(len(encoded)) + encoded + _U64.pack(size)


class _Body:
    """The plaintext records, produced lazily; counts what went in for the manifest."""

    def __init__(
        self, databases: list[tuple[str, Path]], blob_root: Path, header: dict[str, object]
    ) -> None:
        self._databases = databases
        self._blob_root = blob_root
        self._header = header
        self.files: list[dict[str, object]] = []
        self.blobs = 0
        self.size = 0

    def _add(self, name: str, size: int, digest: str) -> None:
        self.files.append({"name": name, "size": size, "sha256": digest})
        self.size += size

    def chunks(self) -> Iterator[bytes]:
        for name, path in self._databases:
            data = _snapshot(path)
            yield _record(name, len(data))
            view = memoryview(data)
            for start in range(0, len(data), _CHUNK):
                yield bytes(view[start : start + _CHUNK])
            self._add(name, len(data), hashlib.sha256(data).hexdigest())
            del view, data
        for name, path in _blob_files(self._blob_root):
            try:
                f = path.open("rb")
            except FileNotFoundError:
                continue  # deleted meanwhile; its data key went first
            with f:
                size = os.fstat(f.fileno()).st_size
                yield _record(name, size)
                digest = hashlib.sha256()
                left = size
                while left:
                    chunk = f.read(min(_CHUNK, left))
                    if not chunk:
                        raise BackupError(f"a blob shrank while it was backed up ({name})")
                    digest.update(chunk)
                    left -= len(chunk)
                    yield chunk
            self._add(name, size, digest.hexdigest())
            self.blobs += 1
        manifest = {**self._header, "files": self.files}
        data = json.dumps(manifest, sort_keys=True).encode("utf-8")
        yield b"M" + _U32.pack(len(data)) + data


def _object_id(prefix: bytes) -> str:
    return "fieldvault/backup/v1/" + hashlib.sha256(prefix).hexdigest()


def write_backup(
    folder: Path,
    *,
    research: Path,
    vault: Path,
    blob_root: Path,
    key_id: str,
    key: bytes,
    now: dt.datetime,
) -> tuple[Path, BackupSummary]:
    """Write one encrypted backup file into ``folder`` atomically; return it and its summary."""
    backup_id = secrets.token_hex(8)
    created = now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    header = {"backup_id": backup_id, "created": created, "format": FORMAT, "key_id": key_id}
    encoded = json.dumps(header, sort_keys=True).encode("utf-8")
    prefix = MAGIC + _U32.pack(len(encoded)) + encoded
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = folder / f"fieldvault-{stamp}-{backup_id}{SUFFIX}"
    tmp = folder / f".{final.name}.tmp"
    body = _Body([("vault.sqlite3", vault), ("research.sqlite3", research)], blob_root, header)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(prefix)
            encrypt_stream(body.chunks(), out, key, _object_id(prefix))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    parsed = BackupHeader(backup_id, dt.datetime.fromisoformat(created), key_id, _object_id(prefix))
    return final, BackupSummary(parsed, len(body.files), body.blobs, body.size)


# --- reading ------------------------------------------------------------------------------------


def _damaged(path: Path) -> BackupDamaged:
    return BackupDamaged(
        f"the backup {path.name} does not authenticate: it was changed or damaged (or cut "
        "short), so nothing in it can be trusted",
        backup=path.name,
    )


def _read_header(path: Path, src: BinaryIO) -> BackupHeader:
    magic = src.read(len(MAGIC))
    if magic != MAGIC:
        raise BackupDamaged(f"{path.name} is not a fieldvault backup", backup=path.name)
    raw_length = src.read(_U32.size)
    if len(raw_length) != _U32.size or _U32.unpack(raw_length)[0] > _MAX_HEADER:
        raise _damaged(path)
    encoded = src.read(_U32.unpack(raw_length)[0])
    try:
        doc = json.loads(encoded.decode("utf-8"))
        header = BackupHeader(
            str(doc["backup_id"]),
            dt.datetime.fromisoformat(doc["created"]),
            str(doc["key_id"]),
            _object_id(magic + raw_length + encoded),
        )
        if doc["format"] != FORMAT:
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise _damaged(path) from None
    return header


def read_header(path: Path) -> BackupHeader:
    """The header of a backup file, readable without its key (not yet authenticated)."""
    with path.open("rb") as src:
        return _read_header(path, src)


class _Plain:
    """A reader over the decrypted (authenticated) segments."""

    def __init__(self, segments: Iterator[bytes]) -> None:
        self._segments = segments
        self._buffer = bytearray()

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            segment = next(self._segments, None)
            if segment is None:
                break
            self._buffer += segment
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def at_end(self) -> bool:
        return not self.read(1)


def _walk(path: Path, src: BinaryIO, key: bytes, sink: Path | None) -> BackupSummary:
    """Authenticate the whole backup, checking every file against the manifest.

    With ``sink``, each file is written under it as it is read (0600, folders 0700); the caller
    throws the folder away when this raises.
    """
    header = _read_header(path, src)
    plain = _Plain(decrypt_stream(src, key, header.object_id))
    seen: list[dict[str, object]] = []
    try:
        while True:
            kind = plain.read(1)
            if kind == b"M":
                break
            if kind != b"F":
                raise _damaged(path)
            (length,) = _U32.unpack(plain.read(_U32.size))
            if length > _MAX_NAME:
                raise _damaged(path)
            name = plain.read(length).decode("utf-8")
            (size,) = _U64.unpack(plain.read(_U64.size))
            if name not in DATABASES and not _BLOB_NAME.fullmatch(name):
                raise _damaged(path)
            seen.append({"name": name, "size": size, "sha256": _copy(plain, size, name, sink)})
        (length,) = _U32.unpack(plain.read(_U32.size))
        if length > _MAX_MANIFEST:
            raise _damaged(path)
        manifest = json.loads(plain.read(length).decode("utf-8"))
        if not plain.at_end():
            raise _damaged(path)
    except (DecryptionError, struct.error, UnicodeDecodeError, ValueError):
        raise _damaged(path) from None
    if (
        manifest.get("files") != seen
        or manifest.get("backup_id") != header.backup_id
        or manifest.get("key_id") != header.key_id
        or not set(DATABASES) <= {str(f["name"]) for f in seen}
    ):
        raise _damaged(path)
    blobs = sum(1 for f in seen if str(f["name"]).startswith("blobs/"))
    total = sum(int(str(f["size"])) for f in seen)
    return BackupSummary(header, len(seen), blobs, total)


def _copy(plain: _Plain, size: int, name: str, sink: Path | None) -> str:
    """Read one file's bytes (into ``sink``/name when given); return their SHA-256."""
    digest = hashlib.sha256()
    out: BinaryIO | None = None
    if sink is not None:
        target = sink / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    try:
        left = size
        while left:
            chunk = plain.read(min(_CHUNK, left))
            if not chunk:
                raise ValueError("cut short")
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
            left -= len(chunk)
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
    finally:
        if out is not None:
            out.close()
    return digest.hexdigest()


def verify(path: Path, key: bytes) -> BackupSummary:
    """Authenticate every byte of a backup and check it against its manifest."""
    with path.open("rb") as src:
        return _walk(path, src, key, None)


def _empty_or_absent(target: Path) -> bool:
    if not target.exists():
        return True
    return target.is_dir() and not any(target.iterdir())


def restore(path: Path, key: bytes, target: Path) -> BackupSummary:
    """Restore a backup into ``target`` (absent or empty) atomically, or leave it as it was.

    Everything goes into a hidden folder beside ``target`` first; only when the whole backup
    has authenticated and matched its manifest is that folder renamed to ``target``.
    """
    if not _empty_or_absent(target):
        raise RestoreTargetNotEmpty(
            f"{target} is not empty; a backup is restored into a new or empty folder only",
            target=str(target),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.restoring-{secrets.token_hex(6)}"
    staging.mkdir(mode=0o700)
    try:
        with path.open("rb") as src:
            summary = _walk(path, src, key, staging)
        (staging / "blobs").mkdir(mode=0o700, exist_ok=True)
        if not _empty_or_absent(target):
            raise RestoreTargetNotEmpty(
                f"{target} was filled while the backup was restored; nothing was changed",
                target=str(target),
            )
        # rename(2) replaces an empty folder in one step, and creates an absent one.
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary
