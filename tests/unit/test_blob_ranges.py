"""Reading a range of an encrypted object by seeking, and the local store's listing for orphans."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest

from fieldvault.storage.blobs import LocalBlobStore, put_encrypted, read_range_decrypted
from fieldvault.storage.crypto import (
    HEADER_SIZE,
    TAG_SIZE,
    DecryptionError,
    decrypt_range,
    encrypt_stream,
    generate_key,
)

SEGMENT = 64
BLOCK = SEGMENT + TAG_SIZE
KEY = generate_key()
OID = "object-range-1"
AD = b"owner and kind"


def sealed(plaintext: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream(iter([plaintext]), out, KEY, OID, segment_size=SEGMENT, associated_data=AD)
    return out.getvalue()


class CountingReader(io.BytesIO):
    """A seekable source that counts the bytes read from it."""

    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def ranged(stream: bytes, start: int, length: int) -> bytes:
    return b"".join(decrypt_range(io.BytesIO(stream), KEY, OID, start, length, AD))


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, 3 * SEGMENT, 3 * SEGMENT + 5])
def test_every_range_of_a_stream_decrypts_to_the_same_bytes_as_slicing(size: int) -> None:
    plaintext = os.urandom(size)
    stream = sealed(plaintext)
    for start in range(0, size + 2, 7):
        for length in (0, 1, 10, SEGMENT, 2 * SEGMENT + 3, size + 10):
            assert ranged(stream, start, length) == plaintext[start : start + length]


def test_a_range_reads_only_the_header_and_the_segments_holding_it() -> None:
    stream = sealed(os.urandom(10 * SEGMENT))
    source = CountingReader(stream)
    list(decrypt_range(source, KEY, OID, 4 * SEGMENT + 3, 10, AD))
    assert source.read_bytes == HEADER_SIZE + BLOCK


def test_a_range_reaching_the_end_of_a_stream_cut_at_a_segment_fails() -> None:
    plaintext = os.urandom(4 * SEGMENT + 10)
    cut = sealed(plaintext)[: HEADER_SIZE + 3 * BLOCK]
    # What the cut stream still holds is authentic and readable where it is not the end ...
    assert ranged(cut, SEGMENT, 10) == plaintext[SEGMENT : SEGMENT + 10]
    # ... but the segment that now looks final was not sealed as final.
    with pytest.raises(DecryptionError):
        ranged(cut, 2 * SEGMENT, SEGMENT + 10)
    with pytest.raises(DecryptionError):
        ranged(cut, 10 * SEGMENT, 1)  # past the end: the final segment is still checked


def test_a_range_under_another_binding_or_key_fails() -> None:
    stream = sealed(os.urandom(3 * SEGMENT))
    with pytest.raises(DecryptionError):
        list(decrypt_range(io.BytesIO(stream), KEY, OID, 0, 10, b"someone else's"))
    with pytest.raises(DecryptionError):
        list(decrypt_range(io.BytesIO(stream), generate_key(), OID, 0, 10, AD))


def test_a_local_object_can_be_read_by_range(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    plaintext = os.urandom(1_000_000)
    put_encrypted(store, "object-local-1", iter([plaintext]), KEY, associated_data=AD)
    got = b"".join(
        read_range_decrypted(store, "object-local-1", KEY, 600_000, 5000, associated_data=AD)
    )
    assert got == plaintext[600_000:605_000]


def test_the_local_listing_shows_objects_and_discards_only_old_dead_writes(
    tmp_path: Path,
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    put_encrypted(store, "object-local-1", iter([b"x"]), KEY)
    with pytest.raises(RuntimeError), store.write("object-local-2") as out:
        out.write(b"half")
        raise RuntimeError("killed")  # a clean failure leaves no temp file ...
    fan = next(p for p in (tmp_path / "blobs").iterdir())
    dead = fan / ".object-local-3.abcdef.tmp"  # ... a killed writer does
    dead.write_bytes(b"partial ciphertext")
    now = dt.datetime.now(dt.UTC)

    assert [o.object_id for o in store.listing()] == ["object-local-1"]
    assert store.discard_incomplete(now - dt.timedelta(hours=1)) == 0
    assert dead.exists()
    assert store.discard_incomplete(now + dt.timedelta(seconds=5)) == 1
    assert not dead.exists()
    assert store.exists("object-local-1")
