"""``fieldvault web`` and ``fieldvault researcher api-token``."""

from __future__ import annotations

import asyncio
import logging

import click

from fieldvault.cli.context import (
    configure_logging,
    run_until_signalled,
    services_from,
    settings_from,
)
from fieldvault.compose import build_web_app
from fieldvault.domain.api_tokens import create_token, revoke_token
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow
from fieldvault.web.server import run_web

log = logging.getLogger("fieldvault.web")


@click.command()
@click.pass_context
def web(ctx: click.Context) -> None:
    """Run the web app (researcher upload API) alone on FIELDVAULT_WEB_HOST:WEB_PORT."""
    settings = settings_from(ctx)
    configure_logging(settings)
    services = services_from(ctx)

    async def main(stop: asyncio.Event) -> None:
        await run_web(
            build_web_app(services),
            settings.web_host,
            settings.web_port,
            stop,
            lambda url: log.info("web: listening on %s (API at /api/openapi.json)", url),
        )

    run_until_signalled(main)
    log.info("web: stopped")


@click.command("api-token")
@click.argument("study_id", metavar="STUDY")
@click.option("--label", metavar="LABEL", help="Create a token with this label (e.g. 'IH laptop').")
@click.option("--revoke", "revoke_label", metavar="LABEL", help="Revoke the token with this label.")
@click.pass_context
def api_token(
    ctx: click.Context, study_id: str, label: str | None, revoke_label: str | None
) -> None:
    """Create (shown once) or revoke a researcher's API token for one study."""
    if (label is None) == (revoke_label is None):
        raise click.UsageError("give --label LABEL to create a token or --revoke LABEL to revoke")
    services = services_from(ctx)
    with transaction(services.research) as session:
        if revoke_label is not None:
            revoke_token(session, study_id, revoke_label, utcnow())
            click.echo(f"API token {revoke_label.strip()!r} of {study_id} is revoked.")
            return
        assert label is not None
        token = create_token(session, study_id, label, utcnow())
    click.echo(token)
    click.echo(
        f"This is the API token {label.strip()!r} for {study_id}; it is shown only now and only "
        "its hash is kept. Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )
