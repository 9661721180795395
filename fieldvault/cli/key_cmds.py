"""``fieldvault keys rotate``: a new current key, with everything re-wrapped under it."""

from __future__ import annotations

import click

from fieldvault.cli.context import settings_from
from fieldvault.storage.keys import add_key, retire_key
from fieldvault.storage.services import open_services
from fieldvault.storage.study_documents import StudyDocuments


@click.group()
def keys() -> None:
    """Key files (linkage key, content key)."""


@keys.command("rotate")
@click.argument("which", type=click.Choice(["linkage", "content"]))
@click.pass_context
def rotate(ctx: click.Context, which: str) -> None:
    """Make a new current key, re-wrap everything under it, then retire the old keys.

    Data is not re-encrypted: identities and study documents are re-sealed (small) and data
    keys re-wrapped, so rotation takes seconds even with hours of recordings. The Telegram
    lookups are under the lookup key, which no rotation touches: everyone stays reachable.
    """
    settings = settings_from(ctx)
    path = settings.linkage_key_path if which == "linkage" else settings.content_key_path
    new_id = add_key(path, which)
    services = open_services(settings)
    documents = 0
    try:
        if which == "linkage":
            count = services.vault.reseal()
            # Study documents (terms, placeholders, researchers' chats) are sealed too.
            documents = StudyDocuments(services.vault_sessions, services.keys.linkage).reseal()
            old = [k for k in services.keys.linkage.ids if k != new_id]
        else:
            count = services.content.keys.rewrap()
            old = [k for k in services.keys.content.ids if k != new_id]
        # The rows as sealed under the old key must not outlive it in the WAL.
        services.after_destruction()
    finally:
        services.close()
    # Only after everything is under the new key may the old ones go.
    for key_id in old:
        retire_key(path, which, key_id)
    noun = (
        f"identities re-sealed; {documents} study documents re-sealed"
        if which == "linkage"
        else "data keys re-wrapped"
    )
    click.echo(f"new {which} key {new_id}; {count} {noun}; {len(old)} old key(s) retired")
