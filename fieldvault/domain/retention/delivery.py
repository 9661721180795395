"""Outbox delivery: the deletion notices of a batch, and the notices retried until settled.

A deletion notice gets one attempt, as a step of the deletion, while the informant's identity
(their channel) still exists: a deletion does not wait for a failing channel. Reminders and
extension notices stay in the outbox and are retried on every sweep until settled.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.domain import notices
from fieldvault.domain.notices import Notifier
from fieldvault.domain.retention.model import ACTOR, INTENT, NOTIFIED, SweepReport
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Deletion, Notice

if TYPE_CHECKING:
    from fieldvault.storage.services import Services


def deliver_deletion_notices(
    services: Services,
    report: SweepReport,
    study_id: str,
    rows: list[Deletion],
    now: dt.datetime,
    notifier: Notifier,
) -> None:
    """Deliver the deletion notices of a batch and record them, before any identity goes."""
    with transaction(services.research) as session:
        outbox = _deletion_outbox(session, study_id, [d.participant_code for d in rows])
        fresh = {
            d.id: d
            for d in session.scalars(select(Deletion).where(Deletion.id.in_([r.id for r in rows])))
        }
        # In the batch's order, so informants are told in the order of their deletion rows.
        pending = [fresh[r.id] for r in rows if fresh[r.id].step == INTENT]
        # The informant's channel lives in the vault: read every identity needed in one go.
        identities = services.vault.get_many(
            study_id,
            [
                d.participant_code
                for d in pending
                if (n := outbox.get(d.participant_code)) is not None and n.settled_at is None
            ],
        )
        outcomes: dict[str, str] = {}
        for deletion in pending:
            notice = outbox.get(deletion.participant_code)
            outcome: str | None = None
            if notice is not None and notice.settled_at is None:
                identity = identities.get(deletion.participant_code)
                # A deletion does not wait for a failing channel: one attempt, then settled.
                outcome = notices.deliver(notifier, notice, identity, now, final=True)
            elif notice is not None:
                outcome = notice.outcome
            if outcome is not None:
                report.notices[outcome] += 1
                outcomes[deletion.participant_code] = outcome
            deletion.notice_outcome = outcome
            deletion.notice_at = now
            deletion.step = NOTIFIED
        if outcomes:
            audit.append(
                session,
                audit.Event.DELETION_NOTICE,
                actor=ACTOR,
                study_id=study_id,
                details={"kind": "deletion", "outcomes": dict(sorted(outcomes.items()))},
                at=now,
            )


def _deletion_outbox(session: Session, study_id: str, codes: list[str]) -> dict[str, Notice]:
    """The informants' deletion notices of ``codes``, by participant code."""
    return {
        n.participant_code: n
        for n in session.scalars(
            select(Notice).where(
                Notice.study_id == study_id,
                Notice.kind == "deletion",
                Notice.audience == notices.INFORMANT,
                Notice.participant_code.in_(codes),
            )
        )
        if n.participant_code is not None
    }


def deliver_pending(
    services: Services, report: SweepReport, notifier: Notifier, now: dt.datetime
) -> None:
    """Deliver reminders and extension notices still in the outbox (retried on later sweeps)."""
    with transaction(services.research) as session:
        pending = list(
            session.scalars(
                select(Notice.id)
                .where(Notice.settled_at.is_(None), Notice.kind != "deletion")
                .order_by(Notice.id)
            )
        )
    # One transaction per notice: a delivered notice is recorded even if a later one fails.
    for notice_id in pending:
        with transaction(services.research) as session:
            row = session.get(Notice, notice_id)
            if row is None or row.settled_at is not None:
                continue
            identity = None
            if row.audience == notices.INFORMANT and row.participant_code is not None:
                identity = services.vault.get(row.study_id, row.participant_code)
            outcome = notices.deliver(notifier, row, identity, now, final=False)
            if outcome is not None:
                report.notices[outcome] += 1
