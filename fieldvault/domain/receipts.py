"""Consent receipts: what an informant agreed to, proved by the exact letter's SHA-256.

A receipt is built from the stored consent record and the stored letter text only, so building
it again later gives the same canonical text and the same hash. The letter version *is* the
SHA-256 of the exact letter text; the receipt checks that against ``letter_versions.text``
before it says so. It names the participant by code, never by name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldvault.config.study import StudyDefinition
from fieldvault.domain.errors import DomainError
from fieldvault.domain.studies import get_study, load_definition
from fieldvault.storage.models import ConsentRecord, LetterVersion, Participant, as_utc

RECEIPT_FORMAT = "fieldvault-consent-receipt/1"


class ReceiptError(DomainError):
    """No receipt can be made: no consent on record, or a stored letter that fails its hash."""


@dataclass(frozen=True)
class ReceiptItem:
    """One consent item as answered, with its exact text in the consent's language."""

    item_id: str
    text: str
    required: bool
    granted: bool


@dataclass(frozen=True)
class Receipt:
    """The proof of one consent record."""

    study_id: str
    study_title: str
    participant_code: str
    record_id: int
    language: str
    channel: str
    letter_version: str
    letter_sha256: str  # computed from the stored text; equal to letter_version
    recorded_at: dt.datetime  # UTC
    local_time: dt.datetime  # in the study's timezone
    timezone: str
    letter_delivered_at: dt.datetime | None
    software_version: str
    items: tuple[ReceiptItem, ...]

    @property
    def granted(self) -> tuple[ReceiptItem, ...]:
        """The items agreed to."""
        return tuple(i for i in self.items if i.granted)

    @property
    def refused(self) -> tuple[ReceiptItem, ...]:
        """The items refused."""
        return tuple(i for i in self.items if not i.granted)

    def text(self) -> str:
        """The canonical text of the receipt (UTF-8, newline line ends, fixed field order)."""
        lines = [
            RECEIPT_FORMAT,
            f"study: {self.study_id}",
            f"title: {self.study_title}",
            f"participant: {self.participant_code}",
            f"record: {self.record_id}",
            f"channel: {self.channel}",
            f"language: {self.language}",
            f"letter_version: {self.letter_version}",
            f"letter_sha256: {self.letter_sha256}",
            f"letter_delivered_at_utc: {_iso(self.letter_delivered_at)}",
            f"recorded_at_utc: {_iso(self.recorded_at)}",
            f"recorded_at_local: {self.local_time.isoformat()} ({self.timezone})",
            f"software: {self.software_version}",
        ]
        for item in self.items:
            answer = "granted" if item.granted else "refused"
            required = "required" if item.required else "optional"
            lines.append(f"item {item.item_id} ({required}): {answer}")
            lines.append(f"  {item.text}")
        return "\n".join(lines) + "\n"

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the canonical text."""
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()


def _iso(moment: dt.datetime | None) -> str:
    return "-" if moment is None else as_utc(moment).isoformat()


def shown_items(definition: StudyDefinition, language: str) -> dict[str, Any]:
    """The item texts as shown, for a consent record's ``how`` (``items_shown``).

    A receipt prefers these to the study file's, so that a later edit of an item's text
    cannot change what a stored consent's receipt says was agreed to.
    """
    return {
        "items_shown": {
            i.id: {"text": i.text[language], "required": i.required}
            for i in definition.consent_items
        }
    }


def _shown_items(record: ConsentRecord) -> dict[str, tuple[str, bool]]:
    found = (record.how or {}).get("items_shown")
    if not isinstance(found, dict):
        return {}
    return {
        str(k): (str(v["text"]), bool(v.get("required", False)))
        for k, v in found.items()
        if isinstance(v, dict) and isinstance(v.get("text"), str)
    }


def latest_consent(session: Session, participant: Participant) -> ConsentRecord | None:
    """The participant's most recent consent record (not a withdrawal), if any."""
    return session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant.id, ConsentRecord.kind == "consent")
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def receipt(session: Session, participant: Participant, record_id: int | None = None) -> Receipt:
    """The receipt of ``record_id`` (default: the latest consent) of ``participant``."""
    if record_id is None:
        record = latest_consent(session, participant)
    else:
        record = session.get(ConsentRecord, record_id)
    if record is None or record.participant_id != participant.id or record.kind != "consent":
        raise ReceiptError("no consent is on record", code="receipt.no_consent")
    if record.letter_version is None or record.language is None:
        raise ReceiptError("the consent names no letter", code="receipt.no_letter")
    letter = session.get(LetterVersion, (participant.study_id, record.letter_version))
    if letter is None:
        raise ReceiptError("the consented letter is not stored", code="receipt.no_letter")
    digest = hashlib.sha256(letter.text.encode("utf-8")).hexdigest()
    if digest != record.letter_version:
        raise ReceiptError(
            "the stored letter text does not match its version hash",
            code="receipt.letter_mismatch",
            version=record.letter_version,
        )
    study = get_study(session, participant.study_id)
    definition = load_definition(session, participant.study_id)
    decisions = {d.item_id: d.granted for d in record.decisions}
    shown = _shown_items(record)
    known = {i.id: i for i in definition.consent_items}
    order = [i.id for i in definition.consent_items if i.id in decisions]
    order += sorted(set(decisions) - set(order))
    items = tuple(
        ReceiptItem(
            item_id,
            shown[item_id][0] if item_id in shown else known[item_id].text[record.language],
            shown[item_id][1] if item_id in shown else known[item_id].required,
            decisions[item_id],
        )
        for item_id in order
        if item_id in shown or item_id in known
    )
    recorded = as_utc(record.recorded_at)
    return Receipt(
        study_id=study.id,
        study_title=definition.title,
        participant_code=participant.code,
        record_id=record.id,
        language=record.language,
        channel=record.channel,
        letter_version=record.letter_version,
        letter_sha256=digest,
        recorded_at=recorded,
        local_time=recorded.astimezone(ZoneInfo(study.timezone)),
        timezone=study.timezone,
        letter_delivered_at=(
            None if record.letter_delivered_at is None else as_utc(record.letter_delivered_at)
        ),
        software_version=record.software_version,
        items=items,
    )


def last_withdrawal(session: Session, participant: Participant) -> dt.datetime | None:
    """When the participant's latest withdrawal was recorded (UTC), if any."""
    moment = session.scalar(
        select(ConsentRecord.recorded_at)
        .where(ConsentRecord.participant_id == participant.id, ConsentRecord.kind == "withdrawal")
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )
    return None if moment is None else as_utc(moment)
