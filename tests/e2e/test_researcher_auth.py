"""Logging in in Chromium: a set-password link, the form, TOTP enrolment and login, logout; axe."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
from playwright.sync_api import Page

from fieldvault.domain import accounts
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from tests.e2e.conftest import LiveServer
from tests.e2e.researcher_pages import log_in_as, serious_violations
from tests.researcher_web import PASSWORD


def test_a_set_password_link_leaves_the_address_bar_and_logs_in(
    page: Page, live_server: LiveServer, study_id: str
) -> None:
    with transaction(live_server.services.research) as session:
        _, code = accounts.add_researcher(
            session, "new@uni.example", study_id, Role.RESEARCHER, actor="test",
            now=live_server.clock.now,
        )  # fmt: skip
    assert code is not None
    page.goto(f"{live_server.url}/set-password/{code}")
    assert page.url == f"{live_server.url}/set-password" and code not in page.url
    assert serious_violations(page) == []
    page.fill("#password", "too short")
    page.fill("#confirm", "too short")
    page.evaluate("document.querySelector('#password').removeAttribute('minlength')")
    page.evaluate("document.querySelector('#confirm').removeAttribute('minlength')")
    page.click("form.stack button[type=submit]")
    assert page.locator("p.error[role=alert]").is_visible()
    assert serious_violations(page) == []
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/studies**")
    page.goto(f"{live_server.url}/account/second-factor")
    assert page.locator("#secret").is_visible()  # logged in


def test_totp_enrolment_and_a_login_with_a_code_then_logout(
    page: Page, live_server: LiveServer, study_id: str
) -> None:
    email = log_in_as(page, live_server, study_id, Role.OWNER)
    page.goto(f"{live_server.url}/login")
    assert serious_violations(page) == []
    page.goto(f"{live_server.url}/account/second-factor")
    assert serious_violations(page) == []
    secret = re.sub(r"\s", "", page.inner_text("#secret"))
    loaded = page.evaluate("document.querySelector('img.qr').naturalWidth")
    assert loaded > 0  # the QR code PNG loaded under the page's CSP
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.at(live_server.clock.now))
    page.click("form.stack button[type=submit]")
    assert page.locator("p[role=status]").is_visible()
    page.click("form.logout button[type=submit]")
    page.wait_for_url(f"{live_server.url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/login/code")
    assert serious_violations(page) == []
    live_server.clock.advance(dt.timedelta(seconds=30))  # the next step's code: no replays
    page.fill("#code", totp.at(live_server.clock.now))
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/studies**")
    page.goto(f"{live_server.url}/account/second-factor")
    assert page.locator("p[role=status]").is_visible()
    page.click("form.logout button[type=submit]")
    page.wait_for_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/account/second-factor")
    page.wait_for_url(f"{live_server.url}/login")
