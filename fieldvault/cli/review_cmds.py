"""``fieldvault review``: list a participant's review items and act on them by number."""

from __future__ import annotations

import click

from fieldvault.cli.context import services_from
from fieldvault.cli.terms_cmds import CATEGORIES
from fieldvault.domain.redaction import review as rv
from fieldvault.domain.redaction.terms import add_term
from fieldvault.storage.models import utcnow


@click.command("review")
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.option(
    "--reject",
    "rejects",
    multiple=True,
    type=int,
    metavar="N",
    help="Undo replacement N (keep the original).",
)
@click.option(
    "--add-term",
    "add_terms",
    multiple=True,
    metavar="TEXT",
    help="Add a study term and pseudonymise again.",
)
@click.option(
    "--category",
    type=CATEGORIES,
    default="other",
    show_default=True,
    help="Category of --add-term.",
)
@click.option(
    "--accept", "accepts", type=int, multiple=True, metavar="N", help="Mark item N as checked."
)
@click.option(
    "--edit",
    "edits",
    type=(int, str),
    multiple=True,
    metavar="N TEXT",
    help="Write TEXT in place of item N (a placeholder, or a suspect's words).",
)
@click.pass_context
def review(
    ctx: click.Context,
    study_id: str,
    code: str,
    rejects: tuple[int, ...],
    add_terms: tuple[str, ...],
    category: str,
    accepts: tuple[int, ...],
    edits: tuple[tuple[int, str], ...],
) -> None:
    """List every replacement and every suspect left in the participant's transcripts."""
    services = services_from(ctx)
    now = utcnow()
    if add_terms:
        for text in add_terms:
            add_term(services, study_id, text, category, now)
        rv.redo(services, study_id, code, now)
    if rejects:
        rv.reject(services, study_id, code, rejects, now)
    if accepts:
        rv.accept(services, study_id, code, accepts, now)
    for number, text in edits:
        rv.edit(services, study_id, code, number, text, now)
    items = rv.review_items(services, study_id, code, now)
    for item in items:
        click.echo(_line(item))
    replacements = sum(1 for i in items if i.kind == "replacement")
    unchecked = sum(1 for i in items if i.status == "suspect")
    click.echo(
        f"{replacements} replacement(s), {len(items) - replacements} suspect(s), "
        f"{unchecked} not yet checked. `--reject N` keeps an original, `--accept N` marks an "
        "item checked, `--edit N TEXT` writes TEXT in its place, `--add-term TEXT --category "
        f"CAT` replaces more; `fieldvault transcript approve {study_id} {code}` when it is right.",
        err=True,
    )


_MARKS = {"rejected": "  (rejected: kept)", "checked": "  (checked)", "edited": "  (edited)"}


def _line(item: rv.ReviewItem) -> str:
    """One review item as two lines: number, segment, what it is, and its context."""
    mark = _MARKS.get(item.status, "")
    if item.kind == "replacement":
        return (
            f"{item.number:>4}  seg {item.segment:<4} {item.category:<12} "
            f"{item.original!r} → {item.placeholder}{mark}\n        {item.context}"
        )
    now_reads = f" → {item.placeholder}" if item.placeholder else " left in"
    return (
        f"{item.number:>4}  seg {item.segment:<4} SUSPECT {item.category:<12} "
        f"{item.original!r}{now_reads}{mark}\n        {item.context}"
    )
