"""Changing a registered study's definition, and asking informants to consent again."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.config.study import StudyDefinition
from fieldvault.domain import notices
from fieldvault.domain.consent import current_consent, needs_reconsent
from fieldvault.domain.errors import DomainError
from fieldvault.domain.states import HOLDS_CONSENT
from fieldvault.domain.studies import get_study, load_definition, store_letters
from fieldvault.storage import audit
from fieldvault.storage.models import Participant, Study

__all__ = ["ask_to_reconsent", "update_study"]


def update_study(
    session: Session, definition: StudyDefinition, toml_text: str, now: dt.datetime
) -> tuple[Study, list[str]]:
    """Replace a study's definition; return it and the languages whose letter changed.

    End dates are not changed here: an extension needs a recorded reason (and in Norway a new
    assessment), so it has its own command.
    """
    study = get_study(session, definition.id)
    if (study.project_end, study.processing_end) != (
        definition.project_end,
        definition.processing_end,
    ):
        raise DomainError(
            "the end dates differ from the registered ones",
            code="study.processing_end_changed",
            study_id=study.id,
        )
    old = load_definition(session, study.id)
    changed = [
        lang
        for lang in definition.languages
        if lang not in old.languages or old.letter_version(lang) != definition.letter_version(lang)
    ]
    study.title = definition.title
    study.definition_toml = toml_text
    study.definition_sha256 = hashlib.sha256(toml_text.encode("utf-8")).hexdigest()
    study.timezone = definition.timezone
    store_letters(session, definition, now)
    asked: list[str] = []
    if changed:
        session.flush()
        asked = ask_to_reconsent(session, study.id, now)
    audit.append(
        session,
        audit.Event.STUDY_UPDATED,
        actor="researcher",
        study_id=study.id,
        details={
            "definition_sha256": study.definition_sha256,
            "letters_changed": changed,
            "reconsent_asked": asked,
        },
        at=now,
    )
    return study, changed


def ask_to_reconsent(session: Session, study_id: str, now: dt.datetime) -> list[str]:
    """Queue a notice to each informant whose consent is to an older letter; return the codes.

    The notice only points them to the new text (the bot asks again at their next /start);
    their earlier consent stands until they answer, as a changed letter does not undo it.
    """
    definition = load_definition(session, study_id)
    holders = session.scalars(
        select(Participant)
        .where(
            Participant.study_id == study_id,
            Participant.state.in_([s.value for s in HOLDS_CONSENT]),
        )
        .order_by(Participant.id)
    ).all()
    asked = []
    for participant in holders:
        if not needs_reconsent(session, participant):
            continue
        language = current_consent(session, participant).language
        if language not in definition.languages:
            language = definition.default_language
        version = definition.letter_version(language)
        notices.add_notice(
            session,
            study_id=study_id,
            audience=notices.INFORMANT,
            kind="letter-changed",
            dedupe_key=f"letter-changed:{study_id}:{participant.code}:{version}",
            now=now,
            participant_code=participant.code,
            params={"letter_version": version},
        )
        asked.append(participant.code)
    return asked
