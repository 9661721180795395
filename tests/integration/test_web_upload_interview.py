"""The web upload's interview fields: date, interviewer, mode and host track, checked first."""

from __future__ import annotations

import datetime as dt

import aiohttp
from sqlalchemy import func, select
from yarl import URL

from fieldvault.storage.db import transaction
from fieldvault.storage.models import Recording
from fieldvault.storage.services import Services

from .recording_helpers import DATA, participant
from .test_web_upload import PATH, _auth, _serve, _token

TRACKS = [
    ("interviewer.ogg", (DATA / "track_interviewer.ogg").read_bytes()),
    ("informant.ogg", (DATA / "track_informant.ogg").read_bytes()),
]


def form(**fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        data.add_field(name, value)
    for name, content in TRACKS:
        data.add_field("file", content, filename=name, content_type="audio/ogg")
    return data


def test_interview_fields_are_stored_and_bad_ones_refused_keeping_nothing(
    services: Services, study_id: str
) -> None:
    code = participant(services, study_id)
    token = _token(services, study_id)
    url = PATH.format(study=study_id, code=code)

    async def scenario(http: aiohttp.ClientSession, base: URL) -> None:
        sent = form(
            language="en",
            interview_date="24.02.2021",
            interviewer="IH",
            mode="video",
            host_track="2",
        )
        response = await http.post(url, data=sent, headers=_auth(token))
        assert response.status == 201, await response.text()
        assert (await response.json())["interview"] == {
            "date": "2021-02-24",
            "date_source": "researcher",
            "interviewer": "IH",
            "mode": "video",
            "host_track": 2,
        }
        refusals = {
            "interview_date": ("31.06.2021", "June has 30 days"),
            "mode": ("zoom", "'zoom' is not an interview mode"),
            "host_track": ("3", "host track 3 does not exist"),
            "interviewer": ("I\u202eH", "bidirectional-text control"),
        }
        for field, (value, words) in refusals.items():
            answer = await http.post(url, data=form(**{field: value}), headers=_auth(token))
            assert answer.status == 422, (field, await answer.text())
            assert words in (await answer.json())["message"], field

    _serve(services, scenario)
    with transaction(services.research) as session:
        assert session.scalar(select(func.count()).select_from(Recording)) == 1
        recording = session.scalars(select(Recording)).one()
        assert (recording.interview_date, recording.host_track) == (dt.date(2021, 2, 24), 1)
