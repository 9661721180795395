"""What every researcher page shares: rendering in the chosen language, blocking work, errors.

The language is ``?lang=`` (then remembered in the ``fv_lang`` cookie), else that cookie, else
the browser's. Failures on researcher routes are HTML pages that name no code, token or
identity; the log gets the route name and the exception's type only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web

from fieldvault.config.languages import LANGUAGE_NAMES, LANGUAGES
from fieldvault.domain.errors import DomainError
from fieldvault.domain.permissions import Action
from fieldvault.errors import NotFoundError
from fieldvault.web.consent.pages import browser_language
from fieldvault.web.consent.security import csrf_token, route_name, set_csrf_cookie
from fieldvault.web.consent.texts import gettext_for
from fieldvault.web.keys import EXECUTOR
from fieldvault.web.researcher.access import (
    CSRF_FIELD,
    RESEARCHER,
    SESSION_CSRF,
    Handler,
    rule_of,
)

log = logging.getLogger("fieldvault.web.researcher")
T = TypeVar("T")

LANG_COOKIE = "fv_lang"
LANG_CHOSEN = web.RequestKey("fv_lang_chosen", str)


def language(request: web.Request) -> str:
    """The page's language: ``?lang=``, the ``fv_lang`` cookie, the browser's, nb."""
    wanted = request.query.get("lang", "")
    if wanted in LANGUAGES:
        request[LANG_CHOSEN] = wanted
        return wanted
    cookie = request.cookies.get(LANG_COOKIE, "")
    return cookie if cookie in LANGUAGES else browser_language(request)


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """Render a researcher page: texts in the page's language, the CSRF token, who is in."""
    lang = language(request)
    who = request.get(RESEARCHER)
    # Logged in: the session's CSRF secret; on /login and /set-password: the double-submit one.
    csrf = request.get(SESSION_CSRF) or csrf_token(request)
    full = {
        "_": gettext_for(lang),
        "lang": lang,
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "csrf": csrf,
        "csrf_field": CSRF_FIELD,
        "researcher": who,
        "path": request.path,
        "title": "fieldvault",
        "study": None,
        **(context or {}),
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    if request.get(SESSION_CSRF) is None:
        set_csrf_cookie(request, response)
    chosen = request.get(LANG_CHOSEN)
    if chosen:
        response.set_cookie(
            LANG_COOKIE, chosen, path="/", samesite="Strict", httponly=True, secure=request.secure
        )
    response.headers["Cache-Control"] = "no-store"
    return response


async def blocking(request: web.Request, fn: Callable[[], T]) -> T:
    """Run ``fn`` (domain work, which blocks) in the app's executor."""
    return await request.app[EXECUTOR].run(fn)


# The study tabs (templates/researcher/study_base.html) and the action each one needs.
SECTIONS: dict[str, Action] = {
    "overview": Action.VIEW_STUDY,
    "participants": Action.VIEW_PARTICIPANTS,
    "upload": Action.UPLOAD,
    "jobs": Action.VIEW_JOBS,
    "transcripts": Action.REVIEW,
    "exports": Action.EXPORT,
    "retention": Action.VIEW_RETENTION,
    "audit": Action.VIEW_AUDIT,
}


def study_context(request: web.Request, study_id: str, title: str, section: str) -> dict[str, Any]:
    """What a page of one study gives ``study_base.html``: the study, the tab, allowed tabs."""
    who = request[RESEARCHER]
    allowed = [name for name, action in SECTIONS.items() if who.may(study_id, action)]
    return {
        "study": {"id": study_id, "title": title},
        "section": section,
        "allowed_sections": allowed,
        "title": title,
    }


ERROR_PAGES = {404: "researcher/not_found.html", 403: "researcher/forbidden.html"}


@web.middleware
async def researcher_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTML error pages on researcher routes (the API keeps its JSON answers)."""
    rule = rule_of(request)
    if rule is None:
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or request.path.endswith("/events"):
            raise
        page = ERROR_PAGES.get(exc.status, "researcher/error.html")
        return render(request, page, {"status": exc.status, "reason": exc.text}, status=exc.status)
    except NotFoundError as exc:
        return render(request, ERROR_PAGES[404], {"status": 404, "message": str(exc)}, status=404)
    except DomainError as exc:
        # A domain error says what is wrong in words and never holds an identity.
        context = {"status": 400, "message": str(exc)}
        return render(request, "researcher/error.html", context, status=400)
    except Exception as exc:
        log.error("%s %s failed: %s", request.method, route_name(request), type(exc).__name__)
        return render(request, "researcher/error.html", {"status": 500}, status=500)
