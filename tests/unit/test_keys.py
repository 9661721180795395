from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from fieldvault.errors import ConfigError
from fieldvault.storage.crypto import CryptoError, generate_key
from fieldvault.storage.keys import (
    KeyRing,
    KeySet,
    add_key,
    create_key_file,
    load_key_file,
    retire_key,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def write_key_file(path: Path, doc: object, file_mode: int = 0o600) -> None:
    path.write_text(json.dumps(doc))
    path.chmod(file_mode)


def entry(key_id: str, key: bytes) -> dict[str, str]:
    return {"id": key_id, "created": "2021-03-01T09:00:00Z", "key": base64.b64encode(key).decode()}


@pytest.fixture
def linkage(tmp_path: Path) -> Path:
    path = tmp_path / "linkage.key"
    create_key_file(path, "linkage")
    return path


@pytest.fixture
def content(tmp_path: Path) -> Path:
    path = tmp_path / "content.key"
    create_key_file(path, "content")
    return path


def test_a_new_key_file_is_private_and_holds_one_current_key(linkage: Path) -> None:
    assert mode(linkage) == 0o600
    doc = json.loads(linkage.read_text())
    assert doc["purpose"] == "linkage"
    assert len(doc["keys"]) == 1
    keys = load_key_file(linkage, "linkage")
    assert keys.purpose == "linkage"
    assert len(keys.current) == 32
    assert keys.ids == (keys.current_id,) == (doc["keys"][0]["id"],)


def test_a_new_key_file_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create_key_file(tmp_path / "content.key", "content")
    finally:
        os.umask(old)
    assert mode(tmp_path / "content.key") == 0o600


def test_an_existing_key_file_is_never_overwritten(linkage: Path) -> None:
    before = linkage.read_bytes()
    with pytest.raises(ConfigError, match="already exists"):
        create_key_file(linkage, "linkage")
    assert linkage.read_bytes() == before


def test_two_key_files_never_share_a_key(linkage: Path, content: Path) -> None:
    assert load_key_file(linkage, "linkage").current != load_key_file(content, "content").current


def test_a_missing_key_file_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `fieldvault init`"):
        load_key_file(tmp_path / "nope.key", "linkage")


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_a_key_file_open_to_others_is_refused_with_the_fix(linkage: Path, file_mode: int) -> None:
    linkage.chmod(file_mode)
    with pytest.raises(ConfigError) as caught:
        load_key_file(linkage, "linkage")
    assert f"chmod 600 {linkage}" in str(caught.value)


def test_a_read_only_key_file_for_its_owner_is_accepted(linkage: Path) -> None:
    linkage.chmod(0o400)
    assert load_key_file(linkage, "linkage").purpose == "linkage"


def test_a_swapped_purpose_is_refused(linkage: Path, content: Path) -> None:
    with pytest.raises(ConfigError, match="must not be swapped"):
        load_key_file(linkage, "content")
    with pytest.raises(ConfigError, match="must not be swapped"):
        KeyRing.load(content, linkage)


@pytest.mark.parametrize(
    "doc",
    [
        "not json {",
        [],
        {"purpose": "linkage"},
        {"purpose": "linkage", "keys": []},
        {"purpose": "linkage", "keys": ["abc"]},
        {"purpose": "linkage", "keys": [{"id": "a", "created": "x"}]},
        {"purpose": "linkage", "keys": [{"id": "a", "created": "x", "key": "!!not base64!!"}]},
        {"purpose": "linkage", "keys": [{"id": "a", "created": "x", "key": "c2hvcnQ="}]},
    ],
    ids=[
        "not-json",
        "list",
        "no-keys",
        "empty-keys",
        "entry-not-object",
        "no-key-field",
        "bad-base64",
        "short-key",
    ],
)
def test_a_malformed_key_file_is_refused_as_damaged(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "linkage.key"
    if isinstance(doc, str):
        path.write_text(doc)
        path.chmod(0o600)
    else:
        write_key_file(path, doc)
    with pytest.raises(ConfigError, match="damaged"):
        load_key_file(path, "linkage")


def test_duplicate_key_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "content.key"
    doc = {"purpose": "content", "keys": [entry("a", generate_key()), entry("a", generate_key())]}
    write_key_file(path, doc)
    with pytest.raises(ConfigError, match="damaged"):
        load_key_file(path, "content")


def test_the_repr_of_keys_shows_no_key_material(linkage: Path, content: Path) -> None:
    ring = KeyRing.load(linkage, content)
    text = repr(ring) + str(ring) + repr(ring.linkage) + repr(ring.content)
    for keyset in (ring.linkage, ring.content):
        assert keyset.current_id in text
        for _, key in keyset.keys:
            assert repr(key)[2:-1] not in text
            assert key.hex() not in text
            assert base64.b64encode(key).decode() not in text


def test_adding_a_key_makes_it_current_and_keeps_the_old_one(linkage: Path) -> None:
    old = load_key_file(linkage, "linkage")
    new_id = add_key(linkage, "linkage")
    assert mode(linkage) == 0o600
    keys = load_key_file(linkage, "linkage")
    assert keys.current_id == new_id
    assert keys.ids == (new_id, old.current_id)
    assert keys.get(old.current_id) == old.current
    assert keys.current != old.current
    assert [p.name for p in linkage.parent.iterdir()] == ["linkage.key"]  # no temp left


def test_a_retired_key_is_gone_and_the_current_one_cannot_be_retired(linkage: Path) -> None:
    old_id = load_key_file(linkage, "linkage").current_id
    new_id = add_key(linkage, "linkage")
    with pytest.raises(ConfigError, match="current"):
        retire_key(linkage, "linkage", new_id)
    retire_key(linkage, "linkage", old_id)
    keys = load_key_file(linkage, "linkage")
    assert keys.ids == (new_id,)
    assert mode(linkage) == 0o600
    with pytest.raises(CryptoError, match="unknown key id"):
        keys.get(old_id)


def test_adding_a_key_to_a_file_open_to_others_is_refused(linkage: Path) -> None:
    linkage.chmod(0o644)
    before = linkage.read_bytes()
    with pytest.raises(ConfigError, match="chmod 600"):
        add_key(linkage, "linkage")
    assert linkage.read_bytes() == before


def test_an_unknown_key_id_is_a_crypto_error_naming_no_key(linkage: Path) -> None:
    keys = load_key_file(linkage, "linkage")
    with pytest.raises(CryptoError, match="unknown key id") as caught:
        keys.get("deadbeef")
    assert keys.current.hex() not in str(caught.value)


def test_a_key_ring_refuses_the_same_secret_in_both_files(tmp_path: Path) -> None:
    shared = generate_key()
    write_key_file(tmp_path / "l.key", {"purpose": "linkage", "keys": [entry("l1", shared)]})
    write_key_file(
        tmp_path / "c.key",
        {"purpose": "content", "keys": [entry("c1", generate_key()), entry("c0", shared)]},
    )
    with pytest.raises(ConfigError, match="different secrets"):
        KeyRing.load(tmp_path / "l.key", tmp_path / "c.key")


def test_a_key_ring_loads_two_distinct_key_sets(linkage: Path, content: Path) -> None:
    ring = KeyRing.load(linkage, content)
    assert ring.linkage.purpose == "linkage"
    assert ring.content.purpose == "content"
    assert ring.linkage.current != ring.content.current


def test_a_key_set_refuses_keys_of_the_wrong_size() -> None:
    with pytest.raises(CryptoError):
        KeySet(purpose="content", keys=(("a", b"short"),))
    with pytest.raises(CryptoError):
        KeySet(purpose="content", keys=())


def test_an_unknown_purpose_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="purpose"):
        create_key_file(tmp_path / "x.key", "research")
    assert not (tmp_path / "x.key").exists()
