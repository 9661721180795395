"""``fieldvault demo``: a running demo study with synthetic participants, consent and recordings.

Everything goes through the same domain calls a researcher's work does (register the study,
give an account the owner role, register participants with their identity in the vault, paper
consent with a scan, recording intake), so the demo shows what the real flow stores and audits.
The people are synthetic and say so (their vault names end in "(demo)"); the recordings are the
espeak-ng clips of ``fieldvault/demo_data`` (tests/data holds the same files and how they were
made). Each step checks what is there first, so running it again, or after a crash half-way,
completes the demo without making anything twice.
"""

from __future__ import annotations

import datetime as dt
import secrets
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, BinaryIO, cast

from sqlalchemy import func, select

from fieldvault.config.study import parse_study
from fieldvault.domain import accounts
from fieldvault.domain.consent import create_invites, record_paper_consent
from fieldvault.domain.participants import list_participants, register_participant
from fieldvault.domain.permissions import Role
from fieldvault.domain.recordings import accept_recording
from fieldvault.domain.states import State
from fieldvault.domain.studies import register_study
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Invite, Recording, ResearcherAccount, Study
from fieldvault.storage.vault import Identity

if TYPE_CHECKING:  # storage.services brings alembic; the domain needs only the type
    from fieldvault.storage.services import Services

DEMO_STUDY = "demo"
DEMO_EMAIL = "demo@fieldvault.example"  # .example is reserved (RFC 2606): it reaches no one
DEMO_ACTOR = "demo"
DATA = "demo_data"
OPEN_INVITES = 2
# Placeholders in demo-study.toml, moved to dates around today (the study is running).
_PLACEHOLDERS = {
    "start_date = 2000-01-01": dt.timedelta(days=-21),
    "project_end = 2000-01-02": dt.timedelta(days=90),
    "processing_end = 2000-01-03": dt.timedelta(days=150),
}


@dataclass(frozen=True)
class DemoPerson:
    """One synthetic participant: vault name, variables, answers, clips and their language."""

    key: str
    name: str
    variables: dict[str, str]
    publication: bool
    clips: tuple[str, ...] = ()
    language: str | None = None


PEOPLE = (
    DemoPerson("p1", "Kari Eksempel (demo)", {"aldersgruppe": "35-49", "erfaring_ar": "7"},
               publication=False, clips=("interview_no.ogg",), language="no"),
    DemoPerson("p2", "Ola Testesen (demo)", {"aldersgruppe": "under 35", "erfaring_ar": "2"},
               publication=True, clips=("interview_en.ogg",), language="en"),
    DemoPerson("p3", "Sam Syntetisk (demo)", {"aldersgruppe": "50-65", "erfaring_ar": "12"},
               publication=False, clips=("track_interviewer.ogg", "track_informant.ogg"),
               language="en"),
    DemoPerson("p4", "Alex Fiktiv (demo)", {"aldersgruppe": "35-49", "erfaring_ar": "4"},
               publication=True),
)  # fmt: skip


@dataclass
class DemoReport:
    """What ``create_demo`` found and did."""

    study_created: bool = False
    account_created: bool = False
    password: str | None = None  # set when this run set the demo account's password
    codes: list[str] = field(default_factory=list)
    registered: int = 0
    consents: int = 0
    recordings: int = 0
    invites: int = 0


def demo_study_text(today: dt.date) -> str:
    """The demo study file with its dates moved around ``today`` (started, not ended)."""
    text = resources.files("fieldvault").joinpath(DATA, "demo-study.toml").read_text("utf-8")
    for placeholder, offset in _PLACEHOLDERS.items():
        key = placeholder.split(" = ")[0]
        text = text.replace(placeholder, f"{key} = {(today + offset).isoformat()}")
    return text


def demo_exists(services: Services) -> bool:
    """Whether the demo study is registered."""
    with transaction(services.research) as session:
        return session.get(Study, DEMO_STUDY) is not None


def create_demo(services: Services, now: dt.datetime, *, new_password: bool = False) -> DemoReport:
    """Create, or complete, the demo study; a new account password when there was none.

    ``new_password`` sets a fresh password on the demo account even when it has one (the way
    back in for someone who lost the printed one). Recordings are queued for transcription;
    the caller dispatches the queue.
    """
    report = DemoReport()
    _ensure_study(services, now, report)
    _ensure_account(services, now, report, new_password=new_password)
    codes = _ensure_people(services, now, report)
    for person in PEOPLE:
        _ensure_consent(services, codes[person.key], person, now, report)
        if person.clips:
            _ensure_recording(services, codes[person.key], person, now, report)
    _ensure_invites(services, now, report)
    report.codes = [codes[p.key] for p in PEOPLE]
    return report


def _ensure_study(services: Services, now: dt.datetime, report: DemoReport) -> None:
    text = demo_study_text(now.date())
    definition = parse_study(text, source="demo-study.toml", limits=services.settings.study_limits)
    with transaction(services.research) as session:
        if session.get(Study, DEMO_STUDY) is None:
            register_study(session, definition, text, now)
            report.study_created = True


def _ensure_account(
    services: Services, now: dt.datetime, report: DemoReport, *, new_password: bool
) -> None:
    with transaction(services.research) as session:
        before = session.scalar(
            select(ResearcherAccount).where(ResearcherAccount.email == DEMO_EMAIL)
        )
        account, code = accounts.add_researcher(
            session, DEMO_EMAIL, DEMO_STUDY, Role.OWNER, actor=DEMO_ACTOR, now=now
        )
        report.account_created = before is None
        if code is None and new_password:
            code = accounts.new_link(session, account, now)
        if code is not None:
            # The same one-time link a researcher would open; only the argon2id hash is kept.
            password = secrets.token_urlsafe(12)
            accounts.set_password(session, code, password, now)
            report.password = password


def _demo_codes(services: Services) -> dict[str, str]:
    """The demo people already registered: their key → participant code."""
    with transaction(services.research) as session:
        codes = [p.code for p in list_participants(session, DEMO_STUDY)]
    identities = services.vault.get_many(DEMO_STUDY, codes)
    return {
        ident.extra["demo"]: code for code, ident in identities.items() if "demo" in ident.extra
    }


def _ensure_people(services: Services, now: dt.datetime, report: DemoReport) -> dict[str, str]:
    codes = _demo_codes(services)
    for person in PEOPLE:
        if person.key not in codes:
            identity = Identity(name=person.name, extra={"demo": person.key})
            codes[person.key] = register_participant(
                services, DEMO_STUDY, identity, person.variables, now
            )
            report.registered += 1
    return codes


def _ensure_consent(
    services: Services, code: str, person: DemoPerson, now: dt.datetime, report: DemoReport
) -> None:
    with transaction(services.research) as session:
        participants = {p.code: p for p in list_participants(session, DEMO_STUDY)}
        if participants[code].state != State.INVITED.value:
            return
    scan = resources.files("fieldvault").joinpath(DATA, "demo-consent-form.pdf")
    with scan.open("rb") as evidence:
        record_paper_consent(
            services,
            study_id=DEMO_STUDY,
            code=code,
            decisions={"interview-recording": True, "identifiable-publication": person.publication},
            language="nb",
            signed_on=now.date(),
            researcher="fieldvault demo",
            evidence=cast(BinaryIO, evidence),  # a package file, opened for reading bytes
            now=now,
        )
    report.consents += 1


def _ensure_recording(
    services: Services, code: str, person: DemoPerson, now: dt.datetime, report: DemoReport
) -> None:
    with transaction(services.research) as session:
        participant = {p.code: p for p in list_participants(session, DEMO_STUDY)}[code]
        held = session.scalar(
            select(func.count(Recording.id)).where(Recording.participant_id == participant.id)
        )
    if held:
        return
    folder = resources.files("fieldvault").joinpath(DATA)
    with ExitStack() as stack:
        files = [
            (name, cast(BinaryIO, stack.enter_context(folder.joinpath(name).open("rb"))))
            for name in person.clips
        ]
        accept_recording(
            services,
            study_id=DEMO_STUDY,
            code=code,
            files=files,
            language=person.language,
            source="cli",
            now=now,
        )
    report.recordings += 1


def _ensure_invites(services: Services, now: dt.datetime, report: DemoReport) -> None:
    """A couple of open invites, so the invites page has some (their codes are not kept)."""
    with transaction(services.research) as session:
        made = session.scalar(select(func.count(Invite.id)).where(Invite.study_id == DEMO_STUDY))
        if not made:
            create_invites(session, DEMO_STUDY, OPEN_INVITES, dt.timedelta(days=30), now)
            report.invites = OPEN_INVITES
