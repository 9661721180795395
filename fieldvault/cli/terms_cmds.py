"""``fieldvault terms``: a study's term list (``add``, ``list``)."""

from __future__ import annotations

import click

from fieldvault.cli.context import services_from
from fieldvault.domain.redaction.terms import add_term, load_terms
from fieldvault.pseudonymise.engine import TERM_CATEGORIES
from fieldvault.storage.models import utcnow

# The term categories as a click choice (``review --category`` takes them too).
CATEGORIES = click.Choice([c.value for c in TERM_CATEGORIES])


@click.group("terms")
def terms() -> None:
    """A study's term list: offices, colleagues, places always replaced (sealed in the vault)."""


@terms.command("add")
@click.argument("study_id", metavar="STUDY")
@click.argument("text")
@click.option("--category", required=True, type=CATEGORIES, help="What the term is.")
@click.pass_context
def terms_add(ctx: click.Context, study_id: str, text: str, category: str) -> None:
    """Add TEXT to the study's term list."""
    count = add_term(services_from(ctx), study_id, text, category, utcnow())
    click.echo(f"term added ({category}); {study_id} has {count} term(s), sealed in the vault")


@terms.command("list")
@click.argument("study_id", metavar="STUDY")
@click.pass_context
def terms_list(ctx: click.Context, study_id: str) -> None:
    """Show the study's terms (identifying: for the researcher's screen only)."""
    for term in load_terms(services_from(ctx), study_id):
        click.echo(f"{term.category.value:<10} {term.text}")
