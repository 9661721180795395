"""Backups: create, verify, restore, tampering, and backup keys destroyed after their retention.

Every command runs through the real CLI (click's runner) against a real embedded fieldvault
(SQLite files and the blob folder); time is passed with ``--at`` or ``now``, nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from fieldvault.cli import cli
from fieldvault.cli.commands import register as register_commands
from fieldvault.config.settings import Settings, load_settings
from fieldvault.config.study import load_study
from fieldvault.domain import retention, studies
from fieldvault.domain.backups import create_backup
from fieldvault.domain.withdrawal import withdraw_and_purge
from fieldvault.storage import backup_keys, backups
from fieldvault.storage.backups import BackupDamaged, BackupError, BackupUnsupported
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject
from fieldvault.storage.services import initialise, open_services

from .conftest import EXAMPLE, NOW
from .test_destruction_remnants import pieces_of, remnants
from .test_retention import add_informant, identity

DAY = dt.timedelta(days=1)


@dataclass
class Vault:
    """An initialised fieldvault with one study and two informants, and the way to run its CLI."""

    settings: Settings
    study_id: str
    codes: list[str]
    out: Path

    def __call__(self, *args: str, data_dir: Path | None = None) -> Result:
        env = {"FIELDVAULT_DATA_DIR": str(data_dir or self.settings.data_dir)}
        register_commands(cli)
        return CliRunner().invoke(cli, list(args), env=env)

    def create(self, at: dt.datetime) -> Path:
        before = set(self.out.glob("*.fvbackup")) if self.out.exists() else set()
        result = self("backup", "create", str(self.out), "--at", at.isoformat())
        assert result.exit_code == 0, result.output
        (made,) = set(self.out.glob("*.fvbackup")) - before
        return made


def settings_for(data_dir: Path) -> Settings:
    return load_settings(environ={}, data_dir=data_dir)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    settings = settings_for(tmp_path / "data")
    initialise(settings)
    services = open_services(settings)
    try:
        definition = load_study(EXAMPLE)
        with transaction(services.research) as session:
            studies.register_study(session, definition, EXAMPLE.read_text(encoding="utf-8"), NOW)
        codes = [add_informant(services, definition.id, n) for n in (1, 2)]
    finally:
        services.close()
    yield Vault(settings, definition.id, codes, tmp_path / "backups")


def copy_keys(source: Settings, target: Path) -> None:
    """What the operator does after a restore: bring the key files from where they are kept.

    The audit checkpoint file, where there is one, is kept apart from the databases' writers
    too (storage/audit_checkpoints.py) and is brought back the same way.
    """
    keys = target / "keys"
    keys.mkdir(mode=0o700)
    for key_file in source.linkage_key_path.parent.glob("*.key"):
        if key_file.name != "backup.key":
            shutil.copy2(key_file, keys / key_file.name)
            os.chmod(keys / key_file.name, 0o600)
    for kept in source.data_dir.glob("audit-checkpoints*"):
        shutil.copy2(kept, target / kept.name)


def test_a_restored_backup_opens_with_every_identity_and_recording_and_its_chain_verifies(
    vault: Vault, tmp_path: Path
) -> None:
    backup = vault.create(NOW)
    key_file = vault.settings.backup_key_path
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    # Encrypted: no name, no key of any key file in its bytes.
    raw = backup.read_bytes()
    assert identity(1).name is not None and identity(1).name.encode() not in raw
    assert all(k.key not in raw for k in backup_keys.load_keys(key_file))

    checked = vault("backup", "verify", str(backup))
    (key,) = backup_keys.load_keys(key_file)
    assert checked.exit_code == 0, checked.output
    assert f"needs backup key {key.id} (present)" in checked.output
    assert "OK: " in checked.output

    target = tmp_path / "restored"
    restored = vault("backup", "restore", str(backup), str(target))
    assert restored.exit_code == 0, restored.output
    names = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert {"research.sqlite3", "vault.sqlite3"} <= names
    assert not any(name.endswith(".key") or name.startswith("keys") for name in names)
    assert [p for p in tmp_path.iterdir() if ".restoring-" in p.name] == []

    copy_keys(vault.settings, target)
    chain = vault("audit", "verify", data_dir=target)
    assert chain.exit_code == 0, chain.output
    assert "audit chain OK" in chain.output
    services = open_services(settings_for(target))
    try:
        assert services.vault.get(vault.study_id, vault.codes[0]) == identity(1)
        with transaction(services.research) as session:
            objects = session.scalars(select(BlobObject)).all()
            assert len(objects) == 4
            plain = b"".join(services.content.read(objects[0]))
        assert b"Brennhaug" in plain
    finally:
        services.close()


def flipped(path: Path, offset: int) -> Path:
    copy = path.with_name(f"tampered-{offset}.fvbackup")
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    copy.write_bytes(bytes(data))
    return copy


def test_a_tampered_or_cut_backup_fails_verify_and_restore_refuses_it(
    vault: Vault, tmp_path: Path
) -> None:
    backup = vault.create(NOW)
    size = backup.stat().st_size
    header_digit = backup.read_bytes().index(b'"created": "2021') + len('"created": "202')
    cut = backup.with_name("cut.fvbackup")
    cut.write_bytes(backup.read_bytes()[: size - 100])
    for bad in (flipped(backup, size // 2), flipped(backup, header_digit), cut):
        checked = vault("backup", "verify", str(bad))
        assert checked.exit_code == 1
        assert f"the backup {bad.name} does not authenticate" in checked.output
        assert "Traceback" not in checked.output
        target = tmp_path / f"restored-{bad.stem}"
        refused = vault("backup", "restore", str(bad), str(target))
        assert refused.exit_code == 1
        assert "does not authenticate" in refused.output
        assert not target.exists()
    assert [p for p in tmp_path.iterdir() if ".restoring-" in p.name] == []
    not_one = tmp_path / "notes.fvbackup"
    not_one.write_bytes(b"hello")
    assert "is not a fieldvault backup" in vault("backup", "verify", str(not_one)).output


def test_a_restore_refuses_a_folder_that_is_not_empty(vault: Vault, tmp_path: Path) -> None:
    backup = vault.create(NOW)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "research.sqlite3").write_bytes(b"someone else's")
    refused = vault("backup", "restore", str(backup), str(target))
    assert refused.exit_code == 1
    assert "is not empty" in refused.output
    assert [p.name for p in target.iterdir()] == ["research.sqlite3"]
    assert (target / "research.sqlite3").read_bytes() == b"someone else's"


def test_after_the_backup_retention_the_old_key_is_destroyed_and_its_backup_is_noise(
    vault: Vault, tmp_path: Path
) -> None:
    settings = vault.settings
    rotation = settings.backup_key_rotation_days
    lifetime = rotation + settings.backup_retention_days
    old = vault.create(NOW)
    same_key = vault.create(NOW + (rotation - 1) * DAY)
    newer = vault.create(NOW + rotation * DAY)
    old_key, first = backups.read_header(old).key_id, backups.read_header(same_key).key_id
    assert old_key == first != backups.read_header(newer).key_id
    captured = backup_keys.find_key(settings.backup_key_path, old_key)
    assert captured is not None
    assert vault("backup", "verify", str(old)).exit_code == 0

    # The sweep destroys the key on time, whether or not a backup is taken that day.
    services = open_services(settings)
    try:
        retention.run_sweep(services, NOW + lifetime * DAY - dt.timedelta(seconds=1))
        assert backup_keys.find_key(settings.backup_key_path, old_key) is not None
        retention.run_sweep(services, NOW + lifetime * DAY)
    finally:
        services.close()
    assert backup_keys.find_key(settings.backup_key_path, old_key) is None
    # Nothing of it is left in the keys folder, not even in a replaced file.
    for path in settings.backup_key_path.parent.iterdir():
        assert captured.key not in path.read_bytes()
        assert captured.id not in path.read_text(encoding="utf-8", errors="replace")

    for gone in (old, same_key):
        checked = vault("backup", "verify", str(gone))
        assert checked.exit_code == 1
        assert f"needs backup key {old_key} (destroyed)" in checked.output
        assert "no longer exists" in checked.output and "never be decrypted" in checked.output
        target = tmp_path / f"from-{gone.stem}"
        refused = vault("backup", "restore", str(gone), str(target))
        assert refused.exit_code == 1 and "no longer exists" in refused.output
        assert not target.exists()
        # No key that remains opens it: the failure is the same opaque one as tampering.
        for remaining in backup_keys.load_keys(settings.backup_key_path):
            with pytest.raises(BackupDamaged):
                backups.verify(gone, remaining.key)
    # The newer backup's key has its own lifetime; `backup create` destroys it in turn.
    assert vault("backup", "verify", str(newer)).exit_code == 0
    later = vault(
        "backup", "create", str(vault.out), "--at", (NOW + (rotation + lifetime) * DAY).isoformat()
    )
    assert later.exit_code == 0, later.output
    assert f"destroyed backup key {backups.read_header(newer).key_id}" in later.output
    assert vault("backup", "verify", str(newer)).exit_code == 1


def test_backup_create_refuses_postgresql_an_s3_bucket_and_a_folder_beside_the_keys(
    vault: Vault, tmp_path: Path
) -> None:
    on_postgres = load_settings(
        environ={},
        data_dir=tmp_path / "pg",
        database_url="postgresql+psycopg://fieldvault@127.0.0.1/research",
        vault_url="postgresql+psycopg://vault@127.0.0.1/vault",
    )
    with pytest.raises(BackupUnsupported, match="pg_dump"):
        create_backup(on_postgres, tmp_path / "out", NOW)
    if "blob_url" in Settings.model_fields:
        on_s3 = load_settings(environ={}, data_dir=tmp_path / "s3", blob_url="s3://bucket/fv")
        with pytest.raises(BackupUnsupported) as s3:
            create_backup(on_s3, tmp_path / "out", NOW)
        assert s3.value.code == "backup.s3_blobs"
    for inside in (vault.settings.data_dir / "backups", vault.settings.linkage_key_path.parent):
        with pytest.raises(BackupError) as refused:
            create_backup(vault.settings, inside, NOW)
        assert refused.value.code == "backup.inside_data_dir"
    result = vault("backup", "create", str(vault.settings.data_dir / "backups"))
    assert result.exit_code == 1
    assert "give a folder outside the data dir" in result.output


def test_a_backup_taken_after_a_withdrawal_holds_nothing_of_the_withdrawn_person(
    vault: Vault, tmp_path: Path
) -> None:
    gone, kept = vault.codes
    services = open_services(vault.settings)
    try:
        before = pieces_of(services, vault.study_id, gone)
        withdraw_and_purge(services, vault.study_id, gone, channel="telegram", now=NOW)
    finally:
        services.close()
    backup = vault.create(NOW + DAY)
    target = tmp_path / "restored"
    assert vault("backup", "restore", str(backup), str(target)).exit_code == 0
    who = identity(1)
    needles = [*before, *(s.encode() for s in (who.name, who.email, who.phone) if s)]
    assert remnants(target, needles) == []
    copy_keys(vault.settings, target)
    restored = open_services(settings_for(target))
    try:
        assert restored.vault.get(vault.study_id, gone) is None
        assert restored.vault.get(vault.study_id, kept) == identity(2)
    finally:
        restored.close()


def test_a_backup_key_file_others_can_read_is_refused(vault: Vault) -> None:
    backup = vault.create(NOW)
    os.chmod(vault.settings.backup_key_path, 0o644)
    refused = vault("backup", "verify", str(backup))
    assert refused.exit_code == 1
    assert "can be read or changed by other users" in refused.output
    assert "chmod 600" in refused.output
