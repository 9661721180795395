"""What a study's pseudonymisation refuses; each raise gives its own ``code`` and facts."""

from __future__ import annotations

from fieldvault.domain.errors import DomainError
from fieldvault.errors import NotFoundError


class PseudonymisationError(DomainError):
    """A pseudonymisation request that cannot be carried out as asked."""

    code = "pseudonymisation"


class NothingToReview(NotFoundError):
    """The participant has no transcript to review or approve."""

    code = "pseudonymisation.nothing"


class ReviewConflict(DomainError):
    """Someone else saved the transcript's review since the caller last read it."""

    code = "review.conflict"
