"""The key custody of docker-compose.yml: keys made once off the stack, then only read.

README "Running at scale": a throwaway `fieldvault init` (scratch data dir) writes the four key
files where they will live (the linkage key apart); the compose stack mounts them as read-only
secrets, and its `migrate` one-shot runs `fieldvault init` against fresh databases. That second
init must set the databases up without writing, replacing or adding a key file. On SQLite and
on PostgreSQL (the stack's), through the conftest's fresh databases.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path


def fieldvault(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldvault", *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": env["FIELDVAULT_DATA_DIR"], **env},
        timeout=300,
        check=False,
    )


def digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_keys_made_off_the_stack_let_the_migrate_one_shot_set_up_fresh_databases_untouched(
    tmp_path: Path, research_url: str, vault_url: str
) -> None:
    linkage, other = tmp_path / "linkage-device", tmp_path / "keys"
    keys = {
        "FIELDVAULT_LINKAGE_KEY_FILE": str(linkage / "linkage.key"),
        "FIELDVAULT_CONTENT_KEY_FILE": str(other / "content.key"),
        "FIELDVAULT_AUDIT_KEY_FILE": str(other / "audit.key"),
        "FIELDVAULT_LOOKUP_KEY_FILE": str(other / "lookup.key"),
    }
    made = fieldvault({"FIELDVAULT_DATA_DIR": str(tmp_path / "scratch"), **keys}, "init")
    assert made.returncode == 0, made.stderr
    before = {**digests(linkage), **digests(other)}
    assert set(before) == {"linkage.key", "content.key", "audit.key", "lookup.key"}
    for path in keys.values():
        assert Path(path).stat().st_mode & 0o777 == 0o600

    stack = {
        "FIELDVAULT_DATA_DIR": str(tmp_path / "container-data"),
        "FIELDVAULT_DATABASE_URL": research_url,
        "FIELDVAULT_VAULT_URL": vault_url,
        "FIELDVAULT_AUDIT_CHECKPOINT_FILE": str(tmp_path / "audit-volume" / "checkpoints.jsonl"),
        **keys,
    }
    migrate = fieldvault(stack, "init")
    assert migrate.returncode == 0, migrate.stderr
    assert "databases:    research and linkage vault are up to date" in migrate.stdout
    for label in ("linkage key", "content key", "audit key", "lookup key"):
        assert f"{label}:" in migrate.stdout
    assert migrate.stdout.count("already there") == 4
    assert {**digests(linkage), **digests(other)} == before

    # The processes of the stack open the same keys: an audit verify runs on the new databases.
    verified = fieldvault(stack, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
