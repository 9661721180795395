"""What the vault knows for a study: its sealed documents and the people it holds."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.pseudonymise import KnownPerson
from fieldvault.storage.models import Participant
from fieldvault.storage.services import Services
from fieldvault.storage.study_documents import StudyDocuments


def documents(services: Services) -> StudyDocuments:
    """The vault's sealed study documents, opened with the linkage key."""
    return StudyDocuments(services.vault_sessions, services.keys.linkage)


def known_people(services: Services, session: Session, study_id: str) -> list[KnownPerson]:
    """Every participant of the study with a name in the vault, each with their pseudonym.

    All participants, not only the one speaking: informants mention each other.
    """
    people = []
    rows = session.scalars(select(Participant).where(Participant.study_id == study_id)).all()
    for participant in rows:
        identity = services.vault.get(study_id, participant.code)
        if identity is None or not participant.pseudonym:
            continue
        if not (identity.name or identity.email or identity.phone or identity.telegram_username):
            continue
        people.append(
            KnownPerson.from_identity(
                identity.name,
                participant.pseudonym,
                email=identity.email,
                phone=identity.phone,
                username=identity.telegram_username,
            )
        )
    return people


def vault_leftovers(lines: list[str], people: list[KnownPerson]) -> int:
    """How many lines still hold a full name, an e-mail or a phone number the vault knows."""
    hits = 0
    for line in lines:
        for person in people:
            secrets = [n for n in person.names if " " in n] + list(person.emails)
            secrets += [re.sub(r"\D", "", p)[-8:] for p in person.phones]
            digits = re.sub(r"\D", "", line)
            if any(s and (s.casefold() in line.casefold() or s in digits) for s in secrets):
                hits += 1
                break
    return hits
