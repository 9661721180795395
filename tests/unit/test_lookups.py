"""The lookup key file: four named HMAC keys, private, never overwritten, fit for old data."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest

from fieldvault.bot.security import BotKeys
from fieldvault.errors import ConfigError
from fieldvault.storage.keys import create_key_file
from fieldvault.storage.lookups import LOOKUPS, LookupKeys, create_lookup_key_file


def test_a_new_lookup_key_file_is_private_and_loads_back_the_same_four_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lookup.key"
    keys = LookupKeys.generate()
    create_lookup_key_file(path, keys)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["purpose"] == "lookup"
    assert (
        {entry["id"] for entry in doc["keys"]}
        == LOOKUPS
        == {
            "chat",
            "account",
            "telegram",
            "button",
        }
    )
    assert LookupKeys.load(path) == keys
    assert len({keys.chat, keys.account, keys.telegram, keys.button}) == 4
    assert repr(keys) == "LookupKeys()"  # no key bytes


def test_a_lookup_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "lookup.key"
    create_lookup_key_file(path, LookupKeys.generate())
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="already exists"):
        create_lookup_key_file(path, LookupKeys.generate())
    assert path.read_bytes() == before


def test_a_missing_incomplete_open_or_swapped_lookup_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lookup.key"
    with pytest.raises(ConfigError, match="fieldvault init"):
        LookupKeys.load(path)
    create_lookup_key_file(path, LookupKeys.generate())
    doc = json.loads(path.read_text())
    doc["keys"] = doc["keys"][:3]
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="must hold exactly the keys"):
        LookupKeys.load(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        LookupKeys.load(path)
    linkage = tmp_path / "linkage.key"
    create_key_file(linkage, "linkage")
    with pytest.raises(ConfigError, match="holds the linkage key"):
        LookupKeys.load(linkage)


def test_keys_derived_for_an_older_data_folder_name_chats_as_the_linkage_key_did() -> None:
    """Known answers computed by the bot before the lookup key file existed (secret b"k"*32)."""
    keys = BotKeys(LookupKeys.derived_from(b"k" * 32))
    assert keys.chat_key(42) == "74cfdee34526fa9570e9dce580688f4ef3f1ef9e44ff2baa3c10d5c9d8e0caa4"
    assert keys.user_key(42) == "08a562ec6079c81dc8ddba7bb4edc1b217ffd7d953d47664c6c3f2827247794a"
    assert keys.sign(42, 7, "w.1") == "1:7:w.1:15fD6JDnFFTqmBh4"
    vault = hmac.new(LookupKeys.derived_from(b"k" * 32).telegram, b"42", hashlib.sha256)
    assert vault.hexdigest() == "982353b98630358602f53f90a879bde725bd27c173d9a503eca7c6951b99865c"
