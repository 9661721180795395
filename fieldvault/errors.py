"""The root of fieldvault's exception hierarchy."""


class FieldvaultError(Exception):
    """Base of every error fieldvault raises on purpose.

    ``str(error)`` is a message a researcher understands: what is wrong and what to do.
    It never contains identity (names, contacts, Telegram ids) or key material.
    """


class ConfigError(FieldvaultError):
    """Settings or key files are missing or unsafe."""


class NotFoundError(FieldvaultError):
    """A study, participant, invite or object does not exist (or is not yours)."""
