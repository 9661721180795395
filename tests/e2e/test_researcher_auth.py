"""Logging in in Chromium: a set-password link, the form, TOTP, OIDC, logout; axe on each page.

The OIDC stand-in answers as ``localhost`` while the app is ``127.0.0.1``: two sites, as a real
provider and fieldvault are, so the SameSite rules of the flow's cookies are really exercised.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page

from fieldvault.compose import build_web_app
from fieldvault.config.settings import Settings, load_settings
from fieldvault.domain import accounts
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services
from tests.e2e.conftest import LiveServer, MovableClock
from tests.e2e.researcher_pages import log_in_as, serious_violations
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider
from tests.researcher_serve import free_socket, in_thread
from tests.researcher_web import PASSWORD, add_member


@pytest.fixture
def app_socket() -> Iterator[socket.socket]:
    sock = free_socket()
    yield sock
    sock.close()


@pytest.fixture
def provider(clock: MovableClock) -> Iterator[FakeProvider]:
    fake = FakeProvider(
        user={"email": "oidc@uni.example", "email_verified": True},
        clock=lambda: clock.now.timestamp(),
    )
    with in_thread(fake.app()) as port:
        fake.issuer = f"http://localhost:{port}"
        yield fake


@pytest.fixture
def settings(
    tmp_path: Path,
    research_url: str,
    vault_url: str,
    app_socket: socket.socket,
    provider: FakeProvider,
) -> Settings:
    """This module's settings: OIDC login through the stand-in provider."""
    return load_settings(
        environ={},
        data_dir=tmp_path / "data",
        database_url=research_url,
        vault_url=vault_url,
        public_base_url=f"http://127.0.0.1:{app_socket.getsockname()[1]}",
        oidc_discovery_url=f"{provider.issuer}/.well-known/openid-configuration",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )


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
    # The owner requires a second factor for the study, and is sent to enrol at once.
    page.goto(f"{live_server.url}/studies/{study_id}/security")
    assert serious_violations(page) == []
    page.check("#require-yes")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/account/second-factor")
    assert serious_violations(page) == []
    secret = re.sub(r"\s", "", page.inner_text("#secret"))
    loaded = page.evaluate("document.querySelector('img.qr').naturalWidth")
    assert loaded > 0  # the QR code PNG loaded under the page's CSP
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.at(live_server.clock.now))
    page.click("form.stack button[type=submit]")
    assert page.locator("p[role=status]").is_visible()
    page.goto(f"{live_server.url}/studies/{study_id}/security")  # enrolled: the page opens
    assert page.is_checked("#require-yes")
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


def test_an_oidc_login_through_the_provider_then_logout(
    page: Page,
    services: Services,
    settings: Settings,
    clock: MovableClock,
    app_socket: socket.socket,
    study_id: str,
) -> None:
    add_member(services, study_id, Role.SUPERVISOR, clock.now, email="oidc@uni.example")
    app = build_web_app(services, dispatch=lambda: None, clock=clock)
    with in_thread(app, app_socket):
        base = settings.public_base_url
        page.goto(f"{base}/login")
        assert serious_violations(page) == []
        page.click("#oidc")
        page.wait_for_url(f"{base}/studies**")  # provider → callback → the landing page moves on
        page.goto(f"{base}/account/second-factor")
        assert page.locator("#secret").is_visible()  # logged in, the session cookie came along
        page.click("form.logout button[type=submit]")
        page.wait_for_url(f"{base}/login")
