"""The lookup keys: the HMAC keys under which Telegram chats and accounts are found.

No database holds a Telegram id. The research database knows a chat by ``chat_key`` and a
researcher's account by ``telegram_lookup`` (HMACs the bot computes), and the vault finds an
informant's identity by the HMAC of their user id. Such an HMAC can be computed again only from
the id itself, which is not kept, so it cannot be re-keyed: the lookup keys therefore live in a
key file of their own (``keys/lookup.key``, purpose ``lookup``, 0600), with their own lifecycle.
``fieldvault init`` creates them once and ``keys rotate`` leaves them alone, so rotating and
retiring linkage keys (what is *sealed*) never cuts anyone off. The file holds one key per use,
by name: ``chat``, ``account``, ``telegram`` (the vault's identity lookup) and ``button`` (the
signatures on the bot's buttons, so a button shown before a rotation still works after it).

A data folder from before this file existed gets lookup keys derived one way from its current
linkage key (the derivations that key used to feed), so every stored lookup stays valid and the
linkage key itself is not copied.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fieldvault.errors import ConfigError
from fieldvault.storage.crypto import generate_key
from fieldvault.storage.keys import create_named_key_file, load_key_file

__all__ = ["LOOKUPS", "LookupKeys", "create_lookup_key_file"]

PURPOSE = "lookup"

# Each lookup's name, and how the key of a data folder older than the lookup key file was
# derived from its linkage key (these labels must never change: stored lookups depend on them).
_LEGACY_LABELS: Mapping[str, bytes] = {
    "chat": b"fieldvault/bot/chat/v1\x00",
    "account": b"fieldvault/bot/user/v1\x00",
    "button": b"fieldvault/bot/button/v1\x00",
    "telegram": b"fieldvault/telegram-lookup/v1",
}
LOOKUPS = frozenset(_LEGACY_LABELS)


@dataclass(frozen=True)
class LookupKeys:
    """The four HMAC keys of the lookups; the repr shows no key bytes."""

    chat: bytes = field(repr=False)
    account: bytes = field(repr=False)
    telegram: bytes = field(repr=False)
    button: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> LookupKeys:
        """Four new random keys (a new data folder, and tests)."""
        return cls(**{name: generate_key() for name in LOOKUPS})

    @classmethod
    def derived_from(cls, linkage_key: bytes) -> LookupKeys:
        """The keys a data folder's lookups were made with before the lookup key file existed."""
        return cls(
            **{
                name: hashlib.sha256(label + linkage_key).digest()
                for name, label in _LEGACY_LABELS.items()
            }
        )

    @classmethod
    def load(cls, path: Path) -> LookupKeys:
        """Load the lookup key file; refuse it when missing, open to others or incomplete."""
        if not path.exists():
            raise ConfigError(
                f"the lookup key file {path} does not exist; without it the bot recognises no "
                "informant or researcher: restore it from where you keep the key files (a data "
                "folder made before fieldvault had this file gets it from `fieldvault init`)"
            )
        keyset = load_key_file(path, PURPOSE)
        if set(keyset.ids) != LOOKUPS:
            raise ConfigError(
                f"the lookup key file {path} is damaged (it must hold exactly the keys "
                f"{', '.join(sorted(LOOKUPS))}); restore it from your backup"
            )
        return cls(**{name: keyset.get(name) for name in LOOKUPS})

    def chat_key(self, chat_id: int) -> str:
        """The research database's name for a Telegram chat: HMAC-SHA256 of its id, hex."""
        return hmac.new(self.chat, str(chat_id).encode(), hashlib.sha256).hexdigest()


def create_lookup_key_file(path: Path, keys: LookupKeys) -> None:
    """Write ``keys`` to a new lookup key file (0600); refuse to overwrite one."""
    create_named_key_file(
        path,
        PURPOSE,
        {name: getattr(keys, name) for name in sorted(LOOKUPS)},
    )
