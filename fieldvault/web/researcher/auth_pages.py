"""Logging in and out: password, a TOTP second factor, set-password links, study login rules.

A login is two steps when the account has a second factor: the password opens a session that
is good only for entering the code (its cookie ``fv_login`` is scoped to ``/login``), and the
right code opens the real session (``fv_session``) under a new token. A set-password link's
code leaves the address bar at once: ``GET /set-password/{code}`` moves it into a short-lived
cookie scoped to ``/set-password`` and redirects to the form, so no history, log or
``Referer`` ever holds it.
"""

from __future__ import annotations

import io

import segno
from aiohttp import web

from fieldvault.domain import accounts, second_factor
from fieldvault.domain.accounts import AccountError, LinkInvalid, LoginFailed, SessionInvalid
from fieldvault.domain.permissions import Action
from fieldvault.domain.second_factor import CodeWrong, NotEnrolling
from fieldvault.domain.studies import get_study
from fieldvault.storage.db import transaction
from fieldvault.web.consent.security import CSRF_FIELD as ANON_CSRF_FIELD
from fieldvault.web.consent.security import client_address, csrf_ok
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher import oidc
from fieldvault.web.researcher.access import SESSION_COOKIE, current, page, page_headers
from fieldvault.web.researcher.login_guard import (
    DEVICE_COOKIE,
    LOGIN_COOKIE,
    LOGIN_GUARD,
    LoginGuard,
    logged_in,
)
from fieldvault.web.researcher.pages import blocking, render, study_context

LINK_COOKIE = "fv_link"  # a set-password link's code, moved out of the URL
LINK_COOKIE_SECONDS = 15 * 60
FORM_OUT_OF_DATE = "the form is out of date: reload the page and try again"


def setup(app: web.Application) -> None:
    """The login, second-factor, set-password, logout and study-security routes."""
    app[LOGIN_GUARD] = LoginGuard.from_content_key(app[SERVICES].keys.content.current)
    app.on_response_prepare.append(page_headers)
    page(app, "GET", "/", home, name="r.home", action=None, login=False)
    page(app, "GET", "/login", login_form, name="r.login", action=None, login=False)
    page(app, "POST", "/login", login, name="r.login.post", action=None, login=False)
    page(app, "GET", "/login/code", code_form, name="r.login.code", action=None, login=False)
    page(app, "POST", "/login/code", code, name="r.login.code.post", action=None, login=False)
    page(app, "POST", "/logout", logout, name="r.logout", action=None)
    page(
        app,
        "GET",
        "/set-password/{code}",
        set_password_link,
        name="r.set_password.link",
        action=None,
        login=False,
    )
    page(
        app, "GET", "/set-password", set_password_form, name="r.set_password", action=None,
        login=False,
    )  # fmt: skip
    page(
        app, "POST", "/set-password", set_password, name="r.set_password.post", action=None,
        login=False,
    )  # fmt: skip
    page(app, "GET", "/account/second-factor", enrol_form, name="r.totp", action=None)
    page(app, "POST", "/account/second-factor", enrol, name="r.totp.post", action=None)
    page(app, "GET", "/account/second-factor/qr.png", enrol_qr, name="r.totp.qr", action=None)
    page(
        app,
        "GET",
        "/studies/{study}/security",
        security_form,
        name="r.security",
        action=Action.MANAGE_SECURITY,
    )
    page(
        app,
        "POST",
        "/studies/{study}/security",
        security,
        name="r.security.post",
        action=Action.MANAGE_SECURITY,
    )
    oidc.setup(app)


async def home(request: web.Request) -> web.StreamResponse:
    """The start page is the list of one's studies (``/login`` first when not logged in)."""
    raise web.HTTPSeeOther("/studies")


def _login_page(request: web.Request, status: int = 200, **context: object) -> web.Response:
    settings = request.app[SERVICES].settings
    full = {"oidc_name": settings.oidc_name if oidc.configured(request.app) else None, **context}
    return render(request, "researcher/login.html", full, status=status)


async def login_form(request: web.Request) -> web.StreamResponse:
    """The login form."""
    return _login_page(request)


def _throttled(request: web.Request) -> web.Response:
    return _login_page(request, 429, throttled=True)


async def login(request: web.Request) -> web.StreamResponse:
    """Check the e-mail and password; open a session (or ask for the code) and go on."""
    posted = await request.post()
    if not csrf_ok(request, posted.get(ANON_CSRF_FIELD)):
        raise web.HTTPForbidden(text=FORM_OUT_OF_DATE)
    email, password = str(posted.get("email", ""))[:254], str(posted.get("password", ""))
    guard, address = request.app[LOGIN_GUARD], client_address(request)
    key, device = email.strip().lower(), request.cookies.get(DEVICE_COOKIE, "")
    if guard.blocked(address, key, device):
        return _throttled(request)
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> tuple[str, bool, str]:
        with transaction(services.research) as session:
            account = accounts.authenticate(session, email, password, now)
            token, waiting = accounts.begin_login(session, account, now)
            return token, waiting, account.email

    try:
        token, waiting, address_of = await blocking(request, run)
    except LoginFailed:
        guard.failed(address, key, device)
        return _login_page(request, 401, failed=True)
    target = "/login/code" if waiting else "/studies"
    raise logged_in(request, web.HTTPSeeOther(target), token, waiting, address_of)


async def code_form(request: web.Request) -> web.StreamResponse:
    """The second step of a login: the code from the authenticator app."""
    if not request.cookies.get(LOGIN_COOKIE):
        raise web.HTTPSeeOther("/login")
    return render(request, "researcher/login_code.html")


async def code(request: web.Request) -> web.StreamResponse:
    """Check the TOTP code of a login waiting for it; then open the real session."""
    posted = await request.post()
    if not csrf_ok(request, posted.get(ANON_CSRF_FIELD)):
        raise web.HTTPForbidden(text=FORM_OUT_OF_DATE)
    token, given = request.cookies.get(LOGIN_COOKIE, ""), str(posted.get("code", ""))
    guard, address = request.app[LOGIN_GUARD], client_address(request)
    device = request.cookies.get(DEVICE_COOKIE, "")
    services, now = request.app[SERVICES], request.app[CLOCK]()
    keys = services.keys.content

    def run() -> tuple[str | None, str]:
        with transaction(services.research) as session:
            account = accounts.awaiting_code(session, token, now)
            if guard.blocked(address, account.email, device):
                return None, account.email
            try:
                second_factor.check_code(session, keys, account.id, given, now)
            except CodeWrong:
                guard.failed(address, account.email, device)
                raise
            return accounts.finish_login(session, token, now), account.email

    try:
        full, email = await blocking(request, run)
    except SessionInvalid:
        return _login_page(request, 401, expired=True)
    except CodeWrong:
        return render(request, "researcher/login_code.html", {"failed": True}, status=401)
    if full is None:
        return _throttled(request)
    response = logged_in(request, web.HTTPSeeOther("/studies"), full, False, email)
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session and forget its cookie."""
    token = request.cookies.get(SESSION_COOKIE, "")
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> None:
        with transaction(services.research) as session:
            accounts.end_session(session, token, now)

    await blocking(request, run)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def set_password_link(request: web.Request) -> web.StreamResponse:
    """Move the link's code out of the address bar into a cookie, then show the form."""
    response = web.HTTPSeeOther("/set-password")
    response.set_cookie(
        LINK_COOKIE, request.match_info["code"][:128], path="/set-password",
        max_age=LINK_COOKIE_SECONDS, httponly=True, samesite="Strict", secure=request.secure,
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    raise response


def _set_password_page(request: web.Request, status: int = 200, **context: object) -> web.Response:
    full = {"least": accounts.MIN_PASSWORD, **context}
    response = render(request, "researcher/set_password.html", full, status=status)
    if context.get("invalid"):
        response.del_cookie(LINK_COOKIE, path="/set-password")
    return response


async def set_password_form(request: web.Request) -> web.StreamResponse:
    """The form that sets a password, or why the link no longer works."""
    code = request.cookies.get(LINK_COOKIE, "")
    # Opened from a mail client, the cookie may not come with this first, cross-site request
    # (SameSite=Strict); the form's POST from this page will carry it.
    if code:
        services, now = request.app[SERVICES], request.app[CLOCK]()

        def run() -> None:
            with transaction(services.research) as session:
                accounts.link_account(session, code, now)

        try:
            await blocking(request, run)
        except LinkInvalid:
            return _set_password_page(request, 400, invalid=True)
    return _set_password_page(request)


async def set_password(request: web.Request) -> web.StreamResponse:
    """Set the password through the link (used up with it) and log the researcher in."""
    posted = await request.post()
    if not csrf_ok(request, posted.get(ANON_CSRF_FIELD)):
        raise web.HTTPForbidden(text=FORM_OUT_OF_DATE)
    code = request.cookies.get(LINK_COOKIE, "")
    password, again = str(posted.get("password", "")), str(posted.get("confirm", ""))
    if not code:
        return _set_password_page(request, 400, invalid=True)
    if password != again:
        return _set_password_page(request, 400, problem="differ")
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> tuple[str, bool, str]:
        with transaction(services.research) as session:
            account = accounts.set_password(session, code, password, now)
            token, waiting = accounts.begin_login(session, account, now)
            return token, waiting, account.email

    try:
        token, waiting, email = await blocking(request, run)
    except LinkInvalid:
        return _set_password_page(request, 400, invalid=True)
    except AccountError as exc:
        problem = "short" if exc.code == "account.password_short" else "long"
        return _set_password_page(request, 400, problem=problem)
    response = web.HTTPSeeOther("/login/code" if waiting else "/studies")
    response.del_cookie(LINK_COOKIE, path="/set-password")
    raise logged_in(request, response, token, waiting, email)


async def enrol_form(request: web.Request) -> web.StreamResponse:
    """Enrol a second factor: a new secret as a QR code and as text (shown this once)."""
    who = current(request)
    if who.second_factor:
        return render(request, "researcher/second_factor.html", {"enrolled": True})
    services = request.app[SERVICES]

    def run() -> str:
        with transaction(services.research) as session:
            secret, _ = second_factor.start_enrolment(
                session, services.keys.content, who.account_id
            )
            return secret

    secret = await blocking(request, run)
    return render(request, "researcher/second_factor.html", {"secret": _grouped(secret)})


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


async def enrol(request: web.Request) -> web.StreamResponse:
    """Confirm the enrolment with a code from the new secret."""
    who = current(request)
    given = str((await request.post()).get("code", ""))
    services, now = request.app[SERVICES], request.app[CLOCK]()
    keys = services.keys.content

    def run() -> str | None:
        with transaction(services.research) as session:
            try:
                second_factor.confirm_enrolment(session, keys, who.account_id, given, now)
            except CodeWrong:
                return second_factor.enrolling(session, keys, who.account_id)[0]
            return None

    try:
        secret = await blocking(request, run)
    except NotEnrolling:
        raise web.HTTPSeeOther("/account/second-factor") from None
    if secret is not None:
        context = {"secret": _grouped(secret), "failed": True}
        return render(request, "researcher/second_factor.html", context, status=400)
    raise web.HTTPSeeOther("/account/second-factor")


async def enrol_qr(request: web.Request) -> web.StreamResponse:
    """The QR code (PNG) of the secret waiting to be confirmed; nothing once enrolled."""
    who = current(request)
    services = request.app[SERVICES]

    def run() -> bytes:
        with transaction(services.research) as session:
            _, uri = second_factor.enrolling(session, services.keys.content, who.account_id)
        buffer = io.BytesIO()
        segno.make(uri, error="m").save(buffer, kind="png", scale=6, border=4)
        return buffer.getvalue()

    try:
        png = await blocking(request, run)
    except NotEnrolling:
        raise web.HTTPNotFound() from None
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


async def security_form(request: web.Request) -> web.StreamResponse:
    """The study's login requirements (its owner's page)."""
    study_id = request.match_info["study"]
    services = request.app[SERVICES]

    def run() -> tuple[str, bool]:
        with transaction(services.research) as session:
            study = get_study(session, study_id)
            return study.title, second_factor.second_factor_required(session, study_id)

    title, required = await blocking(request, run)
    context = study_context(request, study_id, title, "overview")
    context["required"] = required
    return render(request, "researcher/study_security.html", context)


async def security(request: web.Request) -> web.StreamResponse:
    """Require (or not) a second factor of every member of the study."""
    study_id = request.match_info["study"]
    required = (await request.post()).get("require") == "yes"
    who, services, now = current(request), request.app[SERVICES], request.app[CLOCK]()

    def run() -> None:
        with transaction(services.research) as session:
            second_factor.require_second_factor(
                session, study_id, required, actor=who.actor, now=now
            )

    await blocking(request, run)
    raise web.HTTPSeeOther(f"/studies/{study_id}/security")
