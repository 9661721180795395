"""One study cannot stop the sweep: a broken or absurd study is reported, the others still go;
and an extension cannot move an end date past the study file's bound.

Each broken study is made the way it happens in the field: a row written before the study
file's date bounds existed (9999-12-31), a timezone or a sealed identity spoilt in the
database by hand. The sweep runs for real on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from sqlalchemy import update

from fieldvault.config.study_limits import StudyLimits
from fieldvault.domain import retention
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Study, VaultIdentity
from fieldvault.storage.services import Services

from .conftest import NOW
from .test_retention import DEADLINE, FakeNotifier, add_informant, identity, register_variant

AFTER = DEADLINE + dt.timedelta(hours=1)


def _set_study(services: Services, study_id: str, **values: object) -> None:
    with transaction(services.research) as session:
        session.execute(update(Study).where(Study.id == study_id).values(**values))


def _names_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    text = caplog.text
    return [name for n in range(1, 5) if (name := str(identity(n).name)) in text]


def test_a_study_ending_on_the_last_day_of_the_calendar_does_not_stop_another_studys_deletion(
    services: Services, study_id: str
) -> None:
    gone = add_informant(services, study_id, 1)
    far = register_variant(services, "far-future-study")
    kept = add_informant(services, far, 2)
    # As a study registered before the date bounds could hold it.
    _set_study(services, far, processing_end=dt.date(9999, 12, 31), project_end=dt.date.max)

    report = retention.run_sweep(services, AFTER, notifier=FakeNotifier(services))

    assert report.failed == {}
    assert report.studies_due == [study_id]
    assert report.deleted[study_id] == [gone]
    assert services.vault.get(study_id, gone) is None
    assert services.vault.get(far, kept) is not None
    with transaction(services.research) as session:
        study = session.get(Study, far)
        assert study is not None
        assert retention.study_deadline(study) == retention.deadlines.NEVER


def test_a_study_whose_deadline_cannot_be_computed_is_reported_and_the_others_still_swept(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    gone = add_informant(services, study_id, 1)
    broken = register_variant(services, "broken-study")
    stays = add_informant(services, broken, 2)
    _set_study(services, broken, timezone="Mars/Olympus_Mons")

    with caplog.at_level(logging.ERROR, logger="fieldvault.domain.retention"):
        report = retention.run_sweep(services, AFTER, notifier=FakeNotifier(services))

    assert report.failed == {broken: "deadline: ZoneInfoNotFoundError"}
    assert not report.nothing_to_do
    assert report.deleted[study_id] == [gone]
    assert services.vault.get(study_id, gone) is None
    assert services.vault.get(broken, stays) is not None  # left for a later sweep
    assert "broken-study" in caplog.text and "ZoneInfoNotFoundError" in caplog.text
    assert _names_in(caplog) == []

    # Once the row is mended, the next sweep deletes it too.
    _set_study(services, broken, timezone="Europe/Oslo")
    again = retention.run_sweep(services, AFTER, notifier=FakeNotifier(services))
    assert again.failed == {}
    assert again.deleted[broken] == [stays]
    assert services.vault.get(broken, stays) is None


def test_a_study_whose_deletion_raises_is_reported_and_the_other_studys_identities_still_go(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = register_variant(services, "broken-study")
    spoilt = add_informant(services, broken, 2)
    gone = add_informant(services, study_id, 1)
    # A sealed identity spoilt by hand: the deletion notice cannot be addressed, so the
    # broken study's deletion raises before its identity step.
    with services.vault_sessions() as vs, vs.begin():
        vs.execute(
            update(VaultIdentity)
            .where(VaultIdentity.participant_code == spoilt)
            .values(sealed=b"\x00" * 64)
        )

    with caplog.at_level(logging.ERROR, logger="fieldvault.domain.retention"):
        report = retention.run_sweep(services, AFTER, notifier=FakeNotifier(services))

    assert set(report.failed) == {broken}
    assert report.failed[broken].startswith("deletion: ")
    assert report.deleted[study_id] == [gone]
    assert services.vault.get(study_id, gone) is None
    assert services.vault.count(study_id) == 0
    assert "broken-study" in caplog.text
    assert _names_in(caplog) == []


def test_an_extension_past_the_study_files_bound_is_refused_with_the_latest_date(
    services: Services, study_id: str
) -> None:
    # The example starts 2021-02-01: end dates up to ten years later.
    for too_far, says in (
        (dt.date(2031, 2, 2), "more than 10 years after start_date (2021-02-01)"),
        (dt.date(9999, 12, 31), "after 2199-12-31, the latest date"),
    ):
        with (
            transaction(services.research) as session,
            pytest.raises(retention.ExtensionRefused, match=re.escape(says)) as caught,
        ):
            retention.extend(session, study_id, too_far, reason="Ny vurdering", now=NOW)
        assert caught.value.code == "retention.extension.too_far"
        assert caught.value.facts["latest"] == "2031-02-01"
    with transaction(services.research) as session:
        study = session.get(Study, study_id)
        assert study is not None and study.processing_end == dt.date(2021, 6, 30)
        longer = StudyLimits(max_years=20)
        retention.extend(
            session, study_id, dt.date(2031, 2, 2), reason="Ny vurdering", now=NOW, limits=longer
        )
    with transaction(services.research) as session:
        study = session.get(Study, study_id)
        assert study is not None and study.processing_end == dt.date(2031, 2, 2)
