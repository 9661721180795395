"""What every informant page shares: answers, rendering, the middleware, the /p page state.

Each handler reads the form, runs the domain in a worker thread (one unit of work, or a
``Services`` use case that opens its own) and renders a template. Failures are pages
(``PageAnswer``), never JSON, and name no code or token. The handlers are in ``flow.py``
(/join, the letter, items, confirmation, the receipt) and ``personal.py`` (the personal page).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.orm import Session

from fieldvault.config.languages import LANGUAGE_NAMES, LANGUAGES
from fieldvault.config.study import StudyDefinition
from fieldvault.domain import consent, personal_links
from fieldvault.domain.personal_links import PersonalLinkNotFound
from fieldvault.domain.states import HOLDS_CONSENT, State
from fieldvault.domain.studies import load_definition
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Participant, PersonalLink, as_utc
from fieldvault.storage.services import Services
from fieldvault.web.consent.security import (
    CSRF_FIELD,
    PRIVATE_PREFIXES,
    Throttle,
    client_address,
    csrf_ok,
    csrf_token,
    route_name,
    set_csrf_cookie,
)
from fieldvault.web.consent.texts import _, gettext_for
from fieldvault.web.keys import CLOCK, EXECUTOR, SERVICES

log = logging.getLogger("fieldvault.web.consent")
T = TypeVar("T")

THROTTLE = web.AppKey("consent_throttle", Throttle)

YES, NO = "yes", "no"


class GoTo(Exception):
    """Inside a page's unit of work: commit it, then redirect (303) to ``location``."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PageAnswer(Exception):
    """Answer the request with ``template`` (an error page, or a form shown again)."""

    def __init__(
        self, template: str, status: int, lang: str, context: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(template)
        self.template, self.status, self.lang = template, status, lang
        self.context = dict(context or {})


def browser_language(request: web.Request) -> str:
    """The language a page without a study's choice is shown in: ``?lang=``, the browser's, nb."""
    wanted = request.query.get("lang", "")
    if wanted in LANGUAGES:
        return wanted
    header = request.headers.get("Accept-Language", "").lower()
    for code in (part.split(";")[0].strip() for part in header.split(",")):
        base = code.split("-")[0]
        if base == "nn":
            return "nn"
        if base in {"nb", "no"}:
            return "nb"
        if base == "en":
            return "en"
    return "nb"


def render(
    request: web.Request,
    template: str,
    lang: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """Render ``template`` in ``lang`` with the CSRF token and the page's texts."""
    full = {
        "_": gettext_for(lang),
        "lang": lang,
        "csrf": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "language_names": LANGUAGE_NAMES,
        "path": request.path,
        "title": "fieldvault",
        "languages": (),
        **(context or {}),
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    set_csrf_cookie(request, response)
    return response


@web.middleware
async def pages_middleware(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Pages for refusals and failures on /join and /p; logs the route name only."""
    if not request.path.startswith(PRIVATE_PREFIXES):
        return await handler(request)
    try:
        return await handler(request)
    except PageAnswer as answer:
        return render(request, answer.template, answer.lang, answer.context, status=answer.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        page = "not_found.html" if exc.status == 404 else "error.html"
        return render(request, page, browser_language(request), status=exc.status)
    except Exception as exc:
        log.error("%s %s failed: %s", request.method, route_name(request), type(exc).__name__)
        return render(request, "error.html", browser_language(request), status=500)


async def blocking(request: web.Request, fn: Callable[[], T]) -> T:
    """Run ``fn`` in the app's executor (the domain blocks) and return its result."""
    return await request.app[EXECUTOR].run(fn)


def throttle(request: web.Request) -> None:
    """Refuse the request with the 429 page while its client address is throttled."""
    if request.app[THROTTLE].blocked(client_address(request)):
        raise PageAnswer("throttled.html", 429, browser_language(request))


def failed(request: web.Request) -> None:
    """Count a failed guess (invite, link, recovery code) against the client address."""
    request.app[THROTTLE].failed(client_address(request))


async def form(request: web.Request) -> Mapping[str, str]:
    """The POSTed form, refused with 403 unless its ``csrf`` equals the cookie."""
    posted = await request.post()
    if not csrf_ok(request, posted.get(CSRF_FIELD)):
        raise PageAnswer("forbidden.html", 403, browser_language(request))
    return {k: v for k, v in posted.items() if isinstance(v, str)}


def local(moment: dt.datetime, timezone: str) -> str:
    """``moment`` in the study's time zone, to the minute, with the zone's abbreviation."""
    return as_utc(moment).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def utc(moment: dt.datetime) -> str:
    """``moment`` in UTC, to the second."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- /p/{token}: the page's state ----------------------------------------------------------


@dataclass
class Ctx:
    """One /p request's unit of work: the link, its participant, the study, the language."""

    session: Session
    services: Services
    link: PersonalLink
    participant: Participant
    definition: StudyDefinition
    lang: str
    now: dt.datetime
    switched: bool = False

    @property
    def state(self) -> State:
        """The participant's state."""
        return State(self.participant.state)

    @property
    def holds_consent(self) -> bool:
        """Whether the participant holds a consent now."""
        return self.state in HOLDS_CONSENT


def _language(request: web.Request, session: Session, ctx: Ctx) -> None:
    """The page's language: ``?lang=`` (remembered), the link's, the consent's, the default."""
    languages = ctx.definition.languages
    wanted = request.query.get("lang", "")
    if wanted in languages:
        ctx.switched = wanted != ctx.link.language
        personal_links.set_language(ctx.link, wanted)
        ctx.lang = wanted
        return
    for candidate in (
        ctx.link.language,
        consent.current_consent(session, ctx.participant).language,
    ):
        if candidate in languages:
            ctx.lang = str(candidate)
            return
    ctx.lang = ctx.definition.default_language


async def on_page(request: web.Request, work: Callable[[Ctx], T]) -> T:
    """Run ``work`` in one unit of work on the page of the URL's token, or answer 404."""
    throttle(request)
    services, now, token = request.app[SERVICES], request.app[CLOCK](), request.match_info["token"]

    def run() -> T:
        with transaction(services.research) as session:
            link = personal_links.resolve(session, token)
            participant = personal_links.participant_of(session, link)
            definition = load_definition(session, link.study_id)
            ctx = Ctx(session, services, link, participant, definition, "", now)
            _language(request, session, ctx)
            try:
                return work(ctx)
            except GoTo as go:
                redirect = go  # what the work changed is committed first
        raise web.HTTPSeeOther(redirect.location)

    try:
        return await blocking(request, run)
    except PersonalLinkNotFound:
        failed(request)
        raise PageAnswer("not_found.html", 404, browser_language(request)) from None


def base(request: web.Request, ctx: Ctx) -> dict[str, Any]:
    """What every /p page's template gets: the study's title and languages, the page's URL."""
    return {
        "title": ctx.definition.title,
        "languages": ctx.definition.languages,
        "page": f"/p/{request.match_info['token']}",
        "path": request.path,
    }


# Texts the views choose between (the templates hold the rest).
INVITE_REASONS = {
    "invite.unknown": _("This invitation is not valid."),
    "invite.used": _("This invitation has already been used."),
    "invite.expired": _("This invitation has expired."),
}
STATE_NAMES = {
    State.INVITED: _("Invited: you have not answered yet."),
    State.INFORMED: _("You have read the letter but not answered yet."),
    State.CONSENTED: _("You take part: your consent is recorded."),
    State.DECLINED: _("You declined: you do not take part."),
    State.WITHDRAWN: _("You have withdrawn from the study."),
    State.INTERVIEWED: _("You take part: your interview is recorded."),
    State.TRANSCRIBED: _("You take part: your interview is transcribed."),
    State.APPROVED: _("You take part: your transcript is approved."),
}
KIND_NAMES = {
    "recording": _("recordings"),
    "raw_transcript": _("raw transcripts"),
    "redaction_map": _("redaction maps"),
}


def template_globals() -> dict[str, Any]:
    """Names every template may use."""
    return {
        "invite_reasons": INVITE_REASONS,
        "state_names": {k.value: v for k, v in STATE_NAMES.items()},
        "kind_names": KIND_NAMES,
    }
