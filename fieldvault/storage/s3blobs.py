"""The blob store on S3-compatible object storage (AWS S3, SeaweedFS, MinIO …).

It keeps the :class:`~fieldvault.storage.blobs.BlobStore` protocol of the local folder, and like
it stores ciphertext only: :func:`~fieldvault.storage.blobs.put_encrypted` writes the encrypted
stream into :meth:`S3BlobStore.write` segment by segment.

- **Writes** collect ciphertext into one part buffer (``part_size``, 8 MiB) and upload each full
  part of a multipart upload as it fills, so memory holds one part, never a recording, and
  nothing touches the local disk. The upload is completed only when the write block ends
  without an error and aborted otherwise, so an object exists whole or not at all; one smaller
  than a part is a single PutObject at the end. A writer killed outright leaves an unfinished
  upload, which is invisible to readers and is aborted by the sweep
  (:meth:`S3BlobStore.discard_incomplete`, called by ``storage.orphans``).
- **Reads** (:meth:`S3BlobStore.open`) return a seekable reader. The first read after a seek
  is a ranged GET of exactly what is asked; reading on widens the range (doubling up to
  ``read_window``, 8 MiB) on one streamed response. A review editor seeking in audio, through
  ``crypto.decrypt_range``, fetches the header and the segments it decrypts, no more.
- **Listing** (:meth:`S3BlobStore.listing`) is what the orphan check compares with the
  ``blob_objects`` rows.

boto3 is the client because every worker and web thread here is synchronous: it signs
(SigV4), retries throttled and dropped requests, checks upload checksums and speaks to any
S3-compatible server at ``endpoint_url``. It is the optional ``s3`` extra, imported only when
``FIELDVAULT_BLOB_URL`` is set (``storage.services``).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fieldvault.errors import NotFoundError
from fieldvault.storage.blobs import OBJECT_ID_PATTERN, BlobStoreError, StoredObject

__all__ = ["MIN_PART_SIZE", "S3BlobStore", "s3_client"]

# S3 refuses parts below 5 MiB (except the last); 8 MiB parts allow objects of 80 GB within
# the 10,000-part limit, far above the longest recording accepted.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
DEFAULT_READ_WINDOW = 8 * 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}


def s3_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Any:
    """A boto3 S3 client with bounded timeouts and retries (path-style for custom endpoints)."""
    config = Config(
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 5},
        # Servers other than AWS (SeaweedFS, MinIO) name buckets in the path, not the host.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


def _failed(action: str, bucket: str, exc: Exception) -> BlobStoreError:
    # The error code only: a message from the server may quote the request.
    kind = (
        exc.response.get("Error", {}).get("Code", "error")
        if isinstance(exc, ClientError)
        else type(exc).__name__
    )
    return BlobStoreError(
        f"the object store refused or did not answer a {action} in bucket {bucket} ({kind})",
        bucket=bucket,
    )


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


class S3BlobStore:
    """Objects under ``prefix`` in ``bucket``, one key per object id."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = DEFAULT_PART_SIZE,
        read_window: int = DEFAULT_READ_WINDOW,
    ) -> None:
        """Use ``client`` (see :func:`s3_client`); construction sends no request."""
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts must be at least {MIN_PART_SIZE} bytes")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.read_window = read_window

    def __repr__(self) -> str:
        """Show the bucket and prefix."""
        return f"S3BlobStore(s3://{self.bucket}/{self.prefix})"

    def key(self, object_id: str) -> str:
        """The object key of ``object_id``; ids outside the pattern are refused."""
        if not isinstance(object_id, str) or not OBJECT_ID_PATTERN.fullmatch(object_id):
            raise ValueError("invalid object id: expected 8-128 characters of A-Z a-z 0-9 _ -")
        return self.prefix + object_id

    def write(self, object_id: str) -> AbstractContextManager[BinaryIO]:
        """Write an object as a multipart upload, completed only when the block completes."""
        return self._write(self.key(object_id))

    @contextmanager
    def _write(self, key: str) -> Iterator[BinaryIO]:
        sink = _MultipartSink(self, key)
        try:
            yield cast(BinaryIO, sink)
            sink.complete()
        except BaseException:
            sink.abort()
            raise

    def _head(self, object_id: str) -> dict[str, Any] | None:
        try:
            return cast(
                "dict[str, Any]",
                self.client.head_object(Bucket=self.bucket, Key=self.key(object_id)),
            )
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise _failed("HEAD", self.bucket, exc) from None
        except BotoCoreError as exc:
            raise _failed("HEAD", self.bucket, exc) from None

    def open(self, object_id: str) -> BinaryIO:
        """A seekable reader of ranged GETs; NotFoundError when there is no such object."""
        head = self._head(object_id)
        if head is None:
            raise NotFoundError(f"there is no stored object {object_id}")
        # Unbuffered: a buffer's read-ahead would widen the ranges a seek is meant to keep small.
        return cast(BinaryIO, _RangeReader(self, self.key(object_id), int(head["ContentLength"])))

    def delete(self, object_id: str) -> bool:
        """Remove an object; False when there was none."""
        if self._head(object_id) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(object_id))
        except (ClientError, BotoCoreError) as exc:
            raise _failed("DELETE", self.bucket, exc) from None
        return True

    def exists(self, object_id: str) -> bool:
        """Whether the object exists."""
        return self._head(object_id) is not None

    def size(self, object_id: str) -> int:
        """The stored (ciphertext) size in bytes; NotFoundError when there is none."""
        head = self._head(object_id)
        if head is None:
            raise NotFoundError(f"there is no stored object {object_id}")
        return int(head["ContentLength"])

    def listing(self) -> Iterator[StoredObject]:
        """Every object under the prefix whose key is an object id (others are not ours)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    object_id = str(item["Key"])[len(self.prefix) :]
                    if OBJECT_ID_PATTERN.fullmatch(object_id):
                        yield StoredObject(object_id, item["LastModified"].astimezone(dt.UTC))
        except (ClientError, BotoCoreError) as exc:
            raise _failed("listing", self.bucket, exc) from None

    def discard_incomplete(self, started_before: dt.datetime) -> int:
        """Abort the multipart uploads under the prefix begun before ``started_before``."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        aborted = 0
        try:
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < started_before:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        except (ClientError, BotoCoreError) as exc:
            raise _failed("multipart listing", self.bucket, exc) from None
        return aborted


class _MultipartSink(io.RawIOBase):
    """A write-only file whose bytes go up as the parts of one multipart upload."""

    def __init__(self, store: S3BlobStore, key: str) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._buffer = bytearray(store.part_size)  # filled in place, sent whole: no copies
        self._filled = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        while view:
            take = min(len(view), len(self._buffer) - self._filled)
            self._buffer[self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled == len(self._buffer):
                self._send_part()
        return size

    def _call(self, action: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._store.client, method)(
                Bucket=self._store.bucket, Key=self._key, **kwargs
            )
        except (ClientError, BotoCoreError) as exc:
            raise _failed(action, self._store.bucket, exc) from None

    def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = str(
                self._call("multipart upload", "create_multipart_upload")["UploadId"]
            )
        number = len(self._parts) + 1
        body = self._buffer if self._filled == len(self._buffer) else self._buffer[: self._filled]
        answer = self._call(
            "part upload", "upload_part", UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._filled = 0

    def complete(self) -> None:
        """Send what is left and make the object appear (whole, at once)."""
        if self._upload_id is None:
            self._call("PUT", "put_object", Body=bytes(self._buffer[: self._filled]))
            return
        if self._filled:
            self._send_part()
        self._call(
            "multipart completion",
            "complete_multipart_upload",
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._upload_id = None

    def abort(self) -> None:
        """Drop the unfinished upload; its parts are deleted by the server."""
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            # Should the abort fail too, the sweep's discard_incomplete aborts it later.
            with suppress(BlobStoreError):
                self._call("multipart abort", "abort_multipart_upload", UploadId=upload_id)


class _RangeReader(io.RawIOBase):
    """A seekable, read-only view of one object, read with ranged GETs."""

    def __init__(self, store: S3BlobStore, key: str, size: int) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._size = size
        self._pos = 0
        self._body: Any = None
        self._body_pos = 0  # the offset of the open response's next byte
        self._body_end = 0
        self._span = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        if self._body is None or self._body_pos != self._pos or self._body_pos >= self._body_end:
            self._request(want)
        try:
            data = self._body.read(min(want, self._body_end - self._pos))
        except BotoCoreError as exc:  # a dropped or timed-out response
            self._close_body()
            raise _failed("GET", self._store.bucket, exc) from None
        if not data:
            raise BlobStoreError(
                f"the object store ended a read early in bucket {self._store.bucket}",
                bucket=self._store.bucket,
            )
        buffer[: len(data)] = data
        self._pos += len(data)
        self._body_pos = self._pos
        return len(data)

    def _request(self, want: int) -> None:
        # After a seek, fetch what is asked; reading straight on, widen the range each time.
        onward = self._body is not None and self._body_pos == self._pos
        self._close_body()
        span = min(max(want, 2 * self._span), self._store.read_window) if onward else want
        span = max(span, want)
        end = min(self._size, self._pos + span)
        try:
            answer = self._store.client.get_object(
                Bucket=self._store.bucket, Key=self._key, Range=f"bytes={self._pos}-{end - 1}"
            )
        except ClientError as exc:
            if _is_missing(exc):
                raise NotFoundError("the stored object is gone") from None
            raise _failed("GET", self._store.bucket, exc) from None
        except BotoCoreError as exc:
            raise _failed("GET", self._store.bucket, exc) from None
        self._body = answer["Body"]
        self._body_pos, self._body_end, self._span = self._pos, end, end - self._pos

    def _close_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()
