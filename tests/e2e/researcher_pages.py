"""Driving the researcher pages in Chromium: log in as a role; axe on every page (pages.py)."""

from __future__ import annotations

from playwright.sync_api import Page

from fieldvault.domain.permissions import Role
from tests.e2e.conftest import LiveServer
from tests.e2e.pages import serious_violations
from tests.researcher_web import PASSWORD, add_member

__all__ = ["log_in_as", "serious_violations"]


def log_in_as(page: Page, server: LiveServer, study_id: str, role: Role | str) -> str:
    """Give a new account ``role`` in ``study_id`` and log in through the form; its e-mail."""
    email = add_member(server.services, study_id, role, server.clock.now)
    page.goto(f"{server.url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{server.url}/studies**")
    return email
