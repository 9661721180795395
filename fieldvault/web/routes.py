"""The URL map of the web app."""

from __future__ import annotations

from aiohttp import web

from fieldvault.web import views


def setup_routes(app: web.Application) -> None:
    """Attach every route to ``app``."""
    app.router.add_get("/api/health", views.health)
    app.router.add_get("/api/ready", views.ready)
    app.router.add_get("/metrics", views.metrics_page)
    app.router.add_get("/api/openapi.json", views.openapi)
    app.router.add_post(
        "/api/studies/{study}/participants/{code}/recordings",
        views.upload_recording,
        expect_handler=views.expect_upload,
    )
