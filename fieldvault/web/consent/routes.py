"""The informant pages' URLs, templates and static files, mounted on the web app."""

from __future__ import annotations

from importlib import resources

import aiohttp_jinja2
import jinja2
from aiohttp import web

from fieldvault.web.consent import views
from fieldvault.web.consent.security import Throttle, security_headers

STATIC_DIR = "static"


def setup_consent(app: web.Application, throttle: Throttle) -> None:
    """Templates (a package loader), /static, the /join and /p routes, headers on every answer."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("fieldvault.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.globals.update(views.template_globals())
    app[views.THROTTLE] = throttle
    app.on_response_prepare.append(security_headers)
    app.middlewares.append(views.pages_middleware)
    static = resources.files("fieldvault.web") / STATIC_DIR
    app.router.add_static("/static/", str(static), name="static")
    add = app.router
    add.add_get("/join/{invite}", views.join, name="join")
    add.add_post("/join/{invite}", views.join_post, name="join.post")
    add.add_get("/p/{token}", views.personal, name="personal")
    add.add_get("/p/{token}/letter", views.letter, name="letter")
    add.add_get("/p/{token}/items", views.items, name="items")
    add.add_post("/p/{token}/items", views.confirm, name="items.post")
    add.add_post("/p/{token}/confirm", views.confirm, name="confirm")
    add.add_get("/p/{token}/receipt", views.receipt, name="receipt")
    add.add_get("/p/{token}/receipt.pdf", views.receipt_download, name="receipt.pdf")
    add.add_get("/p/{token}/copy", views.copy, name="copy")
    add.add_post("/p/{token}/change", views.change, name="change")
    add.add_post("/p/{token}/withdraw", views.withdraw, name="withdraw")
    add.add_post("/p/{token}/withdraw/confirm", views.withdraw_confirm, name="withdraw.confirm")
    add.add_post("/p/{token}/telegram", views.telegram, name="telegram")
    add.add_get("/recover", views.recover_form, name="recover")
    add.add_post("/recover", views.recover, name="recover.post")
