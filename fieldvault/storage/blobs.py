"""The blob store: named objects of ciphertext, written atomically.

The store itself knows nothing of keys; :func:`put_encrypted` and :func:`read_decrypted` join
it with the streaming AEAD of :mod:`fieldvault.storage.crypto`, so what reaches the store (and
its temp files) is always ciphertext.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from fieldvault.errors import FieldvaultError, NotFoundError
from fieldvault.storage.crypto import StreamInfo, decrypt_range, decrypt_stream, encrypt_stream

__all__ = [
    "OBJECT_ID_PATTERN",
    "BlobStore",
    "BlobStoreError",
    "LocalBlobStore",
    "StoredObject",
    "new_object_id",
    "put_encrypted",
    "read_decrypted",
    "read_range_decrypted",
]

OBJECT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,128}")


class BlobStoreError(FieldvaultError):
    """The blob store could not be reached or refused a request (an S3 server, say)."""

    code = "storage.blob_store"


class BlobStore(Protocol):
    """Where ciphertext objects live: a local folder now, S3-compatible storage later."""

    def write(self, object_id: str) -> AbstractContextManager[BinaryIO]:
        """Open a new object for writing; it appears only if the block completes."""
        ...

    def open(self, object_id: str) -> BinaryIO:
        """Open an object for reading; NotFoundError when there is none."""
        ...

    def delete(self, object_id: str) -> bool:
        """Remove an object; False when there was none."""
        ...

    def exists(self, object_id: str) -> bool:
        """Whether the object exists."""
        ...

    def size(self, object_id: str) -> int:
        """The stored (ciphertext) size in bytes; NotFoundError when there is none."""
        ...

    def listing(self) -> Iterator[StoredObject]:
        """Every complete object of the store, for the orphan check (``storage.orphans``)."""
        ...

    def discard_incomplete(self, started_before: dt.datetime) -> int:
        """Remove writes begun before ``started_before`` that never completed; return the count.

        These are the temp files or unfinished multipart uploads of a writer that was killed.
        """
        ...


@dataclass(frozen=True)
class StoredObject:
    """One object of a store's listing: its id and when it was last written (UTC)."""

    object_id: str
    modified: dt.datetime


def new_object_id() -> str:
    """A new random, URL-safe object id (192 bits)."""
    return secrets.token_urlsafe(24)


def _checked(object_id: str) -> str:
    # Ids become file names: anything outside the pattern (slashes, dots, "..") is refused.
    if not isinstance(object_id, str) or not OBJECT_ID_PATTERN.fullmatch(object_id):
        raise ValueError("invalid object id: expected 8-128 characters of A-Z a-z 0-9 _ -")
    return object_id


class LocalBlobStore:
    """Objects as files under ``root``: folders 0700, files 0600, fanned out by id hash."""

    def __init__(self, root: Path) -> None:
        """Use ``root`` (created on first write); construction touches nothing."""
        self.root = root

    def __repr__(self) -> str:
        """Show the folder."""
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, object_id: str) -> Path:
        # A hash of the id picks the subfolder: even spread for any id scheme, and folder names
        # that differ in more than case (safe on case-insensitive file systems).
        fan = hashlib.sha256(_checked(object_id).encode("ascii")).hexdigest()[:2]
        return self.root / fan / object_id

    @contextmanager
    def _write(self, object_id: str) -> Iterator[BinaryIO]:
        final = self._path(object_id)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = final.with_name(f".{object_id}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        # Make the rename durable too, or a crash could lose an object the caller saw written.
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def write(self, object_id: str) -> AbstractContextManager[BinaryIO]:
        """Write an object atomically: a temp file beside it, fsync, rename on success only."""
        _checked(object_id)
        return self._write(object_id)

    def open(self, object_id: str) -> BinaryIO:
        """Open an object for reading; NotFoundError when there is none."""
        try:
            return self._path(object_id).open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"there is no stored object {object_id}") from None

    def delete(self, object_id: str) -> bool:
        """Remove an object; False when there was none."""
        try:
            self._path(object_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, object_id: str) -> bool:
        """Whether the object exists."""
        return self._path(object_id).is_file()

    def size(self, object_id: str) -> int:
        """The stored (ciphertext) size in bytes; NotFoundError when there is none."""
        try:
            return self._path(object_id).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"there is no stored object {object_id}") from None

    def _files(self) -> Iterator[tuple[Path, os.stat_result]]:
        if not self.root.is_dir():
            return
        for fan in self.root.iterdir():
            if fan.is_dir() and len(fan.name) == 2:
                for path in fan.iterdir():
                    try:
                        yield path, path.stat()
                    except FileNotFoundError:  # deleted meanwhile
                        continue

    def listing(self) -> Iterator[StoredObject]:
        """Every complete object (temp files of unfinished writes are not objects)."""
        for path, st in self._files():
            if OBJECT_ID_PATTERN.fullmatch(path.name):
                yield StoredObject(path.name, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def discard_incomplete(self, started_before: dt.datetime) -> int:
        """Remove the temp files of killed writers last written before ``started_before``."""
        removed = 0
        for path, st in self._files():
            stale = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC) < started_before
            if stale and path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def put_encrypted(
    store: BlobStore,
    object_id: str,
    source: Iterable[bytes] | BinaryIO,
    data_key: bytes,
    *,
    associated_data: bytes | None = None,
) -> StreamInfo:
    """Encrypt ``source`` as it streams into a new object; nothing is stored if it fails."""
    with store.write(object_id) as out:
        return encrypt_stream(source, out, data_key, object_id, associated_data=associated_data)


def read_decrypted(
    store: BlobStore, object_id: str, data_key: bytes, *, associated_data: bytes | None = None
) -> Iterator[bytes]:
    """Decrypted, authenticated segments of an object (see ``decrypt_stream`` on truncation).

    The object is opened now, so a missing one raises NotFoundError here, not on iteration.
    """
    src = store.open(object_id)
    return _closing(src, decrypt_stream(src, data_key, object_id, associated_data))


def read_range_decrypted(
    store: BlobStore,
    object_id: str,
    data_key: bytes,
    start: int,
    length: int,
    *,
    associated_data: bytes | None = None,
) -> Iterator[bytes]:
    """The plaintext bytes ``start`` to ``start + length`` of an object, read by seeking.

    Only the header and the segments that hold the range are read (ranged GETs on S3); each is
    authenticated before any of its bytes is yielded. Opened now, as in :func:`read_decrypted`.
    """
    src = store.open(object_id)
    return _closing(src, decrypt_range(src, data_key, object_id, start, length, associated_data))


def _closing(src: BinaryIO, segments: Iterator[bytes]) -> Iterator[bytes]:
    with src:
        yield from segments
