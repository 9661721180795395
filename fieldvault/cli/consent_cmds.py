"""``fieldvault consent record`` (consent given on paper) and ``consent withdraw``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from fieldvault.cli.context import services_from
from fieldvault.domain.consent import record_paper_consent
from fieldvault.domain.withdrawal import withdraw_and_purge
from fieldvault.storage.models import utcnow


def _items(values: tuple[str, ...]) -> list[str]:
    # Accept both --grant a --grant b and --grant a,b.
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.group()
def consent() -> None:
    """Consent records."""


@consent.command("record")
@click.argument("study_id", metavar="STUDY")
@click.argument("code")
@click.option("--grant", multiple=True, metavar="ITEM", help="An item the informant ticked.")
@click.option("--refuse", multiple=True, metavar="ITEM", help="An item left unticked.")
@click.option(
    "--evidence",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The scanned signed form (PDF, PNG, JPEG, TIFF); stored encrypted.",
)
@click.option("--language", default="nb", show_default=True, help="Language of the form.")
@click.option(
    "--signed-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Date on the form (YYYY-MM-DD); default today.",
)
@click.option("--researcher", required=True, help="Who took the paper consent.")
@click.pass_context
def record(
    ctx: click.Context,
    study_id: str,
    code: str,
    grant: tuple[str, ...],
    refuse: tuple[str, ...],
    evidence: Path,
    language: str,
    signed_on: dt.datetime | None,
    researcher: str,
) -> None:
    """Register consent given on a signed paper form."""
    granted, refused = _items(grant), _items(refuse)
    both = sorted(set(granted) & set(refused))
    if both:
        raise click.BadParameter(
            f"{', '.join(both)} both granted and refused", param_hint="--grant"
        )
    decisions = {**dict.fromkeys(granted, True), **dict.fromkeys(refused, False)}
    services = services_from(ctx)
    now = utcnow()
    with evidence.open("rb") as scan:
        result = record_paper_consent(
            services,
            study_id=study_id,
            code=code,
            decisions=decisions,
            language=language,
            signed_on=(signed_on.date() if signed_on else now.date()),
            researcher=researcher,
            evidence=scan,
            now=now,
        )
    click.echo(
        f"consent record {result.id} for {code} ({result.participant.state}): "
        f"granted {', '.join(granted) or 'nothing'}; refused {', '.join(refused) or 'nothing'}"
    )


@consent.command("withdraw")
@click.argument("study_id", metavar="STUDY")
@click.argument("code")
@click.option(
    "--item",
    "items",
    multiple=True,
    metavar="ITEM",
    help="Withdraw only this consent item (repeatable); default: the whole consent.",
)
@click.pass_context
def withdraw(ctx: click.Context, study_id: str, code: str, items: tuple[str, ...]) -> None:
    """Record a withdrawal (e.g. by e-mail or phone) and purge what it covers at once."""
    services = services_from(ctx)
    wanted = _items(items)
    done = withdraw_and_purge(
        services,
        study_id,
        code,
        channel="cli",
        now=utcnow(),
        items=frozenset(wanted) if wanted else None,
        actor="researcher",
    )
    report, withdrawn = done.report, done.recorded.items_withdrawn
    scope = "the whole consent" if report.whole else ", ".join(sorted(withdrawn))
    objects = ", ".join(f"{k} {v}" for k, v in sorted(report.shredded.items())) or "none"
    click.echo(
        f"{code} withdrew {scope}; deleted objects: {objects}; "
        f"identity deleted: {'yes' if report.identity_deleted else 'no'}"
    )
    if report.pseudonymised:
        click.echo(
            f"pseudonymised transcripts: {report.pseudonymised['deleted']} deleted, "
            f"{report.pseudonymised['kept']} approved kept as research data (study policy)"
        )
