"""The informant pages: /join/{invite} and /p/{token}/…, thin over the consent and rights domain.

Each handler reads the form, runs the domain in a worker thread (one unit of work, or a
``Services`` use case that opens its own) and renders a template. Failures are pages
(``PageAnswer``), never JSON, and name no code or token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.orm import Session

from fieldvault.config.languages import LANGUAGE_NAMES, LANGUAGES
from fieldvault.config.study import StudyDefinition
from fieldvault.domain import chat_links, consent, personal_links, receipts, rights
from fieldvault.domain.errors import DomainError, InviteError
from fieldvault.domain.personal_links import PersonalLinkNotFound
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.states import HOLDS_CONSENT, State
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.domain.withdrawal import WithdrawalDone
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Participant, PersonalLink, as_utc
from fieldvault.storage.services import Services
from fieldvault.web.consent.security import (
    CSRF_FIELD,
    PRIVATE_PREFIXES,
    Throttle,
    client_address,
    csrf_ok,
    csrf_token,
    route_name,
    set_csrf_cookie,
)
from fieldvault.web.consent.texts import _, gettext_for
from fieldvault.web.keys import CLOCK, EXECUTOR, SERVICES
from fieldvault.web.receipt_pdf import receipt_pdf

log = logging.getLogger("fieldvault.web.consent")
T = TypeVar("T")

THROTTLE = web.AppKey("consent_throttle", Throttle)

INVITE_STATUS = {"invite.unknown": 404, "invite.used": 410, "invite.expired": 410}
YES, NO = "yes", "no"


class GoTo(Exception):
    """Inside a page's unit of work: commit it, then redirect (303) to ``location``."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PageAnswer(Exception):
    """Answer the request with ``template`` (an error page, or a form shown again)."""

    def __init__(
        self, template: str, status: int, lang: str, context: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(template)
        self.template, self.status, self.lang = template, status, lang
        self.context = dict(context or {})


def _browser_language(request: web.Request) -> str:
    wanted = request.query.get("lang", "")
    if wanted in LANGUAGES:
        return wanted
    header = request.headers.get("Accept-Language", "").lower()
    for code in (part.split(";")[0].strip() for part in header.split(",")):
        base = code.split("-")[0]
        if base == "nn":
            return "nn"
        if base in {"nb", "no"}:
            return "nb"
        if base == "en":
            return "en"
    return "nb"


def render(
    request: web.Request,
    template: str,
    lang: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """Render ``template`` in ``lang`` with the CSRF token and the page's texts."""
    full = {
        "_": gettext_for(lang),
        "lang": lang,
        "csrf": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "language_names": LANGUAGE_NAMES,
        "path": request.path,
        "title": "fieldvault",
        "languages": (),
        **(context or {}),
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    set_csrf_cookie(request, response)
    return response


@web.middleware
async def pages_middleware(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Pages for refusals and failures on /join and /p; logs the route name only."""
    if not request.path.startswith(PRIVATE_PREFIXES):
        return await handler(request)
    try:
        return await handler(request)
    except PageAnswer as answer:
        return render(request, answer.template, answer.lang, answer.context, status=answer.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        page = "not_found.html" if exc.status == 404 else "error.html"
        return render(request, page, _browser_language(request), status=exc.status)
    except Exception as exc:
        log.error("%s %s failed: %s", request.method, route_name(request), type(exc).__name__)
        return render(request, "error.html", _browser_language(request), status=500)


async def _blocking(request: web.Request, fn: Callable[[], T]) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app[EXECUTOR], fn)


def _throttle(request: web.Request) -> None:
    if request.app[THROTTLE].blocked(client_address(request)):
        raise PageAnswer("throttled.html", 429, _browser_language(request))


def _failed(request: web.Request) -> None:
    request.app[THROTTLE].failed(client_address(request))


async def _form(request: web.Request) -> Mapping[str, str]:
    """The POSTed form, refused with 403 unless its ``csrf`` equals the cookie."""
    form = await request.post()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise PageAnswer("forbidden.html", 403, _browser_language(request))
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _local(moment: dt.datetime, timezone: str) -> str:
    return as_utc(moment).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _utc(moment: dt.datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- /join/{invite} ------------------------------------------------------------------------


def _invite_refused(request: web.Request, error: InviteError) -> PageAnswer:
    _failed(request)
    return PageAnswer(
        "invite_invalid.html",
        INVITE_STATUS.get(error.code, 404),
        _browser_language(request),
        {"reason": error.code},
    )


async def join(request: web.Request) -> web.Response:
    """GET: the language choice. Does not use the invite (link previewers must not burn it)."""
    _throttle(request)
    services, now, code = request.app[SERVICES], request.app[CLOCK](), request.match_info["invite"]

    def look() -> StudyDefinition:
        with transaction(services.research) as session:
            study_id = personal_links.invited_study(session, code, now)
            return load_definition(session, study_id)

    try:
        definition = await _blocking(request, look)
    except InviteError as error:
        raise _invite_refused(request, error) from None
    lang = _browser_language(request)
    lang = lang if lang in definition.languages else definition.default_language
    return render(
        request, "join.html", lang, {"title": definition.title, "languages": definition.languages}
    )


async def join_post(request: web.Request) -> web.Response:
    """POST: use the invite, open the personal page in the chosen language, go to the letter."""
    _throttle(request)
    form = await _form(request)
    services, now, code = request.app[SERVICES], request.app[CLOCK](), request.match_info["invite"]

    def redeem() -> str:
        with transaction(services.research) as session:
            definition = load_definition(session, personal_links.invited_study(session, code, now))
            wanted = form.get("lang", "")
            lang = wanted if wanted in definition.languages else definition.default_language
            participant = consent.redeem_invite(session, code, now)
            return personal_links.create(session, participant, language=lang, now=now)

    try:
        token = await _blocking(request, redeem)
    except InviteError as error:
        raise _invite_refused(request, error) from None
    raise web.HTTPSeeOther(f"/p/{token}/letter")


# --- /p/{token}: the page's state ----------------------------------------------------------


@dataclass
class Ctx:
    """One /p request's unit of work: the link, its participant, the study, the language."""

    session: Session
    services: Services
    link: PersonalLink
    participant: Participant
    definition: StudyDefinition
    lang: str
    now: dt.datetime
    switched: bool = False

    @property
    def state(self) -> State:
        """The participant's state."""
        return State(self.participant.state)

    @property
    def holds_consent(self) -> bool:
        """Whether the participant holds a consent now."""
        return self.state in HOLDS_CONSENT


def _language(request: web.Request, session: Session, ctx: Ctx) -> None:
    """The page's language: ``?lang=`` (remembered), the link's, the consent's, the default."""
    languages = ctx.definition.languages
    wanted = request.query.get("lang", "")
    if wanted in languages:
        ctx.switched = wanted != ctx.link.language
        personal_links.set_language(ctx.link, wanted)
        ctx.lang = wanted
        return
    for candidate in (
        ctx.link.language,
        consent.current_consent(session, ctx.participant).language,
    ):
        if candidate in languages:
            ctx.lang = str(candidate)
            return
    ctx.lang = ctx.definition.default_language


async def _on_page(request: web.Request, work: Callable[[Ctx], T]) -> T:
    """Run ``work`` in one unit of work on the page of the URL's token, or answer 404."""
    _throttle(request)
    services, now, token = request.app[SERVICES], request.app[CLOCK](), request.match_info["token"]

    def run() -> T:
        with transaction(services.research) as session:
            link = personal_links.resolve(session, token)
            participant = personal_links.participant_of(session, link)
            definition = load_definition(session, link.study_id)
            ctx = Ctx(session, services, link, participant, definition, "", now)
            _language(request, session, ctx)
            try:
                return work(ctx)
            except GoTo as go:
                redirect = go  # what the work changed is committed first
        raise web.HTTPSeeOther(redirect.location)

    try:
        return await _blocking(request, run)
    except PersonalLinkNotFound:
        _failed(request)
        raise PageAnswer("not_found.html", 404, _browser_language(request)) from None


def _base(request: web.Request, ctx: Ctx) -> dict[str, Any]:
    return {
        "title": ctx.definition.title,
        "languages": ctx.definition.languages,
        "page": f"/p/{request.match_info['token']}",
        "path": request.path,
    }


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
        "deadline": _local(deadline, study.timezone),
        "assessment": definition.assessment,
    }


async def letter(request: web.Request) -> web.Response:
    """The information letter of the page's language, with Art. 13's facts; marks informed."""

    def work(ctx: Ctx) -> dict[str, Any]:
        if ctx.state is State.WITHDRAWN:
            raise GoTo(_base(request, ctx)["page"])
        reading_only = ctx.holds_consent and not consent.needs_reconsent(
            ctx.session, ctx.participant
        )
        version = consent.mark_informed(ctx.session, ctx.participant, ctx.lang, ctx.now)
        personal_links.set_language(ctx.link, ctx.lang)
        ctx.link.letter_delivered_at = ctx.now
        return {
            **_base(request, ctx),
            **art13(ctx.session, ctx.definition),
            "letter": ctx.definition.letter_text(ctx.lang),
            "version": version,
            "reading_only": reading_only,
            "lang": ctx.lang,
        }

    context = await _on_page(request, work)
    return render(request, "letter.html", context["lang"], context)


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
    page = _base(request, ctx)["page"]
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
        return {**_base(request, ctx), "items": _items(ctx, {}), "lang": ctx.lang}

    context = await _on_page(request, work)
    return render(request, "items.html", context["lang"], context)


def _answers(form: Mapping[str, str], definition: StudyDefinition) -> dict[str, bool | None]:
    found: dict[str, bool | None] = {}
    for item in definition.consent_items:
        value = form.get(f"item-{item.id}")
        found[item.id] = True if value == YES else False if value == NO else None
    return found


@dataclass(frozen=True)
class _ToRecord:
    study_id: str
    code: str
    lang: str
    delivered: dt.datetime
    how: dict[str, Any]
    decisions: dict[str, bool]
    page: str


def _how(ctx: Ctx, step: str, language: str) -> dict[str, Any]:
    """How a web consent was given: the step, the page's row, the item texts it showed."""
    return {
        "page": step,
        "personal_link": ctx.link.id,
        **receipts.shown_items(ctx.definition, language),
    }


async def confirm(request: web.Request) -> web.Response:
    """POST once: what will be recorded. POST again (``record``): record it, go to the receipt."""
    form = await _form(request)

    def work(ctx: Ctx) -> dict[str, Any] | _ToRecord:
        recording = form.get("record") == "1"
        answered = receipts.latest_consent(ctx.session, ctx.participant) is not None
        if recording and ctx.link.letter_delivered_at is None and answered:
            raise GoTo(f"{_base(request, ctx)['page']}/receipt")  # sent twice
        _before_items(request, ctx)
        answers = _answers(form, ctx.definition)
        base = {**_base(request, ctx), "lang": ctx.lang, "items": _items(ctx, answers)}
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
                how=_how(ctx, "web-confirm", ctx.lang),
            )
            raise GoTo(f"{base['page']}/receipt")
        return _ToRecord(
            ctx.participant.study_id,
            ctx.participant.code,
            ctx.lang,
            delivered,
            _how(ctx, "web-confirm", ctx.lang),
            decisions,
            base["page"],
        )

    result = await _on_page(request, work)
    if isinstance(result, _ToRecord):
        return await _change(request, result, receipt_after=True)
    return render(request, "confirm.html", result["lang"], result)


async def _change(request: web.Request, todo: _ToRecord, *, receipt_after: bool) -> web.Response:
    """Answers of someone taking part, recorded by ``rights.change_answers`` (which may purge)."""
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> rights.AnswersChanged:
        return rights.change_answers(
            services,
            todo.study_id,
            todo.code,
            todo.decisions,
            language=todo.lang,
            channel="web",
            letter_delivered_at=todo.delivered,
            now=now,
            how=todo.how,
        )

    changed = await _blocking(request, run)
    if changed.withdrawal is not None:
        return _withdrawn_page(
            request, todo.lang, todo.page, changed.withdrawal, now, todo.study_id
        )
    raise web.HTTPSeeOther(f"{todo.page}/receipt" if receipt_after else f"{todo.page}?saved=1")


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
            **_base(request, ctx),
            **made,
            "recovery": personal_links.new_recovery_code(ctx.session, ctx.link),
            "lang": ctx.lang,
            "link": f"{base_url}/p/{request.match_info['token']}",
            "utc": _utc,
            "declined": ctx.state is State.DECLINED,
        }

    context = await _on_page(request, work)
    return render(request, "receipt.html", context["lang"], context)


async def receipt_download(request: web.Request) -> web.Response:
    """The receipt as a PDF."""

    def work(ctx: Ctx) -> tuple[bytes, str]:
        made = _receipt_context(ctx)["receipt"]
        return receipt_pdf(made, gettext_for(ctx.lang)), f"{made.study_id}-{made.participant_code}"

    body, name = await _on_page(request, work)
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}-receipt.pdf"'},
    )


# --- the personal page ---------------------------------------------------------------------


async def personal(request: web.Request) -> web.Response:
    """Status, deletion dates, copy, change, re-consent, withdrawal."""

    def work(ctx: Ctx) -> dict[str, Any]:
        status = rights.status(ctx.session, ctx.services.vault, ctx.participant)
        study = get_study(ctx.session, ctx.definition.id)
        withdrawable = {
            ctx.definition.consent_items[i].id
            for i in rights.withdrawable_items(ctx.session, ctx.participant)
        }
        withdrawn = receipts.last_withdrawal(ctx.session, ctx.participant)
        return {
            **_base(request, ctx),
            "lang": ctx.lang,
            "status": status,
            "state": status.state.value,
            "items": [
                {
                    "id": i.item_id,
                    "text": i.text[ctx.lang],
                    "required": i.required,
                    "granted": i.granted,
                    "withdrawable": i.item_id in withdrawable,
                }
                for i in status.items
            ],
            "deadline": _local(study_deadline(study), study.timezone),
            "processing_end": study.processing_end.isoformat(),
            "reconsent": consent.needs_reconsent(ctx.session, ctx.participant),
            "has_receipt": receipts.latest_consent(ctx.session, ctx.participant) is not None,
            "withdrawn_at": None if withdrawn is None else _utc(withdrawn),
            "saved": request.query.get("saved") == "1",
        }

    context = await _on_page(request, work)
    return render(request, "personal.html", context["lang"], context)


async def copy(request: web.Request) -> web.Response:
    """The Art. 15 copy: the same JSON file as the bot's /copy."""

    def work(ctx: Ctx) -> rights.DataCopy:
        return rights.data_copy(ctx.session, ctx.services.vault, ctx.participant, ctx.now)

    made = await _on_page(request, work)
    return web.Response(
        body=made.as_json(),
        content_type="application/json",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


async def change(request: web.Request) -> web.Response:
    """Change optional items; a changed letter sends the informant to read it again first."""
    form = await _form(request)

    def work(ctx: Ctx) -> _ToRecord:
        page = _base(request, ctx)["page"]
        if not ctx.holds_consent:
            raise GoTo(page)
        if consent.needs_reconsent(ctx.session, ctx.participant):
            raise GoTo(f"{page}/letter")
        current = consent.current_consent(ctx.session, ctx.participant)
        last = receipts.latest_consent(ctx.session, ctx.participant)
        assert last is not None and current.language is not None
        decisions = {}
        for item in ctx.definition.consent_items:
            value = form.get(f"item-{item.id}")
            keep = current.granted(item.id)
            decisions[item.id] = keep if item.required or value not in (YES, NO) else value == YES
        delivered = last.letter_delivered_at or last.recorded_at
        return _ToRecord(
            ctx.participant.study_id,
            ctx.participant.code,
            str(current.language),
            as_utc(delivered),
            _how(ctx, "web-change", str(current.language)),
            decisions,
            page,
        )

    return await _change(request, await _on_page(request, work), receipt_after=False)


# --- withdrawal, in two steps --------------------------------------------------------------


def _scope(ctx: Ctx, form: Mapping[str, str], page: str) -> str:
    """What to withdraw: "all" or a granted optional item's id (else back to the page)."""
    scope = form.get("scope", "")
    if not ctx.holds_consent:
        raise GoTo(page)
    if scope == "all":
        return scope
    withdrawable = {
        ctx.definition.consent_items[i].id
        for i in rights.withdrawable_items(ctx.session, ctx.participant)
    }
    if scope not in withdrawable:
        raise GoTo(page)
    return scope


async def withdraw(request: web.Request) -> web.Response:
    """Step 1: what will be withdrawn and destroyed; asks once more."""
    form = await _form(request)

    def work(ctx: Ctx) -> dict[str, Any]:
        base = _base(request, ctx)
        scope = _scope(ctx, form, base["page"])
        item = next((i for i in ctx.definition.consent_items if i.id == scope), None)
        return {
            **base,
            "lang": ctx.lang,
            "scope": scope,
            "item_text": None if item is None else item.text[ctx.lang],
            "recording_item": item is not None and item.id == ctx.definition.recording_item_id,
        }

    context = await _on_page(request, work)
    return render(request, "withdraw_confirm.html", context["lang"], context)


async def withdraw_confirm(request: web.Request) -> web.Response:
    """Step 2: withdraw and purge at once; the page says what was destroyed and when."""
    form = await _form(request)

    def work(ctx: Ctx) -> tuple[str, str, str, str, frozenset[str] | None]:
        base = _base(request, ctx)
        scope = _scope(ctx, form, base["page"])
        items = None if scope == "all" else frozenset({scope})
        return ctx.participant.study_id, ctx.participant.code, ctx.lang, base["page"], items

    study_id, code, lang, page, items = await _on_page(request, work)
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> WithdrawalDone:
        return rights.withdraw(services, study_id, code, channel="web", now=now, items=items)

    try:
        done = await _blocking(request, run)
    except DomainError:
        raise web.HTTPSeeOther(page) from None
    return _withdrawn_page(request, lang, page, done, now, study_id)


def _withdrawn_page(
    request: web.Request,
    lang: str,
    page: str,
    done: WithdrawalDone,
    now: dt.datetime,
    study_id: str,
) -> web.Response:
    report = done.report
    context = {
        "page": page,
        "path": request.path,
        "languages": (),
        "whole": done.recorded.whole,
        "shredded": dict(report.shredded),
        "total": report.total,
        "identity_deleted": report.identity_deleted,
        "pseudonymised": dict(report.pseudonymised),
        "when": _utc(now),
        "study_id": study_id,
    }
    return render(request, "withdrawn.html", lang, context)


# --- recovery ------------------------------------------------------------------------------


async def recover_form(request: web.Request) -> web.Response:
    """GET /recover: enter the recovery code shown with the receipt."""
    _throttle(request)
    return render(request, "recover.html", _browser_language(request))


async def recover(request: web.Request) -> web.Response:
    """POST /recover: a new personal link for a recovery code (the old link stops working)."""
    _throttle(request)
    form = await _form(request)
    services = request.app[SERVICES]

    def run() -> str:
        with transaction(services.research) as session:
            return personal_links.recover(session, form.get("code", ""))

    try:
        token = await _blocking(request, run)
    except PersonalLinkNotFound:
        _failed(request)
        lang = _browser_language(request)
        raise PageAnswer("recover.html", 404, lang, {"wrong": True}) from None
    raise web.HTTPSeeOther(f"/p/{token}")


# --- a Telegram chat for the same participation --------------------------------------------


async def telegram(request: web.Request) -> web.Response:
    """A one-time t.me link that attaches a Telegram chat to this participation."""
    await _form(request)
    bot = request.app[SERVICES].settings.telegram_bot_username

    def work(ctx: Ctx) -> dict[str, Any]:
        base = _base(request, ctx)
        if ctx.state is State.WITHDRAWN:
            raise GoTo(base["page"])
        code = chat_links.create(ctx.session, ctx.participant, ctx.now)
        return {**base, "lang": ctx.lang, "telegram_url": f"https://t.me/{bot}?start={code}"}

    context = await _on_page(request, work)
    return render(request, "telegram.html", context["lang"], context)


# Texts the views choose between (the templates hold the rest).
INVITE_REASONS = {
    "invite.unknown": _("This invitation is not valid."),
    "invite.used": _("This invitation has already been used."),
    "invite.expired": _("This invitation has expired."),
}
STATE_NAMES = {
    State.INVITED: _("Invited: you have not answered yet."),
    State.INFORMED: _("You have read the letter but not answered yet."),
    State.CONSENTED: _("You take part: your consent is recorded."),
    State.DECLINED: _("You declined: you do not take part."),
    State.WITHDRAWN: _("You have withdrawn from the study."),
    State.INTERVIEWED: _("You take part: your interview is recorded."),
    State.TRANSCRIBED: _("You take part: your interview is transcribed."),
    State.APPROVED: _("You take part: your transcript is approved."),
}
KIND_NAMES = {
    "recording": _("recordings"),
    "raw_transcript": _("raw transcripts"),
    "redaction_map": _("redaction maps"),
}


def template_globals() -> dict[str, Any]:
    """Names every template may use."""
    return {
        "invite_reasons": INVITE_REASONS,
        "state_names": {k.value: v for k, v in STATE_NAMES.items()},
        "kind_names": KIND_NAMES,
    }
