"""Errors of the domain rules.

Each says what is wrong in plain words and carries a ``code`` and the ``facts`` behind it
(see ``fieldvault.errors.FieldvaultError``); the front end that shows it adds the advice in
its own terms (``cli/advice.py``, the bot's catalog, the web's).
"""

from __future__ import annotations

from fieldvault.errors import FieldvaultError, NotFoundError


class DomainError(FieldvaultError):
    """A domain rule refused the request."""


class IllegalTransition(DomainError):
    """A participant cannot move from its current state to the requested one."""


class InviteError(DomainError):
    """An invite code is unknown, expired or already used."""


class ConsentError(DomainError):
    """A consent cannot be recorded or withdrawn as asked."""


class ConsentRequired(DomainError):
    """An action needs a current consent that the participant has not given."""


class StudyNotFound(NotFoundError):
    """No such study (or not yours)."""

    code = "study.not_found"


class InviteNotFound(NotFoundError):
    """No such invite in that study."""

    code = "invite.not_found"


class ParticipantNotFound(NotFoundError):
    """No such participant in that study (or not yours)."""

    code = "participant.not_found"
