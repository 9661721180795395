"""The personal page /p/{token}: status, the Art. 15 copy, changed answers, withdrawal, recovery.

Withdrawal takes two steps (what will go, then ``rights.withdraw``) and ends on a page saying
what was destroyed; a recovery code gives a new link; a one-time t.me link attaches a Telegram
chat to the same participation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fieldvault.domain import chat_links, consent, personal_links, receipts, rights
from fieldvault.domain.errors import DomainError
from fieldvault.domain.personal_links import PersonalLinkNotFound
from fieldvault.domain.retention.deadlines import study_deadline
from fieldvault.domain.states import State
from fieldvault.domain.studies import get_study
from fieldvault.domain.withdrawal import WithdrawalDone
from fieldvault.storage.db import transaction
from fieldvault.storage.models import as_utc
from fieldvault.web.consent import pages
from fieldvault.web.consent.pages import NO, YES, Ctx, GoTo, PageAnswer
from fieldvault.web.keys import CLOCK, SERVICES

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
            **pages.base(request, ctx),
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
            "deadline": pages.local(study_deadline(study), study.timezone),
            "processing_end": study.processing_end.isoformat(),
            "reconsent": consent.needs_reconsent(ctx.session, ctx.participant),
            "has_receipt": receipts.latest_consent(ctx.session, ctx.participant) is not None,
            "withdrawn_at": None if withdrawn is None else pages.utc(withdrawn),
            "saved": request.query.get("saved") == "1",
        }

    context = await pages.on_page(request, work)
    return pages.render(request, "personal.html", context["lang"], context)


async def copy(request: web.Request) -> web.Response:
    """The Art. 15 copy: the same JSON file as the bot's /copy."""

    def work(ctx: Ctx) -> rights.DataCopy:
        return rights.data_copy(ctx.session, ctx.services.vault, ctx.participant, ctx.now)

    made = await pages.on_page(request, work)
    return web.Response(
        body=made.as_json(),
        content_type="application/json",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


# --- changed answers (/change here, and a re-consent from flow.confirm) --------------------


@dataclass(frozen=True)
class ToRecord:
    """Answers of someone who takes part, to record through ``change_answers``."""

    study_id: str
    code: str
    lang: str
    delivered: dt.datetime
    how: dict[str, Any]
    decisions: dict[str, bool]
    page: str


def how(ctx: Ctx, step: str, language: str) -> dict[str, Any]:
    """How a web consent was given: the step, the page's row, the item texts it showed."""
    return {
        "page": step,
        "personal_link": ctx.link.id,
        **receipts.shown_items(ctx.definition, language),
    }


async def change(request: web.Request) -> web.Response:
    """Change optional items; a changed letter sends the informant to read it again first."""
    form = await pages.form(request)

    def work(ctx: Ctx) -> ToRecord:
        page = pages.base(request, ctx)["page"]
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
        return ToRecord(
            ctx.participant.study_id,
            ctx.participant.code,
            str(current.language),
            as_utc(delivered),
            how(ctx, "web-change", str(current.language)),
            decisions,
            page,
        )

    return await change_answers(request, await pages.on_page(request, work), receipt_after=False)


async def change_answers(
    request: web.Request, todo: ToRecord, *, receipt_after: bool
) -> web.Response:
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

    changed = await pages.blocking(request, run)
    if changed.withdrawal is not None:
        return _withdrawn_page(
            request, todo.lang, todo.page, changed.withdrawal, now, todo.study_id
        )
    raise web.HTTPSeeOther(f"{todo.page}/receipt" if receipt_after else f"{todo.page}?saved=1")


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
    form = await pages.form(request)

    def work(ctx: Ctx) -> dict[str, Any]:
        base = pages.base(request, ctx)
        scope = _scope(ctx, form, base["page"])
        item = next((i for i in ctx.definition.consent_items if i.id == scope), None)
        return {
            **base,
            "lang": ctx.lang,
            "scope": scope,
            "item_text": None if item is None else item.text[ctx.lang],
            "recording_item": item is not None and item.id == ctx.definition.recording_item_id,
        }

    context = await pages.on_page(request, work)
    return pages.render(request, "withdraw_confirm.html", context["lang"], context)


async def withdraw_confirm(request: web.Request) -> web.Response:
    """Step 2: withdraw and purge at once; the page says what was destroyed and when."""
    form = await pages.form(request)

    def work(ctx: Ctx) -> tuple[str, str, str, str, frozenset[str] | None]:
        base = pages.base(request, ctx)
        scope = _scope(ctx, form, base["page"])
        items = None if scope == "all" else frozenset({scope})
        return ctx.participant.study_id, ctx.participant.code, ctx.lang, base["page"], items

    study_id, code, lang, page, items = await pages.on_page(request, work)
    services, now = request.app[SERVICES], request.app[CLOCK]()

    def run() -> WithdrawalDone:
        return rights.withdraw(services, study_id, code, channel="web", now=now, items=items)

    try:
        done = await pages.blocking(request, run)
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
        "when": pages.utc(now),
        "study_id": study_id,
    }
    return pages.render(request, "withdrawn.html", lang, context)


# --- recovery ------------------------------------------------------------------------------


async def recover_form(request: web.Request) -> web.Response:
    """GET /recover: enter the recovery code shown with the receipt."""
    pages.throttle(request)
    return pages.render(request, "recover.html", pages.browser_language(request))


async def recover(request: web.Request) -> web.Response:
    """POST /recover: a new personal link for a recovery code (the old link stops working)."""
    pages.throttle(request)
    form = await pages.form(request)
    services = request.app[SERVICES]

    def run() -> str:
        with transaction(services.research) as session:
            return personal_links.recover(session, form.get("code", ""))

    try:
        token = await pages.blocking(request, run)
    except PersonalLinkNotFound:
        pages.failed(request)
        lang = pages.browser_language(request)
        raise PageAnswer("recover.html", 404, lang, {"wrong": True}) from None
    raise web.HTTPSeeOther(f"/p/{token}")


# --- a Telegram chat for the same participation --------------------------------------------


async def telegram(request: web.Request) -> web.Response:
    """A one-time t.me link that attaches a Telegram chat to this participation."""
    await pages.form(request)
    bot = request.app[SERVICES].settings.telegram_bot_username

    def work(ctx: Ctx) -> dict[str, Any]:
        base = pages.base(request, ctx)
        if ctx.state is State.WITHDRAWN:
            raise GoTo(base["page"])
        code = chat_links.create(ctx.session, ctx.participant, ctx.now)
        return {**base, "lang": ctx.lang, "telegram_url": f"https://t.me/{bot}?start={code}"}

    context = await pages.on_page(request, work)
    return pages.render(request, "telegram.html", context["lang"], context)
