"""The informant web page on a real aiohttp server (no browser), over SQLite and PostgreSQL.

The browser tests (Playwright, axe) are in tests/e2e; these drive the same forms with an HTTP
client: the whole flow in each language, refusals, CSRF, the personal page and withdrawal, the
receipt's hashes against ``letter_versions``, and the privacy headers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from yarl import URL

from fieldvault.config.study import parse_study
from fieldvault.domain import chat_links, consent, receipts
from fieldvault.domain.consent import State
from fieldvault.domain.study_updates import update_study
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    ConsentRecord,
    Invite,
    LetterVersion,
    Participant,
    PersonalLink,
)
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity
from fieldvault.web.app import create_app
from fieldvault.web.consent.security import AccessLogger, Throttle
from fieldvault.web.consent.texts import gettext_for
from fieldvault.web.receipt_pdf import receipt_lines
from tests.catalogs import marked_texts, untranslated

from .conftest import EXAMPLE, NOW, change_the_letter

ROOT = Path(__file__).parents[2]
Scenario = Callable[[aiohttp.ClientSession], Awaitable[None]]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ITEMS = ("interview-recording", "identifiable-publication")
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _serve(services: Services, scenario: Scenario, **options: Any) -> None:
    async def main() -> None:
        app = create_app(services, clock=lambda: NOW, **options)
        runner = web.AppRunner(app, access_log_class=AccessLogger)  # as server.run_web
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base = URL.build(scheme="http", host=host, port=port)
        try:
            jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
            async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
                await scenario(http)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def _invite(services: Services, study_id: str) -> str:
    with transaction(services.research) as session:
        return consent.create_invites(session, study_id, 1, dt.timedelta(days=7), NOW)[0]


async def _get(http: aiohttp.ClientSession, path: str, status: int = 200) -> str:
    async with http.get(path, allow_redirects=False) as response:
        text = await response.text()
        assert response.status == status, (path, response.status, text[:500])
        for name, value in HEADERS.items():
            assert response.headers[name] == value
        return text


async def _post(
    http: aiohttp.ClientSession,
    path: str,
    page: str,
    data: dict[str, str],
    status: int = 303,
    csrf: bool = True,
) -> tuple[str, str]:
    """POST ``data`` with the CSRF field of ``page``; return (body, Location)."""
    form = dict(data)
    if csrf:
        form["csrf"] = CSRF.search(page).group(1)  # type: ignore[union-attr]
    async with http.post(path, data=form, allow_redirects=False) as response:
        text = await response.text()
        assert response.status == status, (path, response.status, text[:800])
        return text, response.headers.get("Location", "")


def _answers(granted: dict[str, bool]) -> dict[str, str]:
    return {f"item-{k}": "yes" if v else "no" for k, v in granted.items()}


async def _flow(
    http: aiohttp.ClientSession, invite: str, lang: str, granted: dict[str, bool]
) -> tuple[str, str]:
    """Invite → language → letter → items → confirm → record; return (token page, receipt)."""
    join = await _get(http, f"/join/{invite}?lang={lang}")
    assert f'<html lang="{lang}">' in join and "<main" in join
    _, letter_url = await _post(http, f"/join/{invite}", join, {"lang": lang})
    assert re.fullmatch(r"/p/[A-Za-z0-9_-]{43}/letter", letter_url)
    page = letter_url.removesuffix("/letter")
    letter = await _get(http, letter_url)
    assert "Datatilsynet" in letter and "personvernombud@example.no" in letter
    items = await _get(http, f"{page}/items")
    assert "checked" not in items and items.count("<fieldset") == len(ITEMS)
    confirm, _ = await _post(http, f"{page}/confirm", items, _answers(granted), status=200)
    _, receipt_url = await _post(
        http, f"{page}/confirm", confirm, {**_answers(granted), "record": "1"}
    )
    assert receipt_url == f"{page}/receipt"
    return page, await _get(http, receipt_url)


def _participants(services: Services) -> list[Participant]:
    with transaction(services.research) as session:
        rows = list(session.scalars(select(Participant)))
        session.expunge_all()
        return rows


def _audit_ok(services: Services) -> bool:
    with transaction(services.research) as session:
        return audit.verify(session).ok


def _count(services: Services, model: type) -> int:
    with transaction(services.research) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _consent_on_the_web(
    services: Services, study_id: str, lang: str, answers: dict[str, bool]
) -> None:
    """One informant through the whole web flow with ``answers``, on a server of its own."""
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        await _flow(http, invite, lang, answers)

    _serve(services, scenario)


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_the_whole_flow_records_a_web_consent_and_a_receipt_that_proves_the_letter(
    services: Services, study_id: str, lang: str
) -> None:
    invite = _invite(services, study_id)
    granted = {"interview-recording": True, "identifiable-publication": False}

    async def scenario(http: aiohttp.ClientSession) -> None:
        page, receipt = await _flow(http, invite, lang, granted)
        assert "Save this link" in receipt or lang != "en"
        pdf_response = await http.get(f"{page}/receipt.pdf")
        assert pdf_response.status == 200
        assert (await pdf_response.read()).startswith(b"%PDF")
        personal = await _get(http, page)
        assert "2021-06-30" in personal
        async with http.get(f"{page}/copy") as response:
            copy = json.loads(await response.read())
        assert copy["consent_history"][0]["channel"] == "web"
        shown = re.search(r'id="receipt-sha256">([0-9a-f]{64})<', receipt)
        assert shown is not None
        with transaction(services.research) as session:
            participant = session.scalars(select(Participant)).one()
            made = receipts.receipt(session, participant)
            assert made.sha256 == shown.group(1)
            # Built again from the stored record: the same text and hash.
            again = receipts.receipt(session, participant)
            assert again.text() == made.text() and again.sha256 == made.sha256
            letter = session.get(LetterVersion, (study_id, made.letter_version))
            assert letter is not None and letter.language == lang
            assert hashlib.sha256(letter.text.encode()).hexdigest() == made.letter_version
            assert made.letter_version in receipt
            assert participant.code in made.text() and "Haugland" not in made.text()

    _serve(services, scenario)
    (participant,) = _participants(services)
    assert participant.state == State.CONSENTED.value
    with transaction(services.research) as session:
        record = session.scalars(select(ConsentRecord)).one()
        assert (record.channel, record.language) == ("web", lang)
        assert {d.item_id: d.granted for d in record.decisions} == granted
        assert record.letter_delivered_at is not None
    assert _audit_ok(services)


def test_receipt_text_lists_exact_item_texts_and_pdf_lines(
    services: Services, study_id: str
) -> None:
    _consent_on_the_web(services, study_id, "nn", dict.fromkeys(ITEMS, True))
    with transaction(services.research) as session:
        participant = session.scalars(select(Participant)).one()
        made = receipts.receipt(session, participant)
    assert (
        "  Eg vil vere med på eit intervju, og eg godtek at samtalen blir teken opp med lyd.\n"
        in (made.text())
    )
    lines = [text for _kind, text in receipt_lines(made, gettext_for("nn"))]
    assert made.sha256 in lines and made.letter_version in lines


def test_refusing_a_required_item_declines_and_says_so(services: Services, study_id: str) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        _, receipt = await _flow(
            http, invite, "en", {"interview-recording": False, "identifiable-publication": True}
        )
        assert "You declined: you do not take part." in receipt

    _serve(services, scenario)
    (participant,) = _participants(services)
    assert participant.state == State.DECLINED.value


def test_an_unanswered_item_shows_the_page_again_and_stores_nothing(
    services: Services, study_id: str
) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        join = await _get(http, f"/join/{invite}")
        _, letter_url = await _post(http, f"/join/{invite}", join, {"lang": "en"})
        page = letter_url.removesuffix("/letter")
        await _get(http, letter_url)
        items = await _get(http, f"{page}/items")
        again, _ = await _post(
            http,
            f"{page}/confirm",
            items,
            {"item-interview-recording": "yes", "record": "1"},
            status=400,
        )
        assert "Please answer yes or no." in again and 'role="alert"' in again

    _serve(services, scenario)
    assert _count(services, ConsentRecord) == 0


def test_a_used_or_unknown_invite_is_a_clear_page_and_stores_nothing(
    services: Services, study_id: str
) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        # Opening the link (as a link previewer does) does not use the invite.
        join = await _get(http, f"/join/{invite}")
        await _get(http, f"/join/{invite}")
        await _post(http, f"/join/{invite}", join, {"lang": "nb"})
        used = await _get(http, f"/join/{invite}?lang=en", status=410)
        assert "already been used" in used and "Ask the researcher" in used
        await _post(http, f"/join/{invite}", join, {"lang": "nb"}, status=410)
        unknown = await _get(http, "/join/not-a-real-invite-code-at-all?lang=en", status=404)
        assert "This invitation is not valid." in unknown

    _serve(services, scenario)
    assert len(_participants(services)) == 1 and _count(services, PersonalLink) == 1


def test_a_forged_personal_link_is_not_found_and_reveals_nothing(
    services: Services, study_id: str
) -> None:
    async def scenario(http: aiohttp.ClientSession) -> None:
        forged = "A" * 43
        for path in (f"/p/{forged}", f"/p/{forged}/letter", f"/p/{forged}/receipt"):
            text = await _get(http, path + "?lang=en", status=404)
            assert "This page does not exist" in text
            assert study_id not in text and "Veilederrollen" not in text
        async with http.get(f"/p/{forged}") as response:
            assert response.headers["Cache-Control"] == "no-store"
        text = await _get(http, f"/p/{forged}/no-such-page?lang=en", status=404)
        assert "This page does not exist" in text

    _serve(services, scenario)


def test_a_post_without_the_csrf_field_is_refused_and_stores_nothing(
    services: Services, study_id: str
) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        join = await _get(http, f"/join/{invite}")
        await _post(http, f"/join/{invite}", join, {"lang": "nb"}, status=403, csrf=False)
        wrong = {"lang": "nb", "csrf": "x" * 43}
        await _post(http, f"/join/{invite}", join, wrong, status=403, csrf=False)

    _serve(services, scenario)
    assert _participants(services) == []
    with transaction(services.research) as session:
        assert session.scalars(select(Invite)).one().used_at is None


def test_only_the_csrf_cookie_strict_and_httponly(services: Services, study_id: str) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/join/{invite}") as response:
            cookies = response.headers.getall("Set-Cookie")
            assert response.headers["Cache-Control"] == "no-store"
        assert len(cookies) == 1 and cookies[0].startswith("fv_csrf=")
        assert "HttpOnly" in cookies[0] and "SameSite=Strict" in cookies[0]
        async with http.get("/static/consent.css") as response:
            assert response.status == 200
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        page, _ = await _flow(http, invite, "nb", dict.fromkeys(ITEMS, True))
        async with http.get(page) as response:
            assert "Set-Cookie" not in response.headers  # the cookie is set once
        assert [c.key for c in http.cookie_jar] == ["fv_csrf"]

    _serve(services, scenario)


def test_failed_attempts_are_throttled_per_address(services: Services, study_id: str) -> None:
    async def scenario(http: aiohttp.ClientSession) -> None:
        for n in range(3):
            await _get(http, f"/join/guess-{n}", status=404)
        await _get(http, "/p/" + "B" * 43, status=429)
        await _get(http, "/join/anything", status=429)

    _serve(services, scenario, consent_throttle=Throttle(limit=3))


def test_withdrawal_from_the_personal_page_purges_in_two_steps(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    invite = _invite(services, study_id)
    caplog.set_level(logging.DEBUG)
    tokens: list[str] = []

    async def scenario(http: aiohttp.ClientSession) -> None:
        page, _ = await _flow(http, invite, "en", dict.fromkeys(ITEMS, True))
        tokens.append(page.removeprefix("/p/"))
        with transaction(services.research) as session:
            participant = session.scalars(select(Participant)).one()
            services.vault.put(
                study_id, participant.code, Identity(name="Kari Nordmann", email="kari@x.example")
            )
        personal = await _get(http, page)
        assert "Everything: leave the study" in personal
        # One optional item first: the participation goes on.
        step, _ = await _post(
            http, f"{page}/withdraw", personal, {"scope": "identifiable-publication"}, status=200
        )
        assert "Are you sure?" in step
        done, _ = await _post(
            http,
            f"{page}/withdraw/confirm",
            step,
            {"scope": "identifiable-publication"},
            status=200,
        )
        assert "Your consent is withdrawn" in done
        personal = await _get(http, page)
        assert "You take part" in personal
        # Then everything.
        step, _ = await _post(http, f"{page}/withdraw", personal, {"scope": "all"}, status=200)
        done, _ = await _post(http, f"{page}/withdraw/confirm", step, {"scope": "all"}, 200)
        assert "You have withdrawn from the study" in done
        assert "The link between you and your code" in done
        assert "2021-03-01 09:00:00 UTC" in done
        after = await _get(http, page)
        assert "You have withdrawn from the study." in after and "Withdrawn: 2021-03-01" in after

    _serve(services, scenario)
    (participant,) = _participants(services)
    assert participant.state == State.WITHDRAWN.value
    assert services.vault.get(study_id, participant.code) is None
    assert _audit_ok(services)
    logged = caplog.text
    assert tokens and tokens[0] not in logged and "Kari" not in logged
    assert "POST withdraw.confirm 200" in logged and "127.0.0.1" not in logged


def test_changing_an_optional_item_on_the_personal_page(services: Services, study_id: str) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        page, _ = await _flow(http, invite, "nb", dict.fromkeys(ITEMS, True))
        personal = await _get(http, page)
        _, where = await _post(
            http, f"{page}/change", personal, {"item-identifiable-publication": "no"}
        )
        assert where == f"{page}?saved=1"
        with transaction(services.research) as session:
            participant = session.scalars(select(Participant)).one()
            current = consent.current_consent(session, participant)
            assert current.items == {"interview-recording": True, "identifiable-publication": False}
            assert participant.state == State.CONSENTED.value

    _serve(services, scenario)


def test_a_language_switch_before_consent_shows_that_letter_first(
    services: Services, study_id: str
) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        join = await _get(http, f"/join/{invite}")
        _, letter_url = await _post(http, f"/join/{invite}", join, {"lang": "nb"})
        page = letter_url.removesuffix("/letter")
        await _get(http, letter_url)
        async with http.get(f"{page}/items?lang=nn", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == f"{page}/letter"
        letter = await _get(http, f"{page}/letter")
        assert '<html lang="nn">' in letter and "Førespurnad om å vere med" in letter

    _serve(services, scenario)


def test_every_web_text_is_translated_to_nb_and_nn(tmp_path: Path) -> None:
    web = ROOT / "fieldvault" / "web"
    in_code = marked_texts(web, tmp_path / "web.pot", web / "consent" / "babel.cfg")
    assert "Save this link" in in_code and "Yes" in in_code
    for lang in ("nb", "nn"):
        missing = untranslated(in_code, lang)
        assert not missing, f"{lang}: untranslated (run the locale steps in translations.py)"


def test_a_changed_letter_is_read_and_consented_again_on_the_page(
    services: Services, study_id: str
) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        page, first = await _flow(http, invite, "nb", dict.fromkeys(ITEMS, True))
        change_the_letter(services, NOW)
        personal = await _get(http, page)
        assert f'href="{page}/letter"' in personal and "Les det nye skrivet" in personal
        # Changing answers is not offered until the new letter is read: it goes there.
        _, where = await _post(http, f"{page}/change", personal, {})
        assert where == f"{page}/letter"
        letter = await _get(http, f"{page}/letter")
        assert "(revidert)" in letter
        items = await _get(http, f"{page}/items")
        answers = {"interview-recording": True, "identifiable-publication": False}
        confirm, _ = await _post(http, f"{page}/confirm", items, _answers(answers), status=200)
        _, receipt_url = await _post(
            http, f"{page}/confirm", confirm, {**_answers(answers), "record": "1"}
        )
        receipt = await _get(http, receipt_url)
        assert receipt != first and "(revidert)" not in receipt
        with transaction(services.research) as session:
            participant = session.scalars(select(Participant)).one()
            assert not consent.needs_reconsent(session, participant)
            made = receipts.receipt(session, participant)
            letter_row = session.get(LetterVersion, (study_id, made.letter_version))
            assert letter_row is not None and "(revidert)" in letter_row.text
            assert made.sha256 in receipt and participant.state == State.CONSENTED.value

    _serve(services, scenario)
    assert _count(services, ConsentRecord) == 2


def test_the_page_offers_a_one_time_telegram_link(services: Services, study_id: str) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        page, _ = await _flow(http, invite, "en", dict.fromkeys(ITEMS, True))
        personal = await _get(http, page)
        shown, _ = await _post(http, f"{page}/telegram", personal, {}, status=200)
        found = re.search(r"https://t\.me/fieldvault_bot\?start=([A-Za-z0-9_-]{22,64})", shown)
        assert found is not None
        with transaction(services.research) as session:
            assert chat_links.find(session, found.group(1)) is not None

    _serve(services, scenario)


def test_the_receipt_pdf_is_deterministic_and_writes_norwegian_letters(
    services: Services, study_id: str
) -> None:
    invite = _invite(services, study_id)
    pdfs: list[bytes] = []

    async def scenario(http: aiohttp.ClientSession) -> None:
        page, _ = await _flow(http, invite, "nn", dict.fromkeys(ITEMS, True))
        for _n in range(2):
            async with http.get(f"{page}/receipt.pdf") as response:
                assert response.headers["Content-Type"] == "application/pdf"
                pdfs.append(await response.read())

    _serve(services, scenario)
    assert pdfs[0] == pdfs[1]
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdfs[0], re.S)
    text = b"".join(zlib.decompress(s) for s in streams if s[:1] == b"x").decode("latin-1")
    assert "Eg vil vere med p\u00e5 eit intervju" in text and "Samtykkekvittering" in text


def test_a_receipt_keeps_the_item_texts_shown_when_the_study_file_changes_later(
    services: Services, study_id: str
) -> None:
    _consent_on_the_web(services, study_id, "en", dict.fromkeys(ITEMS, True))
    with transaction(services.research) as session:
        participant = session.scalars(select(Participant)).one()
        before = receipts.receipt(session, participant)
    text = EXAMPLE.read_text(encoding="utf-8")
    old = "I agree that the thesis may describe me in a way that makes me recognisable."
    changed = text.replace(old, "I agree to be recognisable in the thesis.", 1)
    with transaction(services.research) as session:
        update_study(session, parse_study(changed), changed, NOW)
    with transaction(services.research) as session:
        participant = session.scalars(select(Participant)).one()
        after = receipts.receipt(session, participant)
    assert old in after.text() and after.sha256 == before.sha256


def test_a_recovery_code_shown_once_opens_the_page_under_a_new_link(
    services: Services, study_id: str
) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        page, receipt = await _flow(http, invite, "en", dict.fromkeys(ITEMS, True))
        found = re.search(r'id="recovery-code">([A-Z0-9-]{19})<', receipt)
        assert found is not None
        assert 'id="recovery-code"' not in await _get(http, f"{page}/receipt")
        form = await _get(http, "/recover?lang=en")
        wrong, _ = await _post(http, "/recover?lang=en", form, {"code": "AAAA-BBBB-CCCC-DDDD"}, 404)
        assert "That code is not valid." in wrong
        typed = found.group(1).lower().replace("-", " ")
        _, where = await _post(http, "/recover", form, {"code": typed})
        assert re.fullmatch(r"/p/[A-Za-z0-9_-]{43}", where) and where != page
        assert "You take part" in await _get(http, where)
        await _get(http, page, status=404)

    _serve(services, scenario)
    with transaction(services.research) as session:
        link = session.scalars(select(PersonalLink)).one()
        assert link.recovery_hash is not None and len(link.recovery_hash) == 64


def test_a_double_submitted_answer_is_recorded_once(services: Services, study_id: str) -> None:
    invite = _invite(services, study_id)

    async def scenario(http: aiohttp.ClientSession) -> None:
        join = await _get(http, f"/join/{invite}")
        _, letter_url = await _post(http, f"/join/{invite}", join, {"lang": "en"})
        page = letter_url.removesuffix("/letter")
        await _get(http, letter_url)
        items = await _get(http, f"{page}/items")
        answers = _answers({"interview-recording": False, "identifiable-publication": False})
        confirm, _ = await _post(http, f"{page}/confirm", items, answers, status=200)
        sends = [
            _post(http, f"{page}/confirm", confirm, {**answers, "record": "1"}) for _n in range(3)
        ]
        places = {where for _, where in await asyncio.gather(*sends)}
        assert places == {f"{page}/receipt"}

    _serve(services, scenario)
    assert _count(services, ConsentRecord) == 1


def test_the_throttle_forgets_after_its_window_and_keeps_a_bounded_number_of_addresses() -> None:
    now = [0.0]
    throttle = Throttle(limit=2, window=60.0, addresses=2, clock=lambda: now[0])
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.blocked("a") and not throttle.blocked("b")
    now[0] = 61.0
    assert not throttle.blocked("a")
    for address in ("a", "b", "c"):
        throttle.failed(address)
    assert len(throttle._seen) == 2 and "a" not in throttle._seen
