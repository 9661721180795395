"""The root of fieldvault's exception hierarchy."""

from __future__ import annotations

from collections.abc import Mapping


class FieldvaultError(Exception):
    """Base of every error fieldvault raises on purpose.

    ``str(error)`` says what is wrong in words any front end can show; it never names a
    command, a flag or a button (each front end adds its own advice, looked up by ``code``)
    and never contains identity (names, contacts, Telegram ids) or key material. ``code`` is
    a stable dotted name such as ``"study.not_found"``; ``facts`` holds the values the advice
    may quote (study ids, participant codes, counts — never identity).
    """

    code: str = "error"

    def __init__(self, message: str = "", *, code: str | None = None, **facts: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.facts: Mapping[str, object] = facts


class ConfigError(FieldvaultError):
    """Settings or key files are missing or unsafe."""

    code = "config"


class NotFoundError(FieldvaultError):
    """A study, participant, invite or object does not exist (or is not yours)."""

    code = "not_found"
