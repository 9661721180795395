"""The exports page: choose formats, download the study's export as one ZIP.

The download is the CLI's export (``export.bundle``): the same collection of approved,
pseudonymised transcripts, the same leak guard and schema checks, the same audit event
(``export.created``, naming the researcher, with ``"delivery": "download"``), built in memory
and never written to disk; the ZIP is then streamed in pieces.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fieldvault.domain.permissions import Action
from fieldvault.domain.studies import get_study
from fieldvault.export import FORMATS, ExportArchive, ExportError, export_archive
from fieldvault.storage.db import transaction
from fieldvault.web.consent.texts import _
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher.access import current, page
from fieldvault.web.researcher.pages import blocking, render, study_context

CHUNK = 256 * 1024
# What each format holds, for people (export/bundle.py's README says the same for the folder).
DESCRIPTIONS: dict[str, str] = {
    "qdpx": _("REFI-QDA project for MAXQDA, NVivo, ATLAS.ti and QualCoder"),
    "qdc": _("The codebook alone (REFI-QDA)"),
    "docx": _("Word transcripts with time stamps, and an overview"),
    "txt": _("Plain text transcripts (f4/MAXQDA, QualCoder, NVivo table)"),
    "srt": _("Subtitles (SRT and WebVTT)"),
    "csv": _("The participant overview (CSV and Markdown)"),
}


def setup(app: web.Application) -> None:
    """The exports page and its download."""
    path = "/studies/{study}/exports"
    page(app, "GET", path, exports_page, name="r.exports", action=Action.EXPORT)
    page(app, "POST", path, download, name="r.exports.download", action=Action.EXPORT)


async def _page(
    request: web.Request, chosen: list[str], problem: str = "", status: int = 200
) -> web.Response:
    services, study_id = request.app[SERVICES], request.match_info["study"]

    def title() -> str:
        with transaction(services.research) as session:
            return get_study(session, study_id).title

    context: dict[str, Any] = {
        **study_context(request, study_id, await blocking(request, title), "exports"),
        "formats": [(name, DESCRIPTIONS[name]) for name in FORMATS],
        "chosen": chosen,
        "problem": problem,
    }
    return render(request, "researcher/exports.html", context, status=status)


async def exports_page(request: web.Request) -> web.StreamResponse:
    """The formats to choose (all ticked at first)."""
    return await _page(request, list(FORMATS))


async def download(request: web.Request) -> web.StreamResponse:
    """Build, guard, audit and send the export of the chosen formats as one ZIP."""
    services, study_id = request.app[SERVICES], request.match_info["study"]
    posted = await request.post()
    chosen = [v for v in posted.getall("format", []) if isinstance(v, str) and v in FORMATS]
    if not chosen:
        return await _page(request, [], _("Choose at least one format."), status=400)
    actor, now = current(request).actor, request.app[CLOCK]()
    try:
        archive = await blocking(
            request, lambda: export_archive(services, study_id, chosen, now, actor=actor)
        )
    except ExportError as exc:
        # The export's own words (they name participant codes at most, never a person).
        return await _page(request, chosen, str(exc), status=409)
    return await _send(request, archive)


async def _send(request: web.Request, archive: ExportArchive) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{archive.filename}"',
            "Cache-Control": "no-store",
        }
    )
    response.content_length = len(archive.data)
    await response.prepare(request)
    view = memoryview(archive.data)
    for start in range(0, len(view), CHUNK):
        await response.write(view[start : start + CHUNK])
    await response.write_eof()
    return response
