"""Researcher login on the real aiohttp app: a session cookie, CSRF, logout, wrong passwords."""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest
from sqlalchemy import select

from fieldvault.domain import accounts
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from fieldvault.storage.models import ResearcherAccount
from fieldvault.storage.services import Services
from tests.researcher_serve import Clock, Scenario, serve
from tests.researcher_web import PASSWORD, add_member, csrf_of

from .conftest import NOW


def _serve(services: Services, scenario: Scenario) -> None:
    serve(services, Clock(NOW), scenario)


def test_a_researcher_logs_in_and_out_with_a_session_cookie(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get("/login") as page:
            token = csrf_of(await page.text())
        form = {"csrf": token, "email": email, "password": PASSWORD}
        async with http.post("/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 303
            cookie = answer.cookies["fv_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with http.post("/logout", data={"csrf": "forged"}, allow_redirects=False) as bad:
            assert bad.status == 403
        async with http.post("/logout", allow_redirects=False) as no_token:
            assert no_token.status == 403

    _serve(services, scenario)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        for who, password in ((email, "not the password"), ("nobody@uni.example", PASSWORD)):
            async with http.get("/login") as page:
                token = csrf_of(await page.text())
            form = {"csrf": token, "email": who, "password": password}
            async with http.post("/login", data=form, allow_redirects=False) as answer:
                assert answer.status == 401
                assert 'class="error" role="alert"' in await answer.text()
                assert "fv_session" not in answer.cookies

    _serve(services, scenario)


def test_a_page_that_needs_a_login_sends_a_stranger_to_the_login_form(
    services: Services,
) -> None:
    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.post("/logout", allow_redirects=False) as answer:
            assert answer.status == 401
        async with http.get("/", allow_redirects=False) as home:
            assert home.status == 303 and home.headers["Location"] == "/studies"

    _serve(services, scenario)


def test_a_passive_request_such_as_an_event_stream_does_not_keep_an_idle_session_alive(
    services: Services, study_id: str
) -> None:
    add_member(services, study_id, Role.RESEARCHER, NOW)
    minute, idle = dt.timedelta(minutes=1), accounts.SESSION_IDLE

    def new_session() -> str:
        with transaction(services.research) as session:
            account = session.scalars(select(ResearcherAccount)).one()
            return accounts.open_session(session, account, NOW)

    passive = new_session()
    with transaction(services.research) as session:  # the jobs stream reconnects by itself
        accounts.resolve_session(session, passive, NOW + idle - minute, touch=False)
    with transaction(services.research) as session, pytest.raises(accounts.SessionInvalid):
        accounts.resolve_session(session, passive, NOW + idle + minute)
    clicked = new_session()
    with transaction(services.research) as session:  # a page the researcher asks for counts
        accounts.resolve_session(session, clicked, NOW + idle - minute)
    with transaction(services.research) as session:
        accounts.resolve_session(session, clicked, NOW + idle + minute)
