"""The review editor in Chromium: play from a segment, edit, rename, a conflict, approve.

The study holds a real clip (``tests/data/interview_en.ogg``) taken in by ``accept_recording``
with a raw transcript stored as the job stores one and pseudonymised by the job's own function
(``tests/review_fixture.py``). The browser plays the decrypted recording through the ranged
audio route; every page is checked with axe.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from fieldvault.domain import speakers
from fieldvault.domain.permissions import Role
from fieldvault.domain.redaction import review
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent
from tests.review_fixture import reviewable

from .conftest import LiveServer
from .researcher_pages import log_in_as, serious_violations


def test_an_owner_reviews_plays_edits_renames_and_approves(
    page: Page, live_server: LiveServer, study_id: str, tmp_path: Path
) -> None:
    services, now = live_server.services, live_server.clock.now
    fixture = reviewable(services, study_id, now)
    items = review.review_items(services, study_id, fixture.code, now)
    workplace = next(i for i in items if i.original == "NAV Volda")
    own = next(i for i in items if i.original == "Kari Nordmann")
    phone = next(i for i in items if i.original == "912 34 567")
    log_in_as(page, live_server, study_id, Role.OWNER)

    page.goto(f"{live_server.url}/studies/{study_id}/transcripts?lang=en")
    assert serious_violations(page) == []
    page.click(f"a[href$='/transcripts/{fixture.transcript_id}']")
    expect(page.locator("h1")).to_contain_text(fixture.code)
    expect(page.locator("li.segment")).to_have_count(5)
    expect(page.locator("li.segment.suspect")).to_contain_text("low log-probability")
    assert serious_violations(page) == []

    # Click the fourth segment's text: the recording plays from 9 s on.
    page.locator("#seg-3 .line").click()
    page.wait_for_function("document.getElementById('player').currentTime >= 9.0")
    page.wait_for_function(
        "(() => { const p = document.getElementById('player'); const t = p.currentTime;"
        " return new Promise(r => setTimeout(() => r(p.currentTime > t), 400)); })()"
    )
    page.keyboard.press("Escape")  # pause: the shortcut works from anywhere
    expect(page.locator("#player")).to_have_js_property("paused", True)
    # Resuming goes back the chosen 2-5 s; the speed applies to the player.
    page.select_option("#rewind", "3")
    page.select_option("#speed", "1.5")
    expect(page.locator("#player")).to_have_js_property("playbackRate", 1.5)
    paused_at = page.evaluate("document.getElementById('player').currentTime")
    page.locator("#play").click()
    page.wait_for_function("!document.getElementById('player').paused")
    resumed_at = page.evaluate("document.getElementById('player').currentTime")
    assert paused_at - 3.5 < resumed_at < paused_at - 2.0
    page.keyboard.press("Escape")

    # Edit a replacement: autosaved (debounced), "saved" shown, the line updated.
    field = page.locator(f"#text-{workplace.number}")
    field.fill("[KONTOR]")
    expect(page.locator("#save-state")).to_have_text("All changes saved.")
    expect(page.locator("#seg-1 .line")).to_contain_text("[KONTOR]")
    expect(page.locator(f"#item-{workplace.number} .status")).to_have_text("edited")

    # Rename a speaker and make them the interviewer.
    form = page.locator("form.speaker-form[data-label='speaker-1']")
    form.locator("select[name=role]").select_option("interviewer")
    expect(page.locator("#save-state")).to_have_text("All changes saved.")
    form.locator("input[name=display]").fill("Forsker")
    expect(page.locator("#seg-0 .who")).to_have_text("Forsker")
    expect(page.locator("#save-state")).to_have_text("All changes saved.")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    # The README's screenshot of the editor is test_researcher_screenshots.py's; this one
    # checks the edited page renders (it goes to the test's own folder, never the tree).
    assert len(page.screenshot(path=str(tmp_path / "review-editor.png"))) > 10_000
    assert serious_violations(page) == []

    # Someone else saves while the page is open: the next autosave is refused, and says so.
    review.edit(services, study_id, fixture.code, own.number, "[INFORMANTEN]", now)
    page.locator(f"#text-{phone.number}").fill("[NUMMER]")
    expect(page.locator("#save-state")).to_contain_text("Someone else saved")
    assert serious_violations(page) == []
    page.reload()
    expect(page.locator(f"#text-{own.number}")).to_have_value("[INFORMANTEN]")
    expect(page.locator(f"#text-{phone.number}")).to_have_value(phone.placeholder)

    page.click("#approve")
    expect(page.locator("p.ok")).to_be_visible()
    expect(page.locator("form.item")).to_have_count(0)
    assert serious_violations(page) == []

    with transaction(services.research) as session:
        [approved] = session.scalars(
            select(AuditEvent).where(AuditEvent.event == audit.Event.TRANSCRIPT_APPROVED.value)
        ).all()
        assert approved.actor.startswith("researcher:")
        assert approved.details["edited"] == 2  # the browser's and the other reviewer's
        roles = {s.label: s for s in speakers.speakers_of(session, fixture.transcript_id)}
    assert roles["speaker-1"].role == "interviewer" and roles["speaker-1"].display == "Forsker"
