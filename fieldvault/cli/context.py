"""How commands reach the settings and services: built once per invocation, closed at exit."""

from __future__ import annotations

import click

from fieldvault.config.settings import Settings, load_settings
from fieldvault.services import Services, open_services


def settings_from(ctx: click.Context) -> Settings:
    """The settings of this invocation, loaded once."""
    root = ctx.find_root()
    root.meta.setdefault("fieldvault.settings", load_settings())
    settings: Settings = root.meta["fieldvault.settings"]
    return settings


def services_from(ctx: click.Context) -> Services:
    """The services of this invocation, opened once and closed when the command ends."""
    root = ctx.find_root()
    if "fieldvault.services" not in root.meta:
        services = open_services(settings_from(ctx))
        root.call_on_close(services.close)
        root.meta["fieldvault.services"] = services
    result: Services = root.meta["fieldvault.services"]
    return result
