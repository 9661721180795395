"""The root of fieldvault's exception hierarchy."""

from __future__ import annotations

import string
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


def with_advice(error: FieldvaultError, advice: Mapping[str, str]) -> str:
    """``str(error)`` followed by a front end's advice for its code, filled from its facts.

    Advice that would quote a fact the error does not carry is left out, never half-filled.
    """
    message = str(error)
    template = advice.get(error.code)
    if template is None:
        return message
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not names <= error.facts.keys():
        return message
    text = template.format(**error.facts)
    return f"{message}; {text}" if message else text
