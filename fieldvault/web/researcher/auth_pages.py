"""Logging in and out with an e-mail and a password."""

from __future__ import annotations

from aiohttp import web

from fieldvault.domain import accounts
from fieldvault.domain.accounts import LoginFailed
from fieldvault.storage.db import transaction
from fieldvault.web.consent.security import CSRF_FIELD as ANON_CSRF_FIELD
from fieldvault.web.consent.security import csrf_ok
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher.access import SESSION_COOKIE, page
from fieldvault.web.researcher.pages import blocking, render


def setup(app: web.Application) -> None:
    """The login, logout and start routes."""
    page(app, "GET", "/", home, name="r.home", action=None, login=False)
    page(app, "GET", "/login", login_form, name="r.login", action=None, login=False)
    page(app, "POST", "/login", login, name="r.login.post", action=None, login=False)
    page(app, "POST", "/logout", logout, name="r.logout", action=None)


async def home(request: web.Request) -> web.StreamResponse:
    """The start page is the list of one's studies (``/login`` first when not logged in)."""
    raise web.HTTPSeeOther("/studies")


async def login_form(request: web.Request) -> web.StreamResponse:
    """The login form."""
    return render(request, "researcher/login.html")


def session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Secure over TLS, for this browser run."""
    response.set_cookie(
        SESSION_COOKIE, token, path="/", httponly=True, samesite="Strict", secure=request.secure
    )


async def login(request: web.Request) -> web.StreamResponse:
    """Check the e-mail and password; open a session and go to the studies."""
    posted = await request.post()
    if not csrf_ok(request, posted.get(ANON_CSRF_FIELD)):
        raise web.HTTPForbidden(text="the form is out of date: reload the page and try again")
    email, password = str(posted.get("email", "")), str(posted.get("password", ""))
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> str:
        with transaction(services.research) as session:
            account = accounts.authenticate(session, email, password, now)
            return accounts.open_session(session, account, now)

    try:
        token = await blocking(request, run)
    except LoginFailed:
        context = {"failed": True, "email": email[:254]}
        return render(request, "researcher/login.html", context, status=401)
    response = web.HTTPSeeOther("/studies")
    session_cookie(request, response, token)
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
