"""TODO(issue 13): researcher pages — retention."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add this module's routes with `access.page`."""
