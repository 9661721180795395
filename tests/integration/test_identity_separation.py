"""Identity lives only in the vault, sealed; content is encrypted and shreddable (rules 2 and 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text, update

from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.storage.content import blob_binding
from fieldvault.storage.crypto import DecryptionError
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, VaultIdentity
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity

from .conftest import NOW

NAME = "Ragnhild Quistgaard-Ødegård"
EMAIL = "ragnhild.quistgaard@example.no"
PHONE = "+47 912 34 567"


def _register(services: Services, study_id: str, name: str = NAME) -> str:
    return register_participant(
        services,
        study_id,
        Identity(name=name, email=EMAIL, phone=PHONE, telegram_user_id=987654321),
        {"utdanning": "sosionom"},
        NOW,
    )


def _all_text(services: Services, sessions: str) -> str:
    """Every value of every table of a database as one string (works on any backend)."""
    factory = services.research if sessions == "research" else services.vault_sessions
    with factory() as session:
        bind = session.get_bind()
        chunks = []
        for table in inspect(bind).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def _sqlite_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_the_research_database_holds_no_identity(services: Services, study_id: str) -> None:
    code = _register(services, study_id)
    everything = _all_text(services, "research")
    assert code in everything
    for secret in (NAME, "Quistgaard", EMAIL, PHONE, "987654321"):
        assert secret not in everything
    if services.settings.research_url.startswith("sqlite"):
        raw = _sqlite_bytes(services.settings.research_url)
        for secret in (NAME, "Quistgaard", EMAIL, PHONE, "987654321"):
            assert secret.encode() not in raw


def test_the_vault_holds_identity_only_sealed(services: Services, study_id: str) -> None:
    code = _register(services, study_id)
    everything = _all_text(services, "vault")
    for secret in ("Quistgaard", EMAIL, "912 34 567", "987654321"):
        assert secret not in everything
    if services.settings.linkage_url.startswith("sqlite"):
        raw = _sqlite_bytes(services.settings.linkage_url)
        assert b"Quistgaard" not in raw
    found = services.vault.get(study_id, code)
    assert found is not None
    assert (found.name, found.email, found.phone) == (NAME, EMAIL, PHONE)
    assert "Quistgaard" not in repr(found) and "Quistgaard" not in str(found)


def test_the_bot_can_find_an_informant_by_telegram_id(services: Services, study_id: str) -> None:
    code = _register(services, study_id)
    assert services.vault.find_by_telegram(987654321) == [(study_id, code)]
    assert services.vault.find_by_telegram(123) == []


def test_a_sealed_identity_moved_to_another_code_does_not_open(
    services: Services, study_id: str
) -> None:
    first = _register(services, study_id)
    second = _register(services, study_id, name="Someone Else")
    with services.vault_sessions.begin() as session:
        sealed = session.scalar(
            select(VaultIdentity.sealed).where(VaultIdentity.participant_code == first)
        )
        session.execute(
            update(VaultIdentity)
            .where(VaultIdentity.participant_code == second)
            .values(sealed=sealed)
        )
    with pytest.raises(DecryptionError):
        services.vault.get(study_id, second)


def test_the_pseudonym_never_equals_the_informants_own_name(
    services: Services, study_id: str
) -> None:
    # "Kari" is the first name in the example study's pool.
    code = _register(services, study_id, name="Kari Nordmann")
    with transaction(services.research) as session:
        assert get_participant(session, study_id, code).pseudonym not in {None, "Kari"}


def test_shredding_makes_every_copy_of_the_content_unreadable(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    code = _register(services, study_id)
    audio = b"RIFF....WAVEfmt " + bytes(range(256)) * 4000
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        obj = services.content.put(
            session,
            study_id=study_id,
            participant_id=person.id,
            participant_code=code,
            kind="recording",
            source=[audio[i : i + 10_000] for i in range(0, len(audio), 10_000)],
            now=NOW,
        )
    with transaction(services.research) as session:
        obj = session.get_one(BlobObject, obj.object_id)
        assert b"".join(services.content.read(obj)) == audio
    blob_files = [p for p in services.settings.blob_path.rglob("*") if p.is_file()]
    backup = tmp_path / "backup"
    backup.mkdir()
    for path in blob_files:
        shutil.copy(path, backup / path.name)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        count = services.content.shred(
            session, study_id=study_id, participant_id=person.id, participant_code=code, now=NOW
        )
    assert count == 1
    assert [p for p in services.settings.blob_path.rglob("*") if p.is_file()] == []
    with pytest.raises(DecryptionError):
        services.content.keys.get(obj.data_key_id)
    # The "backup" copy of the ciphertext is noise without the destroyed key: no key left
    # in the vault opens it.
    from fieldvault.storage.crypto import decrypt_stream

    with services.vault_sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM data_keys")) == 0
    with transaction(services.research) as session:
        assert session.get_one(BlobObject, obj.object_id).deleted_at is not None
    fresh_key_id, fresh_key = services.content.keys.current(study_id, code, "recording")
    assert fresh_key_id != obj.data_key_id
    # The right binding, so that the destroyed key is the only reason it fails.
    binding = blob_binding(study_id, person.id, "recording")
    with (backup / blob_files[0].name).open("rb") as copy, pytest.raises(DecryptionError):
        b"".join(decrypt_stream(copy, fresh_key, obj.object_id, binding))
