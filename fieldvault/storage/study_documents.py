"""Sealed per-study documents in the linkage vault: study term lists and placeholder books.

Both name real people and offices (the terms "Marte Olsen" or "NAV Volda"; the book that maps
"marte olsen" to PERSON 1), so they are identity data: kept in the vault database, sealed
under the linkage key and bound to their study and kind, and destroyed with the study's
identities at the end date.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.storage.crypto import open_sealed, seal
from fieldvault.storage.db import transaction
from fieldvault.storage.keys import KeySet
from fieldvault.storage.models import VaultStudyDocument, utcnow

# "researchers": the Telegram chats of the study's linked researchers (for notices).
KINDS = frozenset({"terms", "placeholders", "researchers"})


def _associated_data(study_id: str, kind: str) -> bytes:
    return f"fieldvault/study-document/v1/{study_id}/{kind}".encode()


class StudyDocuments:
    """Read, write and destroy sealed study documents."""

    def __init__(self, sessions: sessionmaker[Session], keys: KeySet) -> None:
        """Use ``sessions`` for the vault database and ``keys`` (the linkage key set)."""
        self._sessions = sessions
        self._keys = keys

    def get(self, study_id: str, kind: str) -> bytes | None:
        """The plaintext of the document, or None when there is none."""
        if kind not in KINDS:
            raise ValueError(f"unknown study document {kind!r}")
        with self._sessions() as session:
            row = session.get(VaultStudyDocument, (study_id, kind))
            if row is None:
                return None
            return open_sealed(
                self._keys.get(row.key_id), row.sealed, _associated_data(study_id, kind)
            )

    def put(self, study_id: str, kind: str, data: bytes, now: dt.datetime | None = None) -> None:
        """Store (or replace) the document, sealed under the current linkage key."""
        if kind not in KINDS:
            raise ValueError(f"unknown study document {kind!r}")
        sealed = seal(self._keys.current, data, _associated_data(study_id, kind))
        with transaction(self._sessions) as session:
            row = session.get(VaultStudyDocument, (study_id, kind))
            if row is None:
                row = VaultStudyDocument(study_id=study_id, kind=kind)
                session.add(row)
            row.key_id = self._keys.current_id
            row.sealed = sealed
            row.updated_at = now or utcnow()

    def delete_study(self, study_id: str) -> int:
        """Destroy every document of the study (end date); return how many there were."""
        with transaction(self._sessions) as session:
            result = session.execute(
                delete(VaultStudyDocument).where(VaultStudyDocument.study_id == study_id)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def reseal(self) -> int:
        """Re-seal every document under the current linkage key (rotation); return the count.

        One transaction: a crash leaves each document under a key the ring still holds, since
        the old key is retired only after this returns.
        """
        with transaction(self._sessions) as session:
            changed = 0
            for row in session.scalars(select(VaultStudyDocument)).all():
                if row.key_id == self._keys.current_id:
                    continue
                ad = _associated_data(row.study_id, row.kind)
                plain = open_sealed(self._keys.get(row.key_id), row.sealed, ad)
                row.sealed = seal(self._keys.current, plain, ad)
                row.key_id = self._keys.current_id
                changed += 1
            return changed

    def kinds(self, study_id: str) -> list[str]:
        """Which documents the study has."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(VaultStudyDocument.kind).where(VaultStudyDocument.study_id == study_id)
                )
            )
