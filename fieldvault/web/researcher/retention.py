"""The retention page: the deletion deadline, its reminders, extending it, the DPO's report.

Everyone in the study (the ``dpo`` included) sees the deadline and the report, which holds
codes and counts only; only the owner may extend, with a reason that the audit keeps.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from fieldvault.domain import dashboard, retention
from fieldvault.domain.permissions import Action
from fieldvault.errors import FieldvaultError
from fieldvault.storage.db import transaction
from fieldvault.web.consent.texts import gettext_for
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher.access import current, page
from fieldvault.web.researcher.pages import blocking, language, render
from fieldvault.web.researcher.studies import study_page

MAX_REASON = 2000
MAX_REFERENCE = 64


def setup(app: web.Application) -> None:
    """The retention page, its extension form and the report as JSON."""
    page(
        app, "GET", "/studies/{study}/retention", retention_page, name="r.retention",
        action=Action.VIEW_RETENTION,
    )  # fmt: skip
    page(
        app, "POST", "/studies/{study}/retention/extend", extend, name="r.retention.extend",
        action=Action.EXTEND_RETENTION,
    )  # fmt: skip
    page(
        app, "GET", "/studies/{study}/retention/report.json", report_json,
        name="r.retention.report", action=Action.VIEW_RETENTION,
    )  # fmt: skip


async def _context(
    request: web.Request, *, form: dict[str, str] | None = None, error: str | None = None
) -> dict[str, Any]:
    study_id, now = request.match_info["study"], request.app[CLOCK]()
    services = request.app[SERVICES]

    def run() -> tuple[
        dashboard.StudySummary, list[dashboard.ReminderRow], retention.StudyRetention
    ]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now)
            reminders = dashboard.reminder_schedule(session, study_id)
        return summary, reminders, retention.study_report(services, study_id)

    summary, reminders, report = await blocking(request, run)
    context = study_page(request, summary, "retention")
    return context | {
        "summary": summary,
        "reminders": reminders,
        "report": report,
        "can_extend": current(request).may(study_id, Action.EXTEND_RETENTION),
        "form": form or {},
        "error": error,
    }


async def retention_page(request: web.Request) -> web.StreamResponse:
    """Deadline (local and UTC), reminders, extensions, what was deleted, what is still held."""
    context = await _context(request)
    context["extended"] = request.query.get("extended") == "1"
    return render(request, "researcher/retention.html", context)


async def extend(request: web.Request) -> web.StreamResponse:
    """Move the processing end later with a reason; a refusal changes nothing and says why."""
    study_id, now = request.match_info["study"], request.app[CLOCK]()
    services, who = request.app[SERVICES], current(request)
    posted = await request.post()
    form = {k: str(posted.get(k, ""))[: MAX_REASON + 1] for k in ("new_end", "reason", "ref")}
    _ = gettext_for(language(request))
    error: str | None = None
    try:
        new_end = dt.date.fromisoformat(form["new_end"].strip())
    except ValueError:
        error = _("The new end date is not a date: write it as YYYY-MM-DD, e.g. 2021-12-31.")
    if error is None and not form["reason"].strip():
        error = _("Give the reason the data must be kept longer.")
    if error is None and len(form["reason"]) > MAX_REASON:
        error = _("The reason is too long: at most {n} characters.").format(n=MAX_REASON)
    if error is None and len(form["ref"]) > MAX_REFERENCE:
        error = _("The assessment reference is too long: at most {n} characters.").format(
            n=MAX_REFERENCE
        )
    if error is not None:
        context = await _context(request, form=form, error=error)
        return render(request, "researcher/retention.html", context, status=400)

    def run() -> None:
        with transaction(services.research) as session:
            retention.extend(
                session,
                study_id,
                new_end,
                reason=form["reason"],
                now=now,
                assessment_ref=form["ref"],
                actor=who.actor,
                limits=services.settings.study_limits,
            )

    try:
        await blocking(request, run)
    except FieldvaultError as exc:
        context = await _context(request, form=form, error=str(exc))
        return render(request, "researcher/retention.html", context, status=400)
    raise web.HTTPSeeOther(f"/studies/{study_id}/retention?extended=1")


async def report_json(request: web.Request) -> web.StreamResponse:
    """The DPO's report as JSON, as ``fieldvault retention report --json`` prints it."""
    study_id, services = request.match_info["study"], request.app[SERVICES]
    report = await blocking(request, lambda: retention.study_report(services, study_id))
    body = json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
    response = web.Response(text=body, content_type="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="retention-{study_id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response
