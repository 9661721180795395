"""What the bot's libraries may log: nothing that names an informant or carries the token."""

from __future__ import annotations

import logging


def quiet_telegram_logs() -> None:
    """Keep PTB's DEBUG records (updates, request parameters) and httpx's URLs out of logs."""
    # PTB logs whole updates and request parameters (names, Telegram ids, texts) at DEBUG;
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    logging.getLogger("telegram").setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
