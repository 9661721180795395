"""Issue 13 in Chromium: an owner drops a real clip on the upload page, watches its job move on
the jobs page (server-sent events), chooses export formats and downloads the bundle.

The job row is advanced by the test (the worker's transcription is tested elsewhere: the base
model on two shared cores would take most of this test's time); the page must follow it
without a reload. axe-core runs on every page.
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from fieldvault.domain.permissions import Role
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, Recording, TranscriptionJob
from fieldvault.storage.services import Services
from tests.integration.recording_helpers import participant
from tests.integration.test_export import SEGMENTS, add_transcript

from .conftest import ACTION_TIMEOUT_MS, LiveServer
from .researcher_pages import log_in_as, serious_violations

CLIP = Path(__file__).parents[1] / "data" / "interview_en.ogg"
# The board polls once a second: a change shows within a few seconds.
LIVE_TIMEOUT_MS = 8_000

DROP = """([data, name]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type: "audio/ogg"}));
  return transfer;
}"""


def _set_job(services: Services, **values: object) -> None:
    with transaction(services.research) as session:
        session.execute(update(TranscriptionJob).values(**values))


def test_an_owner_uploads_a_clip_follows_its_job_and_downloads_the_export(
    page: Page, live_server: LiveServer, study_id: str
) -> None:
    services, base = live_server.services, live_server.url
    code = participant(services, study_id)
    log_in_as(page, live_server, study_id, Role.OWNER)

    page.goto(f"{base}/studies/{study_id}/upload?lang=en&participant={code}&refused=bad-audio")
    expect(page.locator("p.error[role=alert]")).to_contain_text("is not audio")
    assert serious_violations(page) == []
    page.goto(f"{base}/studies/{study_id}/upload")
    assert serious_violations(page) == []
    page.select_option("#participant", code)
    page.click("#choose button[type=submit]")
    page.wait_for_url(f"**/upload?participant={code}")
    data = base64.b64encode(CLIP.read_bytes()).decode("ascii")
    transfer = page.evaluate_handle(DROP, [data, CLIP.name])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#chosen-files li")).to_have_count(1)
    expect(page.locator("#chosen-files")).to_contain_text(CLIP.name)
    page.select_option("#language", "en")
    assert serious_violations(page) == []
    page.click("#send")
    expect(page.locator("#upload-status .ok")).to_be_visible()
    assert page.eval_on_selector("#progress", "bar => bar.value") == 100
    expect(page.locator("#progress-text")).to_have_text("100 %")
    assert serious_violations(page) == []
    with transaction(services.research) as session:
        [recording] = session.scalars(select(Recording))
        [job] = session.scalars(select(TranscriptionJob))
        [accepted] = session.scalars(
            select(AuditEvent).where(AuditEvent.event == audit.Event.UPLOAD_ACCEPTED)
        )
    assert recording.source == "web" and accepted.actor.startswith("researcher:")

    page.click("#upload-status .ok a")
    page.wait_for_url(f"**/studies/{study_id}/jobs")
    row = page.locator(f"#job-{job.id}")
    expect(row.locator(".code")).to_have_text(code)
    expect(row.locator(".state")).to_have_text("Queued")
    expect(page.locator("#live-status")).to_have_text("Live: the table updates by itself.")
    assert serious_violations(page) == []
    _set_job(services, state="running", progress=0.42, eta_s=75.0)
    expect(row.locator(".percent")).to_have_text("42 %", timeout=LIVE_TIMEOUT_MS)
    expect(row.locator(".state")).to_have_text("Transcribing")
    expect(row.locator(".eta")).to_have_text("1:15")
    _set_job(services, state="done", progress=1.0, eta_s=0.0)
    expect(row.locator(".state")).to_have_text("Done", timeout=LIVE_TIMEOUT_MS)
    expect(row.locator(".percent")).to_have_text("100 %")
    assert serious_violations(page) == []

    add_transcript(services, study_id, code, SEGMENTS)  # approved, as the review would leave it
    page.goto(f"{base}/studies/{study_id}/exports")
    assert serious_violations(page) == []
    for name in ("qdc", "docx", "srt", "csv"):
        page.uncheck(f"#format-{name}")
    with page.expect_download() as info:
        page.click("#export button[type=submit]")
    download = info.value
    assert download.suggested_filename == f"{study_id}-export.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        assert archive.testzip() is None
        folders = {n.split("/")[0] for n in archive.namelist() if "/" in n}
        names = set(archive.namelist())
    assert f"{study_id}.qdpx" in names and folders == {"txt", "txt-hhmmss", "nvivo"}
    assert serious_violations(page) == []


def test_without_javascript_the_upload_form_posts_itself_and_refusals_are_shown_in_words(
    browser: Browser, live_server: LiveServer, study_id: str, tmp_path: Path
) -> None:
    services, base = live_server.services, live_server.url
    code = participant(services, study_id)
    refusing = participant(services, study_id, recording=False)
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()
        log_in_as(page, live_server, study_id, Role.RESEARCHER)
        page.goto(f"{base}/studies/{study_id}/upload?lang=en")
        assert refusing not in page.inner_text("#participant")
        page.select_option("#participant", code)
        page.click("#choose button[type=submit]")

        # Not audio: the endpoint refuses, the page says why in words and keeps nothing.
        broken = tmp_path / "notes.ogg"
        broken.write_bytes(b"these are typed notes, not a recording\n" * 50)
        page.set_input_files("#files", str(broken))
        page.click("#send")
        page.wait_for_url(f"**/upload?participant={code}&refused=bad-audio")
        expect(page.locator("p.error[role=alert]")).to_contain_text("is not audio")
        # (axe-core needs JavaScript: the same pages are checked in the test above.)

        page.set_input_files("#files", str(CLIP))
        page.click("#send")
        page.wait_for_url(f"**/studies/{study_id}/jobs")
        expect(page.locator("tbody tr .code")).to_have_text(code)
    finally:
        context.close()
    with transaction(services.research) as session:
        assert len(list(session.scalars(select(Recording)))) == 1
