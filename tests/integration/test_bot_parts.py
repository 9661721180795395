"""The bot's parts without a running bot: button signatures, message splitting, catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldvault.bot.replies import split_text
from fieldvault.bot.security import MAX_CALLBACK_BYTES, BotKeys
from fieldvault.bot.texts import gettext_for, pick_language
from fieldvault.config.settings import load_settings
from fieldvault.errors import ConfigError
from fieldvault.storage.lookups import LookupKeys
from tests.catalogs import marked_texts, untranslated

ROOT = Path(__file__).parents[2]


def test_callback_data_is_short_bound_to_chat_step_and_action() -> None:
    keys = BotKeys(LookupKeys.derived_from(b"k" * 32))
    data = keys.sign(123456789012, 10**9, "w.99")
    assert len(data.encode()) < MAX_CALLBACK_BYTES
    button = keys.verify(123456789012, data)
    assert button is not None and button.seq == 10**9 and button.action == "w.99"
    assert keys.verify(123456789013, data) is None  # another chat
    assert BotKeys(LookupKeys.generate()).verify(123456789012, data) is None  # other keys
    v, seq, action, mac = data.split(":")
    assert keys.verify(123456789012, f"{v}:{int(seq) - 1}:{action}:{mac}") is None
    assert keys.verify(123456789012, f"{v}:{seq}:ok:{mac}") is None
    assert keys.verify(123456789012, None) is None
    with pytest.raises(ValueError):
        keys.sign(1, 1, "a:b")


def test_chat_keys_are_hmacs_not_ids() -> None:
    keys = BotKeys(LookupKeys.derived_from(b"k" * 32))  # fixed: no "42" in its digests
    assert keys.chat_key(42) == keys.chat_key(42) != BotKeys(LookupKeys.generate()).chat_key(42)
    assert "42" not in keys.chat_key(42) and len(keys.chat_key(42)) == 64
    assert keys.chat_key(42) != keys.user_key(42)


def test_long_texts_are_split_under_telegrams_limit() -> None:
    text = "\n\n".join(["word " * 300] * 10) + "\n\n" + "x" * 9000
    chunks = split_text(text)
    assert all(0 < len(c) <= 3900 for c in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )


@pytest.mark.parametrize(
    ("telegram", "expected"),
    [
        ("nb", "nb"),
        ("no", "nb"),
        ("nb-NO", "nb"),
        ("nn", "nn"),
        ("en-GB", "en"),
        (None, "en"),
        ("de", "en"),
    ],
)
def test_language_is_taken_from_telegram(telegram: str | None, expected: str) -> None:
    assert pick_language(telegram, ("nb", "nn", "en")) == expected


def test_every_message_is_translated_to_nb_and_nn(tmp_path: Path) -> None:
    in_code = marked_texts(ROOT / "fieldvault" / "bot", tmp_path / "messages.pot")
    for lang in ("nb", "nn"):
        missing = untranslated(in_code, lang)
        assert not missing, f"{lang}: untranslated (run the locale steps in translations.py)"
    assert gettext_for("nn")("Yes") == "Ja" and gettext_for("en")("Yes") == "Yes"


def test_a_webhook_needs_a_secret() -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        load_settings(environ={}, telegram_webhook_url="https://example.org/hook")
