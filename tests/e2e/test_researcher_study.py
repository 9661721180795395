"""A study's pages in Chromium: the owner's whole walk, and what a DPO may and may not open.

Each page the walk reaches is checked with axe-core (no serious or critical violation). The
owner goes studies → study → participants → a participant → reveal → invites (QR shown, PNG
and PDF downloaded) → revoke → paper consent → retention (extend) → audit (filter).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from fieldvault.domain import consent
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from fieldvault.storage.vault import Identity
from tests.e2e.conftest import NOW, LiveServer
from tests.e2e.researcher_pages import log_in_as, serious_violations

NAME = "Liv Testesen-Nordby"
OTHER = "Per Papirsen"


def _consented(server: LiveServer, study_id: str) -> str:
    services = server.services
    code = register_participant(services, study_id, Identity(name=NAME), {"kontor": "A"}, NOW)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "nb", NOW)
        consent.record_consent(
            session,
            person,
            {"interview-recording": True, "identifiable-publication": False},
            language="nb",
            channel="web",
            letter_delivered_at=NOW,
            now=NOW,
        )
    return code


def _clean(page: Page, what: str) -> None:
    assert page.locator("h1").count() == 1, what
    assert serious_violations(page) == [], what


def test_the_owner_walks_every_page_of_a_study(
    page: Page, live_server: LiveServer, study_id: str, tmp_path: Path
) -> None:
    url = live_server.url
    code = _consented(live_server, study_id)
    paper = register_participant(live_server.services, study_id, Identity(name=OTHER), {}, NOW)
    log_in_as(page, live_server, study_id, Role.OWNER)
    _clean(page, "studies")

    page.click(f"a[href='/studies/{study_id}']")
    page.wait_for_url(f"{url}/studies/{study_id}")
    _clean(page, "overview")

    page.click(f"main a[href='/studies/{study_id}/participants']")
    page.wait_for_url(f"{url}/studies/{study_id}/participants")
    assert page.locator(f"text={code}").count() == 1
    assert NAME not in page.content()
    _clean(page, "participants")

    page.click(f"a[href='/studies/{study_id}/participants/{code}']")
    _clean(page, "participant")
    assert NAME not in page.content()
    page.click("#reveal")
    page.wait_for_selector(".revealed")
    assert page.inner_text(".revealed") == NAME
    assert NAME not in page.url
    _clean(page, "reveal")

    page.goto(f"{url}/studies/{study_id}/invites")
    _clean(page, "invites")
    page.fill("#count", "1")
    page.fill("#days", "7")
    page.click("#create-invites")
    page.wait_for_selector("img.qr")
    loaded = page.eval_on_selector("img.qr", "img => img.complete && img.naturalWidth > 0")
    assert loaded, "the QR code did not load"
    _clean(page, "invites created")
    with page.expect_download() as png:
        page.click("form[action$='/invites/qr.png'] button")
    assert Path(png.value.path()).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with page.expect_download() as pdf:
        page.click("form[action$='/invites/poster.pdf'] button")
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")

    page.goto(f"{url}/studies/{study_id}/invites")
    page.click("form[action$='/revoke'] button")
    page.wait_for_url(f"{url}/studies/{study_id}/invites?revoked=1")
    assert page.locator("form[action$='/revoke']").count() == 0
    _clean(page, "revoked")

    scan = tmp_path / "skjema.pdf"
    scan.write_bytes(b"%PDF-1.4\n% a signed form\n%%EOF\n")
    page.goto(f"{url}/studies/{study_id}/paper-consent?code={paper}")
    _clean(page, "paper consent")
    page.fill("#signed_on", "2021-02-27")
    page.check("#item-interview-recording-yes")
    page.check("#item-identifiable-publication-no")
    page.set_input_files("#scan", str(scan))
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url(f"{url}/studies/{study_id}/participants/{paper}?registered=paper")
    _clean(page, "paper consent registered")
    with transaction(live_server.services.research) as session:
        assert get_participant(session, study_id, paper).state == "consented"

    page.goto(f"{url}/studies/{study_id}/retention")
    _clean(page, "retention")
    page.fill("#new_end", "2199-12-31")
    page.fill("#reason", "Sikt approved a longer follow-up")
    page.click("#extend")
    page.wait_for_url(f"{url}/studies/{study_id}/retention?extended=1")
    assert "2199-12-31" in page.content()
    _clean(page, "retention extended")

    page.goto(f"{url}/studies/{study_id}/audit")
    assert page.locator("#chain-verdict.ok").count() == 1
    _clean(page, "audit")
    page.select_option("#type", "identity.revealed")
    page.click("#filter")
    page.wait_for_url("**type=identity.revealed**")
    assert page.locator("tbody tr").count() == 1
    assert NAME not in page.content()
    _clean(page, "audit filtered")


def test_a_dpo_reaches_retention_and_audit_but_no_content_page(
    page: Page, live_server: LiveServer, study_id: str
) -> None:
    url = live_server.url
    code = _consented(live_server, study_id)
    log_in_as(page, live_server, study_id, Role.DPO)
    page.goto(f"{url}/studies/{study_id}")
    assert page.locator(f"main a[href='/studies/{study_id}/participants']").count() == 0
    _clean(page, "dpo overview")
    for path in (
        f"/studies/{study_id}/participants",
        f"/studies/{study_id}/participants/{code}",
        f"/studies/{study_id}/invites",
        f"/studies/{study_id}/paper-consent",
    ):
        answer = page.goto(url + path)
        assert answer is not None and answer.status == 403, path
        assert NAME not in page.content()
    _clean(page, "dpo refused")
    for path in (f"/studies/{study_id}/retention", f"/studies/{study_id}/audit"):
        answer = page.goto(url + path)
        assert answer is not None and answer.status == 200, path
        assert page.locator("#extend").count() == 0
        _clean(page, path)
