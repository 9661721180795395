"""The README's screenshots of the researcher pages, taken on the study ``fieldvault demo`` makes.

The demo is made by ``fieldvault.domain.demo.create_demo`` at the server's clock, as
``fieldvault demo`` does. Running Whisper over its three clips would take most of a test's
time on two shared cores, so each recording's raw transcript is the clip's reference text
(``tests/data/*.txt``, what espeak-ng was given), cut into sentences and stored the way the
transcription job stores one, then pseudonymised by the job's own function — as
``tests/review_fixture.py`` does. The pages are rendered in every run (1280×800, checked with
axe and for size); ``FIELDVAULT_UPDATE_SCREENSHOTS=1`` writes them to docs/screenshots/, so a
plain test run never changes the tree.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from fieldvault.domain import consent
from fieldvault.domain.consent import State
from fieldvault.domain.demo import DEMO_EMAIL, DEMO_STUDY, PEOPLE, create_demo
from fieldvault.domain.participants import get_participant
from fieldvault.domain.redaction.job import pseudonymise_transcript
from fieldvault.domain.speakers import guess_roles
from fieldvault.storage.content import BlobKind
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Recording, Transcript, TranscriptionJob
from fieldvault.storage.services import Services

from .conftest import LiveServer
from .researcher_pages import serious_violations

DATA = Path(__file__).parents[1] / "data"
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
LIMIT = 200 * 1024
SIZE = {"width": 1280, "height": 800}
SENTENCE = re.compile(r"(?<=[.?!])\s+")


def raw_document(recording: Recording, clips: tuple[str, ...]) -> dict[str, Any]:
    """The job's document for ``recording``: each clip's reference text, one segment a sentence."""
    segments: list[dict[str, Any]] = []
    for position, clip in enumerate(clips):
        speaker = f"speaker-{position + 1}" if len(clips) > 1 else "unknown"
        sentences = SENTENCE.split((DATA / clip).with_suffix(".txt").read_text("utf-8").strip())
        total = sum(map(len, sentences))
        at = 0.0
        for sentence in sentences:
            length = recording.duration_s * 0.9 * len(sentence) / total
            segments.append(
                {
                    "start": round(at, 2),
                    "end": round(at + length, 2),
                    "text": sentence,
                    "speaker": speaker,
                    "suspect": [],
                }
            )
            at += length
    segments.sort(key=lambda s: (s["start"], s["speaker"]))
    return {
        "recording_id": recording.id,
        "language": recording.language or "unknown",
        "engine": "reference-text",
        "model": "none",
        "duration_s": recording.duration_s,
        "suspect_count": 0,
        "segments": segments,
    }


def transcribe_like_the_job(
    services: Services, code: str, clips: tuple[str, ...], now: dt.datetime
) -> int:
    """Store the raw transcript of ``code``'s recording as the job does; pseudonymise it."""
    with transaction(services.research) as session:
        person = get_participant(session, DEMO_STUDY, code)
        recording = session.scalars(
            select(Recording).where(Recording.participant_id == person.id)
        ).one()
        job = session.scalars(
            select(TranscriptionJob).where(TranscriptionJob.recording_id == recording.id)
        ).one()
        document = raw_document(recording, clips)
        obj = services.content.put(
            session,
            study_id=DEMO_STUDY,
            participant_id=person.id,
            participant_code=code,
            kind=BlobKind.RAW_TRANSCRIPT,
            source=[json.dumps(document, ensure_ascii=False).encode("utf-8")],
            now=now,
        )
        row = Transcript(
            recording_id=recording.id,
            object_id=obj.object_id,
            language=document["language"],
            engine=document["engine"],
            model=document["model"],
            segment_count=len(document["segments"]),
            suspect_count=0,
            created_at=now,
        )
        session.add(row)
        session.flush()
        guess_roles(session, row.id, document["segments"], now=now)
        job.state, job.progress, job.attempts, job.finished_at = "done", 1.0, 1, now
        if State(person.state) is State.INTERVIEWED:
            consent.transition(person, State.TRANSCRIBED, now)
        transcript_id = row.id
    pseudonymise_transcript(services, transcript_id, now)
    return transcript_id


def shoot(page: Page, name: str, folder: Path) -> Path:
    """A 1280×800 PNG of the page, reduced to 256 colours so it stays small (≤ 200 KB)."""
    page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    raw = page.screenshot(type="png")
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256)
    path = folder / name
    image.save(path, format="PNG", optimize=True)
    assert Image.open(path).size == (SIZE["width"], SIZE["height"])
    assert 0 < path.stat().st_size <= LIMIT, f"{name} is {path.stat().st_size} bytes"
    return path


def test_screenshots_of_the_demo_dashboard_and_review_editor(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    services, url = live_server.services, live_server.url
    demo = create_demo(services, live_server.clock.now)
    assert demo.password
    ids = {
        person.key: transcribe_like_the_job(services, code, person.clips, live_server.clock.now)
        for person, code in zip(PEOPLE, demo.codes, strict=True)
        if person.clips
    }
    page.set_viewport_size(SIZE)
    page.goto(f"{url}/login?lang=en")
    page.fill("#email", DEMO_EMAIL)
    page.fill("#password", demo.password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{url}/studies**")

    shots = []
    for name, path, shows in (
        ("researcher-studies.png", "/studies", "Demo"),
        ("researcher-study.png", f"/studies/{DEMO_STUDY}", DEMO_STUDY),
        ("researcher-participants.png", f"/studies/{DEMO_STUDY}/participants", demo.codes[0]),
        ("researcher-review.png", f"/studies/{DEMO_STUDY}/transcripts/{ids['p2']}", "Thank you"),
    ):
        page.goto(f"{url}{path}?lang=en")
        expect(page.locator("main")).to_contain_text(shows)
        assert serious_violations(page) == []
        shots.append(shoot(page, name, tmp_path))
    expect(page.locator("li.segment")).to_have_count(4)
    # No vault name reaches a page (the demo's names all end in "(demo)").
    assert "(demo)" not in page.content()

    if os.environ.get("FIELDVAULT_UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            (SHOTS / shot.name).write_bytes(shot.read_bytes())
    for shot in shots:
        assert (SHOTS / shot.name).stat().st_size <= LIMIT, "the README's screenshot"
