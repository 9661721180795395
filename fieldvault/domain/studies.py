"""Registering studies and reading their definitions back."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from fieldvault.config.study import StudyDefinition, parse_study
from fieldvault.domain.errors import DomainError, StudyNotFound
from fieldvault.storage import audit
from fieldvault.storage.models import LetterVersion, Study


def get_study(session: Session, study_id: str) -> Study:
    """The study ``study_id`` or StudyNotFound."""
    study = session.get(Study, study_id)
    if study is None:
        raise StudyNotFound(f"no study {study_id!r}", study_id=study_id)
    return study


@lru_cache(maxsize=64)
def _parse_cached(sha256: str, text: str) -> StudyDefinition:
    # Keyed by the hash as well as the text so the cache can never serve a stale definition.
    # Without limits: they were checked at registration, and a bound tightened since must not
    # lock informants out of a registered study or stop its deletion.
    return parse_study(text, source=f"study definition {sha256[:12]}", limits=None)


# Parsed definitions by (study id, definition hash): a bot update asks for its study's
# definition several times, and reading the TOML text (some 10 kB) is most of that cost.
_definitions: dict[tuple[str, str], StudyDefinition] = {}


def load_definition(session: Session, study_id: str) -> StudyDefinition:
    """The parsed definition a study was registered (or last updated) with."""
    loaded = session.identity_map.get(identity_key(Study, study_id))
    if isinstance(loaded, Study):
        # Already in this session (perhaps just changed): its own hash is the one to use.
        sha256: str | None = loaded.definition_sha256
    else:
        sha256 = session.scalar(select(Study.definition_sha256).where(Study.id == study_id))
    cached = _definitions.get((study_id, sha256)) if sha256 is not None else None
    if cached is not None:
        return cached
    study = get_study(session, study_id)
    definition = _parse_cached(study.definition_sha256, study.definition_toml)
    if len(_definitions) >= 64:
        _definitions.clear()
    _definitions[(study_id, study.definition_sha256)] = definition
    return definition


def register_study(
    session: Session, definition: StudyDefinition, toml_text: str, now: dt.datetime
) -> Study:
    """Register a new study from its validated definition and source text."""
    if session.get(Study, definition.id) is not None:
        raise DomainError(
            f"study {definition.id!r} is already registered",
            code="study.already_registered",
            study_id=definition.id,
        )
    study = Study(
        id=definition.id,
        title=definition.title,
        definition_toml=toml_text,
        definition_sha256=hashlib.sha256(toml_text.encode("utf-8")).hexdigest(),
        timezone=definition.timezone,
        project_end=definition.project_end,
        processing_end=definition.processing_end,
        created_at=now,
    )
    session.add(study)
    session.flush()
    store_letters(session, definition, now)
    audit.append(
        session,
        audit.Event.STUDY_REGISTERED,
        actor="researcher",
        study_id=definition.id,
        details={"definition_sha256": study.definition_sha256, "letters": _versions(definition)},
        at=now,
    )
    return study


def list_studies(session: Session) -> list[Study]:
    """All registered studies, by id."""
    return list(session.scalars(select(Study).order_by(Study.id)))


def _versions(definition: StudyDefinition) -> dict[str, str]:
    return {lang: definition.letter_version(lang) for lang in definition.languages}


def store_letters(session: Session, definition: StudyDefinition, now: dt.datetime) -> None:
    """Keep the exact text of every letter version of ``definition`` (once per version)."""
    for lang, version in _versions(definition).items():
        if session.get(LetterVersion, (definition.id, version)) is None:
            session.add(
                LetterVersion(
                    study_id=definition.id,
                    version=version,
                    language=lang,
                    text=definition.letter_text(lang),
                    first_seen_at=now,
                )
            )
    session.flush()
