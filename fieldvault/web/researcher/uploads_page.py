"""The upload page: a participant who may be recorded, their file(s), a progress bar.

The page posts to the upload endpoint itself (``/api/studies/{study}/participants/{code}/
recordings``, ``web/views.py``), which admits a logged-in researcher through the same checks,
slots and audit as an API token (``web/admission.py``). ``static/upload.js`` sends the files
with XMLHttpRequest (upload progress events) and the CSRF header; without JavaScript the form
posts itself, its first field being the CSRF secret, and the endpoint answers with a redirect:
to the jobs page, or back here with the refusal's ``error`` word, shown in words.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from fieldvault.config.languages import LANGUAGES
from fieldvault.domain.permissions import Action
from fieldvault.domain.recordings import recordable_codes
from fieldvault.domain.studies import get_study
from fieldvault.storage.db import transaction
from fieldvault.web.consent.texts import _
from fieldvault.web.keys import SERVICES
from fieldvault.web.researcher.access import page
from fieldvault.web.researcher.pages import blocking, render, study_context

# The upload endpoint's ``error`` words (web/errors.py, web/admission.py) in words for people.
REFUSALS: dict[str, str] = {
    "unauthorized": _("You are not logged in any more. Log in again and send the upload again."),
    "forbidden": _("Your role in this study does not allow uploading recordings."),
    "csrf": _("The form was out of date. Reload the page and send the upload again."),
    "not-found": _("There is no such study or participant, or it is not yours to see."),
    "no-consent": _(
        "This participant has no current consent to being recorded, so no recording can be "
        "accepted. Nothing was kept."
    ),
    "study-ended": _("The study has ended: no recording can be accepted any more."),
    "too-large": _(
        "The upload is larger than the server allows. Nothing was kept. Send long interviews as "
        "separate recordings, or compress them (m4a, opus)."
    ),
    "too-long": _("The recording is longer than the server allows. Cut it into parts."),
    "too-many-tracks": _("Too many files for one recording: send at most one per speaker."),
    "bad-audio": _(
        "A file is not audio that can be read (a wrong file type, or a broken file). Nothing "
        "was kept."
    ),
    "bad-form": _("The form was not sent as expected. Reload the page and try again."),
    "interrupted": _(
        "The upload ended before everything arrived. Nothing was kept: send it again."
    ),
    "stalled": _("The upload stopped arriving. Nothing was kept: send it again."),
    "too-many-requests": _(
        "The server is receiving as many uploads as it can, or you already have uploads running. "
        "Wait a little, then send it again."
    ),
    "unsupported-media-type": _(
        "The form was not sent as expected. Reload the page and try again."
    ),
    "refused": _("The upload was refused. Nothing was kept."),
    "internal": _("The server failed on this upload. Nothing was kept. Try again in a moment."),
}


def setup(app: web.Application) -> None:
    """The upload page (the upload itself is the API's endpoint)."""
    page(app, "GET", "/studies/{study}/upload", upload_page, name="r.upload", action=Action.UPLOAD)


def endpoint(study_id: str, code: str) -> str:
    """The upload endpoint's path for one participant."""
    return f"/api/studies/{quote(study_id, safe='')}/participants/{quote(code, safe='')}/recordings"


async def upload_page(request: web.Request) -> web.StreamResponse:
    """Choose a participant (GET form), then send their file(s) to the upload endpoint."""
    services, study_id = request.app[SERVICES], request.match_info["study"]

    def read() -> tuple[str, list[str]]:
        with transaction(services.research) as session:
            return get_study(session, study_id).title, recordable_codes(session, study_id)

    title, codes = await blocking(request, read)
    chosen = request.query.get("participant", "")
    chosen = chosen if chosen in codes else ""
    refused = request.query.get("refused", "")
    context: dict[str, Any] = {
        **study_context(request, study_id, title, "upload"),
        "codes": codes,
        "chosen": chosen,
        "action": endpoint(study_id, chosen) if chosen else "",
        "refused": REFUSALS.get(refused, REFUSALS["refused"]) if refused else "",
        "refusals": REFUSALS,
        "interview_languages": LANGUAGES,
        "jobs_url": f"/studies/{quote(study_id, safe='')}/jobs",
    }
    return render(request, "researcher/upload.html", context)
