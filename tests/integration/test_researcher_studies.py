"""The studies, participants, invites, paper-consent, retention and audit pages on the real app.

Each test serves ``create_app`` on a free port and drives it with a logged-in aiohttp client,
as a browser without JavaScript would (plain forms, the CSRF field); the effects are read back
through the domain and the audit chain, never from the HTML alone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import pytest
from sqlalchemy import event, select

from fieldvault.domain import consent
from fieldvault.domain.errors import InviteError
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, BlobObject, ConsentRecord, Invite, Study
from fieldvault.storage.services import Services
from fieldvault.storage.vault import Identity
from fieldvault.web.researcher import studies as studies_pages
from tests.researcher_serve import Clock, Scenario, serve
from tests.researcher_web import add_member, csrf_of, log_in

from .conftest import NOW

NAME = "Kari Nordmann-Testesen"
PDF = b"%PDF-1.4\n% a scanned form\n" + b"0" * 2000
ANSWERS = {"interview-recording": True, "identifiable-publication": False}


def _serve(services: Services, scenario: Scenario, email: str) -> None:
    async def logged_in(http: aiohttp.ClientSession) -> None:
        await log_in(http, email)
        await scenario(http)

    serve(services, Clock(NOW), logged_in)


def _participant(services: Services, study_id: str, name: str = NAME, **variables: str) -> str:
    return register_participant(services, study_id, Identity(name=name), variables, NOW)


def _consent(services: Services, study_id: str, code: str) -> None:
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        consent.mark_informed(session, person, "nb", NOW)
        consent.record_consent(
            session, person, ANSWERS, language="nb", channel="web",
            letter_delivered_at=NOW, now=NOW,
        )  # fmt: skip


def _events(services: Services, kind: str) -> list[AuditEvent]:
    with transaction(services.research) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.event == kind)).all()
        session.expunge_all()
        return list(rows)


async def _csrf(http: aiohttp.ClientSession, path: str) -> str:
    async with http.get(path) as page:
        assert page.status == 200, await page.text()
        return csrf_of(await page.text())


@contextmanager
def counted_queries(services: Services) -> Iterator[list[str]]:
    """Every SQL statement the research engine runs inside the block."""
    engine = services.research_engine
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- the list and the overview ------------------------------------------------------------


def test_the_list_shows_each_study_with_its_state_and_days_to_its_deadline(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get("/studies?lang=en") as page:
            html = await page.text()
        assert page.status == 200
        assert f'href="/studies/{study_id}"' in html
        # 2021-06-30 is the example's processing end; NOW is 2021-03-01 in Oslo.
        days = (dt.date(2021, 6, 30) - dt.date(2021, 3, 1)).days + 1
        assert f"{days} days" in html and "Running" in html

    _serve(services, scenario, email)


def test_a_dpo_sees_the_study_and_its_deadline_but_no_participant_content(
    services: Services, study_id: str
) -> None:
    code = _participant(services, study_id, utdanning="sosionom")
    email = add_member(services, study_id, Role.DPO, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/studies/{study_id}?lang=en") as page:
            html = await page.text()
        assert page.status == 200 and "Deletion deadline" in html
        assert "/participants" not in html and "Participants by state" not in html
        for path in (
            f"/studies/{study_id}/participants",
            f"/studies/{study_id}/participants/{code}",
            f"/studies/{study_id}/invites",
            f"/studies/{study_id}/paper-consent",
        ):
            async with http.get(path) as refused:
                assert refused.status == 403, path
                body = await refused.text()
                assert "sosionom" not in body and "Pseudonym" not in body
        async with http.get(f"/studies/{study_id}/retention") as retention:
            assert retention.status == 200
        async with http.get(f"/studies/{study_id}/audit") as audit_page:
            assert audit_page.status == 200

    _serve(services, scenario, email)


def test_a_study_that_is_not_yours_answers_exactly_like_one_that_does_not_exist(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        answers = []
        for path in ("/studies/ghost", "/studies/ghost/participants", "/studies/ghost/audit"):
            async with http.get(path) as page:
                answers.append((page.status, await page.text()))
        assert {status for status, _ in answers} == {404}

    _serve(services, scenario, email)


def test_the_study_file_check_lists_its_items_and_letter_versions(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.SUPERVISOR, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/studies/{study_id}/check?lang=en") as page:
            html = await page.text()
        assert page.status == 200
        assert "passes every check" in html
        assert "interview-recording" in html and "identifiable-publication" in html

    _serve(services, scenario, email)


# --- participants ---------------------------------------------------------------------------


def test_participants_show_consent_per_item_and_letter_version_in_a_fixed_number_of_queries(
    services: Services, study_id: str
) -> None:
    codes = [_participant(services, study_id, f"Person {i}", kontor="A") for i in range(3)]
    for code in codes:
        _consent(services, study_id, code)
    email = add_member(services, study_id, Role.RESEARCHER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/studies/{study_id}/participants?lang=en") as page:
            html = await page.text()
        assert page.status == 200
        for code in codes:
            assert code in html
        assert "Person 0" not in html  # names never appear in the list
        assert html.count('class="ok">yes') == 3 and html.count('class="error">no') == 3
        with counted_queries(services) as few:
            async with http.get(f"/studies/{study_id}/participants") as page:
                assert page.status == 200
        for i in range(3, 40):
            code = _participant(services, study_id, f"Person {i}")
            _consent(services, study_id, code)
        with counted_queries(services) as many:
            async with http.get(f"/studies/{study_id}/participants") as page:
                html = await page.text()
        assert len(many) == len(few), "the list must not query once per participant"
        assert "Page 1 of 1" not in html  # 40 fit on one page: no pager at all

    _serve(services, scenario, email)


def test_the_participant_list_pages_fifty_at_a_time(services: Services, study_id: str) -> None:
    codes = [_participant(services, study_id, f"Person {i}") for i in range(51)]
    email = add_member(services, study_id, Role.SUPERVISOR, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/studies/{study_id}/participants?lang=en") as first:
            html = await first.text()
        assert codes[0] in html and codes[50] not in html and "Page 1 of 2" in html
        async with http.get(f"/studies/{study_id}/participants?page=2&lang=en") as second:
            html = await second.text()
        assert codes[50] in html and codes[0] not in html
        async with http.get(f"/studies/{study_id}/participants?page=999") as beyond:
            assert beyond.status == 200 and codes[50] in await beyond.text()

    _serve(services, scenario, email)


def test_a_real_name_is_shown_only_on_an_audited_reveal_posted_with_the_csrf_token(
    services: Services, study_id: str
) -> None:
    code = _participant(services, study_id)
    email = add_member(services, study_id, Role.OWNER, NOW)
    reveal = f"/studies/{study_id}/participants/{code}/reveal"

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _csrf(http, f"/studies/{study_id}/participants/{code}")
        async with http.get(f"/studies/{study_id}/participants/{code}") as page:
            assert NAME not in await page.text()
        async with http.post(reveal, data={"csrf": "forged"}) as forged:
            assert forged.status == 403 and NAME not in await forged.text()
        assert _events(services, "identity.revealed") == []
        async with http.post(reveal, data={"csrf": token}, allow_redirects=False) as shown:
            assert shown.status == 200
            assert NAME in await shown.text()
            assert shown.headers["Cache-Control"] == "no-store"
            assert NAME not in str(shown.url)

    _serve(services, scenario, email)
    (revealed,) = _events(services, "identity.revealed")
    assert revealed.participant_code == code and revealed.actor.startswith("researcher:")
    assert NAME not in json.dumps(revealed.details) and revealed.details == {"found": True}


def test_a_supervisor_may_read_participants_but_not_reveal_a_name(
    services: Services, study_id: str
) -> None:
    code = _participant(services, study_id)
    email = add_member(services, study_id, Role.SUPERVISOR, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _csrf(http, f"/studies/{study_id}/participants/{code}")
        async with http.get(f"/studies/{study_id}/participants/{code}") as page:
            assert "/reveal" not in await page.text()
        path = f"/studies/{study_id}/participants/{code}/reveal"
        async with http.post(path, data={"csrf": token}) as refused:
            assert refused.status == 403 and NAME not in await refused.text()

    _serve(services, scenario, email)
    assert _events(services, "identity.revealed") == []


def test_an_unknown_participant_is_not_found(services: Services, study_id: str) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/studies/{study_id}/participants/P-NOBODY") as page:
            assert page.status == 404

    _serve(services, scenario, email)


# --- invites --------------------------------------------------------------------------------


def test_invites_are_created_with_qr_codes_a_png_and_a_pdf_poster_then_revoked(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)
    made: list[str] = []

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _csrf(http, f"/studies/{study_id}/invites")
        form = {"csrf": token, "count": "2", "days": "14"}
        async with http.post(f"/studies/{study_id}/invites", data=form) as page:
            html = await page.text()
            assert page.status == 200
            assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]
        assert html.count('src="data:image/png;base64,') == 2
        made.extend(part.split('"')[0] for part in html.split('name="code" value="')[1:])
        assert len(made) == 4  # two forms (PNG, PDF) per invite
        code = made[0]
        assert "/join/" + code in html
        async with http.post(
            f"/studies/{study_id}/invites/qr.png", data={"csrf": token, "code": code}
        ) as png:
            assert png.status == 200 and png.content_type == "image/png"
            assert (await png.read()).startswith(b"\x89PNG\r\n\x1a\n")
        async with http.post(
            f"/studies/{study_id}/invites/poster.pdf", data={"csrf": token, "code": code}
        ) as pdf:
            assert pdf.status == 200 and pdf.content_type == "application/pdf"
            assert (await pdf.read()).startswith(b"%PDF")
            assert "attachment" in pdf.headers["Content-Disposition"]
        async with http.post(
            f"/studies/{study_id}/invites/qr.png", data={"csrf": token, "code": "forged"}
        ) as bad:
            assert bad.status == 400
        with transaction(services.research) as session:
            invite_id = session.scalar(
                select(Invite.id).where(Invite.code_hash == consent.hash_invite_code(code))
            )
        revoke = f"/studies/{study_id}/invites/{invite_id}/revoke"
        async with http.post(revoke, data={"csrf": "forged"}) as forged:
            assert forged.status == 403
        async with http.post(revoke, data={"csrf": token}, allow_redirects=False) as done:
            assert done.status == 303
        async with http.post(revoke, data={"csrf": token}) as again:
            assert again.status == 400
        async with http.post(
            f"/studies/{study_id}/invites/99999/revoke", data={"csrf": token}
        ) as x:
            assert x.status == 404
        async with http.post(
            f"/studies/{study_id}/invites/poster.pdf", data={"csrf": token, "code": code}
        ) as revoked_poster:
            assert revoked_poster.status == 400

    _serve(services, scenario, email)
    with transaction(services.research) as session, pytest.raises(InviteError) as refused:
        consent.redeem_invite(session, made[0], NOW)
    assert refused.value.code == "invite.unknown"
    (event_row,) = _events(services, "invite.revoked")
    assert event_row.actor.startswith("researcher:")
    with transaction(services.research) as session:
        assert consent.redeem_invite(session, made[2], NOW).state == "invited"


def test_a_bad_number_of_invites_gets_a_clear_page_and_creates_none(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _csrf(http, f"/studies/{study_id}/invites")
        for count, days in (("0", "7"), ("5000", "7"), ("2", "-1"), ("x", "7")):
            form = {"csrf": token, "count": count, "days": days}
            async with http.post(f"/studies/{study_id}/invites?lang=en", data=form) as page:
                assert page.status == 400
                assert "Give a number of invites from 1 to 50" in await page.text()

    _serve(services, scenario, email)
    with transaction(services.research) as session:
        assert session.scalars(select(Invite)).all() == []


# --- paper consent --------------------------------------------------------------------------


def _paper_form(token: str | None, code: str, scan: bytes, **overrides: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if token is not None:
        form.add_field("csrf", token)
    fields = {
        "code": code,
        "language": "nb",
        "signed_on": "2021-02-27",
        "item-interview-recording": "yes",
        "item-identifiable-publication": "no",
        **overrides,
    }
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("scan", scan, filename="skjema.pdf", content_type="application/pdf")
    return form


def test_a_paper_consent_is_registered_with_its_scan_stored_encrypted(
    services: Services, study_id: str
) -> None:
    code = _participant(services, study_id)
    email = add_member(services, study_id, Role.OWNER, NOW)
    path = f"/studies/{study_id}/paper-consent"

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _csrf(http, f"{path}?code={code}")
        async with http.post(path, data=_paper_form(token, code, PDF), allow_redirects=False) as ok:
            assert ok.status == 303, await ok.text()
            assert ok.headers["Location"].endswith(f"/participants/{code}?registered=paper")
        async with http.get(ok.headers["Location"]) as page:
            assert page.status == 200

    _serve(services, scenario, email)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        assert person.state == "consented"
        (record,) = session.scalars(select(ConsentRecord)).all()
        assert record.channel == "paper" and record.how["taken_by"].startswith("researcher:")
        (blob,) = session.scalars(select(BlobObject)).all()
        assert blob.object_id == record.evidence_object_id and blob.kind == "evidence"
    stored = [f.read_bytes() for f in services.settings.blob_path.rglob("*") if f.is_file()]
    assert stored and not any(b"a scanned form" in data for data in stored)


def test_a_paper_consent_that_is_refused_stores_nothing_and_says_why(
    services: Services, study_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(studies_pages, "MAX_SCAN_BYTES", len(PDF) + 100)
    code = _participant(services, study_id)
    email = add_member(services, study_id, Role.OWNER, NOW)
    path = f"/studies/{study_id}/paper-consent"

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _csrf(http, path)
        not_a_pdf = b"<html>this is not a scan</html>"
        async with http.post(path, data=_paper_form(token, code, not_a_pdf)) as page:
            assert page.status == 400
            assert "not a PDF, PNG, JPEG or TIFF" in await page.text()
        async with http.post(
            path + "?lang=en", data=_paper_form(token, code, PDF, signed_on="2021-06-31")
        ) as page:
            assert page.status == 400 and "is not a date" in await page.text()
        async with http.post(
            path, data=_paper_form(token, code, PDF, **{"item-interview-recording": "maybe"})
        ) as page:
            assert page.status == 400 and "no answer for consent item" in await page.text()
        async with http.post(path, data=_paper_form(token, "P-NOBODY", PDF)) as page:
            assert page.status == 400
        async with http.post(path + "?lang=en", data=_paper_form(token, code, PDF * 2)) as big:
            assert big.status == 413 and "too large" in await big.text()
        async with http.post(path, data=_paper_form(None, code, PDF)) as no_token:
            assert no_token.status == 403
        last = _paper_form(None, code, b"%PDF-1.4 small")
        last.add_field("csrf", token)  # the token must come first: after the scan it is refused
        async with http.post(path, data=last) as late:
            assert late.status == 403
        async with http.post(path, data=_paper_form("forged", code, PDF)) as forged:
            assert forged.status == 403

    _serve(services, scenario, email)
    with transaction(services.research) as session:
        assert session.scalars(select(ConsentRecord)).all() == []
        assert session.scalars(select(BlobObject)).all() == []
        assert get_participant(session, study_id, code).state == "invited"


# --- retention ------------------------------------------------------------------------------


def test_the_owner_extends_the_deadline_with_a_reason_and_bad_input_changes_nothing(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)
    path = f"/studies/{study_id}/retention"

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(path + "?lang=en") as page:
            html = await page.text()
        assert page.status == 200 and "2021-06-30" in html and 'id="extend"' in html
        token = csrf_of(html)
        for new_end, reason, words in (
            ("2021-06-31", "Sikt approved", "is not a date"),
            ("2021-09-30", "  ", "Give the reason"),
            ("2021-05-01", "Sikt approved", "is not after the current processing end date"),
        ):
            form = {"csrf": token, "new_end": new_end, "reason": reason}
            async with http.post(path + "/extend?lang=en", data=form) as refused:
                assert refused.status == 400
                assert words in await refused.text()
        form = {"csrf": token, "new_end": "2021-09-30", "reason": "Sikt approved", "ref": "123"}
        async with http.post(path + "/extend", data=form, allow_redirects=False) as done:
            assert done.status == 303
        async with http.get(path + "?lang=en") as page:
            html = await page.text()
        assert "2021-09-30" in html and "Sikt approved" in html
        async with http.get(path + "/report.json") as report:
            data = json.loads(await report.text())
        assert data["processing_end"] == "2021-09-30" and data["extensions"][0]["reason"]

    _serve(services, scenario, email)
    (extended,) = _events(services, "study.extended")
    assert extended.actor.startswith("researcher:") and extended.details["to"] == "2021-09-30"


def test_a_dpo_reads_the_retention_report_but_may_not_extend(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.DPO, NOW)
    path = f"/studies/{study_id}/retention"

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(path + "?lang=en") as page:
            html = await page.text()
        assert page.status == 200 and "Report for the data protection officer" in html
        assert 'id="extend"' not in html
        form = {"csrf": csrf_of(html), "new_end": "2021-09-30", "reason": "x"}
        async with http.post(path + "/extend", data=form) as refused:
            assert refused.status == 403

    _serve(services, scenario, email)
    with transaction(services.research) as session:
        study = session.get(Study, study_id)
        assert study is not None and study.processing_end == dt.date(2021, 6, 30)


# --- audit ----------------------------------------------------------------------------------


def test_the_audit_page_verifies_the_chain_and_filters_events_by_type_and_code(
    services: Services, study_id: str
) -> None:
    first = _participant(services, study_id, "A Person")
    second = _participant(services, study_id, "B Person")
    _consent(services, study_id, first)
    email = add_member(services, study_id, Role.SUPERVISOR, NOW)
    path = f"/studies/{study_id}/audit"

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(path + "?lang=en") as page:
            html = await page.text()
        assert page.status == 200 and "Verified:" in html
        assert "consent.given" in html and "participant.added" in html
        async with http.get(path, params={"type": "consent.given", "lang": "en"}) as page:
            html = await page.text()
        assert "1 event(s)" in html and first in html and second not in html
        async with http.get(path, params={"code": second.lower(), "lang": "en"}) as page:
            html = await page.text()
        assert second in html and first not in html
        async with http.get(path, params={"type": "no.such", "lang": "en"}) as page:
            html = await page.text()
        assert "0 event(s)" in html and "There is no event type of that name." in html

    _serve(services, scenario, email)


def test_a_researcher_may_not_read_the_audit_page(services: Services, study_id: str) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/studies/{study_id}/audit") as page:
            assert page.status == 403

    _serve(services, scenario, email)
