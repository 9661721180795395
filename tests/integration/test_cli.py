"""The command line end to end, through a real subprocess on the embedded default."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLE

pytestmark = pytest.mark.slow

IDENTITY = ("Torbjørg Vassendgutt", "torbjorg.v@example.no", "+47 40 00 12 34")


class Fieldvault:
    """Runs ``python -m fieldvault`` with a private data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("FIELDVAULT_")
        }
        self.env["FIELDVAULT_DATA_DIR"] = str(data_dir)
        # `serve` starts the web app: a free port, so parallel runs never collide on 8080.
        self.env["FIELDVAULT_WEB_PORT"] = "0"

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "fieldvault", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode != 0, result.stdout
        return result


@pytest.fixture
def fv(tmp_path: Path) -> Fieldvault:
    return Fieldvault(tmp_path / "data")


def test_every_command_has_help(fv: Fieldvault) -> None:
    commands = [
        [],
        ["init"],
        ["serve"],
        ["study"],
        ["study", "check"],
        ["study", "create"],
        ["study", "list"],
        ["invite"],
        ["participant", "add"],
        ["participants"],
        ["consent", "record"],
        ["audit", "verify"],
        ["keys", "rotate"],
        ["audit", "checkpoint"],
        ["backup", "create"],
        ["backup", "verify"],
        ["backup", "restore"],
        ["scheduler"],
    ]
    for command in commands:
        result = fv(*command, "--help")
        assert "Usage:" in result.stdout


def test_commands_before_init_say_how_to_fix_it(fv: Fieldvault) -> None:
    result = fv("study", "list", ok=False)
    assert "fieldvault init" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_init_creates_private_key_files_and_is_safe_to_repeat(fv: Fieldvault) -> None:
    fv("init")
    keys = [fv.data_dir / "keys" / f"{name}.key" for name in ("linkage", "content", "lookup")]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = [k.read_bytes() for k in keys]
    result = fv("init")
    assert "already there" in result.stdout
    assert [k.read_bytes() for k in keys] == before


def test_a_key_file_readable_by_others_stops_fieldvault(fv: Fieldvault) -> None:
    fv("init")
    key = fv.data_dir / "keys" / "linkage.key"
    key.chmod(0o644)
    result = fv("study", "list", ok=False)
    assert "chmod 600" in result.stderr
    assert key.read_bytes().decode()[:0] == ""  # the file is still there, untouched
    key.chmod(0o600)
    fv("study", "list")


def test_the_whole_foundation_flow_keeps_names_out_of_outputs(
    fv: Fieldvault, tmp_path: Path
) -> None:
    fv("init")
    fv("study", "check", str(EXAMPLE))
    fv("study", "create", str(EXAMPLE))
    again = fv("study", "create", str(EXAMPLE), ok=False)
    assert "already registered" in again.stderr

    invites = fv("invite", "nav-veileder", "--count", "3", "--qr", str(tmp_path / "qr"))
    links = invites.stdout.strip().splitlines()
    assert len(links) == 3
    for line in links:
        assert re.match(r"https://t\.me/\w+\?start=[A-Za-z0-9_-]{1,64}\t\S+/join/\S+$", line)
    pngs = sorted((tmp_path / "qr").glob("*.png"))
    assert len(pngs) == 3
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)

    name, email, phone = IDENTITY
    added = fv(
        "participant", "add", "nav-veileder", "--name", name, "--email", email,
        "--phone", phone, "--var", "utdanning=sosionom",
    )  # fmt: skip
    code = added.stdout.strip()
    assert re.fullmatch(r"P-[0-9A-Z]{6}", code)

    bad_var = fv(
        "participant", "add", "nav-veileder", "--name", "X Y", "--var", "shoe=42", ok=False
    )
    assert "shoe" in bad_var.stderr

    scan = tmp_path / "form.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + name.encode() + b"\n%%EOF\n")
    fv(
        "consent", "record", "nav-veileder", code,
        "--grant", "interview-recording", "--refuse", "identifiable-publication",
        "--evidence", str(scan), "--researcher", "Student A", "--signed-on", "2021-02-27",
    )  # fmt: skip

    listing = fv("participants", "nav-veileder")
    assert code in listing.stdout
    assert "consented" in listing.stdout
    outputs = added.stdout + added.stderr + listing.stdout + listing.stderr
    for secret in IDENTITY:
        assert secret not in outputs
        assert secret.split()[0] not in outputs

    verified = fv("audit", "verify")
    assert "audit chain OK" in verified.stdout

    # Edit one audit row behind fieldvault's back: verify must name it and fail.
    db = sqlite3.connect(fv.data_dir / "research.sqlite3")
    with db:
        db.execute("UPDATE audit_events SET actor = 'someone else' WHERE seq = 2")
    db.close()
    broken = fv("audit", "verify", ok=False)
    assert "BROKEN at event 2" in broken.stderr


def test_serve_reports_that_the_bot_is_off_without_a_token(fv: Fieldvault) -> None:
    fv("init")
    result = fv("serve", "--once")
    assert "bot is off" in result.stderr


def test_databases_and_keys_are_private_to_the_owner(fv: Fieldvault) -> None:
    fv("init")
    for path in fv.data_dir.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"
