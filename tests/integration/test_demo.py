"""``fieldvault demo``: a running study, an owner who can log in, synthetic people, queued jobs."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldvault.config.study import parse_study
from fieldvault.domain import accounts
from fieldvault.domain.accounts import LoginFailed
from fieldvault.domain.demo import DEMO_EMAIL, DEMO_STUDY, PEOPLE, create_demo, demo_study_text
from fieldvault.domain.permissions import Role
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    ConsentRecord,
    Invite,
    Participant,
    Recording,
    StudyMember,
    TranscriptionJob,
)
from fieldvault.storage.services import Services

from .test_cli import Fieldvault

NOW = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def _counts(services: Services) -> dict[str, int]:
    with transaction(services.research) as session:

        def count(model: type, column: object) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(column)) or 0)

        return {
            "participants": count(Participant, Participant.study_id == DEMO_STUDY),
            "recordings": count(Recording, Recording.study_id == DEMO_STUDY),
            "jobs": count(TranscriptionJob, TranscriptionJob.state == "queued"),
            "consents": count(ConsentRecord, ConsentRecord.channel == "paper"),
            "invites": count(Invite, Invite.study_id == DEMO_STUDY),
            "members": count(StudyMember, StudyMember.study_id == DEMO_STUDY),
        }


def test_the_study_file_runs_around_today() -> None:
    today = dt.date(2026, 12, 4)
    definition = parse_study(demo_study_text(today))
    assert definition.id == DEMO_STUDY
    assert definition.start_date < today < definition.project_end <= definition.processing_end


def test_demo_is_running_owned_synthetic_and_made_once(services: Services) -> None:
    first = create_demo(services, NOW)
    assert first.study_created and first.account_created and first.password
    assert len(first.codes) == len(PEOPLE) == 4
    with_clips = sum(1 for p in PEOPLE if p.clips)
    assert _counts(services) == {
        "participants": 4,
        "recordings": with_clips,
        "jobs": with_clips,
        "consents": 4,
        "invites": 2,
        "members": 1,
    }
    with transaction(services.research) as session:
        account = accounts.authenticate(session, DEMO_EMAIL, first.password, NOW)
        me = accounts.researcher(session, account)
        states = sorted(p.state for p in session.scalars(select(Participant)))
        assert audit.verify(session).ok
    assert me.roles == {DEMO_STUDY: Role.OWNER}
    assert states == ["consented", "interviewed", "interviewed", "interviewed"]
    # The names are in the vault only, and say they are made up.
    names = services.vault.get_many(DEMO_STUDY, first.codes)
    assert all(ident.name and ident.name.endswith("(demo)") for ident in names.values())

    again = create_demo(services, NOW + dt.timedelta(minutes=1))
    assert not (again.study_created or again.account_created or again.password)
    assert (again.registered, again.consents, again.recordings, again.invites) == (0, 0, 0, 0)
    assert again.codes == first.codes
    assert _counts(services)["participants"] == 4 and _counts(services)["recordings"] == 3

    renewed = create_demo(services, NOW + dt.timedelta(minutes=2), new_password=True)
    assert renewed.password and renewed.password != first.password
    with transaction(services.research) as session:
        accounts.authenticate(session, DEMO_EMAIL, renewed.password, NOW)
        with pytest.raises(LoginFailed):
            accounts.authenticate(session, DEMO_EMAIL, first.password, NOW)


def test_a_demo_cut_short_is_completed_without_doubles(services: Services) -> None:
    report = create_demo(services, NOW)
    # As if the first run had stopped after registering: the last person's recording is gone.
    last = next(p for p in reversed(PEOPLE) if p.clips)
    code = report.codes[PEOPLE.index(last)]
    with transaction(services.research) as session:
        person = session.scalars(select(Participant).where(Participant.code == code)).one()
        for recording in session.scalars(
            select(Recording).where(Recording.participant_id == person.id)
        ):
            for job in session.scalars(
                select(TranscriptionJob).where(TranscriptionJob.recording_id == recording.id)
            ):
                session.delete(job)
            for track in recording.tracks:
                session.delete(track)
            session.delete(recording)
    completed = create_demo(services, NOW)
    assert (completed.registered, completed.consents, completed.recordings) == (0, 0, 1)
    assert _counts(services)["recordings"] == 3


@pytest.mark.slow
def test_cli_prints_the_login_once_and_if_missing_skips(tmp_path: Path) -> None:
    fv = Fieldvault(tmp_path / "data")
    fv("init")
    made = fv("demo", "--if-missing").stdout
    assert "http://127.0.0.1:8080/login" in made and DEMO_EMAIL in made
    password = re.search(r"Password:\s+(\S+)\s+\(shown only now", made)
    assert password, made
    assert "3 recording(s) queued" in made
    again = fv("demo", "--if-missing").stdout
    assert DEMO_EMAIL in again and password.group(1) not in again
    assert "the one printed the first time" in again
    assert "Kari" not in made + again  # no vault name is printed
