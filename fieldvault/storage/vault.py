"""The linkage vault: who each participant code is, sealed under the linkage key.

The vault is its own database (own SQLite file or own PostgreSQL database and role). Every
identity field is sealed with AES-256-GCM bound to its study and participant code, so a row
copied onto another code does not open. Telegram ids are found through an HMAC under the
lookup key (``storage/lookups.py``), never stored in the clear; rotating the linkage key
re-seals identities and leaves the lookups as they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field, fields

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.storage.crypto import open_sealed, seal
from fieldvault.storage.db import transaction
from fieldvault.storage.keys import KeySet
from fieldvault.storage.models import VaultIdentity, utcnow


@dataclass(frozen=True)
class Identity:
    """The identity fields of one participant; repr never shows them."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    telegram_user_id: int | None = None
    telegram_chat_id: int | None = None
    telegram_username: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        present = [f.name for f in fields(self) if getattr(self, f.name)]
        return f"Identity(<redacted: {', '.join(present) or 'empty'}>)"

    __str__ = __repr__

    def to_json(self) -> bytes:
        """Serialise for sealing."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Identity:
        """Parse what ``to_json`` wrote."""
        return cls(**json.loads(data.decode("utf-8")))


def _associated_data(study_id: str, code: str) -> bytes:
    return f"fieldvault/identity/v1/{study_id}/{code}".encode()


class LinkageVault:
    """Read and write identities in the vault database."""

    def __init__(self, sessions: sessionmaker[Session], keys: KeySet, lookup_key: bytes) -> None:
        """Seal under ``keys`` (linkage), find by ``lookup_key`` (``LookupKeys.telegram``)."""
        self._sessions = sessions
        self._keys = keys
        self._lookup_key = lookup_key

    def _lookup(self, telegram_user_id: int) -> str:
        return hmac.new(
            self._lookup_key, str(telegram_user_id).encode(), hashlib.sha256
        ).hexdigest()

    def put(
        self, study_id: str, code: str, identity: Identity, now: dt.datetime | None = None
    ) -> None:
        """Store (or replace) the identity of ``code`` in ``study_id``."""
        sealed = seal(self._keys.current, identity.to_json(), _associated_data(study_id, code))
        lookup = (
            self._lookup(identity.telegram_user_id)
            if identity.telegram_user_id is not None
            else None
        )
        with transaction(self._sessions) as session:
            row = session.scalar(
                select(VaultIdentity).where(
                    VaultIdentity.study_id == study_id, VaultIdentity.participant_code == code
                )
            )
            if row is None:
                row = VaultIdentity(
                    study_id=study_id, participant_code=code, created_at=now or utcnow()
                )
                session.add(row)
            row.key_id = self._keys.current_id
            row.sealed = sealed
            row.telegram_lookup = lookup

    def get(self, study_id: str, code: str) -> Identity | None:
        """The identity of ``code``, or None when there is none (or it was destroyed)."""
        with self._sessions() as session:
            row = session.scalar(
                select(VaultIdentity).where(
                    VaultIdentity.study_id == study_id, VaultIdentity.participant_code == code
                )
            )
            if row is None:
                return None
            plain = open_sealed(
                self._keys.get(row.key_id), row.sealed, _associated_data(study_id, code)
            )
        return Identity.from_json(plain)

    def find_by_telegram(self, telegram_user_id: int) -> list[tuple[str, str]]:
        """The (study id, participant code) pairs this Telegram user is registered under."""
        with self._sessions() as session:
            rows = session.execute(
                select(VaultIdentity.study_id, VaultIdentity.participant_code).where(
                    VaultIdentity.telegram_lookup == self._lookup(telegram_user_id)
                )
            ).all()
        return [(r[0], r[1]) for r in rows]

    def delete(self, study_id: str, code: str) -> bool:
        """Destroy the identity of ``code``; True when there was one."""
        with transaction(self._sessions) as session:
            result = session.execute(
                delete(VaultIdentity).where(
                    VaultIdentity.study_id == study_id, VaultIdentity.participant_code == code
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def get_many(self, study_id: str, codes: Iterable[str]) -> dict[str, Identity]:
        """The identities of ``codes`` in ``study_id`` (those that have one), in one query."""
        wanted = list(codes)
        if not wanted:
            return {}
        with self._sessions() as session:
            rows = session.execute(
                select(
                    VaultIdentity.participant_code, VaultIdentity.key_id, VaultIdentity.sealed
                ).where(
                    VaultIdentity.study_id == study_id,
                    VaultIdentity.participant_code.in_(wanted),
                )
            ).all()
        return {
            code: Identity.from_json(
                open_sealed(self._keys.get(key_id), sealed, _associated_data(study_id, code))
            )
            for code, key_id, sealed in rows
        }

    def delete_many(self, study_id: str, codes: Iterable[str]) -> int:
        """Destroy the identities of ``codes`` in ``study_id`` at once; return the count."""
        with transaction(self._sessions) as session:
            result = session.execute(
                delete(VaultIdentity).where(
                    VaultIdentity.study_id == study_id,
                    VaultIdentity.participant_code.in_(list(codes)),
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def codes(self, study_id: str) -> set[str]:
        """The participant codes of ``study_id`` that hold an identity (nothing is unsealed)."""
        with self._sessions() as session:
            return set(
                session.scalars(
                    select(VaultIdentity.participant_code).where(VaultIdentity.study_id == study_id)
                )
            )

    def count(self, study_id: str) -> int:
        """How many identities ``study_id`` holds."""
        with self._sessions() as session:
            found = session.scalar(
                select(func.count())
                .select_from(VaultIdentity)
                .where(VaultIdentity.study_id == study_id)
            )
        return int(found or 0)

    def held(self, study_ids: Collection[str]) -> set[tuple[str, str]]:
        """The (study id, participant code) pairs of ``study_ids`` that hold an identity."""
        with self._sessions() as session:
            rows = session.execute(
                select(VaultIdentity.study_id, VaultIdentity.participant_code).where(
                    VaultIdentity.study_id.in_(list(study_ids))
                )
            ).all()
        return {(study_id, code) for study_id, code in rows}

    def studies_holding(self, study_ids: Collection[str]) -> set[str]:
        """Which of ``study_ids`` hold at least one identity."""
        with self._sessions() as session:
            return set(
                session.scalars(
                    select(VaultIdentity.study_id)
                    .where(VaultIdentity.study_id.in_(list(study_ids)))
                    .distinct()
                )
            )

    def all_names(self, study_id: str) -> list[str]:
        """Every name held for a study (for pseudonym clash checks; never printed)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(VaultIdentity).where(VaultIdentity.study_id == study_id)
            ).all()
            sealed = [(r.participant_code, r.key_id, r.sealed) for r in rows]
        names = []
        for code, key_id, token in sealed:
            ident = Identity.from_json(
                open_sealed(self._keys.get(key_id), token, _associated_data(study_id, code))
            )
            if ident.name:
                names.append(ident.name)
        return names

    def reseal(self) -> int:
        """Re-seal every identity under the current linkage key (rotation); return the count.

        The Telegram lookups stay as they are: they are under the lookup key, not the linkage key.
        """
        with transaction(self._sessions) as session:
            rows = session.scalars(select(VaultIdentity)).all()
            changed = 0
            for row in rows:
                if row.key_id == self._keys.current_id:
                    continue
                ad = _associated_data(row.study_id, row.participant_code)
                identity = Identity.from_json(
                    open_sealed(self._keys.get(row.key_id), row.sealed, ad)
                )
                row.sealed = seal(self._keys.current, identity.to_json(), ad)
                row.key_id = self._keys.current_id
                changed += 1
            return changed

    def rekey_lookups(self) -> int:
        """Recompute every identity's Telegram lookup under the lookup key; return the count.

        For a data folder older than the lookup key file (``initialise`` calls it once): its
        lookups were made under whichever linkage key was current. One transaction.
        """
        with transaction(self._sessions) as session:
            rows = session.scalars(select(VaultIdentity)).all()
            changed = 0
            for row in rows:
                ad = _associated_data(row.study_id, row.participant_code)
                identity = Identity.from_json(
                    open_sealed(self._keys.get(row.key_id), row.sealed, ad)
                )
                lookup = (
                    self._lookup(identity.telegram_user_id)
                    if identity.telegram_user_id is not None
                    else None
                )
                if row.telegram_lookup != lookup:
                    row.telegram_lookup = lookup
                    changed += 1
            return changed
