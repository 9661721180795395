from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldvault.errors import NotFoundError
from fieldvault.storage.blobs import (
    OBJECT_ID_PATTERN,
    BlobStore,
    LocalBlobStore,
    new_object_id,
    put_encrypted,
    read_decrypted,
)
from fieldvault.storage.crypto import DEFAULT_SEGMENT_SIZE, DecryptionError, generate_key


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_a_local_store_is_a_blob_store(store: LocalBlobStore) -> None:
    as_protocol: BlobStore = store
    assert as_protocol is store


def test_constructing_a_store_touches_nothing(tmp_path: Path) -> None:
    LocalBlobStore(tmp_path / "blobs")
    assert not (tmp_path / "blobs").exists()


def test_new_object_ids_are_random_and_valid() -> None:
    ids = {new_object_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(OBJECT_ID_PATTERN.fullmatch(i) for i in ids)


def test_a_written_object_can_be_read_sized_and_deleted(store: LocalBlobStore) -> None:
    oid = new_object_id()
    assert not store.exists(oid)
    with store.write(oid) as out:
        out.write(b"ciphertext")
    assert store.exists(oid)
    assert store.size(oid) == 10
    with store.open(oid) as f:
        assert f.read() == b"ciphertext"
    assert store.delete(oid) is True
    assert store.delete(oid) is False
    assert not store.exists(oid)


def test_objects_are_private_files_in_private_fanned_out_folders(store: LocalBlobStore) -> None:
    old = os.umask(0o022)
    try:
        oid = new_object_id()
        with store.write(oid) as out:
            out.write(b"x")
    finally:
        os.umask(old)
    [path] = files(store.root)
    assert path.name == oid
    assert path.parent.parent == store.root
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(store.root) == 0o700


def test_a_write_that_raises_leaves_no_object_and_no_temp(store: LocalBlobStore) -> None:
    oid = new_object_id()
    with pytest.raises(RuntimeError, match="upload broke"), store.write(oid) as out:
        out.write(b"partial ciphertext")
        raise RuntimeError("upload broke")
    assert not store.exists(oid)
    assert files(store.root) == []


def test_an_object_appears_only_when_its_write_completes(store: LocalBlobStore) -> None:
    oid = new_object_id()
    with store.write(oid) as out:
        out.write(b"half")
        assert not store.exists(oid)
        [temp] = files(store.root)
        assert temp.name != oid
        assert mode(temp) == 0o600
    assert [p.name for p in files(store.root)] == [oid]


def test_a_missing_object_is_not_found(store: LocalBlobStore) -> None:
    with pytest.raises(NotFoundError):
        store.open("missing-object")
    with pytest.raises(NotFoundError):
        store.size("missing-object")
    with pytest.raises(NotFoundError):
        read_decrypted(store, "missing-object", generate_key())


@pytest.mark.parametrize(
    "bad", ["short", "../../etc/passwd", "a/b/c/d/e/f", "with space!", "x" * 129, "ok.dots..", ""]
)
def test_an_invalid_object_id_is_refused_before_touching_disk(
    store: LocalBlobStore, bad: str
) -> None:
    with pytest.raises(ValueError, match="invalid object id"):
        store.write(bad)
    for call in (store.open, store.exists, store.delete, store.size):
        with pytest.raises(ValueError, match="invalid object id"):
            call(bad)
    assert not store.root.exists()


@pytest.mark.parametrize("size", [0, 1, DEFAULT_SEGMENT_SIZE, 3 * DEFAULT_SEGMENT_SIZE + 5])
def test_an_encrypted_object_round_trips_and_is_stored_as_ciphertext(
    store: LocalBlobStore, size: int
) -> None:
    data = (b"Kari, NAV-kontor A: " * (size // 20 + 1))[:size]
    key, oid = generate_key(), new_object_id()
    info = put_encrypted(store, oid, io.BytesIO(data), key)
    assert info.plaintext_size == size
    assert store.size(oid) == info.ciphertext_size
    if size:
        [path] = files(store.root)
        assert b"Kari" not in path.read_bytes()
    assert b"".join(read_decrypted(store, oid, key)) == data


def test_an_encrypted_object_accepts_a_chunk_iterator(store: LocalBlobStore) -> None:
    key, oid = generate_key(), new_object_id()
    put_encrypted(store, oid, (bytes([i]) * 1000 for i in range(50)), key)
    assert b"".join(read_decrypted(store, oid, key)) == b"".join(
        bytes([i]) * 1000 for i in range(50)
    )


def test_a_source_that_fails_mid_stream_stores_nothing(store: LocalBlobStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a" * DEFAULT_SEGMENT_SIZE * 2
        raise OSError("client went away")

    oid = new_object_id()
    with pytest.raises(OSError, match="client went away"):
        put_encrypted(store, oid, chunks(), generate_key())
    assert not store.exists(oid)
    assert files(store.root) == []


def test_an_object_moved_to_another_id_does_not_decrypt(store: LocalBlobStore) -> None:
    key, first, second = generate_key(), new_object_id(), new_object_id()
    put_encrypted(store, first, [b"recording"], key)
    with store.open(first) as src, store.write(second) as out:
        out.write(src.read())
    with pytest.raises(DecryptionError):
        b"".join(read_decrypted(store, second, key))


def test_an_object_under_the_wrong_data_key_does_not_decrypt(store: LocalBlobStore) -> None:
    oid = new_object_id()
    put_encrypted(store, oid, [b"recording"], generate_key())
    with pytest.raises(DecryptionError):
        b"".join(read_decrypted(store, oid, generate_key()))


def test_a_stored_object_is_replaced_atomically(store: LocalBlobStore) -> None:
    oid = new_object_id()
    with store.write(oid) as out:
        out.write(b"first")
    with pytest.raises(RuntimeError), store.write(oid) as out:
        out.write(b"second")
        raise RuntimeError
    with store.open(oid) as f:
        assert f.read() == b"first"
