"""The review editor on the real aiohttp app: ranged audio, items, speakers, approval, conflicts."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import aiohttp
import av
import numpy as np
import pytest
from sqlalchemy import select

from fieldvault.config.study import parse_study
from fieldvault.domain import speakers, studies
from fieldvault.domain.permissions import Role
from fieldvault.domain.redaction import review
from fieldvault.domain.redaction.approval import approve
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import AuditEvent, PseudonymisedTranscript
from fieldvault.storage.services import Services
from fieldvault.web.researcher.review_audio import MAX_RANGE, ByteRange, Unsatisfiable, parse_range
from tests.researcher_serve import Clock, serve
from tests.researcher_web import add_member, csrf_of, log_in
from tests.review_fixture import Reviewable, reviewable

from .conftest import EXAMPLE, NOW
from .recording_helpers import DATA, decode_pcm

Scenario = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


def _serve(services: Services, email: str, scenario: Scenario) -> None:
    """Serve the real app, log ``email`` in, and run ``scenario(http, csrf)``.

    The CSRF token is the session's, read from the logout form every logged-in page has.
    """

    async def logged_in(http: aiohttp.ClientSession) -> None:
        await log_in(http, email)
        async with http.get("/studies/nav-veileder/transcripts") as page:
            csrf = csrf_of(await page.text())
        await scenario(http, csrf)

    serve(services, Clock(NOW), logged_in)


@pytest.fixture
def fixture(services: Services, study_id: str) -> Reviewable:
    return reviewable(services, study_id, NOW)


def _editor(study_id: str, fx: Reviewable) -> str:
    return f"/studies/{study_id}/transcripts/{fx.transcript_id}"


def _version(services: Services, transcript_id: int) -> str:
    with transaction(services.research) as session:
        row = session.scalar(
            select(PseudonymisedTranscript).where(
                PseudonymisedTranscript.transcript_id == transcript_id
            )
        )
        assert row is not None and row.review_object_id is not None
        return row.review_object_id


def _events(services: Services, event: audit.Event) -> list[AuditEvent]:
    with transaction(services.research) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.event == event.value)).all()
        session.expunge_all()
        return list(rows)


def test_parse_range_caps_and_refuses_past_the_end() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=10-19", 100) == ByteRange(10, 19, 100)
    assert parse_range("bytes=90-", 100) == ByteRange(90, 99, 100)
    assert parse_range("bytes=-5", 100) == ByteRange(95, 99, 100)
    assert parse_range("bytes=0-", 10 * MAX_RANGE) == ByteRange(0, MAX_RANGE - 1, 10 * MAX_RANGE)
    assert parse_range("bytes=5-1", 100) is None  # malformed: ignored, as RFC 9110 says
    assert parse_range("items=1-2", 100) is None
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=100-", 100)


def test_the_recording_is_served_decrypted_by_range(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)
    audio_url = _editor(study_id, fixture) + "/audio/0"
    clip, size = fixture.audio, len(fixture.audio)
    assert size < MAX_RANGE  # the clip is small: a request without Range gets it whole

    async def scenario(http: aiohttp.ClientSession, csrf: str) -> None:
        async with http.get(audio_url, headers={"Range": "bytes=1000-4999"}) as part:
            assert part.status == 206
            assert part.headers["Content-Range"] == f"bytes 1000-4999/{size}"
            assert part.headers["Cache-Control"] == "no-store"
            assert part.headers["Content-Type"] == "audio/ogg"
            assert await part.read() == clip[1000:5000]
        async with http.get(audio_url, headers={"Range": f"bytes={size - 10}-"}) as tail:
            assert tail.status == 206 and await tail.read() == clip[-10:]
        async with http.get(audio_url, headers={"Range": "bytes=-7"}) as suffix:
            assert await suffix.read() == clip[-7:]
        async with http.get(audio_url, headers={"Range": f"bytes={size}-"}) as past:
            assert past.status == 416
            assert past.headers["Content-Range"] == f"bytes */{size}"
        async with http.get(audio_url) as whole:
            assert whole.status == 200 and await whole.read() == clip
            assert whole.headers["Accept-Ranges"] == "bytes"
        async with http.get(_editor(study_id, fixture) + "/audio/1") as no_track:
            assert no_track.status == 404

    _serve(services, email, scenario)


def test_a_long_recording_is_sent_in_capped_parts_only(services: Services, study_id: str) -> None:
    big = reviewable(services, study_id, NOW, audio=_long_ogg())
    email = add_member(services, study_id, Role.OWNER, NOW)
    url = f"/studies/{study_id}/transcripts/{big.transcript_id}/audio/0"
    size = len(big.audio)
    assert size > MAX_RANGE

    async def scenario(http: aiohttp.ClientSession, csrf: str) -> None:
        async with http.get(url, headers={"Range": "bytes=0-"}) as first:
            assert first.status == 206
            assert first.headers["Content-Range"] == f"bytes 0-{MAX_RANGE - 1}/{size}"
            assert await first.read() == big.audio[:MAX_RANGE]
        async with http.get(url) as no_range:
            assert no_range.status == 206 and len(await no_range.read()) == MAX_RANGE
        start = size - MAX_RANGE // 2 - 3
        async with http.get(url, headers={"Range": f"bytes={start}-{size + 99}"}) as end:
            assert await end.read() == big.audio[start:]

    _serve(services, email, scenario)


def _long_ogg() -> bytes:
    """A real Ogg/Opus file of more than one range cap: the clip repeated, re-encoded."""
    samples = np.tile(decode_pcm(DATA / "interview_en.ogg", 48000), 12)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = 96000
        step = 48000
        for i in range(0, len(samples), step):
            chunk = samples[i : i + step].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = 48000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def test_the_editor_shows_segments_suspects_and_items_and_saves_them(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    email = add_member(services, study_id, Role.SUPERVISOR, NOW)
    url = _editor(study_id, fixture)
    items = review.review_items(services, study_id, fixture.code, NOW)
    own = next(i for i in items if i.original == "Kari Nordmann")
    workplace = next(i for i in items if i.original == "NAV Volda")

    async def scenario(http: aiohttp.ClientSession, csrf: str) -> None:
        async with http.get(url) as page:
            html = await page.text()
            assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
        assert html.count('<li class="segment') == 5
        assert "low log-probability" in html and 'class="segment suspect"' in html
        assert f'id="item-{own.number}"' in html and "Kari Nordmann" in html
        version = _version(services, fixture.transcript_id)
        assert f'data-version="{version}"' in html
        headers = {"X-CSRF-Token": csrf}
        edit = {"action": "edit", "text": "[INFORMANT]", "version": version}
        async with http.post(f"{url}/items/{own.number}", json=edit, headers=headers) as saved:
            assert saved.status == 200, await saved.text()
            answer = await saved.json()
        assert answer["status"] == "edited" and "[INFORMANT]" in answer["line"]
        assert "Kari Nordmann" not in answer["line"]
        assert answer["version"] == _version(services, fixture.transcript_id) != version
        accept = {"action": "accept", "version": answer["version"]}
        async with http.post(f"{url}/items/{workplace.number}", json=accept, headers=headers) as ok:
            assert ok.status == 200 and (await ok.json())["status"] == "checked"
        async with http.post(f"{url}/items/{own.number}", json=edit) as no_token:
            assert no_token.status == 403  # no X-CSRF-Token
        async with http.post(f"{url}/items/999", json=accept, headers=headers) as unknown:
            assert unknown.status == 404

    _serve(services, email, scenario)
    after = {i.number: i for i in review.review_items(services, study_id, fixture.code, NOW)}
    assert after[own.number].status == "edited" and after[workplace.number].status == "checked"
    assert len(_events(services, audit.Event.TRANSCRIPT_REVIEWED)) == 2


def test_the_forms_work_without_javascript(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)
    url = _editor(study_id, fixture)
    items = review.review_items(services, study_id, fixture.code, NOW)
    phone = next(i for i in items if i.original == "912 34 567")

    async def scenario(http: aiohttp.ClientSession, csrf: str) -> None:
        version = _version(services, fixture.transcript_id)
        form = {"csrf": csrf, "version": version, "action": "accept", "text": phone.placeholder}
        async with http.post(
            f"{url}/items/{phone.number}", data=form, allow_redirects=False
        ) as answer:
            assert answer.status == 303
            assert answer.headers["Location"] == f"{url}#item-{phone.number}"
        stale = form | {"action": "edit", "text": "[NUMMER]"}  # the version before the accept
        async with http.post(f"{url}/items/{phone.number}", data=stale) as refused:
            assert refused.status == 400 and "reload" in await refused.text()
        speaker = {"csrf": csrf, "role": "informant", "display": "Kari"}
        async with http.post(
            f"{url}/speakers/speaker-2", data=speaker, allow_redirects=False
        ) as renamed:
            assert renamed.status == 303

    _serve(services, email, scenario)
    after = {i.number: i for i in review.review_items(services, study_id, fixture.code, NOW)}
    assert after[phone.number].status == "checked"


def test_an_autosave_over_someone_elses_save_is_refused_not_overwritten(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)
    url = _editor(study_id, fixture)
    items = review.review_items(services, study_id, fixture.code, NOW)
    first, second = items[0], items[1]
    opened = _version(services, fixture.transcript_id)
    # Someone else (here: the CLI's function) saves after the page was opened.
    review.edit(services, study_id, fixture.code, second.number, "[THEIRS]", NOW)

    async def scenario(http: aiohttp.ClientSession, csrf: str) -> None:
        body = {"action": "edit", "text": "[MINE]", "version": opened}
        async with http.post(
            f"{url}/items/{first.number}", json=body, headers={"X-CSRF-Token": csrf}
        ) as late:
            assert late.status == 409
            answer = await late.json()
        assert answer["conflict"] is True
        assert answer["version"] == _version(services, fixture.transcript_id)

    _serve(services, email, scenario)
    after = {i.number: i for i in review.review_items(services, study_id, fixture.code, NOW)}
    assert after[first.number].status != "edited"  # mine was not written
    assert after[second.number].status == "edited"  # theirs still stands


def test_a_speaker_is_renamed_and_given_a_role(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)
    url = _editor(study_id, fixture)

    async def scenario(http: aiohttp.ClientSession, csrf: str) -> None:
        body = {"role": "interviewer", "display": "Forsker"}
        async with http.post(
            f"{url}/speakers/speaker-1", json=body, headers={"X-CSRF-Token": csrf}
        ) as saved:
            assert saved.status == 200, await saved.text()
            assert await saved.json() == {
                "label": "speaker-1",
                "role": "interviewer",
                "display": "Forsker",
            }
        bad = {"role": "boss", "display": ""}
        async with http.post(
            f"{url}/speakers/speaker-1", json=bad, headers={"X-CSRF-Token": csrf}
        ) as refused:
            assert refused.status == 400
        async with http.get(url) as page:
            assert ">Forsker</span>" in await page.text()

    _serve(services, email, scenario)
    with transaction(services.research) as session:
        info = {s.label: s for s in speakers.speakers_of(session, fixture.transcript_id)}
    assert info["speaker-1"].role == "interviewer" and info["speaker-1"].confirmed
    [event] = _events(services, audit.Event.SPEAKER_SET)
    assert event.actor.startswith("researcher:")


def test_approving_in_the_editor_is_the_cli_approval_with_its_audit(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)
    url = _editor(study_id, fixture)
    # Approval must refuse text that still names the informant, as on the command line.
    items = review.review_items(services, study_id, fixture.code, NOW)
    own = next(i for i in items if i.original == "Kari Nordmann")

    async def scenario(http: aiohttp.ClientSession, csrf: str) -> None:
        keep = {"action": "reject", "version": _version(services, fixture.transcript_id)}
        headers = {"X-CSRF-Token": csrf}
        async with http.post(f"{url}/items/{own.number}", json=keep, headers=headers) as kept:
            assert kept.status == 200
        form = {"csrf": csrf}
        async with http.post(f"{url}/approve", data=form, allow_redirects=False) as refused:
            assert refused.status == 400
            assert "still holds a name" in await refused.text()
        # Writing the placeholder in again undoes the rejection (as `review --edit N` does).
        version = _version(services, fixture.transcript_id)
        undo = {"action": "edit", "text": own.placeholder, "version": version}
        async with http.post(f"{url}/items/{own.number}", json=undo, headers=headers) as again:
            assert again.status == 200
        async with http.post(f"{url}/approve", data=form, allow_redirects=False) as done:
            assert done.status == 303 and done.headers["Location"] == url
        async with http.get(url) as page:
            html = await page.text()
        assert "Kari Nordmann" not in html and 'class="item"' not in html

    _serve(services, email, scenario)
    [event] = _events(services, audit.Event.TRANSCRIPT_APPROVED)
    assert event.actor.startswith("researcher:") and event.participant_code == fixture.code
    assert event.details["transcript_id"] == fixture.transcript_id


def test_a_rejected_own_name_cannot_be_approved_from_the_cli_either(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    items = review.review_items(services, study_id, fixture.code, NOW)
    own = next(i for i in items if i.original == "Kari Nordmann")
    review.reject(services, study_id, fixture.code, [own.number], NOW)
    with pytest.raises(Exception, match="still holds a name"):
        approve(services, study_id, fixture.code, NOW)


def test_a_dpo_gets_403_and_a_stranger_404(
    services: Services, study_id: str, fixture: Reviewable
) -> None:
    dpo = add_member(services, study_id, Role.DPO, NOW)
    url = _editor(study_id, fixture)

    async def as_dpo(http: aiohttp.ClientSession, csrf: str) -> None:
        for path in (f"/studies/{study_id}/transcripts", url, url + "/audio/0"):
            async with http.get(path) as answer:
                assert answer.status == 403, path
        body = {"action": "accept", "version": ""}
        async with http.post(f"{url}/items/1", json=body, headers={"X-CSRF-Token": csrf}) as answer:
            assert answer.status == 403

    _serve(services, dpo, as_dpo)

    # A member of another study only: this study's pages and audio are "not found".
    other = _other_study(services)
    stranger = add_member(services, other, Role.OWNER, NOW, email="other@uni.example")

    async def as_stranger(http: aiohttp.ClientSession, csrf: str) -> None:
        for path in (url, url + "/audio/0", f"/studies/{study_id}/transcripts"):
            async with http.get(path, headers={"Range": "bytes=0-99"}) as answer:
                assert answer.status == 404, path
        # Their own study with this study's transcript id: not found either.
        wrong = f"/studies/{other}/transcripts/{fixture.transcript_id}"
        for path in (wrong, wrong + "/audio/0"):
            async with http.get(path) as answer:
                assert answer.status == 404, path

    _serve(services, stranger, as_stranger)


def _other_study(services: Services) -> str:
    """A second study, registered from the example with another id."""
    text = EXAMPLE.read_text(encoding="utf-8")
    definition = parse_study(text)
    other_text = text.replace(f'id = "{definition.id}"', 'id = "other-study"', 1)
    other = parse_study(other_text)
    with transaction(services.research) as session:
        studies.register_study(session, other, other_text, NOW)
    return other.id
