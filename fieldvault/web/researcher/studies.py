"""The studies pages: the list, one study's overview, participants, invites, paper consent.

Also the study file's check and the audited reveal of a name; invites come with a QR code, a
poster and revocation, paper consent with the scan of the signed form.

Handlers parse, call the domain (``domain.dashboard`` reads, ``domain.consent`` and
``domain.reveal`` act) and render; the access middleware has already checked the login, the
membership, the role and the CSRF token. Every form works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import BodyPartReader, MultipartReader, web

from fieldvault.domain import consent, dashboard
from fieldvault.domain.permissions import Action
from fieldvault.domain.reveal import reveal_name
from fieldvault.errors import FieldvaultError
from fieldvault.storage.db import transaction
from fieldvault.storage.models import as_utc
from fieldvault.web.consent.texts import gettext_for
from fieldvault.web.invite_poster import (
    poster_pdf,
    qr_data_uri,
    qr_png,
    telegram_link,
    web_link,
)
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher.access import MULTIPART, PAGE_CSP_INLINE_IMAGES, current, page
from fieldvault.web.researcher.pages import blocking, language, render, study_context

MAX_INVITES_AT_ONCE = 50  # what one answer page shows, each with its QR code
MAX_INVITE_DAYS = 365
MAX_SCAN_BYTES = 32 * 1024**2  # a signed form of a few pages, scanned
MAX_FIELD_BYTES = 4096
MAX_PARTS = 64


def setup(app: web.Application) -> None:
    """The studies list and the pages of one study's participants and invites."""
    page(app, "GET", "/studies", studies_list, name="r.studies.list", action=None)
    page(
        app, "GET", "/studies/{study}", overview, name="r.studies.overview",
        action=Action.VIEW_STUDY,
    )  # fmt: skip
    page(
        app, "GET", "/studies/{study}/check", study_check, name="r.studies.check",
        action=Action.VIEW_STUDY,
    )  # fmt: skip
    page(
        app, "GET", "/studies/{study}/participants", participants,
        name="r.studies.participants", action=Action.VIEW_PARTICIPANTS,
    )  # fmt: skip
    page(
        app, "GET", "/studies/{study}/participants/{code}", participant,
        name="r.studies.participant", action=Action.VIEW_PARTICIPANTS,
    )  # fmt: skip
    page(
        app, "POST", "/studies/{study}/participants/{code}/reveal", reveal,
        name="r.studies.reveal", action=Action.REVEAL_IDENTITY,
    )  # fmt: skip
    page(
        app, "GET", "/studies/{study}/invites", invites, name="r.studies.invites",
        action=Action.MANAGE_INVITES,
    )  # fmt: skip
    page(
        app, "POST", "/studies/{study}/invites", create_invites,
        name="r.studies.invites.create", action=Action.MANAGE_INVITES,
    )  # fmt: skip
    page(
        app, "POST", "/studies/{study}/invites/qr.png", invite_qr,
        name="r.studies.invites.qr", action=Action.MANAGE_INVITES,
    )  # fmt: skip
    page(
        app, "POST", "/studies/{study}/invites/poster.pdf", invite_poster,
        name="r.studies.invites.poster", action=Action.MANAGE_INVITES,
    )  # fmt: skip
    page(
        app, "POST", "/studies/{study}/invites/{invite}/revoke", revoke_invite,
        name="r.studies.invites.revoke", action=Action.MANAGE_INVITES,
    )  # fmt: skip
    page(
        app, "GET", "/studies/{study}/paper-consent", paper_form,
        name="r.studies.paper", action=Action.REGISTER_PAPER_CONSENT,
    )  # fmt: skip
    page(
        app, "POST", "/studies/{study}/paper-consent", paper_submit,
        name="r.studies.paper.post", action=Action.REGISTER_PAPER_CONSENT,
    )  # fmt: skip


def page_number(request: web.Request) -> int:
    """``?page=`` as a number (1 when missing or not a number; the domain clamps it)."""
    raw = request.query.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def local_clock(timezone: str) -> Callable[[dt.datetime | None], str]:
    """A function that writes a UTC time as the study's local "YYYY-MM-DD HH:MM"."""
    zone = ZoneInfo(timezone)

    def when(moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        try:
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        except (OverflowError, ValueError):  # the clamped ends of the calendar
            return moment.isoformat()

    return when


def study_page(
    request: web.Request, summary: dashboard.StudySummary, section: str
) -> dict[str, Any]:
    """``study_context`` plus the study's summary and its local clock (``when``)."""
    context = study_context(request, summary.id, summary.title, section)
    return context | {"summary": summary, "when": local_clock(summary.timezone)}


def _ids(request: web.Request) -> tuple[str, dt.datetime]:
    return request.match_info["study"], request.app[CLOCK]()


# --- the list and the overview ------------------------------------------------------------


async def studies_list(request: web.Request) -> web.StreamResponse:
    """The studies the researcher belongs to, each with its phase and days to its deadline."""
    who, services, now = current(request), request.app[SERVICES], request.app[CLOCK]()

    def run() -> list[dashboard.StudySummary]:
        with transaction(services.research) as session:
            return dashboard.my_studies(session, who.roles, now)

    found = await blocking(request, run)
    return render(request, "researcher/studies.html", {"studies": found, "title": "fieldvault"})


async def overview(request: web.Request) -> web.StreamResponse:
    """A study's name, phase and deadline; counts for those who may see participants."""
    study_id, now = _ids(request)
    who, services = current(request), request.app[SERVICES]
    counted = who.may(study_id, Action.VIEW_PARTICIPANTS)

    def run() -> tuple[dashboard.StudySummary, dashboard.StudyCounts | None]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now, who.roles.get(study_id))
            counts = dashboard.study_counts(session, study_id, now) if counted else None
            return summary, counts

    summary, counts = await blocking(request, run)
    context = study_page(request, summary, "overview")
    context |= {"summary": summary, "counts": counts, "can": _can(request, study_id)}
    return render(request, "researcher/study.html", context)


def _can(request: web.Request, study_id: str) -> dict[str, bool]:
    """Which of this module's actions the researcher may take (to show only usable links)."""
    who = current(request)
    return {action.value: who.may(study_id, action) for action in Action}


async def study_check(request: web.Request) -> web.StreamResponse:
    """The stored study file checked again with today's limits, as ``fieldvault study check``."""
    study_id, now = _ids(request)
    services = request.app[SERVICES]

    def run() -> tuple[dashboard.StudySummary, dashboard.StudyCheck]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now)
            return summary, dashboard.check_study(session, study_id, services.settings.study_limits)

    summary, checked = await blocking(request, run)
    context = study_page(request, summary, "overview")
    return render(request, "researcher/study_check.html", context | {"check": checked})


# --- participants ---------------------------------------------------------------------------


async def participants(request: web.Request) -> web.StreamResponse:
    """A page of participants: code, pseudonym, state, consent per item, variables."""
    study_id, now = _ids(request)
    services, wanted = request.app[SERVICES], page_number(request)

    def run() -> tuple[dashboard.StudySummary, dashboard.ParticipantPage]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now)
            return summary, dashboard.participant_page(session, study_id, page=wanted)

    summary, found = await blocking(request, run)
    context = study_page(request, summary, "participants")
    context |= {"list": found, "can": _can(request, study_id)}
    return render(request, "researcher/participants.html", context)


async def _participant_context(
    request: web.Request, *, notice: str | None = None
) -> dict[str, Any]:
    study_id, now = _ids(request)
    code, services = request.match_info["code"], request.app[SERVICES]

    def run() -> tuple[dashboard.StudySummary, dashboard.ParticipantDetail]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now)
            return summary, dashboard.participant_detail(session, study_id, code)

    summary, detail = await blocking(request, run)
    context = study_page(request, summary, "participants")
    return context | {"p": detail, "can": _can(request, study_id), "notice": notice}


async def participant(request: web.Request) -> web.StreamResponse:
    """One participant: state, consent per item and its history, variables; never a name."""
    notice = "paper" if request.query.get("registered") == "paper" else None
    return render(
        request, "researcher/participant.html", await _participant_context(request, notice=notice)
    )


async def reveal(request: web.Request) -> web.StreamResponse:
    """Show the participant's real name once, on this answer page, after auditing the look-up."""
    study_id, now = _ids(request)
    code, services, who = request.match_info["code"], request.app[SERVICES], current(request)
    context = await _participant_context(request)

    def run() -> str | None:
        with transaction(services.research) as session:
            return reveal_name(session, services.vault, study_id, code, actor=who.actor, now=now)

    # The unit of work has committed (with its audit event) before the name reaches the page.
    name = await blocking(request, run)
    context |= {"revealed": True, "name": name}
    return render(request, "researcher/participant.html", context)


# --- invites --------------------------------------------------------------------------------


async def _invites_context(request: web.Request, wanted: int = 1) -> dict[str, Any]:
    study_id, now = _ids(request)
    services = request.app[SERVICES]

    def run() -> tuple[dashboard.StudySummary, dashboard.InvitePage]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now)
            return summary, dashboard.invite_page(session, study_id, now, page=wanted)

    summary, found = await blocking(request, run)
    context = study_page(request, summary, "participants")
    return context | {
        "invites": found,
        "max_count": MAX_INVITES_AT_ONCE,
        "max_days": MAX_INVITE_DAYS,
        "form": {"count": "1", "days": "30"},
        "error": None,
    }


async def invites(request: web.Request) -> web.StreamResponse:
    """The invites (never their codes: only hashes are kept), a form for new ones, revoke."""
    context = await _invites_context(request, page_number(request))
    context["revoked"] = request.query.get("revoked") == "1"
    return render(request, "researcher/invites.html", context)


def _bounded_int(value: object, low: int, high: int) -> int | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text.isdigit() or len(text) > 6:
        return None
    number = int(text)
    return number if low <= number <= high else None


async def create_invites(request: web.Request) -> web.StreamResponse:
    """Create invites; their links and QR codes are shown on this answer page only."""
    study_id, now = _ids(request)
    posted, services, who = await request.post(), request.app[SERVICES], current(request)
    _ = gettext_for(language(request))
    count = _bounded_int(posted.get("count"), 1, MAX_INVITES_AT_ONCE)
    days = _bounded_int(posted.get("days"), 1, MAX_INVITE_DAYS)
    if count is None or days is None:
        context = await _invites_context(request)
        context["form"] = {
            "count": str(posted.get("count", ""))[:8],
            "days": str(posted.get("days", ""))[:8],
        }
        context["error"] = _(
            "Give a number of invites from 1 to {count} and a number of days from 1 to {days}."
        ).format(count=MAX_INVITES_AT_ONCE, days=MAX_INVITE_DAYS)
        return render(request, "researcher/invites.html", context, status=400)
    expires_in = dt.timedelta(days=days)

    def run() -> tuple[dashboard.StudySummary, list[str]]:
        with transaction(services.research) as session:
            summary = dashboard.study_summary(session, study_id, now)
            codes = consent.create_invites(
                session, study_id, count, expires_in, now, actor=who.actor
            )
            return summary, codes

    summary, codes = await blocking(request, run)
    settings = services.settings
    made = []
    for code in codes:
        link = web_link(settings.public_base_url, code)
        made.append(
            {
                "code": code,
                "web": link,
                "telegram": telegram_link(settings.telegram_bot_username, code),
                "qr": qr_data_uri(link),
            }
        )
    context = study_page(request, summary, "participants")
    context |= {"made": made, "expires": (now + expires_in).date()}
    response = render(request, "researcher/invites_created.html", context)
    # The invite answer page shows its QR codes inline: nothing is fetched with a code in a URL.
    response.headers["Content-Security-Policy"] = PAGE_CSP_INLINE_IMAGES
    return response


async def _open_invite_code(request: web.Request) -> tuple[str, dashboard.StudySummary, dt.date]:
    """The posted invite code, checked to be an open invite of this study (else InviteError)."""
    study_id, now = _ids(request)
    posted, services = await request.post(), request.app[SERVICES]
    raw = posted.get("code")
    code = raw.strip() if isinstance(raw, str) else ""

    def run() -> tuple[dashboard.StudySummary, dt.date]:
        with transaction(services.research) as session:
            invite = consent.open_invite(session, study_id, code[:64], now)
            summary = dashboard.study_summary(session, study_id, now)
            return summary, as_utc(invite.expires_at).date()

    summary, expires = await blocking(request, run)
    return code, summary, expires


def _attachment(body: bytes, content_type: str, filename: str) -> web.Response:
    response = web.Response(body=body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


async def invite_qr(request: web.Request) -> web.StreamResponse:
    """The QR code of an open invite's web link, as a PNG to download (the code is posted)."""
    code, _summary, _expires = await _open_invite_code(request)
    link = web_link(request.app[SERVICES].settings.public_base_url, code)
    return _attachment(qr_png(link), "image/png", "invite-qr.png")


async def invite_poster(request: web.Request) -> web.StreamResponse:
    """A printable A4 poster of an open invite: QR code, both links, its last day."""
    code, summary, expires = await _open_invite_code(request)
    settings = request.app[SERVICES].settings
    body = poster_pdf(
        title=summary.title,
        web=web_link(settings.public_base_url, code),
        telegram=telegram_link(settings.telegram_bot_username, code),
        expires=expires,
        gettext=gettext_for(language(request)),
        created=request.app[CLOCK](),
    )
    return _attachment(body, "application/pdf", "invite-poster.pdf")


async def revoke_invite(request: web.Request) -> web.StreamResponse:
    """Revoke an unused invite; it is then refused like an unknown one."""
    study_id, now = _ids(request)
    services, who = request.app[SERVICES], current(request)
    raw = request.match_info["invite"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound()
    invite_id = int(raw)

    def run() -> None:
        with transaction(services.research) as session:
            consent.revoke_invite(session, study_id, invite_id, actor=who.actor, now=now)

    await blocking(request, run)
    raise web.HTTPSeeOther(f"/studies/{study_id}/invites?revoked=1")


# --- paper consent --------------------------------------------------------------------------


async def _paper_context(
    request: web.Request, form: dict[str, str], error: str | None
) -> dict[str, Any]:
    study_id, now = _ids(request)
    services = request.app[SERVICES]

    def run() -> tuple[dashboard.StudySummary, dashboard.PaperForm]:
        with transaction(services.research) as session:
            return dashboard.study_summary(session, study_id, now), dashboard.paper_form(
                session, study_id
            )

    summary, paper = await blocking(request, run)
    context = study_page(request, summary, "participants")
    return context | {"paper": paper, "form": form, "error": error, "max_mb": MAX_SCAN_BYTES >> 20}


async def paper_form(request: web.Request) -> web.StreamResponse:
    """The form for a consent given on paper: code, language, date, each item, the scan."""
    form = {"code": request.query.get("code", "")[:32]}
    context = await _paper_context(request, form, None)
    return render(request, "researcher/participant_paper.html", context)


class FormTooLarge(Exception):
    """A part of the paper-consent form is larger than it may be."""


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    """A part's bytes, at most ``limit`` (FormTooLarge past it), kept in memory only."""
    out = io.BytesIO()
    while chunk := await part.read_chunk(64 * 1024):
        if out.tell() + len(chunk) > limit:
            raise FormTooLarge()
        out.write(chunk)
    return out.getvalue()


async def _paper_parts(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    """The form's fields and the scan's bytes; never written to disk (it names the informant)."""
    reader: MultipartReader = request.get(MULTIPART) or await request.multipart()
    fields: dict[str, str] = {}
    scan: bytes | None = None
    for _count in range(MAX_PARTS):
        part = await reader.next()
        if part is None:
            return fields, scan
        if not isinstance(part, BodyPartReader) or not part.name:
            raise FormTooLarge()
        if part.name == "scan":
            scan = await _read_part(part, MAX_SCAN_BYTES)
        else:
            fields[part.name] = (await _read_part(part, MAX_FIELD_BYTES)).decode(
                "utf-8", errors="replace"
            )
    raise FormTooLarge()


async def paper_submit(request: web.Request) -> web.StreamResponse:
    """Register a paper consent; anything refused stores nothing and shows the form again."""
    study_id, now = _ids(request)
    services, who = request.app[SERVICES], current(request)
    _ = gettext_for(language(request))
    try:
        fields, scan = await _paper_parts(request)
    except FormTooLarge:
        too_large = _("The form or the scan is too large: a scan may have at most {mb} MB.")
        context = await _paper_context(request, {}, too_large.format(mb=MAX_SCAN_BYTES >> 20))
        return render(request, "researcher/participant_paper.html", context, status=413)
    form = {k: v[:64] for k, v in fields.items() if k != "csrf"}
    code = form.get("code", "").strip().upper()
    problem: str | None = None
    try:
        signed_on = dt.date.fromisoformat(form.get("signed_on", "").strip())
    except ValueError:
        problem = _("The date on the form is not a date: write it as YYYY-MM-DD, e.g. 2021-03-01.")
    if problem is None and not scan:
        problem = _("Choose the scanned, signed form (PDF, PNG, JPEG or TIFF).")
    if problem is not None:
        context = await _paper_context(request, form, problem)
        return render(request, "researcher/participant_paper.html", context, status=400)

    def run() -> None:
        paper = None
        with transaction(services.research) as session:
            paper = dashboard.paper_form(session, study_id)
        decisions = {
            item.id: form[f"item-{item.id}"] == "yes"
            for item in paper.items
            if form.get(f"item-{item.id}") in ("yes", "no")
        }
        consent.record_paper_consent(
            services,
            study_id=study_id,
            code=code,
            decisions=decisions,
            language=form.get("language", ""),
            signed_on=signed_on,
            researcher=who.actor,
            evidence=io.BytesIO(scan or b""),
            now=now,
        )

    try:
        await blocking(request, run)
    except FieldvaultError as exc:
        context = await _paper_context(request, form, str(exc))
        return render(request, "researcher/participant_paper.html", context, status=400)
    raise web.HTTPSeeOther(f"/studies/{study_id}/participants/{code}?registered=paper")
