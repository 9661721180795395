"""``fieldvault pseudonymise``, ``terms``, ``review`` and ``transcript approve``."""

from __future__ import annotations

import json
from typing import TextIO

import click

from fieldvault.cli.context import services_from
from fieldvault.cli.transcript_cmds import format_segments
from fieldvault.domain import pseudonymisation as pz
from fieldvault.pseudonymise.engine import TERM_CATEGORIES
from fieldvault.storage.db import transaction
from fieldvault.storage.models import utcnow

_CATEGORIES = click.Choice([c.value for c in TERM_CATEGORIES])


@click.command("pseudonymise")
@click.option(
    "--study",
    "study_id",
    required=True,
    metavar="STUDY",
    help="The study whose vault, terms and numbering apply.",
)
@click.option("--participant", "code", metavar="CODE", help="Whose text it is (checked to exist).")
@click.option(
    "--term", "terms", multiple=True, metavar="TEXT", help="Extra text to replace, this run only."
)
@click.option(
    "--language",
    type=click.Choice(["nb", "nn", "en"]),
    help="Language of the text; default: the study's first.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: text and spans (start, end, category, placeholder).",
)
@click.argument("source", metavar="FILE|-", type=click.File("r", encoding="utf-8"))
@click.pass_context
def pseudonymise_cmd(
    ctx: click.Context,
    study_id: str,
    code: str | None,
    terms: tuple[str, ...],
    language: str | None,
    as_json: bool,
    source: TextIO,
) -> None:
    """Pseudonymise a text (a transcript, field notes) and print it."""
    services = services_from(ctx)
    text = source.read()
    result = pz.pseudonymise_text(
        services,
        study_id,
        text,
        language=language,
        participant_code=code,
        extra_terms=terms,
    )
    if as_json:
        # Spans point into the printed text; what they replaced stays out of the output.
        payload = {"text": result.text, "spans": [span.public() for span in result.spans]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(result.text, nl=not result.text.endswith("\n"))
    if result.suspects:
        click.echo(f"{len(result.suspects)} suspect(s) left in the text for you to check", err=True)


@click.group("terms")
def terms() -> None:
    """A study's term list: offices, colleagues, places always replaced (sealed in the vault)."""


@terms.command("add")
@click.argument("study_id", metavar="STUDY")
@click.argument("text")
@click.option("--category", required=True, type=_CATEGORIES, help="What the term is.")
@click.pass_context
def terms_add(ctx: click.Context, study_id: str, text: str, category: str) -> None:
    """Add TEXT to the study's term list."""
    count = pz.add_term(services_from(ctx), study_id, text, category, utcnow())
    click.echo(f"term added ({category}); {study_id} has {count} term(s), sealed in the vault")


@terms.command("list")
@click.argument("study_id", metavar="STUDY")
@click.pass_context
def terms_list(ctx: click.Context, study_id: str) -> None:
    """Show the study's terms (identifying: for the researcher's screen only)."""
    for term in pz.load_terms(services_from(ctx), study_id):
        click.echo(f"{term.category.value:<10} {term.text}")


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
    type=_CATEGORIES,
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
            pz.add_term(services, study_id, text, category, now)
        pz.redo(services, study_id, code, now)
    if rejects:
        pz.reject(services, study_id, code, rejects, now)
    if accepts:
        pz.accept(services, study_id, code, accepts, now)
    for number, text in edits:
        pz.edit(services, study_id, code, number, text, now)
    items = pz.review(services, study_id, code, now)
    marks = {"rejected": "  (rejected: kept)", "checked": "  (checked)", "edited": "  (edited)"}
    for item in items:
        mark = marks.get(item.status, "")
        if item.kind == "replacement":
            click.echo(
                f"{item.number:>4}  seg {item.segment:<4} {item.category:<12} "
                f"{item.original!r} → {item.placeholder}{mark}\n        {item.context}"
            )
        else:
            now_reads = f" → {item.placeholder}" if item.placeholder else " left in"
            click.echo(
                f"{item.number:>4}  seg {item.segment:<4} SUSPECT {item.category:<12} "
                f"{item.original!r}{now_reads}{mark}\n        {item.context}"
            )
    replacements = sum(1 for i in items if i.kind == "replacement")
    unchecked = sum(1 for i in items if i.status == "suspect")
    click.echo(
        f"{replacements} replacement(s), {len(items) - replacements} suspect(s), "
        f"{unchecked} not yet checked. `--reject N` keeps an original, `--accept N` marks an "
        "item checked, `--edit N TEXT` writes TEXT in its place, `--add-term TEXT --category "
        f"CAT` replaces more; `fieldvault transcript approve {study_id} {code}` when it is right.",
        err=True,
    )


@click.command("approve")
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.pass_context
def approve(ctx: click.Context, study_id: str, code: str) -> None:
    """Approve the reviewed pseudonymised transcripts: they become exportable research data."""
    count = pz.approve(services_from(ctx), study_id, code, utcnow())
    click.echo(f"{count} pseudonymised transcript(s) of {code} approved")


@click.command("approved")
@click.argument("study_id", metavar="STUDY")
@click.argument("code", metavar="CODE")
@click.option(
    "--format", "fmt", type=click.Choice(["txt", "json"]), default="txt", show_default=True
)
@click.pass_context
def approved(ctx: click.Context, study_id: str, code: str, fmt: str) -> None:
    """Print only the approved pseudonymised transcripts (research data); see `transcript show`."""
    services = services_from(ctx)
    with transaction(services.research) as session:
        documents = pz.approved_documents(session, study_id, code)
    if not documents:
        raise pz.NothingToReview(
            f"{code} has no approved transcript in {study_id}; "
            f"`fieldvault review {study_id} {code}` shows what waits for review"
        )
    if fmt == "json":
        click.echo(json.dumps(documents, ensure_ascii=False, indent=2))
        return
    for doc in documents:
        click.echo(f"# transcript {doc['transcript_id']} · {doc['language']} · approved")
        click.echo(format_segments(doc))
