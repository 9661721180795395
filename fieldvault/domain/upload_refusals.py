"""Uploads refused before their body is read (no token, wrong study, wrong type, too large).

The refusals the domain's intake words itself (``recordings.accept_recording``) are audited
there; these happen earlier, in the front end's first look at a request, and are audited
here under the same event (``upload.rejected``) with ``stage: before-body``. The caller
names the study and participant code only when the token is valid for the study: otherwise
the event holds the reason and the route template, and nothing the caller chose.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.orm import Session

from fieldvault.storage import audit

# A participant code as the intake makes them; anything else asked for is not recorded.
_CODE = re.compile(r"[A-Za-z0-9-]{1,32}")


def record_refused_upload(
    session: Session,
    *,
    reason: str,
    route: str,
    now: dt.datetime,
    source: str,
    study_id: str | None = None,
    code: str | None = None,
    suppressed: int = 0,
    actor: str | None = None,
) -> None:
    """Audit one upload refused before its body; ``suppressed`` earlier ones were not written.

    The event names ``actor`` (a logged-in researcher) when known, else ``source``.

    ``study_id`` and ``code`` are given only for a caller authorised for the study.
    """
    details: dict[str, object] = {"reason": reason, "route": route, "stage": "before-body"}
    if suppressed:
        details["suppressed"] = suppressed
    audit.append(
        session,
        audit.Event.UPLOAD_REJECTED,
        actor=actor or source,
        study_id=study_id,
        participant_code=code if study_id and code and _CODE.fullmatch(code) else None,
        details=details,
        at=now,
    )
