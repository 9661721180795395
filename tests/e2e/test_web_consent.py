"""Issue 14 in a real browser: an informant consents, comes back, takes a copy and withdraws.

Each test drives Debian's Chromium against the real web app (clicks and the keyboard only, no
JavaScript of the page's own) and checks what the pages did against the stored records:
letter versions against ``letter_versions``, receipts re-rendered from the record, the audit
chain, and the data folder and both databases after a withdrawal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select, update

from fieldvault.config.study import parse_study
from fieldvault.domain import consent, receipts, rights
from fieldvault.domain.participants import get_participant
from fieldvault.domain.personal_links import token_hash
from fieldvault.domain.study_updates import update_study
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import ConsentRecord, LetterVersion, Participant, PersonalLink
from fieldvault.storage.vault import Identity
from tests.integration.test_retention import (
    SPOKEN,
    assert_copies_unreadable,
    remaining_keys,
    scan_for,
    scan_tables,
    snapshot,
)

from .conftest import LiveServer, example_still_running, make_invites
from .pages import (
    SCREENSHOT_WIDTH,
    Answers,
    Checked,
    assert_h1,
    choose_by_keyboard,
    consent_in_browser,
    go,
    press_submit,
    token_of,
)

SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "web-consent-375.png"
SCREENSHOT_LIMIT = 200 * 1024
WHO = Identity(
    name="Ingeborg Vestrheim", email="ingeborg.vestrheim@eksempel.no", phone="+47 41 52 63 74"
)


def participant_of_token(live: LiveServer, token: str) -> tuple[str, str]:
    """(study id, participant code) of a personal page."""
    with transaction(live.services.research) as session:
        link = session.scalar(
            select(PersonalLink).where(PersonalLink.token_hash == token_hash(token))
        )
        assert link is not None
        person = session.get(Participant, link.participant_id)
        assert person is not None
        return person.study_id, person.code


def web_records(live: LiveServer, code: str, study_id: str) -> list[ConsentRecord]:
    with transaction(live.services.research) as session:
        person = get_participant(session, study_id, code)
        rows = list(
            session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.participant_id == person.id)
                .order_by(ConsentRecord.id)
            )
        )
        for row in rows:
            _ = [d.granted for d in row.decisions]  # loaded before the session ends
        session.expunge_all()
        return rows


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_the_whole_flow_in_each_language(
    page: Page, context: BrowserContext, live_server: LiveServer, study_id: str, lang: str
) -> None:
    [invite] = make_invites(live_server.services, study_id)
    checked = Checked(page)
    personal = consent_in_browser(
        page, live_server.url, invite, lang, Answers(recording=True, publication=False), checked
    )
    token = token_of(personal)
    sid, code = participant_of_token(live_server, token)

    # One consent record, over the web, in this language; the informant's answers exactly.
    [record] = web_records(live_server, code, sid)
    assert (record.kind, record.channel, record.language) == ("consent", "web", lang)
    assert {d.item_id: d.granted for d in record.decisions} == Answers().by_item()
    # The letter version on the receipt is the SHA-256 of the stored letter text.
    shown_version = page.locator("main dd code.hash").inner_text().strip()
    with transaction(live_server.services.research) as session:
        letter = session.get(LetterVersion, (sid, record.letter_version))
        assert letter is not None and letter.language == lang
        assert hashlib.sha256(letter.text.encode("utf-8")).hexdigest() == record.letter_version
        assert shown_version == record.letter_version
        # Re-rendering the receipt from the stored record gives the same text and hash.
        again = receipts.receipt(session, get_participant(session, sid, code))
    assert page.locator("#receipt-sha256").inner_text().strip() == again.sha256
    assert code in page.locator("main").inner_text()
    pdf = context.request.get(f"{personal}/receipt.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")

    # The personal page: status and deletion dates, in the same language, checked as well.
    go(page, personal)
    assert_h1(page, lang, "Your page in the study")
    assert "2199" in page.locator("main").inner_text()  # the processing end, far ahead
    checked.check("personal", lang)
    copy = context.request.get(f"{personal}/copy")
    assert copy.ok
    # The same file as the bot's /copy: the rights domain's copy, byte for byte.
    with transaction(live_server.services.research) as session:
        person = get_participant(session, sid, code)
        expected = rights.data_copy(
            session, live_server.services.vault, person, live_server.clock()
        )
    assert copy.body() == expected.as_json()
    assert json.loads(copy.body())["participant_code"] == code
    checked.assert_clean()
    assert checked.seen == ["join", "letter", "items", "confirm", "receipt", "personal"]


def test_a_screenshot_at_375_px_for_the_readme(
    page: Page, live_server: LiveServer, study_id: str, tmp_path: Path
) -> None:
    """The README's screenshot: rendered in every run, written to docs/ only when asked.

    ``FIELDVAULT_UPDATE_SCREENSHOTS=1`` replaces docs/screenshots/web-consent-375.png, so that
    a plain test run never changes the tree.
    """
    [invite] = make_invites(live_server.services, study_id)
    assert (page.viewport_size or {})["width"] == SCREENSHOT_WIDTH
    go(page, f"{live_server.url}/join/{invite}")
    page.locator("label[for=lang-en]").click()
    press_submit(page)
    go(page, page.url.removesuffix("/letter") + "/items")
    page.locator("label[for=interview-recording-yes]").click()
    shot = page.screenshot(full_page=False, type="png")
    assert shot.startswith(b"\x89PNG") and 0 < len(shot) < SCREENSHOT_LIMIT
    if os.environ.get("FIELDVAULT_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(shot)
    assert 0 < SCREENSHOT.stat().st_size < SCREENSHOT_LIMIT, "the README's screenshot"


def test_refusing_a_required_item_declines_and_records_that(
    page: Page, live_server: LiveServer, study_id: str
) -> None:
    [invite] = make_invites(live_server.services, study_id)
    checked = Checked(page)
    go(page, f"{live_server.url}/join/{invite}")
    page.locator("label[for=lang-en]").click()
    press_submit(page)
    go(page, page.url.removesuffix("/letter") + "/items")
    # Sending with nothing answered records nothing and says which are missing.
    press_submit(page)
    assert page.locator("[role=alert]").count() == 1
    assert page.locator("fieldset.error").count() == 2
    checked.check("items, unanswered", "en")
    token = token_of(page.url)
    sid, code = participant_of_token(live_server, token)
    assert web_records(live_server, code, sid) == []

    choose_by_keyboard(page, "interview-recording-no")
    choose_by_keyboard(page, "identifiable-publication-yes")
    press_submit(page)
    assert_h1(page, "en", "Check your answers")
    assert page.locator("main p.alert").count() == 1  # "you decline"
    checked.check("confirm, declining", "en")
    press_submit(page)
    assert page.url.endswith("/receipt")
    checked.check("receipt, declined", "en")
    [record] = web_records(live_server, code, sid)
    assert {d.item_id: d.granted for d in record.decisions}["interview-recording"] is False
    with transaction(live_server.services.research) as session:
        person = get_participant(session, sid, code)
        assert person.state == "declined"
        assert not consent.may_hold_recording(session, person)
    checked.assert_clean()


def test_a_used_invite_an_expired_one_and_a_forged_one_are_refused(
    browser: Browser, page: Page, live_server: LiveServer, study_id: str
) -> None:
    used, expired = make_invites(live_server.services, study_id, 2)
    checked = Checked(page)
    # A second browser has the same invite open, then the first one uses it.
    other = browser.new_context(viewport={"width": 375, "height": 800})
    try:
        late = other.new_page()
        go(late, f"{live_server.url}/join/{used}")
        go(page, f"{live_server.url}/join/{used}")
        page.locator("label[for=lang-nb]").click()
        press_submit(page)
        assert "/letter" in page.url
        late.locator("label[for=lang-en]").click()
        press_submit(late)
        assert_h1(late, "en", "This invitation has already been used.")
        assert "/p/" not in late.url
    finally:
        other.close()
    # Opened again later: the same refusal, and a page that passes the checks.
    response = go(page, f"{live_server.url}/join/{used}")
    assert response.status == 410
    checked.check("invite used")
    with transaction(live_server.services.research) as session:
        assert len(list(session.scalars(select(Participant)))) == 1

    live_server.clock.advance(dt.timedelta(days=8))
    response = go(page, f"{live_server.url}/join/{expired}?lang=en")
    assert response.status == 410
    assert_h1(page, "en", "This invitation has expired.")
    response = go(page, f"{live_server.url}/join/{secrets.token_urlsafe(16)}?lang=en")
    assert response.status == 404
    assert_h1(page, "en", "This invitation is not valid.")
    checked.check("invite unknown", "en")
    with transaction(live_server.services.research) as session:
        assert len(list(session.scalars(select(Participant)))) == 1
    checked.assert_clean()


def test_a_forged_and_a_revoked_personal_link_both_say_not_found_and_reveal_nothing(
    page: Page, context: BrowserContext, live_server: LiveServer, study_id: str
) -> None:
    [invite] = make_invites(live_server.services, study_id)
    personal = consent_in_browser(page, live_server.url, invite, "en", Answers())
    token = token_of(personal)
    sid, code = participant_of_token(live_server, token)
    forged = secrets.token_urlsafe(32)

    def answers(for_token: str) -> list[str]:
        shown = []
        for suffix in ("", "/letter", "/items", "/receipt", "/receipt.pdf", "/copy"):
            response = go(page, f"{live_server.url}/p/{for_token}{suffix}?lang=en")
            assert response.status == 404, suffix
            assert response.headers["referrer-policy"] == "no-referrer"
            assert_h1(page, "en", "This page does not exist")
            shown.append(page.content())
        return shown

    checked = Checked(page)
    forged_pages = answers(forged)
    checked.check("not found", "en")
    with transaction(live_server.services.research) as session:
        session.execute(
            update(PersonalLink)
            .where(PersonalLink.token_hash == token_hash(token))
            .values(revoked_at=live_server.clock())
        )
    revoked_pages = answers(token)
    # The same page for both: nothing tells a revoked link from a guess.
    assert revoked_pages == forged_pages
    for html in revoked_pages:
        assert code not in html and token not in html and "nav-veileder" not in html
    # A form posted to a revoked page changes nothing either.
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "fv_csrf")
    refused = context.request.post(
        f"{personal}/withdraw", form={"csrf": csrf, "scope": "all"}, max_redirects=0
    )
    assert refused.status == 404
    assert [r.kind for r in web_records(live_server, code, sid)] == ["consent"]
    checked.assert_clean()


def test_withdrawal_from_the_personal_page_destroys_the_identity_and_keeps_the_audit_chain(
    page: Page, context: BrowserContext, live_server: LiveServer, study_id: str
) -> None:
    services = live_server.services
    [invite] = make_invites(services, study_id)
    personal = consent_in_browser(
        page, live_server.url, invite, "en", Answers(recording=True, publication=True)
    )
    sid, code = participant_of_token(live_server, token_of(personal))
    # The researcher links a name and contact details to the code, as `participants` does,
    # and the interview's recording and raw transcript are stored (encrypted).
    services.vault.put(sid, code, WHO, live_server.clock())
    with transaction(services.research) as session:
        person = get_participant(session, sid, code)
        for kind in ("recording", "raw_transcript"):
            services.content.put(
                session,
                study_id=sid,
                participant_id=person.id,
                participant_code=code,
                kind=kind,
                source=io.BytesIO(f"{kind}: {SPOKEN} ({WHO.name})".encode()),
                now=live_server.clock(),
            )
        consent.transition(person, consent.State.INTERVIEWED, live_server.clock())
    copies = snapshot(services, sid)
    assert len(copies) == 2
    needles = [WHO.name or "", WHO.email or "", WHO.phone or "", SPOKEN]
    assert scan_tables(services, needles) == []  # sealed in the vault, never in the clear
    assert services.vault.get(sid, code) == WHO
    checked = Checked(page)

    # Change an optional item, from the keyboard.
    go(page, personal)
    choose_by_keyboard(page, "c-identifiable-publication-no")
    press_submit(page, "form[action$='/change']")
    assert page.locator("[role=status]").count() == 1
    checked.check("personal, saved", "en")
    with transaction(services.research) as session:
        state = consent.current_consent(session, get_participant(session, sid, code))
        assert dict(state.items) == {"interview-recording": True, "identifiable-publication": False}

    # Withdraw everything: choose, continue, confirm (two steps).
    choose_by_keyboard(page, "w-all")
    press_submit(page, "form[action$='/withdraw']")
    assert_h1(page, "en", "Withdraw?")
    checked.check("withdraw, confirm", "en")
    assert services.vault.get(sid, code) == WHO  # nothing happened yet
    press_submit(page, "form[action$='/withdraw/confirm']")
    assert_h1(page, "en", "You have withdrawn from the study")
    checked.check("withdrawn", "en")
    destroyed = page.locator("main ul").inner_text()
    assert destroyed.count(": 1") == 2, destroyed  # the recording and the raw transcript

    # Destroyed at once: the identity is gone from the vault, the data folder and every row.
    assert services.vault.get(sid, code) is None
    assert scan_for(services.settings.data_dir, needles) == []
    assert scan_tables(services, needles) == []
    # Crypto-shredded: no key left opens any copy of the ciphertext taken before.
    assert remaining_keys(services) == []
    assert_copies_unreadable(services, copies)
    kinds = [r.kind for r in web_records(live_server, code, sid)]
    assert kinds[0] == "consent" and kinds[-1] == "withdrawal"
    with transaction(services.research) as session:
        verified = audit.verify(session)
        assert verified.ok, verified.reason
        assert get_participant(session, sid, code).state == "withdrawn"

    # Back on the personal page: withdrawn, and nothing left to withdraw.
    go(page, personal)
    assert page.locator("form[action$='/withdraw']").count() == 0
    checked.check("personal, withdrawn", "en")
    checked.assert_clean()


def test_privacy_one_cookie_no_third_party_requests_csrf_and_a_recovery_code(
    browser: Browser, page: Page, context: BrowserContext, live_server: LiveServer, study_id: str
) -> None:
    [invite] = make_invites(live_server.services, study_id)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    personal = consent_in_browser(page, live_server.url, invite, "en", Answers())
    recovery = page.locator("#recovery-code").inner_text().strip()
    sid, code = participant_of_token(live_server, token_of(personal))
    checked = Checked(page)

    # Nothing but the app itself was asked for (no fonts, scripts or images from elsewhere).
    assert requested and all(u.startswith(f"{live_server.url}/") for u in requested), requested
    # One cookie: the CSRF one, HttpOnly and SameSite=Strict.
    [cookie] = context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == ("fv_csrf", True, "Strict")
    response = go(page, personal)
    headers = response.headers
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    # A form without the CSRF field, or with another value, is refused and changes nothing.
    for form in ({"scope": "all"}, {"scope": "all", "csrf": secrets.token_urlsafe(32)}):
        refused = context.request.post(f"{personal}/withdraw/confirm", form=form, max_redirects=0)
        assert refused.status == 403
    assert [r.kind for r in web_records(live_server, code, sid)] == ["consent"]

    # The Telegram link for the same participation (the bot's own test redeems it).
    press_submit(page, "form[action$='/telegram']")
    assert page.locator("main a[href^='https://t.me/']").count() == 1
    checked.check("telegram", "en")

    # The link is lost: the recovery code, typed in another browser, opens a new one.
    other = browser.new_context(viewport={"width": 375, "height": 800})
    try:
        lost = other.new_page()
        go(lost, f"{live_server.url}/recover?lang=en")
        assert_h1(lost, "en", "Find your page again")
        wrong = Checked(lost)
        wrong.check("recover", "en")
        lost.locator("#code").focus()
        lost.keyboard.type("WRONGCODE")
        with lost.expect_navigation():
            lost.keyboard.press("Enter")
        assert lost.locator("[role=alert]").count() == 1
        wrong.check("recover, wrong code", "en")
        lost.locator("#code").fill("")
        lost.locator("#code").focus()
        lost.keyboard.type(recovery)
        with lost.expect_navigation():
            lost.keyboard.press("Enter")
        assert_h1(lost, "en", "Your page in the study")
        assert token_of(lost.url) != token_of(personal)
        assert code in lost.locator("main").inner_text()
        wrong.assert_clean()
    finally:
        other.close()
    # The old link stops working.
    assert go(page, personal).status == 404
    checked.assert_clean()


def test_a_changed_letter_is_read_and_consented_to_again_in_the_browser(
    page: Page, live_server: LiveServer, study_id: str, tmp_path: Path
) -> None:
    services = live_server.services
    [invite] = make_invites(services, study_id)
    personal = consent_in_browser(page, live_server.url, invite, "nb", Answers())
    sid, code = participant_of_token(live_server, token_of(personal))
    [first] = web_records(live_server, code, sid)
    # The researcher changes the letter (`fieldvault study update` with a new text).
    text = example_still_running(tmp_path).read_text(encoding="utf-8")
    first_line = parse_study(text).letter_text("nb").splitlines()[0]
    changed = text.replace(first_line, first_line + " (revidert)", 1)
    with transaction(services.research) as session:
        update_study(session, parse_study(changed), changed, live_server.clock())

    checked = Checked(page)
    go(page, personal)
    assert page.locator("form[action$='/change']").count() == 0  # the new letter comes first
    checked.check("personal, letter changed", "nb")
    page.locator("main section.alert a[href$='/letter']").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "(revidert)" in page.locator("main .letter").inner_text()
    page.locator("main a[href$='/items']").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    choose_by_keyboard(page, "interview-recording-yes")
    choose_by_keyboard(page, "identifiable-publication-no")
    press_submit(page)
    press_submit(page)
    assert page.url.endswith("/receipt")
    checked.check("receipt, new letter", "nb")

    first_again, second = web_records(live_server, code, sid)
    assert first_again.letter_version == first.letter_version != second.letter_version
    with transaction(services.research) as session:
        letter = session.get(LetterVersion, (sid, second.letter_version))
        assert letter is not None and "(revidert)" in letter.text
        assert hashlib.sha256(letter.text.encode("utf-8")).hexdigest() == second.letter_version
        person = get_participant(session, sid, code)
        assert not consent.needs_reconsent(session, person)
        assert receipts.receipt(session, person).sha256 == (
            page.locator("#receipt-sha256").inner_text().strip()
        )
    checked.assert_clean()
