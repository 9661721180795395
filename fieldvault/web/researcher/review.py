"""A study's transcripts and the review editor: segments, player, items, speakers, approval.

Every change calls the domain functions the CLI calls: ``review.accept`` / ``edit`` / ``reject``
(with the version the page was rendered from, so a save over someone else's is refused with
409 instead of overwriting it), ``speakers.set_speaker`` and ``approval.approve``. The forms
work without JavaScript (a POST, then back to the editor); ``static/review.js`` sends the same
requests with ``fetch`` and the ``X-CSRF-Token`` header and reads the JSON answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fieldvault.domain import speakers
from fieldvault.domain.errors import DomainError
from fieldvault.domain.permissions import Action
from fieldvault.domain.redaction import approval, editor
from fieldvault.domain.redaction import review as rv
from fieldvault.domain.redaction.errors import ReviewConflict
from fieldvault.domain.studies import get_study
from fieldvault.errors import NotFoundError
from fieldvault.storage.db import transaction
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher.access import current, page
from fieldvault.web.researcher.pages import blocking, render, study_context
from fieldvault.web.researcher.review_audio import audio

BASE = "/studies/{study}/transcripts"
EDITOR = BASE + "/{transcript}"
ACTIONS = ("accept", "edit", "reject")
REWIND_CHOICES = (2, 3, 4, 5)
SPEEDS = ("0.5", "0.75", "1", "1.25", "1.5", "2")


def setup(app: web.Application) -> None:
    """The transcript list, the editor, its audio and the editor's saves and approval."""
    page(app, "GET", BASE, transcripts, name="r.review.list", action=Action.REVIEW)
    page(app, "GET", EDITOR, editor_page, name="r.review.editor", action=Action.REVIEW)
    page(app, "GET", EDITOR + "/audio/{track}", audio, name="r.review.audio", action=Action.REVIEW)
    page(
        app,
        "POST",
        EDITOR + "/items/{number}",
        save_item,
        name="r.review.item",
        action=Action.REVIEW,
    )
    page(
        app,
        "POST",
        EDITOR + "/speakers/{label}",
        save_speaker,
        name="r.review.speaker",
        action=Action.REVIEW,
    )
    page(app, "POST", EDITOR + "/approve", approve, name="r.review.approve", action=Action.APPROVE)


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    return int(text)


def clock(seconds: float) -> str:
    """A time in a recording as h:mm:ss."""
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


async def transcripts(request: web.Request) -> web.Response:
    """The study's transcripts: who, when, how long, how far the review is."""
    services, study_id = request.app[SERVICES], request.match_info["study"]

    def run() -> tuple[str, list[editor.TranscriptSummary]]:
        with transaction(services.research) as session:
            return get_study(session, study_id).title, editor.study_transcripts(session, study_id)

    title, rows = await blocking(request, run)
    context = study_context(request, study_id, title, "transcripts")
    return render(request, "researcher/transcripts.html", context | {"rows": rows, "clock": clock})


async def editor_page(request: web.Request) -> web.Response:
    """The review editor of one transcript, every segment rendered on the server."""
    services, now = request.app[SERVICES], request.app[CLOCK]()
    study_id = request.match_info["study"]
    transcript_id = _number(request.match_info["transcript"])

    def run() -> tuple[str, editor.TranscriptEditor, list[speakers.SpeakerInfo]]:
        view = editor.transcript_editor(services, study_id, transcript_id, now)
        with transaction(services.research) as session:
            title = get_study(session, study_id).title
            people = speakers.speakers_of(session, transcript_id)
        return title, view, people

    title, view, people = await blocking(request, run)
    names = {p.label: p.display or p.label for p in people}
    for seg in view.segments:
        names.setdefault(seg.speaker, seg.speaker)
    context = study_context(request, study_id, title, "transcripts") | {
        "view": view,
        "speakers": people,
        "names": names,
        "roles": speakers.ROLES,
        "may_approve": current(request).may(study_id, Action.APPROVE),
        "rewind_choices": REWIND_CHOICES,
        "speeds": SPEEDS,
        "clock": clock,
        "base": f"/studies/{study_id}/transcripts/{transcript_id}",
        "title": f"{view.code} · {title}",
    }
    return render(request, "researcher/review.html", context)


def _wants_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def _fields(request: web.Request) -> dict[str, str]:
    """The posted fields, from a JSON body (the script) or a form (no JavaScript)."""
    if _wants_json(request):
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="the body is not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="the body is not a JSON object")
        return {str(k): v for k, v in body.items() if isinstance(v, str)}
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _json_error(status: int, message: str, **extra: Any) -> web.Response:
    response = web.json_response({"error": message, **extra}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def save_item(request: web.Request) -> web.StreamResponse:
    """Accept, edit or reject one review item of this transcript (by its review number)."""
    services, now = request.app[SERVICES], request.app[CLOCK]()
    study_id = request.match_info["study"]
    transcript_id = _number(request.match_info["transcript"])
    number = _number(request.match_info["number"])
    fields = await _fields(request)
    action, version = fields.get("action", ""), fields.get("version", "")
    if action not in ACTIONS:
        raise web.HTTPBadRequest(text="action must be accept, edit or reject")

    def run() -> editor.ItemState:
        code, numbers = editor.review_numbers(services, study_id, transcript_id)
        if number not in numbers:
            raise web.HTTPNotFound()
        if action == "accept":
            rv.accept(services, study_id, code, [number], now, version=version)
        elif action == "reject":
            rv.reject(services, study_id, code, [number], now, version=version)
        else:
            rv.edit(services, study_id, code, number, fields.get("text", ""), now, version=version)
        return editor.item_state(services, study_id, transcript_id, number)

    if not _wants_json(request):
        await blocking(request, run)
        raise web.HTTPSeeOther(f"{_editor_url(study_id, transcript_id)}#item-{number}")
    try:
        state = await blocking(request, run)
    except ReviewConflict as exc:
        theirs = await blocking(
            request, lambda: editor.current_version(services, study_id, transcript_id)
        )
        return _json_error(409, str(exc), conflict=True, version=theirs)
    except NotFoundError as exc:
        return _json_error(404, str(exc))
    except DomainError as exc:
        return _json_error(400, str(exc))
    response = web.json_response(
        {
            "version": state.version,
            "number": state.number,
            "status": state.status,
            "segment": state.segment,
            "line": state.line,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def save_speaker(request: web.Request) -> web.StreamResponse:
    """Set a speaker's role and display label (``speakers.set_speaker``, audited)."""
    services, now = request.app[SERVICES], request.app[CLOCK]()
    study_id = request.match_info["study"]
    transcript_id = _number(request.match_info["transcript"])
    label = request.match_info["label"]
    fields = await _fields(request)
    actor = current(request).actor

    def run() -> speakers.SpeakerInfo:
        with transaction(services.research) as session:
            editor.transcript_of_study(session, study_id, transcript_id)
            return speakers.set_speaker(
                session,
                transcript_id,
                label,
                role=fields.get("role", ""),
                display=fields.get("display"),
                actor=actor,
                now=now,
            )

    if not _wants_json(request):
        await blocking(request, run)
        raise web.HTTPSeeOther(f"{_editor_url(study_id, transcript_id)}#speakers")
    try:
        info = await blocking(request, run)
    except NotFoundError as exc:
        return _json_error(404, str(exc))
    except DomainError as exc:
        return _json_error(400, str(exc))
    response = web.json_response(
        {"label": info.label, "role": info.role, "display": info.display or info.label}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def approve(request: web.Request) -> web.StreamResponse:
    """Approve the participant's reviewed transcripts, as ``fieldvault transcript approve``."""
    services, now = request.app[SERVICES], request.app[CLOCK]()
    study_id = request.match_info["study"]
    transcript_id = _number(request.match_info["transcript"])
    actor = current(request).actor

    def run() -> int:
        with transaction(services.research) as session:
            transcript = editor.transcript_of_study(session, study_id, transcript_id)
            code = editor.participant_code(session, transcript)
        return approval.approve(services, study_id, code, now, actor=actor)

    await blocking(request, run)
    raise web.HTTPSeeOther(_editor_url(study_id, transcript_id))


def _editor_url(study_id: str, transcript_id: int) -> str:
    return f"/studies/{study_id}/transcripts/{transcript_id}"
