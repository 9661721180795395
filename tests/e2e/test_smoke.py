"""The browser fixtures work: Chromium reaches the real app on its free port."""

from __future__ import annotations

import json

from playwright.sync_api import Page

from .conftest import LiveServer, make_invites


def test_chromium_reaches_the_live_app(page: Page, live_server: LiveServer, study_id: str) -> None:
    response = page.goto(f"{live_server.url}/api/health")
    assert response is not None and response.status == 200
    spec = page.goto(f"{live_server.url}/api/openapi.json")
    assert spec is not None and spec.ok
    assert "paths" in json.loads(spec.text())
    assert len(make_invites(live_server.services, study_id, 2)) == 2
