"""The informant pages' URLs, templates and static files, mounted on the web app."""

from __future__ import annotations

from importlib import resources

import aiohttp_jinja2
import jinja2
from aiohttp import web

from fieldvault.web.consent import flow, pages, personal
from fieldvault.web.consent.security import Throttle, security_headers

STATIC_DIR = "static"


def setup_consent(app: web.Application, throttle: Throttle) -> None:
    """Templates (a package loader), /static, the /join and /p routes, headers on every answer."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("fieldvault.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.globals.update(pages.template_globals())
    app[pages.THROTTLE] = throttle
    app.on_response_prepare.append(security_headers)
    app.middlewares.append(pages.pages_middleware)
    static = resources.files("fieldvault.web") / STATIC_DIR
    app.router.add_static("/static/", str(static), name="static")
    add = app.router
    add.add_get("/join/{invite}", flow.join, name="join")
    add.add_post("/join/{invite}", flow.join_post, name="join.post")
    add.add_get("/p/{token}", personal.personal, name="personal")
    add.add_get("/p/{token}/letter", flow.letter, name="letter")
    add.add_get("/p/{token}/items", flow.items, name="items")
    add.add_post("/p/{token}/items", flow.confirm, name="items.post")
    add.add_post("/p/{token}/confirm", flow.confirm, name="confirm")
    add.add_get("/p/{token}/receipt", flow.receipt, name="receipt")
    add.add_get("/p/{token}/receipt.pdf", flow.receipt_download, name="receipt.pdf")
    add.add_get("/p/{token}/copy", personal.copy, name="copy")
    add.add_post("/p/{token}/change", personal.change, name="change")
    add.add_post("/p/{token}/withdraw", personal.withdraw, name="withdraw")
    add.add_post("/p/{token}/withdraw/confirm", personal.withdraw_confirm, name="withdraw.confirm")
    add.add_post("/p/{token}/telegram", personal.telegram, name="telegram")
    add.add_get("/recover", personal.recover_form, name="recover")
    add.add_post("/recover", personal.recover, name="recover.post")
