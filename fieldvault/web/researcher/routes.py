"""The researchers' URL map: each module adds its routes with ``access.page``."""

from __future__ import annotations

from aiohttp import web

from fieldvault.web.researcher import (
    audit_pages,
    auth_pages,
    exports,
    jobs,
    retention,
    review,
    studies,
    uploads_page,
)
from fieldvault.web.researcher.access import PAGES, access_middleware
from fieldvault.web.researcher.pages import researcher_errors


def setup_researcher(app: web.Application) -> None:
    """Mount the researcher pages and their two middlewares (errors outside, access inside)."""
    app[PAGES] = {}
    app.middlewares.append(researcher_errors)
    app.middlewares.append(access_middleware)
    for module in (
        auth_pages,
        studies,
        uploads_page,
        jobs,
        review,
        exports,
        retention,
        audit_pages,
    ):
        module.setup(app)
