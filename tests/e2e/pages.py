"""Driving the informant pages as a person does (clicks and the keyboard), and checking each.

Selectors are the pages' structure (ids, names, values), never their words, so one helper
serves nb, nn and en; the words are checked against the catalogs (``gettext_for``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Response

from fieldvault.web.consent.texts import gettext_for

NARROWEST = 320  # px: WCAG 1.4.10 reflow; the page must not scroll sideways
SCREENSHOT_WIDTH = 375
_axe = Axe()


@dataclass(frozen=True)
class Answers:
    """Yes/no per consent item id."""

    recording: bool = True
    publication: bool = False

    def by_item(self) -> dict[str, bool]:
        return {"interview-recording": self.recording, "identifiable-publication": self.publication}


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious or critical WCAG violations on the page as it is now."""
    results = _axe.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            targets = [n.get("target") for n in violation.get("nodes", [])][:3]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def horizontal_overflow(page: Page) -> int:
    """How many px the page is wider than 320 px when shown 320 px wide (0: none)."""
    size = page.viewport_size or {"width": SCREENSHOT_WIDTH, "height": 800}
    page.set_viewport_size({"width": NARROWEST, "height": size["height"]})
    try:
        width = int(page.evaluate("document.scrollingElement.scrollWidth"))
    finally:
        page.set_viewport_size(size)
    return max(0, width - NARROWEST)


class Checked:
    """Every page the test sees is checked: one <h1>, <main>, its language, axe, 320 px."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.seen: list[str] = []

    def check(self, what: str, lang: str | None = None) -> None:
        page = self.page
        self.seen.append(what)
        if page.locator("h1").count() != 1:
            self.problems.append(f"{what}: {page.locator('h1').count()} <h1>")
        if page.locator("main").count() != 1:
            self.problems.append(f"{what}: no single <main>")
        shown = page.get_attribute("html", "lang")
        if lang is not None and shown != lang:
            self.problems.append(f"{what}: <html lang={shown}>, expected {lang}")
        self.problems += [f"{what}: {v}" for v in serious_violations(page)]
        overflow = horizontal_overflow(page)
        if overflow:
            self.problems.append(f"{what}: {overflow} px wider than {NARROWEST} px")

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


def h1(page: Page) -> str:
    return " ".join(page.locator("h1").inner_text().split())


def assert_h1(page: Page, lang: str, message: str) -> None:
    """The page's heading is ``message`` in ``lang`` (translated, for nb and nn)."""
    expected = gettext_for(lang)(message)
    if lang != "en":
        assert expected != message, f"{message!r} has no {lang} translation"
    assert h1(page) == " ".join(expected.split())


def press_submit(page: Page, form: str = "main form") -> None:
    """Submit a form from the keyboard: focus its button, press Enter."""
    button = page.locator(f"{form} button[type=submit]").first
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")


def choose_by_keyboard(page: Page, radio_id: str) -> None:
    """Select a radio button from the keyboard: focus it, press Space."""
    radio = page.locator(f"#{radio_id}")
    radio.focus()
    page.keyboard.press("Space")
    assert radio.is_checked()


def token_of(url: str) -> str:
    found = re.search(r"/p/([A-Za-z0-9_-]+)", url)
    assert found, url
    return found.group(1)


def go(page: Page, url: str) -> Response:
    response = page.goto(url)
    assert response is not None
    return response


def consent_in_browser(
    page: Page,
    base: str,
    invite: str,
    lang: str,
    answers: Answers,
    checked: Checked | None = None,
) -> str:
    """The whole flow from the invite link to the receipt; return the personal page's URL."""
    check = checked.check if checked else (lambda what, lang=None: None)
    go(page, f"{base}/join/{invite}")
    check("join")
    # Language: a click on its label, then Continue from the keyboard.
    page.locator(f"label[for=lang-{lang}]").click()
    assert page.locator(f"#lang-{lang}").is_checked()
    press_submit(page)
    assert re.search(r"/p/[A-Za-z0-9_-]{43,}/letter$", page.url), page.url
    assert_h1(page, lang, "Information about the study")
    check("letter", lang)
    # Continue to the questions: a link, followed with the keyboard.
    page.locator("main a[href$='/items']").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_h1(page, lang, "Your answers")
    # Nothing ticked in advance.
    assert page.locator("main input[type=radio]:checked").count() == 0
    check("items", lang)
    for item, yes in answers.by_item().items():
        choice = f"{item}-{'yes' if yes else 'no'}"
        if item == "interview-recording":
            page.locator(f"label[for={choice}]").click()
        else:
            choose_by_keyboard(page, choice)
    press_submit(page)
    assert_h1(page, lang, "Check your answers")
    check("confirm", lang)
    press_submit(page)
    assert page.url.endswith("/receipt"), page.url
    assert_h1(page, lang, "Your receipt")
    check("receipt", lang)
    token = token_of(page.url)
    # The link to save is shown once, whole (on the configured public address).
    assert page.locator("#link").input_value().endswith(f"/p/{token}")
    return f"{base}/p/{token}"
