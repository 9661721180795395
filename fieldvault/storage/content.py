"""Identifiable content: per-participant data keys (in the vault) and the encrypted blobs they open.

Each participant gets one data key per purpose (recording, raw transcript, evidence, redaction
map), wrapped by the content key and stored in the vault database. Shredding deletes the
wrapped keys first — from then on every copy of the ciphertext, backups included, is noise —
and only then removes the ciphertext.

Every blob written now is bound (AES-GCM associated data, stream version 2) to its owner and
kind: :func:`blob_binding` of the study, the participant's row id and the kind. The read path
takes these from the ``blob_objects`` row, so a row changed to point at another participant's
object, or at an object of another kind, fails with the opaque ``DecryptionError`` even when
its data key id was changed along. Blobs written before (stream version 1) still read.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.storage.blobs import (
    BlobStore,
    new_object_id,
    put_encrypted,
    read_decrypted,
    read_range_decrypted,
)
from fieldvault.storage.crypto import DecryptionError, generate_key, unwrap_key, wrap_key
from fieldvault.storage.db import transaction
from fieldvault.storage.keys import KeySet
from fieldvault.storage.models import BlobObject, WrappedDataKey, utcnow


class BlobKind(StrEnum):
    """What a blob holds; each kind has its own data key per participant."""

    RECORDING = "recording"
    RAW_TRANSCRIPT = "raw_transcript"
    EVIDENCE = "evidence"  # a scanned paper consent form
    REDACTION_MAP = "redaction_map"  # what each placeholder of a transcript replaced


PURPOSES = frozenset(BlobKind)


def blob_binding(study_id: str, participant_id: int, kind: str) -> bytes:
    """The associated data that binds a blob's ciphertext to its owner and kind."""
    # Length-prefixed parts, so no two different triples give the same bytes.
    parts = [b"fieldvault/blob/v2", study_id.encode(), str(participant_id).encode(), kind.encode()]
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _context(study_id: str, code: str, purpose: str, key_id: str) -> bytes:
    return f"fieldvault/data-key/v1/{study_id}/{code}/{purpose}/{key_id}".encode()


class DataKeys:
    """Create, open and destroy per-participant data keys."""

    def __init__(self, vault_sessions: sessionmaker[Session], content_keys: KeySet) -> None:
        """Keys are stored through ``vault_sessions`` and wrapped with ``content_keys``."""
        self._sessions = vault_sessions
        self._keks = content_keys

    def current(self, study_id: str, code: str, purpose: str) -> tuple[str, bytes]:
        """The (key id, key) for new objects of ``purpose``; created on first use."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown data key purpose {purpose!r}")
        with transaction(self._sessions) as session:
            row = session.scalar(
                select(WrappedDataKey)
                .where(
                    WrappedDataKey.study_id == study_id,
                    WrappedDataKey.participant_code == code,
                    WrappedDataKey.purpose == purpose,
                )
                .order_by(WrappedDataKey.created_at.desc())
                .limit(1)
            )
            if row is not None:
                return row.id, self._unwrap(row)
            key_id = secrets.token_hex(16)
            key = generate_key()
            session.add(
                WrappedDataKey(
                    id=key_id,
                    study_id=study_id,
                    participant_code=code,
                    purpose=purpose,
                    kek_id=self._keks.current_id,
                    wrapped=wrap_key(
                        self._keks.current, key, _context(study_id, code, purpose, key_id)
                    ),
                    created_at=utcnow(),
                )
            )
            return key_id, key

    def get(self, key_id: str) -> bytes:
        """Unwrap the data key ``key_id``; DecryptionError (opaque) when it is gone."""
        with self._sessions() as session:
            row = session.get(WrappedDataKey, key_id)
            if row is None:
                raise DecryptionError()
            return self._unwrap(row)

    def _unwrap(self, row: WrappedDataKey) -> bytes:
        context = _context(row.study_id, row.participant_code, row.purpose, row.id)
        return unwrap_key(self._keks.get(row.kek_id), row.wrapped, context)

    def shred(self, study_id: str, code: str, purposes: Iterable[str] | None = None) -> int:
        """Destroy the participant's data keys (all, or those of ``purposes``); return the count."""
        with transaction(self._sessions) as session:
            stmt = delete(WrappedDataKey).where(
                WrappedDataKey.study_id == study_id, WrappedDataKey.participant_code == code
            )
            if purposes is not None:
                stmt = stmt.where(WrappedDataKey.purpose.in_(list(purposes)))
            return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def shred_many(self, study_id: str, codes: Iterable[str], purposes: Iterable[str]) -> int:
        """Destroy the data keys of ``purposes`` of every one of ``codes``; return the count."""
        with transaction(self._sessions) as session:
            result = session.execute(
                delete(WrappedDataKey).where(
                    WrappedDataKey.study_id == study_id,
                    WrappedDataKey.participant_code.in_(list(codes)),
                    WrappedDataKey.purpose.in_(list(purposes)),
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def codes(self, study_id: str, purposes: Iterable[str]) -> set[str]:
        """The participant codes of ``study_id`` holding a data key of one of ``purposes``."""
        with self._sessions() as session:
            return set(
                session.scalars(
                    select(WrappedDataKey.participant_code).where(
                        WrappedDataKey.study_id == study_id,
                        WrappedDataKey.purpose.in_(list(purposes)),
                    )
                )
            )

    def studies_holding(self, study_ids: Collection[str], purposes: Iterable[str]) -> set[str]:
        """Which of ``study_ids`` hold at least one data key of one of ``purposes``."""
        with self._sessions() as session:
            return set(
                session.scalars(
                    select(WrappedDataKey.study_id)
                    .where(
                        WrappedDataKey.study_id.in_(list(study_ids)),
                        WrappedDataKey.purpose.in_(list(purposes)),
                    )
                    .distinct()
                )
            )

    def rewrap(self) -> int:
        """Re-wrap every data key under the current content key (rotation); return the count."""
        with transaction(self._sessions) as session:
            rows = session.scalars(select(WrappedDataKey)).all()
            changed = 0
            for row in rows:
                if row.kek_id == self._keks.current_id:
                    continue
                key = self._unwrap(row)
                context = _context(row.study_id, row.participant_code, row.purpose, row.id)
                row.wrapped = wrap_key(self._keks.current, key, context)
                row.kek_id = self._keks.current_id
                changed += 1
            return changed


@dataclass(frozen=True)
class ContentStore:
    """Encrypted identifiable content of participants: write, read, shred."""

    blobs: BlobStore
    keys: DataKeys

    def put(
        self,
        session: Session,
        *,
        study_id: str,
        participant_id: int,
        participant_code: str,
        kind: str,
        source: Iterable[bytes] | BinaryIO,
        now: dt.datetime | None = None,
    ) -> BlobObject:
        """Encrypt ``source`` while it streams in and record its metadata in ``session``."""
        key_id, key = self.keys.current(study_id, participant_code, kind)
        object_id = new_object_id()
        binding = blob_binding(study_id, participant_id, kind)
        info = put_encrypted(self.blobs, object_id, source, key, associated_data=binding)
        obj = BlobObject(
            object_id=object_id,
            study_id=study_id,
            participant_id=participant_id,
            kind=kind,
            data_key_id=key_id,
            plaintext_size=info.plaintext_size,
            created_at=now or utcnow(),
        )
        session.add(obj)
        session.flush()
        return obj

    def reserve(
        self,
        session: Session,
        *,
        study_id: str,
        participant_id: int,
        participant_code: str,
        kind: str,
        now: dt.datetime,
    ) -> BlobObject:
        """Record an object before its bytes exist (size 0), for :meth:`fill` after commit.

        A long upload is written outside any research transaction; its row, committed first,
        is what lets a withdrawal or the sweep find (and destroy) a ciphertext whose writer
        died before it could either use it or delete it.
        """
        key_id, _ = self.keys.current(study_id, participant_code, kind)
        obj = BlobObject(
            object_id=new_object_id(),
            study_id=study_id,
            participant_id=participant_id,
            kind=kind,
            data_key_id=key_id,
            plaintext_size=0,
            created_at=now,
        )
        session.add(obj)
        session.flush()
        return obj

    def fill(self, obj: BlobObject, source: Iterable[bytes] | BinaryIO) -> int:
        """Encrypt ``source`` into the reserved ``obj`` as it streams; return the plaintext size.

        Touches no research database; the caller records the size in its own transaction.
        """
        binding = blob_binding(obj.study_id, obj.participant_id, obj.kind)
        key = self.keys.get(obj.data_key_id)
        info = put_encrypted(self.blobs, obj.object_id, source, key, associated_data=binding)
        return info.plaintext_size

    def read(self, obj: BlobObject) -> Iterator[bytes]:
        """Decrypt an object segment by segment (authenticated before it is yielded).

        The owner and kind are those of the row: one pointing at another's object fails.
        """
        binding = blob_binding(obj.study_id, obj.participant_id, obj.kind)
        key = self.keys.get(obj.data_key_id)
        return read_decrypted(self.blobs, obj.object_id, key, associated_data=binding)

    def read_range(self, obj: BlobObject, start: int, length: int) -> Iterator[bytes]:
        """The plaintext bytes ``start`` to ``start + length`` of an object (a seek in audio).

        Reads only the segments holding them, each authenticated first; bound like :meth:`read`.
        """
        binding = blob_binding(obj.study_id, obj.participant_id, obj.kind)
        key = self.keys.get(obj.data_key_id)
        return read_range_decrypted(
            self.blobs, obj.object_id, key, start, length, associated_data=binding
        )

    def shred(
        self,
        session: Session,
        *,
        study_id: str,
        participant_id: int,
        participant_code: str,
        kinds: Iterable[str] | None = None,
        now: dt.datetime | None = None,
    ) -> int:
        """Destroy the keys, then the ciphertext, of a participant's objects; return the count."""
        kinds = None if kinds is None else sorted(set(kinds))
        # Keys first: once they are gone nothing below can make the data readable again.
        self.keys.shred(study_id, participant_code, kinds)
        stmt = select(BlobObject).where(
            BlobObject.participant_id == participant_id, BlobObject.deleted_at.is_(None)
        )
        if kinds is not None:
            stmt = stmt.where(BlobObject.kind.in_(kinds))
        objects = session.scalars(stmt).all()
        for obj in objects:
            self.blobs.delete(obj.object_id)
            obj.deleted_at = now or utcnow()
        session.flush()
        return len(objects)
