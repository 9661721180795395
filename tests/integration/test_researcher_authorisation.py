"""Every researcher route × every role × a study not theirs × logged out, against the table.

The walk reads ``app[PAGES]``, so routes added later are covered without touching this file.
Path parameters are filled generically: ``{study}`` with the member's study, a foreign study or
an unknown one; any other with ``1``. Innermost, after ``access_middleware``, a probe
middleware answers "reached" instead of calling the handler: the walk tests what the access
layer decides, not whether a dummy participant code exists. The real handlers run in the
other tests (and a foreign study's 404 is compared with an unknown study's, body and all).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select
from yarl import URL

from fieldvault.config.study import load_study
from fieldvault.domain import studies
from fieldvault.domain.permissions import ALLOWED, Action, Role, may
from fieldvault.storage.db import transaction
from fieldvault.storage.models import ResearcherAccount, ResearcherSession
from fieldvault.storage.services import Services
from fieldvault.web.app import create_app
from fieldvault.web.researcher.access import PAGES, SAFE_METHODS, Handler, PageRule
from tests.researcher_serve import Clock, free_socket
from tests.researcher_web import add_member, log_in

from .conftest import EXAMPLE, NOW

PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
REACHED = "X-Test-Reached"
UNKNOWN = "no-such-study"
# Routes of the informant pages, the upload API and the operators' endpoints: not researcher
# pages (they have their own tokens or none); everything else must be in PAGES.
NOT_RESEARCHER = ("/api/", "/metrics", "/static", "/join/", "/p/", "/recover")


@web.middleware
async def probe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Innermost: say the access checks let the request through, without running the page."""
    rule = request.app[PAGES].get(request.match_info.route.name or "")
    if rule is not None and rule.login:  # the login pages themselves run for real
        return web.Response(text="reached", headers={REACHED: "1"})
    return await handler(request)


def _path(rule: PageRule, study: str) -> str:
    return PARAM.sub(lambda m: study if m.group(1) == "study" else "1", rule.path)


def _foreign_study(services: Services, tmp_path: Path) -> str:
    text = EXAMPLE.read_text(encoding="utf-8").replace('id = "nav-veileder"', 'id = "foreign"')
    path = tmp_path / "foreign.toml"
    path.write_text(text, encoding="utf-8")
    definition = load_study(path)
    with transaction(services.research) as session:
        studies.register_study(session, definition, text, NOW)
    add_member(services, definition.id, Role.OWNER, NOW, email="foreign-owner@uni.example")
    return definition.id


def _csrf_of(services: Services, email: str) -> str:
    with transaction(services.research) as session:
        account = session.scalars(
            select(ResearcherAccount).where(ResearcherAccount.email == email)
        ).one()
        return (
            session.scalars(
                select(ResearcherSession.csrf)
                .where(ResearcherSession.account_id == account.id)
                .order_by(ResearcherSession.id.desc())
            ).first()
            or ""
        )


async def _ask(
    http: aiohttp.ClientSession, rule: PageRule, path: str, csrf: str
) -> tuple[int, str, bool, str]:
    headers = {} if rule.method in SAFE_METHODS else {"X-CSRF-Token": csrf}
    async with http.request(rule.method, path, headers=headers, allow_redirects=False) as answer:
        body = await answer.text()
        # Every answer of every researcher route, allowed or refused, carries the page headers.
        assert answer.headers["X-Frame-Options"] == "DENY", path
        assert answer.headers["Referrer-Policy"] == "no-referrer", path
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy, path
        return answer.status, body, REACHED in answer.headers, answer.headers.get("Location", "")


def test_every_route_answers_every_role_as_the_table_says(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    foreign = _foreign_study(services, tmp_path)
    emails = {role: add_member(services, study_id, role, NOW) for role in Role}
    app = create_app(services, clock=Clock(NOW))
    app.middlewares.append(probe)
    rules = list(app[PAGES].values())
    assert any(rule.action is not None for rule in rules)
    checked: list[str] = []

    async def main() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        sock = free_socket()
        await web.SockSite(runner, sock).start()
        base = URL.build(scheme="http", host="127.0.0.1", port=sock.getsockname()[1])
        try:
            for role, email in emails.items():
                jar = aiohttp.CookieJar(unsafe=True)
                async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
                    await log_in(http, email)
                    csrf = _csrf_of(services, email)
                    for rule in rules:
                        if rule.login:
                            await _check_member(http, rule, role, study_id, foreign, csrf)
                            checked.append(f"{rule.name}:{role}")
            async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar()) as stranger:
                for rule in rules:
                    if rule.login:
                        await _check_logged_out(stranger, rule, study_id)
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert len(checked) == len(Role) * sum(rule.login for rule in rules)


async def _check_member(
    http: aiohttp.ClientSession,
    rule: PageRule,
    role: Role,
    study_id: str,
    foreign: str,
    csrf: str,
) -> None:
    where = f"{rule.method} {rule.path} as {role}"
    status, _, reached, _ = await _ask(http, rule, _path(rule, study_id), csrf)
    if rule.action is None or may(role, rule.action):
        assert reached and status == 200, f"{where}: {status}, access refused what it allows"
    else:
        assert status == 403 and not reached, f"{where}: {status}, the role lacks the action"
    if rule.action is None:
        return
    f_status, f_body, f_reached, _ = await _ask(http, rule, _path(rule, foreign), csrf)
    u_status, u_body, u_reached, _ = await _ask(http, rule, _path(rule, UNKNOWN), csrf)
    assert f_status == u_status == 404 and not (f_reached or u_reached), where
    # The page's own address (in its language links) is the only difference allowed.
    same = f_body.replace(foreign, "{study}") == u_body.replace(UNKNOWN, "{study}")
    assert same, f"{where}: a foreign study answers unlike an unknown one"


async def _check_logged_out(http: aiohttp.ClientSession, rule: PageRule, study_id: str) -> None:
    status, _, reached, location = await _ask(http, rule, _path(rule, study_id), "")
    assert not reached, f"{rule.method} {rule.path} reached its page logged out"
    if rule.method in SAFE_METHODS and not rule.path.endswith("/events"):
        assert status == 303 and location == "/login", f"{rule.path}: {status}"
    else:
        assert status == 401, f"{rule.method} {rule.path}: {status}"


def test_no_route_escapes_the_rules(services: Services) -> None:
    app = create_app(services, clock=Clock(NOW))
    pages = app[PAGES]
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(NOT_RESEARCHER) or route.method == "HEAD":
            continue
        assert route.name in pages, f"{route.method} {path} is not added with access.page"
        rule = pages[route.name]
        assert (rule.method, rule.path) == (route.method, path)
    for rule in pages.values():
        if rule.path.startswith("/studies/"):
            assert rule.action is not None and rule.login, f"{rule.path} needs an action"
        if rule.action is not None:
            assert "{study}" in rule.path and rule.login, rule.path


def test_may_follows_the_table() -> None:
    assert set(ALLOWED) == set(Action), "every action has a row"
    for action, roles in ALLOWED.items():
        for role in Role:
            assert may(role, action) == (role in roles)
            assert may(role.value, action) == (role in roles)
        assert not may("king", action)
    # What the issue asks in so many words: a dpo sees deadlines, retention and audit only.
    dpo = {action for action in Action if may(Role.DPO, action)}
    assert dpo == {Action.VIEW_STUDY, Action.VIEW_RETENTION, Action.VIEW_AUDIT}
    assert {role for role in Role if may(role, Action.MANAGE_SECURITY)} == {Role.OWNER}
    assert not may(Role.SUPERVISOR, Action.UPLOAD) and may(Role.SUPERVISOR, Action.REVIEW)
