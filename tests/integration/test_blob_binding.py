"""A blob is bound to its owner and kind: a row pointing at another object decrypts nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.storage.blobs import new_object_id, put_encrypted
from fieldvault.storage.crypto import DecryptionError
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

from .conftest import NOW

AUDIO = {"A": b"RIFF-first-informant " * 5000, "B": b"RIFF-second-informant " * 5000}


def _register(services: Services, study_id: str, name: str) -> tuple[str, int]:
    code = register_participant(
        services, study_id, Identity(name=name), {"utdanning": "sosionom"}, NOW
    )
    with transaction(services.research) as session:
        return code, get_participant(session, study_id, code).id


def _put(services: Services, study_id: str, code: str, pid: int, kind: str, data: bytes) -> str:
    with transaction(services.research) as session:
        obj = services.content.put(
            session,
            study_id=study_id,
            participant_id=pid,
            participant_code=code,
            kind=kind,
            source=[data],
            now=NOW,
        )
        return obj.object_id


def _read(services: Services, object_id: str) -> bytes:
    with services.research() as session:
        return b"".join(services.content.read(session.get_one(BlobObject, object_id)))


def _two_recordings(services: Services, study_id: str) -> tuple[str, str]:
    ids = []
    for label in ("A", "B"):
        code, pid = _register(services, study_id, f"Informant {label}")
        ids.append(_put(services, study_id, code, pid, "recording", AUDIO[label]))
    assert [_read(services, oid) for oid in ids] == [AUDIO["A"], AUDIO["B"]]
    return ids[0], ids[1]


def _swap(services: Services, first: str, second: str, *columns: str) -> None:
    """Exchange ``columns`` of two blob rows behind fieldvault's back."""
    with transaction(services.research) as session:
        rows = [session.get_one(BlobObject, oid) for oid in (first, second)]
        of_first, of_second = ({c: getattr(row, c) for c in columns} for row in rows)
    rows_of = update(BlobObject).where
    with transaction(services.research) as session:
        # object_id is the primary key: the first row steps aside while the second takes its place.
        session.execute(rows_of(BlobObject.object_id == first).values(object_id="swap-aside"))
        session.execute(rows_of(BlobObject.object_id == second).values(**of_first))
        session.execute(
            rows_of(BlobObject.object_id == "swap-aside").values(
                **{"object_id": first, **of_second}
            )
        )


def test_a_row_pointing_at_another_participants_object_and_key_decrypts_nothing(
    services: Services, study_id: str
) -> None:
    first, second = _two_recordings(services, study_id)
    # Each row keeps its participant, but its storage path and data key are the other one's.
    _swap(services, first, second, "object_id", "data_key_id")
    for oid in (first, second):
        with pytest.raises(DecryptionError) as caught:
            _read(services, oid)
        assert str(caught.value) == str(DecryptionError())


def test_a_row_handed_to_another_participant_decrypts_nothing(
    services: Services, study_id: str
) -> None:
    first, second = _two_recordings(services, study_id)
    _swap(services, first, second, "participant_id")
    for oid in (first, second):
        with pytest.raises(DecryptionError):
            _read(services, oid)


def test_a_row_relabelled_as_another_kind_decrypts_nothing(
    services: Services, study_id: str
) -> None:
    code, pid = _register(services, study_id, "Informant C")
    recording = _put(services, study_id, code, pid, "recording", AUDIO["A"])
    transcript = _put(services, study_id, code, pid, "raw_transcript", b'{"segments": []}')
    # The transcript's row now claims to be a recording (its own data key still opens it).
    with transaction(services.research) as session:
        session.execute(
            update(BlobObject).where(BlobObject.object_id == transcript).values(kind="recording")
        )
    with pytest.raises(DecryptionError):
        _read(services, transcript)
    assert _read(services, recording) == AUDIO["A"]


def test_a_blob_written_before_bindings_existed_still_reads(
    services: Services, study_id: str
) -> None:
    code, pid = _register(services, study_id, "Informant D")
    key_id, key = services.content.keys.current(study_id, code, "recording")
    object_id = new_object_id()
    # The old write path: stream version 1, no associated data.
    put_encrypted(services.content.blobs, object_id, [AUDIO["B"]], key)
    with transaction(services.research) as session:
        session.add(
            BlobObject(
                object_id=object_id,
                study_id=study_id,
                participant_id=pid,
                kind="recording",
                data_key_id=key_id,
                plaintext_size=len(AUDIO["B"]),
                created_at=NOW,
            )
        )
    assert _read(services, object_id) == AUDIO["B"]
