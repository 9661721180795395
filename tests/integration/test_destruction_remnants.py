"""Destroyed means gone from every file: no remnant of a withdrawn or deleted person to carve.

A copy of the data dir and the databases (the tests keep them beside it) taken after a
withdrawal or the deadline's deletion must not hold the identity, the sealed identity or the
wrapped data keys anywhere: not in the vault file, its WAL or shared-memory index, the
research database or the blob folder. The bytes searched for are the vault's own ciphertext,
captured before the destruction, so the check does not depend on how the vault encodes them;
any 16-byte piece of them found is a remnant. On PostgreSQL the vault's tables must have been
rewritten (VACUUM FULL), so no dead tuple stays in their pages.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from fieldvault.cli import cli
from fieldvault.cli.commands import register as register_commands
from fieldvault.domain import retention
from fieldvault.domain.withdrawal import withdraw_and_purge
from fieldvault.storage.models import VaultIdentity, WrappedDataKey
from fieldvault.storage.services import Services

from .conftest import NOW
from .test_retention import DEADLINE, add_informant, identity

PIECE = 16


def vault_ciphertext(services: Services, study_id: str, code: str) -> list[bytes]:
    """The sealed identity and every wrapped data key of ``code``, as the vault stores them."""
    with services.vault_sessions() as session:
        sealed = list(
            session.scalars(
                select(VaultIdentity.sealed).where(
                    VaultIdentity.study_id == study_id, VaultIdentity.participant_code == code
                )
            )
        )
        wrapped = list(
            session.scalars(
                select(WrappedDataKey.wrapped).where(
                    WrappedDataKey.study_id == study_id, WrappedDataKey.participant_code == code
                )
            )
        )
    assert len(sealed) == 1 and len(wrapped) >= 2, "the informant has no identity or keys"
    return sealed + wrapped


def pieces_of(services: Services, study_id: str, code: str) -> list[bytes]:
    """Every 16-byte piece of the sealed identity and the wrapped data keys of ``code``."""
    return [
        token[i : i + PIECE]
        for token in vault_ciphertext(services, study_id, code)
        for i in range(0, len(token) - PIECE + 1, PIECE)
    ]


def needles_of(services: Services, study_id: str, n: int, code: str) -> list[bytes]:
    """What must not survive: the identity in the clear, and every piece of its ciphertext."""
    who = identity(n)
    plain = [
        s.encode(enc)
        for s in (who.name, who.email, who.phone)
        if s
        for enc in ("utf-8", "utf-16-le")
    ]
    return plain + pieces_of(services, study_id, code)


def remnants(root: Path, needles: list[bytes]) -> list[tuple[str, int]]:
    """Every (file, needle index) where a needle occurs in the raw bytes of a file under root."""
    found = []
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, "nothing to scan"
    for path in files:
        data = path.read_bytes()
        found += [(path.name, i) for i, needle in enumerate(needles) if needle in data]
    return found


def files_in(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file()}


def vault_engine(services: Services) -> Engine:
    bind = services.vault_sessions.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def vault_filenodes(services: Services) -> dict[str, int]:
    """PostgreSQL: the file each vault table lives in (VACUUM FULL gives it a new one)."""
    with vault_engine(services).connect() as connection:
        return {
            name: connection.execute(
                text("SELECT pg_relation_filenode(:t)"), {"t": name}
            ).scalar_one()
            for name in ("identities", "data_keys")
        }


def test_a_withdrawn_informant_leaves_no_remnant_in_any_file_of_the_data_dir(
    services: Services, study_id: str, backend: str, tmp_path: Path
) -> None:
    code = add_informant(services, study_id, 1)
    kept = add_informant(services, study_id, 2)
    needles = needles_of(services, study_id, 1, code)
    if backend == "postgresql":
        before = vault_filenodes(services)
    else:
        # The ciphertext is on disk before: the scan can find it (it does not pass vacuously).
        assert remnants(tmp_path, needles)

    done = withdraw_and_purge(services, study_id, code, channel="telegram", now=NOW)

    assert done.report.whole and done.report.identity_deleted
    assert services.vault.get(study_id, kept) is not None
    assert remnants(tmp_path, needles) == []
    if backend == "postgresql":
        # Dead tuples are not left in the tables' pages: both were rewritten.
        after = vault_filenodes(services)
        assert all(after[name] != before[name] for name in before)
    else:
        # (The fixture keeps both databases beside the data dir: tmp_path holds them all.)
        assert {"vault.sqlite3", "research.sqlite3"} <= files_in(tmp_path)
        wal = tmp_path / "vault.sqlite3-wal"
        assert not wal.exists() or wal.stat().st_size == 0


def test_the_deadline_deletion_leaves_no_remnant_in_any_file_of_the_data_dir(
    services: Services, study_id: str, backend: str, tmp_path: Path
) -> None:
    codes = [add_informant(services, study_id, n) for n in (1, 2, 3)]
    needles = [
        b for n, code in enumerate(codes, 1) for b in needles_of(services, study_id, n, code)
    ]
    if backend == "postgresql":
        before = vault_filenodes(services)
    else:
        assert remnants(tmp_path, needles)

    report = retention.run_sweep(services, DEADLINE, batch_size=2)

    assert sorted(report.deleted[study_id]) == sorted(codes)
    assert remnants(tmp_path, needles) == []
    if backend == "postgresql":
        after = vault_filenodes(services)
        assert all(after[name] != before[name] for name in before)


def test_a_key_rotation_leaves_no_copy_of_what_was_sealed_under_the_retired_keys(
    services: Services, study_id: str, backend: str, tmp_path: Path
) -> None:
    code = add_informant(services, study_id, 1)
    old_ciphertext = pieces_of(services, study_id, code)
    env = {
        "FIELDVAULT_DATA_DIR": str(services.settings.data_dir),
        "FIELDVAULT_DATABASE_URL": services.settings.research_url,
        "FIELDVAULT_VAULT_URL": services.settings.linkage_url,
    }
    register_commands(cli)
    if backend == "postgresql":
        before = vault_filenodes(services)
    for which in ("linkage", "content"):
        result = CliRunner().invoke(cli, ["keys", "rotate", which], env=env)
        assert result.exit_code == 0, result.output

    # Re-sealed and re-wrapped under the new keys: the old ciphertext is nowhere on disk.
    assert pieces_of(services, study_id, code)[0] not in old_ciphertext
    assert remnants(tmp_path, old_ciphertext) == []
    if backend == "postgresql":
        after = vault_filenodes(services)
        assert all(after[name] != before[name] for name in before)
