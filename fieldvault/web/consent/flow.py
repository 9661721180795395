"""The consent flow: /join/{invite}, the letter and Art. 13, the items, confirmation, the receipt.

/join (GET) offers the languages without using the invite; POST uses it and opens the personal
page, then the letter, the items, what will be recorded and, posted again, the recording (a
re-consent through ``personal.change_answers``), the receipt page and its PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from fieldvault.config.study import StudyDefinition
from fieldvault.domain import consent, personal_links, receipts
from fieldvault.domain.errors import InviteError
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.states import State
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.storage.db import transaction
from fieldvault.web.consent import pages, personal
from fieldvault.web.consent.pages import NO, YES, Ctx, GoTo, PageAnswer
from fieldvault.web.consent.texts import gettext_for
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.receipt_pdf import receipt_pdf

INVITE_STATUS = {"invite.unknown": 404, "invite.used": 410, "invite.expired": 410}


# --- /join/{invite} ------------------------------------------------------------------------


def _invite_refused(request: web.Request, error: InviteError) -> PageAnswer:
    pages.failed(request)
    return PageAnswer(
        "invite_invalid.html",
        INVITE_STATUS.get(error.code, 404),
        pages.browser_language(request),
        {"reason": error.code},
    )


async def join(request: web.Request) -> web.Response:
    """GET: the language choice. Does not use the invite (link previewers must not burn it)."""
    pages.throttle(request)
    services, now, code = request.app[SERVICES], request.app[CLOCK](), request.match_info["invite"]

    def look() -> StudyDefinition:
        with transaction(services.research) as session:
            study_id = personal_links.invited_study(session, code, now)
            return load_definition(session, study_id)

    try:
        definition = await pages.blocking(request, look)
    except InviteError as error:
        raise _invite_refused(request, error) from None
    lang = pages.browser_language(request)
    lang = lang if lang in definition.languages else definition.default_language
    return pages.render(
        request, "join.html", lang, {"title": definition.title, "languages": definition.languages}
    )


async def join_post(request: web.Request) -> web.Response:
    """POST: use the invite, open the personal page in the chosen language, go to the letter."""
    pages.throttle(request)
    form = await pages.form(request)
    services, now, code = request.app[SERVICES], request.app[CLOCK](), request.match_info["invite"]

    def redeem() -> str:
        with transaction(services.research) as session:
            definition = load_definition(session, personal_links.invited_study(session, code, now))
            wanted = form.get("lang", "")
            lang = wanted if wanted in definition.languages else definition.default_language
            participant = consent.redeem_invite(session, code, now)
            return personal_links.create(session, participant, language=lang, now=now)

    try:
        token = await pages.blocking(request, redeem)
    except InviteError as error:
        raise _invite_refused(request, error) from None
    raise web.HTTPSeeOther(f"/p/{token}/letter")


# --- the letter and Art. 13 ----------------------------------------------------------------


def art13(session: Session, definition: StudyDefinition) -> dict[str, Any]:
    """What Art. 13 requires, from the study file and the registered study's deadline."""
    study = get_study(session, definition.id)
    deadline = study_deadline(study)
    return {
        "institution": definition.institution,
        "contacts": definition.contacts,
        "research_question": definition.research_question,
        "legal_basis": definition.legal_basis,
        "processing_end": study.processing_end.isoformat(),
        "project_end": definition.project_end.isoformat(),
        "deadline": pages.local(deadline, study.timezone),
        "assessment": definition.assessment,
    }


async def letter(request: web.Request) -> web.Response:
    """The information letter of the page's language, with Art. 13's facts; marks informed."""

    def work(ctx: Ctx) -> dict[str, Any]:
        if ctx.state is State.WITHDRAWN:
            raise GoTo(pages.base(request, ctx)["page"])
        reading_only = ctx.holds_consent and not consent.needs_reconsent(
            ctx.session, ctx.participant
        )
        version = consent.mark_informed(ctx.session, ctx.participant, ctx.lang, ctx.now)
        personal_links.set_language(ctx.link, ctx.lang)
        ctx.link.letter_delivered_at = ctx.now
        return {
            **pages.base(request, ctx),
            **art13(ctx.session, ctx.definition),
            "letter": ctx.definition.letter_text(ctx.lang),
            "version": version,
            "reading_only": reading_only,
            "lang": ctx.lang,
        }

    context = await pages.on_page(request, work)
    return pages.render(request, "letter.html", context["lang"], context)


# --- items, confirmation, recording --------------------------------------------------------


def _items(ctx: Ctx, answers: Mapping[str, bool | None]) -> list[dict[str, Any]]:
    return [
        {
            "id": item.id,
            "text": item.text[ctx.lang],
            "required": item.required,
            "answer": answers.get(item.id),
        }
        for item in ctx.definition.consent_items
    ]


def _before_items(request: web.Request, ctx: Ctx) -> None:
    """Send the informant to the letter when this step is not theirs to take now."""
    page = pages.base(request, ctx)["page"]
    if ctx.state is State.WITHDRAWN:
        raise GoTo(page)
    if ctx.holds_consent and not consent.needs_reconsent(ctx.session, ctx.participant):
        raise GoTo(page)
    if ctx.link.letter_delivered_at is None or ctx.switched:
        # The consent is to the letter of the language it is given in: read that one first.
        raise GoTo(f"{page}/letter")


async def items(request: web.Request) -> web.Response:
    """Each consent item as its own unticked yes/no; required ones marked."""

    def work(ctx: Ctx) -> dict[str, Any]:
        _before_items(request, ctx)
        return {**pages.base(request, ctx), "items": _items(ctx, {}), "lang": ctx.lang}

    context = await pages.on_page(request, work)
    return pages.render(request, "items.html", context["lang"], context)


def _answers(form: Mapping[str, str], definition: StudyDefinition) -> dict[str, bool | None]:
    found: dict[str, bool | None] = {}
    for item in definition.consent_items:
        value = form.get(f"item-{item.id}")
        found[item.id] = True if value == YES else False if value == NO else None
    return found


async def confirm(request: web.Request) -> web.Response:
    """POST once: what will be recorded. POST again (``record``): record it, go to the receipt."""
    form = await pages.form(request)

    def work(ctx: Ctx) -> dict[str, Any] | personal.ToRecord:
        recording = form.get("record") == "1"
        answered = receipts.latest_consent(ctx.session, ctx.participant) is not None
        if recording and ctx.link.letter_delivered_at is None and answered:
            raise GoTo(f"{pages.base(request, ctx)['page']}/receipt")  # sent twice
        _before_items(request, ctx)
        answers = _answers(form, ctx.definition)
        base = {**pages.base(request, ctx), "lang": ctx.lang, "items": _items(ctx, answers)}
        missing = [i for i, a in answers.items() if a is None]
        if missing:
            raise PageAnswer("items.html", 400, ctx.lang, {**base, "missing": missing})
        decisions = {i: bool(a) for i, a in answers.items()}
        if not recording:
            required_refused = any(not decisions[i] for i in ctx.definition.required_item_ids)
            return {**base, "declining": required_refused}
        # One answer per reading of the letter: of simultaneous submissions one records.
        delivered = personal_links.claim_reading(ctx.session, ctx.link)
        if delivered is None:
            raise GoTo(f"{base['page']}/receipt")
        if not ctx.holds_consent:
            consent.record_consent(
                ctx.session,
                ctx.participant,
                decisions,
                language=ctx.lang,
                channel="web",
                letter_delivered_at=delivered,
                now=ctx.now,
                how=personal.how(ctx, "web-confirm", ctx.lang),
            )
            raise GoTo(f"{base['page']}/receipt")
        return personal.ToRecord(
            ctx.participant.study_id,
            ctx.participant.code,
            ctx.lang,
            delivered,
            personal.how(ctx, "web-confirm", ctx.lang),
            decisions,
            base["page"],
        )

    result = await pages.on_page(request, work)
    if isinstance(result, personal.ToRecord):
        return await personal.change_answers(request, result, receipt_after=True)
    return pages.render(request, "confirm.html", result["lang"], result)


# --- the receipt ---------------------------------------------------------------------------


def _receipt_context(ctx: Ctx) -> dict[str, Any]:
    try:
        made = receipts.receipt(ctx.session, ctx.participant)
    except receipts.ReceiptError:
        raise PageAnswer("not_found.html", 404, ctx.lang) from None
    return {"receipt": made, "sha256": made.sha256, "state": ctx.state.value}


async def receipt(request: web.Request) -> web.Response:
    """The receipt page and the "save this link" step."""
    base_url = request.app[SERVICES].settings.public_base_url.rstrip("/")

    def work(ctx: Ctx) -> dict[str, Any]:
        made = _receipt_context(ctx)
        return {
            **pages.base(request, ctx),
            **made,
            "recovery": personal_links.new_recovery_code(ctx.session, ctx.link),
            "lang": ctx.lang,
            "link": f"{base_url}/p/{request.match_info['token']}",
            "utc": pages.utc,
            "declined": ctx.state is State.DECLINED,
        }

    context = await pages.on_page(request, work)
    return pages.render(request, "receipt.html", context["lang"], context)


async def receipt_download(request: web.Request) -> web.Response:
    """The receipt as a PDF."""

    def work(ctx: Ctx) -> tuple[bytes, str]:
        made = _receipt_context(ctx)["receipt"]
        return receipt_pdf(made, gettext_for(ctx.lang)), f"{made.study_id}-{made.participant_code}"

    body, name = await pages.on_page(request, work)
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}-receipt.pdf"'},
    )
