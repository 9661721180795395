"""Researcher accounts and logged-in HTTP clients for the researcher web app's tests."""

from __future__ import annotations

import datetime as dt
import re

import aiohttp

from fieldvault.domain import accounts
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_member(
    services: Services,
    study_id: str,
    role: Role | str,
    now: dt.datetime,
    *,
    email: str | None = None,
    password: str = PASSWORD,
) -> str:
    """An account with ``role`` in ``study_id`` and ``password`` set; returns its e-mail."""
    address = email or f"{role}@uni.example"
    with transaction(services.research) as session:
        _, code = accounts.add_researcher(session, address, study_id, role, actor="test", now=now)
        if code is not None:
            accounts.set_password(session, code, password, now)
    return address


def csrf_of(html: str) -> str:
    """The CSRF token of the first form in a page."""
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def log_in(http: aiohttp.ClientSession, email: str, password: str = PASSWORD) -> str:
    """Log ``http`` in through the login form; the CSRF token of the page it lands on.

    ``""`` when that page has no form (a test app whose pages answer something else).
    """
    async with http.get("/login") as page:
        token = csrf_of(await page.text())
    form = {"csrf": token, "email": email, "password": password}
    async with http.post("/login", data=form, allow_redirects=False) as answer:
        assert answer.status == 303, await answer.text()
    async with http.get("/studies") as landing:
        found = CSRF.search(await landing.text())
        return found.group(1) if landing.status == 200 and found else ""
