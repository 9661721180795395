"""Notices: an outbox of messages to informants (by participant code) and to researchers.

The domain writes a :class:`~fieldvault.storage.models.Notice` row; a :class:`Notifier` (the
bot, later the web status page) delivers it. A notice holds no identity: the informant's
channel is looked up in the linkage vault at delivery time, which is why a deletion notice must
be delivered (and settled) before the identity is deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.storage.models import Notice
from fieldvault.storage.vault import Identity

log = logging.getLogger(__name__)

INFORMANT = "informant"
RESEARCHERS = "researchers"

SENT = "sent"
UNREACHABLE = "unreachable"
FAILED = "failed"

# A notice that is not about an imminent deletion is retried on later sweeps this often.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class NoticeMessage:
    """What a notifier gets: the kind of message and its parameters; never an identity."""

    id: int
    study_id: str
    audience: str
    participant_code: str | None
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Notice) -> NoticeMessage:
        """The message of an outbox row."""
        return cls(
            row.id, row.study_id, row.audience, row.participant_code, row.kind, dict(row.params)
        )


class Notifier(Protocol):
    """Delivers notices; raising means "failed, try again", False means "cannot reach"."""

    def to_informant(self, notice: NoticeMessage, identity: Identity) -> bool:
        """Deliver to the informant whose identity is given; False when it has no channel."""
        ...

    def to_researchers(self, notice: NoticeMessage) -> bool:
        """Deliver to the study's researchers; False when none can be reached."""
        ...


class LogNotifier:
    """The notifier of a process without a bot: researchers get a log line; informants nothing."""

    def to_informant(self, notice: NoticeMessage, identity: Identity) -> bool:
        """No informant channel here: the notice is settled as unreachable."""
        return False

    def to_researchers(self, notice: NoticeMessage) -> bool:
        """Write the notice to the log (which never holds identities)."""
        log.warning(
            "study %s: %s notice for researchers: %s", notice.study_id, notice.kind, notice.params
        )
        return True


def add_notice(
    session: Session,
    *,
    study_id: str,
    audience: str,
    kind: str,
    dedupe_key: str,
    now: dt.datetime,
    participant_code: str | None = None,
    params: dict[str, Any] | None = None,
) -> Notice:
    """Put a notice in the outbox once: an existing one with the same key is returned instead."""
    existing = session.scalar(select(Notice).where(Notice.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    row = Notice(
        study_id=study_id,
        audience=audience,
        participant_code=participant_code,
        kind=kind,
        dedupe_key=dedupe_key,
        params=dict(params or {}),
        created_at=now,
        attempts=0,
    )
    session.add(row)
    session.flush()
    return row


def deliver(
    notifier: Notifier, row: Notice, identity: Identity | None, now: dt.datetime, *, final: bool
) -> str | None:
    """Try to deliver ``row`` and settle it; return the outcome, or None to retry later.

    ``final`` settles a failed attempt as failed at once (a deletion does not wait for it).
    """
    message = NoticeMessage.of(row)
    row.attempts = (row.attempts or 0) + 1
    try:
        if row.audience == RESEARCHERS:
            reached = notifier.to_researchers(message)
        else:
            reached = identity is not None and notifier.to_informant(message, identity)
    except Exception as exc:  # a notifier's failure must not stop the sweep
        log.warning("notice %s (%s) not delivered: %s", row.id, row.kind, type(exc).__name__)
        if not final and row.attempts < MAX_ATTEMPTS:
            return None
        outcome = FAILED
    else:
        outcome = SENT if reached else UNREACHABLE
    row.outcome = outcome
    row.settled_at = now
    return outcome
