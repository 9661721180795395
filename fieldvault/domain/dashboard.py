"""Read models of the researcher dashboard: studies, participants, invites, audit events.

Each function reads the research database only, in the caller's unit of work, with a fixed
number of queries whatever the size of the study (a page of participants and their consent is
three queries, not one per participant), and returns plain frozen data for a front end to
render. None of them reads the linkage vault: names are shown only through
``domain.reveal.reveal_name``, which audits the look-up.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only, selectinload

from fieldvault.config.study import StudyDefinition, parse_study
from fieldvault.config.study_limits import StudyLimits
from fieldvault.config.study_problems import StudyValidationError
from fieldvault.domain.errors import StudyNotFound
from fieldvault.domain.participants import get_participant
from fieldvault.domain.permissions import Role
from fieldvault.domain.retention.deadlines import reminder_due, study_deadline
from fieldvault.domain.states import HOLDS_CONSENT, State
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.errors import FieldvaultError
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    AuditEvent,
    ConsentDecision,
    ConsentRecord,
    Invite,
    Notice,
    Participant,
    Recording,
    Study,
    Transcript,
    as_utc,
)

if TYPE_CHECKING:  # storage.services brings alembic; the domain needs only the type
    from fieldvault.storage.services import Services

PER_PAGE = 50

# Where a study stands with its deadline.
RUNNING, DELETION_DUE, ENDED = "running", "deletion_due", "ended"


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` rows fill (at least one, so an empty list has a page)."""
    return max(1, math.ceil(total / per_page))


def clamp_page(page: int, total: int, per_page: int) -> int:
    """``page`` held between 1 and the last page."""
    return min(max(page, 1), page_count(total, per_page))


# --- studies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySummary:
    """A study's name, phase and deletion deadline: what every member may see."""

    id: str
    title: str
    role: Role | None
    phase: str  # RUNNING, DELETION_DUE or ENDED
    timezone: str
    processing_end: dt.date
    deadline: dt.datetime  # UTC: the first instant after processing_end, local time
    days_left: int  # whole local days until the deadline (0 or less: due)


def summarise(study: Study, role: Role | None, now: dt.datetime) -> StudySummary:
    """The summary of one loaded study at ``now``."""
    deadline = study_deadline(study)
    today = now.astimezone(ZoneInfo(study.timezone)).date()
    # The deadline is the local midnight after processing_end: on that last day one day is left.
    days_left = (study.processing_end - today).days + 1
    if study.ended_at is not None:
        phase = ENDED
    elif deadline <= now:
        phase = DELETION_DUE
    else:
        phase = RUNNING
    return StudySummary(
        id=study.id,
        title=study.title,
        role=role,
        phase=phase,
        timezone=study.timezone,
        processing_end=study.processing_end,
        deadline=deadline,
        days_left=days_left,
    )


# The definition's hash too: ``load_definition`` reads it from a study already loaded.
_SUMMARY_COLUMNS = load_only(
    Study.id,
    Study.title,
    Study.timezone,
    Study.processing_end,
    Study.ended_at,
    Study.definition_sha256,
)


def my_studies(session: Session, roles: Mapping[str, Role], now: dt.datetime) -> list[StudySummary]:
    """The studies of a researcher (``roles``: study id → role), by title, in one query."""
    if not roles:
        return []
    rows = session.scalars(
        select(Study).options(_SUMMARY_COLUMNS).where(Study.id.in_(list(roles)))
    ).all()
    found = [summarise(s, roles[s.id], now) for s in rows]
    return sorted(found, key=lambda s: (s.title.casefold(), s.id))


def study_summary(
    session: Session, study_id: str, now: dt.datetime, role: Role | None = None
) -> StudySummary:
    """The summary of ``study_id`` or StudyNotFound (without reading its 10 kB definition)."""
    study = session.get(Study, study_id, options=[_SUMMARY_COLUMNS])
    if study is None:
        raise StudyNotFound(f"no study {study_id!r}", study_id=study_id)
    return summarise(study, role, now)


@dataclass(frozen=True)
class StudyCounts:
    """How many participants are in each state, and the study's material (counts only)."""

    by_state: dict[str, int]
    participants: int
    open_invites: int
    recordings: int
    transcripts: int


def study_counts(session: Session, study_id: str, now: dt.datetime) -> StudyCounts:
    """The counts the overview shows to members who may see participants (four queries)."""
    by_state = {
        state: int(n)
        for state, n in session.execute(
            select(Participant.state, func.count())
            .where(Participant.study_id == study_id)
            .group_by(Participant.state)
        )
    }
    open_invites = session.scalar(
        select(func.count())
        .select_from(Invite)
        .where(
            Invite.study_id == study_id,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
            Invite.expires_at > now,
        )
    )
    recordings = session.scalar(
        select(func.count()).select_from(Recording).where(Recording.study_id == study_id)
    )
    transcripts = session.scalar(
        select(func.count())
        .select_from(Transcript)
        .join(Recording, Recording.id == Transcript.recording_id)
        .where(Recording.study_id == study_id)
    )
    ordered: dict[str, int] = {s.value: by_state[s.value] for s in State if s.value in by_state}
    return StudyCounts(
        by_state=ordered,
        participants=sum(ordered.values()),
        open_invites=int(open_invites or 0),
        recordings=int(recordings or 0),
        transcripts=int(transcripts or 0),
    )


# --- participants ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemColumn:
    """A consent item as a column: its id and its text in each of the study's languages."""

    id: str
    texts: Mapping[str, str]
    required: bool

    def text(self, lang: str) -> str:
        """The item's text in ``lang``, else in the study's first language."""
        return self.texts.get(lang) or next(iter(self.texts.values()), self.id)


@dataclass(frozen=True)
class ParticipantRow:
    """One participant as the list shows it: no identity, ever."""

    code: str
    pseudonym: str | None
    state: str
    consent: Mapping[str, bool]  # item id → granted; an item never answered is absent
    letter_version: str | None
    language: str | None
    reconsent_needed: bool
    variables: Mapping[str, Any]


@dataclass(frozen=True)
class ParticipantPage:
    """A page of a study's participants, in order of registration."""

    rows: list[ParticipantRow]
    items: list[ItemColumn]
    variables: list[str]
    total: int
    page: int
    pages: int


def item_columns(definition: StudyDefinition) -> list[ItemColumn]:
    """The study's consent items as columns."""
    return [
        ItemColumn(item.id, dict(item.text), item.required) for item in definition.consent_items
    ]


@dataclass
class _Fold:
    items: dict[str, bool] = field(default_factory=dict)
    version: str | None = None
    language: str | None = None


def _consent_folds(session: Session, participant_ids: Sequence[int]) -> dict[int, _Fold]:
    """The current consent of each participant: ``consent.current_consent`` in one query."""
    folds: dict[int, _Fold] = {pid: _Fold() for pid in participant_ids}
    if not participant_ids:
        return folds
    rows = session.execute(
        select(
            ConsentRecord.participant_id,
            ConsentRecord.kind,
            ConsentRecord.letter_version,
            ConsentRecord.language,
            ConsentDecision.item_id,
            ConsentDecision.granted,
        )
        .outerjoin(ConsentDecision, ConsentDecision.record_id == ConsentRecord.id)
        .where(ConsentRecord.participant_id.in_(list(participant_ids)))
        .order_by(ConsentRecord.id, ConsentDecision.item_id)
    )
    for pid, kind, version, language, item_id, granted in rows:
        fold = folds[pid]
        if item_id is not None:
            fold.items[item_id] = bool(granted)
        if kind == "consent":
            fold.version, fold.language = version, language
    return folds


_HOLDING = frozenset(s.value for s in HOLDS_CONSENT)


def current_letters(definition: StudyDefinition) -> dict[str, str]:
    """The current letter version of each of the study's languages (hashed once per page)."""
    return {lang: definition.letter_version(lang) for lang in definition.languages}


def _reconsent(letters: Mapping[str, str], state: str, fold: _Fold) -> bool:
    """``consent.needs_reconsent`` from a fold already read and the current letter versions."""
    if state not in _HOLDING or fold.version is None or fold.language is None:
        return False
    return letters.get(fold.language) != fold.version


class _Person(Protocol):
    code: str
    pseudonym: str | None
    state: str
    variables: dict[str, Any]


def _row(letters: Mapping[str, str], person: _Person, fold: _Fold) -> ParticipantRow:
    return ParticipantRow(
        code=person.code,
        pseudonym=person.pseudonym,
        state=person.state,
        consent=fold.items,
        letter_version=fold.version,
        language=fold.language,
        reconsent_needed=_reconsent(letters, person.state, fold),
        variables=person.variables or {},
    )


def participant_page(
    session: Session, study_id: str, *, page: int = 1, per_page: int = PER_PAGE
) -> ParticipantPage:
    """One page of participants with their current consent per item (three queries)."""
    definition = load_definition(session, study_id)  # StudyNotFound for an unknown study
    total = int(
        session.scalar(
            select(func.count()).select_from(Participant).where(Participant.study_id == study_id)
        )
        or 0
    )
    page = clamp_page(page, total, per_page)
    # Plain columns, not ORM objects: a page is read, never changed, and rows are cheaper.
    people = session.execute(
        select(
            Participant.id,
            Participant.code,
            Participant.pseudonym,
            Participant.state,
            Participant.variables,
        )
        .where(Participant.study_id == study_id)
        .order_by(Participant.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    folds = _consent_folds(session, [p.id for p in people])
    letters = current_letters(definition)
    return ParticipantPage(
        rows=[_row(letters, p, folds[p.id]) for p in people],
        items=item_columns(definition),
        variables=[v.name for v in definition.participant_variables],
        total=total,
        page=page,
        pages=page_count(total, per_page),
    )


@dataclass(frozen=True)
class ConsentEntry:
    """One consent record of a participant, as the history shows it."""

    id: int
    kind: str
    recorded_at: dt.datetime
    channel: str
    language: str | None
    letter_version: str | None
    decisions: Mapping[str, bool]
    on_paper: bool
    has_scan: bool


@dataclass(frozen=True)
class ParticipantDetail:
    """One participant: the list's row, when their state changed, and the consent history."""

    row: ParticipantRow
    items: list[ItemColumn]
    registered_at: dt.datetime
    state_changed_at: dt.datetime
    history: list[ConsentEntry]


def participant_detail(session: Session, study_id: str, code: str) -> ParticipantDetail:
    """The participant ``code`` of ``study_id`` (ParticipantNotFound otherwise)."""
    person = get_participant(session, study_id, code)
    definition = load_definition(session, study_id)
    records = session.scalars(
        select(ConsentRecord)
        .options(selectinload(ConsentRecord.decisions))  # all decisions in one more query
        .where(ConsentRecord.participant_id == person.id)
        .order_by(ConsentRecord.id)
    ).all()
    fold = _Fold()
    history = []
    for record in records:
        decisions = {d.item_id: d.granted for d in record.decisions}
        fold.items.update(decisions)
        if record.kind == "consent":
            fold.version, fold.language = record.letter_version, record.language
        history.append(
            ConsentEntry(
                id=record.id,
                kind=record.kind,
                recorded_at=as_utc(record.recorded_at),
                channel=record.channel,
                language=record.language,
                letter_version=record.letter_version,
                decisions=decisions,
                on_paper=record.channel == "paper",
                has_scan=record.evidence_object_id is not None,
            )
        )
    return ParticipantDetail(
        row=_row(current_letters(definition), person, fold),
        items=item_columns(definition),
        registered_at=as_utc(person.created_at),
        state_changed_at=as_utc(person.state_changed_at),
        history=list(reversed(history)),
    )


@dataclass(frozen=True)
class PaperForm:
    """What the paper-consent form asks: the study's items and languages."""

    items: list[ItemColumn]
    languages: list[str]


def paper_form(session: Session, study_id: str) -> PaperForm:
    """The items and languages a paper consent answers."""
    definition = load_definition(session, study_id)
    return PaperForm(item_columns(definition), list(definition.languages))


# --- invites --------------------------------------------------------------------------------

OPEN, USED, EXPIRED, REVOKED = "open", "used", "expired", "revoked"


@dataclass(frozen=True)
class InviteRow:
    """An invite as the list shows it: never its code (only the hash is stored)."""

    id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    status: str  # OPEN, USED, EXPIRED or REVOKED
    when: dt.datetime | None  # when it was used or revoked


@dataclass(frozen=True)
class InvitePage:
    """A page of a study's invites, newest first."""

    rows: list[InviteRow]
    total: int
    page: int
    pages: int


def _invite_row(invite: Invite, now: dt.datetime) -> InviteRow:
    expires = as_utc(invite.expires_at)
    if invite.revoked_at is not None:
        status, when = REVOKED, as_utc(invite.revoked_at)
    elif invite.used_at is not None:
        status, when = USED, as_utc(invite.used_at)
    elif expires <= now:
        status, when = EXPIRED, None
    else:
        status, when = OPEN, None
    return InviteRow(invite.id, as_utc(invite.created_at), expires, status, when)


def invite_page(
    session: Session, study_id: str, now: dt.datetime, *, page: int = 1, per_page: int = PER_PAGE
) -> InvitePage:
    """One page of the study's invites, newest first (two queries)."""
    get_study(session, study_id)
    total = int(
        session.scalar(select(func.count()).select_from(Invite).where(Invite.study_id == study_id))
        or 0
    )
    page = clamp_page(page, total, per_page)
    invites = session.scalars(
        select(Invite)
        .where(Invite.study_id == study_id)
        .order_by(Invite.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return InvitePage(
        [_invite_row(i, now) for i in invites], total, page, page_count(total, per_page)
    )


# --- the study file's check -----------------------------------------------------------------


@dataclass(frozen=True)
class StudyCheck:
    """The stored study file checked again, as ``fieldvault study check`` checks a file."""

    ok: bool
    problems: list[tuple[str, str]]  # (field, message)
    definition_sha256: str
    languages: list[str]
    items: list[ItemColumn]
    permits: Mapping[str, list[str]]
    letter_versions: Mapping[str, str]
    start_date: dt.date | None
    project_end: dt.date | None
    processing_end: dt.date | None
    processing_end_reason: bool
    timezone: str
    legal_basis: str | None
    keeps_pseudonymised: bool | None
    reminder_days: list[int]


def check_study(session: Session, study_id: str, limits: StudyLimits) -> StudyCheck:
    """Check the study's stored definition against today's ``limits``; list every problem.

    A registered study was valid when it was stored; a bound tightened since shows here as a
    problem to fix in the file before its next update, while the stored study keeps working.
    """
    study = get_study(session, study_id)
    problems: list[tuple[str, str]] = []
    try:
        definition = parse_study(study.definition_toml, source=f"study {study_id}", limits=limits)
    except StudyValidationError as exc:
        problems = [(p.field, p.message) for p in exc.problems]
        definition = load_definition(session, study_id)  # as registered, to describe it
    return StudyCheck(
        ok=not problems,
        problems=problems,
        definition_sha256=study.definition_sha256,
        languages=list(definition.languages),
        items=item_columns(definition),
        permits={item.id: list(item.permits) for item in definition.consent_items},
        letter_versions={lang: definition.letter_version(lang) for lang in definition.languages},
        start_date=definition.start_date,
        project_end=definition.project_end,
        processing_end=definition.processing_end,
        processing_end_reason=definition.processing_end_reason is not None,
        timezone=definition.timezone,
        legal_basis=definition.legal_basis,
        keeps_pseudonymised=definition.policies.on_withdrawal_pseudonymised == "keep",
        reminder_days=sorted(set(definition.policies.reminder_days), reverse=True),
    )


# --- the audit chain ------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    """One audit event of a study (events never hold a direct identifier)."""

    seq: int
    at: dt.datetime
    event: str
    participant_code: str | None
    actor: str
    details: Mapping[str, Any]


@dataclass(frozen=True)
class EventPage:
    """A page of a study's audit events, newest first, with the filter that chose them."""

    rows: list[EventRow]
    total: int
    page: int
    pages: int
    event: str | None
    code: str | None


EVENT_TYPES = tuple(e.value for e in audit.Event)


def study_events(
    session: Session,
    study_id: str,
    *,
    event: str | None = None,
    code: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> EventPage:
    """The study's audit events of type ``event`` and participant ``code`` (two queries).

    An unknown event type matches nothing rather than everything: a filter never widens.
    """
    get_study(session, study_id)
    where = [AuditEvent.study_id == study_id]
    if event:
        where.append(AuditEvent.event == event)
    if code:
        where.append(AuditEvent.participant_code == code)
    total = int(session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0)
    page = clamp_page(page, total, per_page)
    rows = session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.at,
            AuditEvent.event,
            AuditEvent.participant_code,
            AuditEvent.actor,
            AuditEvent.details,
        )
        .where(*where)
        .order_by(AuditEvent.seq.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return EventPage(
        rows=[
            EventRow(r.seq, as_utc(r.at), r.event, r.participant_code, r.actor, r.details or {})
            for r in rows
        ],
        total=total,
        page=page,
        pages=page_count(total, per_page),
        event=event or None,
        code=code or None,
    )


@dataclass(frozen=True)
class ChainCheck:
    """The whole audit chain verified against the signed checkpoints outside the database."""

    ok: bool
    checked: int
    keyed: int
    head_seq: int
    head_hash: str
    checkpoints: int
    first_broken_seq: int | None
    reason: str | None
    contradicts: str | None  # the checkpoint a cut or rewritten chain contradicts
    latest_checkpoint: dt.datetime | None
    checkpoint_problem: str | None  # why the checkpoint file could not be read


def verify_chain(services: Services) -> ChainCheck:
    """Verify every link of the chain and compare it with every readable checkpoint.

    A missing or forged checkpoint file does not hide the chain's own verdict: the chain is
    still walked, and the file's problem is reported beside it (and counts as not OK).
    """
    problem: str | None = None
    try:
        checkpoints = services.audit.read()
    except FieldvaultError as exc:
        checkpoints, problem = [], str(exc)
    with transaction(services.research) as session:
        result = audit.verify(session, checkpoints=checkpoints)
    latest = max((c.at for c in checkpoints), default=None)
    return ChainCheck(
        ok=result.ok and problem is None,
        checked=result.checked,
        keyed=result.keyed,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        checkpoints=result.checkpoints,
        first_broken_seq=result.first_broken_seq,
        reason=result.reason,
        contradicts=result.checkpoint.label if result.checkpoint else None,
        latest_checkpoint=latest,
        checkpoint_problem=problem,
    )


# --- retention ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderRow:
    """A reminder of the current deadline: when it is due, and whether it was queued."""

    days: int
    due: dt.datetime
    queued_at: dt.datetime | None
    delivery: str | None  # sent | unreachable | failed, or None while not settled


def reminder_schedule(session: Session, study_id: str) -> list[ReminderRow]:
    """The study's reminders before its current deadline, most distant first (two queries)."""
    study = get_study(session, study_id)
    definition = load_definition(session, study_id)
    end, zone = study.processing_end, study.timezone
    prefix = f"reminder:{study_id}:{end.isoformat()}:"
    queued = {
        n.dedupe_key.rsplit(":", 1)[1]: n
        for n in session.scalars(
            select(Notice).where(
                Notice.study_id == study_id, Notice.dedupe_key.startswith(prefix, autoescape=True)
            )
        )
    }
    rows = []
    for days in sorted(set(definition.policies.reminder_days), reverse=True):
        notice = queued.get(str(days))
        rows.append(
            ReminderRow(
                days=days,
                due=reminder_due(end, zone, days),
                queued_at=as_utc(notice.created_at) if notice is not None else None,
                delivery=notice.outcome if notice is not None else None,
            )
        )
    return rows
