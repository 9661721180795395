"""Key files and the key ring: the linkage key and the content key, each in its own file.

A key file is JSON, readable by its owner only (0600)::

    {"purpose": "linkage", "keys": [{"id": "…", "created": "2024-…Z", "key": "<base64>"}, …]}

The first key is the current one; older keys stay so data sealed or wrapped under them can
still be opened until it has been rewrapped (rotation without re-encrypting data, like
``MultiFernet.rotate``). The ``purpose`` tag makes a swapped linkage/content file an error.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldvault.errors import ConfigError
from fieldvault.storage.crypto import KEY_SIZE, CryptoError, generate_key

__all__ = [
    "PURPOSES",
    "KeyRing",
    "KeySet",
    "add_key",
    "create_key_file",
    "create_named_key_file",
    "load_key_file",
    "retire_key",
]

# "lookup": the HMAC keys of the Telegram lookups (storage/lookups.py), never rotated.
PURPOSES = frozenset({"linkage", "content", "audit", "lookup"})


@dataclass(frozen=True)
class KeySet:
    """The keys of one purpose, newest (current) first; its repr shows ids, never key bytes."""

    purpose: str
    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        """Refuse an empty set, duplicate ids and keys of the wrong size."""
        if not self.keys:
            raise CryptoError(f"the {self.purpose} key set holds no key")
        ids = [key_id for key_id, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise CryptoError(f"the {self.purpose} key set repeats a key id")
        if any(len(key) != KEY_SIZE for _, key in self.keys):
            raise CryptoError(f"every {self.purpose} key must be {KEY_SIZE} bytes")

    @property
    def current_id(self) -> str:
        """The id of the key used for new data."""
        return self.keys[0][0]

    @property
    def current(self) -> bytes:
        """The key used for new data."""
        return self.keys[0][1]

    @property
    def ids(self) -> tuple[str, ...]:
        """All key ids, current first."""
        return tuple(key_id for key_id, _ in self.keys)

    def get(self, key_id: str) -> bytes:
        """The key with ``key_id``; CryptoError when this set does not hold it."""
        for candidate, key in self.keys:
            if candidate == key_id:
                return key
        raise CryptoError(
            f"unknown key id {key_id!r}: the {self.purpose} key file does not hold it "
            "(was it retired before its data was rewrapped?)"
        )

    def __repr__(self) -> str:
        """Purpose and ids only."""
        return f"KeySet(purpose={self.purpose!r}, ids={self.ids!r})"


@dataclass(frozen=True)
class KeyRing:
    """The two separate secrets of a fieldvault: linkage key and content key."""

    linkage: KeySet
    content: KeySet

    def __post_init__(self) -> None:
        """Refuse swapped purposes and a secret shared by both sets."""
        if self.linkage.purpose != "linkage" or self.content.purpose != "content":
            raise ConfigError("the linkage and content key sets are swapped")
        for _, a in self.linkage.keys:
            for _, b in self.content.keys:
                if hmac.compare_digest(a, b):
                    raise ConfigError(
                        "the linkage key file and the content key file hold the same key; "
                        "they must be different secrets: restore the right files from backup"
                    )

    @classmethod
    def load(cls, linkage_path: Path, content_path: Path) -> KeyRing:
        """Load and check both key files."""
        return cls(
            linkage=load_key_file(linkage_path, "linkage"),
            content=load_key_file(content_path, "content"),
        )


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}; expected one of {sorted(PURPOSES)}")


def _new_entry() -> dict[str, str]:
    return {
        "id": secrets.token_hex(8),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "key": base64.b64encode(generate_key()).decode("ascii"),
    }


def _encode(purpose: str, entries: list[dict[str, str]]) -> bytes:
    return (json.dumps({"purpose": purpose, "keys": entries}, indent=2) + "\n").encode("utf-8")


def _fsync_dir(folder: Path) -> None:
    # Make the new directory entry itself durable, not only the file's contents.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (O_EXCL: never overwrite), write, fsync."""
    # The mode is set by open itself: there is no moment in which the file is readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def create_key_file(path: Path, purpose: str) -> None:
    """Create a key file with one new key, mode 0600; refuse to overwrite an existing file."""
    _check_purpose(purpose)
    try:
        _write_new(path, _encode(purpose, [_new_entry()]))
    except FileExistsError:
        raise ConfigError(
            f"the {purpose} key file {path} already exists; fieldvault never overwrites a key "
            "(that would make the data under it unreadable). Move it away yourself if you "
            "really mean to start over."
        ) from None
    _fsync_dir(path.parent)


def create_named_key_file(path: Path, purpose: str, keys: Mapping[str, bytes]) -> None:
    """Create a key file holding ``keys`` by name (mode 0600); refuse to overwrite a file."""
    _check_purpose(purpose)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    entries = [
        {"id": key_id, "created": created, "key": base64.b64encode(key).decode("ascii")}
        for key_id, key in keys.items()
    ]
    _keyset(path, purpose, entries)  # the same checks as on loading: sizes, distinct ids
    try:
        _write_new(path, _encode(purpose, entries))
    except FileExistsError:
        raise ConfigError(
            f"the {purpose} key file {path} already exists; fieldvault never overwrites a key"
        ) from None
    _fsync_dir(path.parent)


def _read_entries(path: Path, purpose: str) -> list[dict[str, str]]:
    """Read and check a key file; every problem becomes a ConfigError saying what to do."""
    _check_purpose(purpose)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ConfigError(
            f"the {purpose} key file {path} does not exist; run `fieldvault init` first "
            "(or point the settings at the existing key file)"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"the {purpose} key file {path} cannot be read by this user; run fieldvault as "
            "the user that owns it"
        ) from None
    with os.fdopen(fd, "rb") as f:
        # fstat on the open file: the mode checked is the mode of the bytes read.
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"the {purpose} key file {path} is not a regular file")
        if mode & 0o077:
            raise ConfigError(
                f"the {purpose} key file {path} can be read or changed by other users; "
                f"run `chmod 600 {path}`, and consider whether the key has leaked"
            )
        raw = f.read()
    damaged = f"the {purpose} key file {path} is damaged"
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"{damaged} (not JSON); restore it from your backup") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list) or not doc["keys"]:
        raise ConfigError(f"{damaged} (no list of keys); restore it from your backup")
    actual = doc.get("purpose")
    if actual != purpose:
        raise ConfigError(
            f"{path} holds the {actual} key but is configured as the {purpose} key file; "
            "the linkage and content key files must not be swapped: check the key file settings"
        )
    entries: list[dict[str, str]] = []
    for entry in doc["keys"]:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(name), str) for name in ("id", "created", "key")
        ):
            raise ConfigError(f"{damaged} (a key entry lacks id, created or key)")
        entries.append({name: entry[name] for name in ("id", "created", "key")})
    return entries


def _keyset(path: Path, purpose: str, entries: list[dict[str, str]]) -> KeySet:
    keys: list[tuple[str, bytes]] = []
    for entry in entries:
        try:
            key = base64.b64decode(entry["key"], validate=True)
        except binascii.Error:
            # The message names no key bytes, only which entry is bad.
            raise ConfigError(
                f"the {purpose} key file {path} is damaged (key {entry['id']!r} is not base64)"
            ) from None
        if len(key) != KEY_SIZE:
            raise ConfigError(
                f"the {purpose} key file {path} is damaged (key {entry['id']!r} is not "
                f"{KEY_SIZE} bytes)"
            )
        keys.append((entry["id"], key))
    try:
        return KeySet(purpose=purpose, keys=tuple(keys))
    except CryptoError as exc:
        raise ConfigError(f"the {purpose} key file {path} is damaged ({exc})") from None


def load_key_file(path: Path, purpose: str) -> KeySet:
    """Load a key file; refuse it when missing, open to others, damaged or of another purpose."""
    return _keyset(path, purpose, _read_entries(path, purpose))


def _replace(path: Path, purpose: str, entries: list[dict[str, str]]) -> None:
    """Atomically replace the key file: new 0600 file beside it, fsync, rename over."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    _write_new(tmp, _encode(purpose, entries))
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def add_key(path: Path, purpose: str) -> str:
    """Make a new key current, keeping the older ones for reading; return its id."""
    entries = _read_entries(path, purpose)
    _keyset(path, purpose, entries)  # refuse to extend a damaged file
    entry = _new_entry()
    _replace(path, purpose, [entry, *entries])
    return entry["id"]


def retire_key(path: Path, purpose: str, key_id: str) -> None:
    """Remove an old key once nothing depends on it any more; the current key cannot be retired."""
    entries = _read_entries(path, purpose)
    keyset = _keyset(path, purpose, entries)
    if key_id == keyset.current_id:
        raise ConfigError(f"key {key_id!r} is the current {purpose} key and cannot be retired")
    if key_id not in keyset.ids:
        raise ConfigError(f"the {purpose} key file {path} holds no key {key_id!r}")
    _replace(path, purpose, [e for e in entries if e["id"] != key_id])
