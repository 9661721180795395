"""Revealing a participant's real name to a researcher: one look-up, always audited.

The name lives in the linkage vault only. Whoever asks is named in the audit chain
(``identity.revealed``, with the participant's code and whether a name was held, never the
name), in the same unit of work that reads it, so a name is never shown without its event:
the caller shows the name only after that unit of work has committed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from fieldvault.domain.participants import get_participant
from fieldvault.storage import audit
from fieldvault.storage.vault import LinkageVault


def reveal_name(
    session: Session,
    vault: LinkageVault,
    study_id: str,
    code: str,
    *,
    actor: str,
    now: dt.datetime,
) -> str | None:
    """The real name of participant ``code`` (None when none is held), audited for ``actor``."""
    participant = get_participant(session, study_id, code)
    identity = vault.get(study_id, participant.code)
    name = identity.name if identity is not None else None
    audit.append(
        session,
        audit.Event.IDENTITY_REVEALED,
        actor=actor,
        study_id=study_id,
        participant_code=participant.code,
        details={"found": name is not None},
        at=now,
    )
    return name
