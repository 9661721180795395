"""Chat keys and button signatures: HMACs under the lookup keys (``storage/lookups.py``).

The research database never holds a Telegram id: a chat is known there by ``chat_key``, an
HMAC of its id, which only a holder of the lookup keys can compute. Buttons carry a short HMAC
bound to the chat, the conversation step (``seq``) and the action, so a forged, replayed or
stale button is recognised and changes nothing. The lookup keys are not rotated with the
linkage key, so a rotation changes neither a chat's name nor the buttons already sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from fieldvault.storage.lookups import LookupKeys

CALLBACK_VERSION = "1"
MAC_BYTES = 12  # 96-bit tag: 16 base64 characters
MAX_CALLBACK_BYTES = 64  # Telegram's limit on callback_data


@dataclass(frozen=True)
class Button:
    """What a pressed button said, once its signature checked out."""

    seq: int
    action: str


class BotKeys:
    """Derives chat keys and signs/verifies callback data."""

    def __init__(self, lookups: LookupKeys) -> None:
        """Use the chat, account and button keys of ``lookups``."""
        self._lookups = lookups
        self._button = lookups.button
        self._user = lookups.account

    def chat_key(self, chat_id: int) -> str:
        """The research database's name for a chat: HMAC-SHA256 of its id, hex."""
        return self._lookups.chat_key(chat_id)

    def user_key(self, user_id: int) -> str:
        """The research database's name for a Telegram account (researcher links)."""
        return hmac.new(self._user, str(user_id).encode(), hashlib.sha256).hexdigest()

    def _mac(self, chat_id: int, seq: int, action: str) -> str:
        message = f"{CALLBACK_VERSION}|{chat_id}|{seq}|{action}".encode()
        tag = hmac.new(self._button, message, hashlib.sha256).digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(tag).decode().rstrip("=")

    def sign(self, chat_id: int, seq: int, action: str) -> str:
        """Callback data for a button: ``<v>:<seq>:<action>:<mac>``, always under 64 bytes."""
        if ":" in action:
            raise ValueError("a button action may not contain ':'")
        data = f"{CALLBACK_VERSION}:{seq}:{action}:{self._mac(chat_id, seq, action)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data too long for action {action!r}")
        return data

    def verify(self, chat_id: int, data: str | None) -> Button | None:
        """The button ``data`` stands for in this chat, or None when forged or malformed."""
        if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
            return None
        parts = data.split(":")
        if len(parts) != 4 or parts[0] != CALLBACK_VERSION or not parts[1].isdigit():
            return None
        seq, action, mac = int(parts[1]), parts[2], parts[3]
        if not hmac.compare_digest(mac, self._mac(chat_id, seq, action)):
            return None
        return Button(seq=seq, action=action)


def action_pattern(actions: str) -> re.Pattern[str]:
    """Matches signed callback data whose action matches the regular expression ``actions``.

    Only routing: which handler a button goes to. The signature is checked by that handler.
    """
    return re.compile(rf"^{CALLBACK_VERSION}:\d+:(?:{actions}):[A-Za-z0-9_-]+$")
