"""Participants: random codes, pseudonyms, registration with identity kept in the vault."""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.config.text_checks import (
    BIDI_CONTROLS,
    email_problem,
    phone_problem,
    too_long,
    unsafe_character,
)
from fieldvault.domain.errors import DomainError, ParticipantNotFound
from fieldvault.domain.states import State
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.models import Participant
from fieldvault.storage.vault import Identity

if TYPE_CHECKING:  # storage.services brings alembic; the domain needs only the type
    from fieldvault.storage.services import Services

# Crockford-style alphabet without I, L, O, U: codes read aloud or typed are not mistaken.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 6

# Common Norwegian given names, used when a study has no pseudonym pool of its own.
BUILTIN_PSEUDONYMS = (
    "Kari", "Eva", "Liv", "Lars", "Ingrid", "Ola", "Anne", "Per", "Marit", "Knut", "Solveig",
    "Bjørn", "Randi", "Arne", "Hilde", "Svein", "Tone", "Geir", "Berit", "Terje", "Grete",
    "Odd", "Astrid", "Rune", "Sigrid", "Tor", "Heidi", "Trond", "Nina", "Egil",
)  # fmt: skip


def new_code() -> str:
    """A random participant code such as ``P-7K3QXM`` (30 bits, meaningless)."""
    return "P-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def get_participant(session: Session, study_id: str, code: str) -> Participant:
    """The participant ``code`` of ``study_id`` or ParticipantNotFound."""
    participant = session.scalar(
        select(Participant).where(Participant.study_id == study_id, Participant.code == code)
    )
    if participant is None:
        raise ParticipantNotFound(
            f"no participant {code!r} in study {study_id!r}", study_id=study_id, participant=code
        )
    return participant


def list_participants(session: Session, study_id: str) -> list[Participant]:
    """All participants of a study in order of registration."""
    get_study(session, study_id)
    return list(
        session.scalars(
            select(Participant).where(Participant.study_id == study_id).order_by(Participant.id)
        )
    )


def choose_pseudonym(session: Session, study_id: str, avoid: frozenset[str]) -> str | None:
    """A pseudonym not yet used in the study and not equal to any real name in ``avoid``."""
    definition = load_definition(session, study_id)
    pool = list(definition.pseudonym_pool or BUILTIN_PSEUDONYMS)
    used = set(
        session.scalars(
            select(Participant.pseudonym).where(
                Participant.study_id == study_id, Participant.pseudonym.is_not(None)
            )
        )
    )
    avoid_folded = {part.casefold() for name in avoid for part in name.split()}
    for candidate in pool:
        if candidate in used or candidate.casefold() in avoid_folded:
            continue
        return candidate
    return None


def new_participant(
    session: Session, study_id: str, now: dt.datetime, *, avoid: frozenset[str] = frozenset()
) -> Participant:
    """Create a participant with a fresh code and pseudonym, state ``invited``."""
    get_study(session, study_id)
    existing = set(
        session.scalars(select(Participant.code).where(Participant.study_id == study_id))
    )
    code = new_code()
    while code in existing:
        code = new_code()
    participant = Participant(
        study_id=study_id,
        code=code,
        pseudonym=choose_pseudonym(session, study_id, avoid),
        state=State.INVITED.value,
        variables={},
        created_at=now,
        state_changed_at=now,
    )
    session.add(participant)
    session.flush()
    return participant


def validate_variables(
    session: Session, study_id: str, values: Mapping[str, str]
) -> dict[str, Any]:
    """Check participant variables against the study's declared ones; return typed values."""
    definition = load_definition(session, study_id)
    declared = {v.name: v for v in definition.participant_variables}
    problems: list[str] = []
    typed: dict[str, Any] = {}
    for name, raw in values.items():
        var = declared.get(name)
        if var is None:
            problems.append(
                f"{name}: not a variable of this study (declared: {', '.join(sorted(declared))})"
            )
            continue
        if var.type == "integer":
            try:
                typed[name] = int(raw)
            except ValueError:
                problems.append(f"{name}: {raw!r} is not a whole number")
        elif var.type == "choice" and var.choices and raw not in var.choices:
            problems.append(f"{name}: {raw!r} is not one of {', '.join(var.choices)}")
        else:
            typed[name] = raw
    if problems:
        raise DomainError("invalid participant variables:\n  " + "\n  ".join(problems))
    return typed


def set_variables(
    session: Session, participant: Participant, values: Mapping[str, str], now: dt.datetime
) -> None:
    """Set research variables (education, age band, …) on a participant."""
    typed = validate_variables(session, participant.study_id, values)
    participant.variables = {**participant.variables, **typed}
    audit.append(
        session,
        audit.Event.PARTICIPANT_UPDATED,
        actor="researcher",
        study_id=participant.study_id,
        participant_code=participant.code,
        details={"variables": sorted(typed)},
        at=now,
    )


class IdentityRefused(DomainError):
    """A name, e-mail address or phone number cannot be stored as given."""

    code = "participant.identity_refused"


def checked_identity(identity: Identity, *, name_max_chars: int) -> Identity:
    """``identity`` with its name trimmed and in NFC; IdentityRefused naming the wrong field.

    The messages never quote the value: it is identity, and errors reach logs and terminals.
    """
    name = None
    if identity.name is not None:
        name = unicodedata.normalize("NFC", identity.name.strip())
        if not name:
            raise IdentityRefused("the name is empty; write the informant's name", field="name")
        why = too_long(name, name_max_chars) or unsafe_character(name, multiline=False)
        if why:
            raise IdentityRefused(f"the name {why}", field="name")
    email = identity.email.strip() if identity.email is not None else None
    if email is not None and (why := email_problem(email)):
        raise IdentityRefused(f"the e-mail address {why}", field="email")
    phone = identity.phone.strip() if identity.phone is not None else None
    if phone is not None and (why := phone_problem(phone)):
        raise IdentityRefused(f"the phone number {why}", field="phone")
    return replace(identity, name=name, email=email, phone=phone)


def telegram_name(full_name: str | None, *, max_chars: int) -> str | None:
    """The name a Telegram account shows, made safe to keep: NFC, no controls, bounded.

    Not refused like a typed name: the informant did not write it for the study and cannot
    easily change it, and refusing would shut them out; control and bidirectional characters
    are dropped instead and an overlong name is cut.
    """
    if full_name is None:
        return None
    kept = "".join(
        " " if c.isspace() else c
        for c in unicodedata.normalize("NFC", full_name)
        if c not in BIDI_CONTROLS and (c.isspace() or unicodedata.category(c) != "Cc")
    )
    name = " ".join(kept.split())[:max_chars].strip()
    return name or None


def register_participant(
    services: Services,
    study_id: str,
    identity: Identity,
    variables: Mapping[str, str],
    now: dt.datetime,
) -> str:
    """Register a participant: code and variables in research data, identity in the vault.

    The two databases commit separately, so the vault is written last and undone when the
    research side fails: no identity is ever left without its participant. The identity is
    checked first (:func:`checked_identity`): nothing is written for one that is refused.
    """
    identity = checked_identity(identity, name_max_chars=services.settings.identity_name_max_chars)
    research, vault = services.research, services.vault
    written = False
    try:
        with transaction(research) as session:
            get_study(session, study_id)
            typed = validate_variables(session, study_id, variables)
            names = frozenset(filter(None, [identity.name, *vault.all_names(study_id)]))
            person = new_participant(session, study_id, now, avoid=names)
            person.variables = typed
            present = [f for f in ("name", "email", "phone") if getattr(identity, f)]
            audit.append(
                session,
                audit.Event.PARTICIPANT_ADDED,
                actor="researcher",
                study_id=study_id,
                participant_code=person.code,
                details={"variables": sorted(typed), "identity_fields": present},
                at=now,
            )
            code = person.code
            vault.put(study_id, code, identity, now)
            written = True
    except BaseException:
        if written:
            vault.delete(study_id, code)
        raise
    return code
