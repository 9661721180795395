"""The audit page: the chain verified, and the study's events filtered and paged.

The whole chain is checked against its signed checkpoints; the study's events are filtered by
type and participant code, newest first, a page at a time.

Verifying walks every event of the chain (it is one chain for all studies), so it runs on
this page only, never on the dashboard; events carry participant codes, never names.
"""

from __future__ import annotations

import json

from aiohttp import web

from fieldvault.domain import dashboard
from fieldvault.domain.permissions import Action
from fieldvault.storage.db import transaction
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher.access import page
from fieldvault.web.researcher.pages import blocking, render
from fieldvault.web.researcher.studies import page_number, study_page

MAX_CODE = 32


def setup(app: web.Application) -> None:
    """The audit page."""
    page(
        app, "GET", "/studies/{study}/audit", audit_page, name="r.audit",
        action=Action.VIEW_AUDIT,
    )  # fmt: skip


async def audit_page(request: web.Request) -> web.StreamResponse:
    """The chain's verdict and one page of the study's events (``?type=&code=&page=``)."""
    study_id, now = request.match_info["study"], request.app[CLOCK]()
    services = request.app[SERVICES]
    # An unknown type is passed on and matches nothing: a filter never widens what is shown.
    event = request.query.get("type", "")[:48] or None
    code = request.query.get("code", "").strip().upper()[:MAX_CODE] or None
    number = page_number(request)

    def run() -> tuple[dashboard.StudySummary, dashboard.EventPage, dashboard.ChainCheck]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now)
            events = dashboard.study_events(session, study_id, event=event, code=code, page=number)
        return summary, events, dashboard.verify_chain(services)

    summary, events, chain = await blocking(request, run)
    context = study_page(request, summary, "audit")
    context |= {
        "events": events,
        "chain": chain,
        "event_types": dashboard.EVENT_TYPES,
        "unknown_type": event is not None and event not in dashboard.EVENT_TYPES,
        "as_json": lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True),
    }
    return render(request, "researcher/audit.html", context)
