"""Signed audit checkpoints, kept outside the database: what makes a cut or rewritten tail show.

A checkpoint records that event ``seq`` of the audit chain had hash ``head`` at time ``at``,
and from which event on the chain is keyed (``keyed_from``). Each is one JSON line appended to
a file (``settings.audit_checkpoint_path``, by default ``audit-checkpoints.jsonl`` in the data
dir; point it at storage the database's writers cannot change), with an HMAC-SHA256 under the
audit key. One is written when the audit key is created (by ``fieldvault init``, or by the first
process to open an older install), after every retention sweep, after every successful ``audit
verify`` and by ``fieldvault audit checkpoint``; the DPO report prints the latest.

:func:`fieldvault.storage.audit.verify` compares the chain with every checkpoint: a chain that
ends before a checkpoint's event was cut; an event whose hash differs from a checkpoint's was
rewritten. Recording refuses too when the chain no longer holds the latest checkpoint, so a
sweep never blesses a cut chain.

Why an HMAC and not an Ed25519 signature: the chain itself is keyed with the same secret, so
whoever can check a checkpoint can check the chain, and nobody without the key can forge
either. A signature would let a third party check checkpoints with a public key alone, but not
the HMAC-keyed chain they vouch for, and it would add a private key to guard; the DPO gets the
third-party view by keeping the printed head of the report. What no checkpoint can show: lines
removed from the end of the checkpoint file itself by someone who can write it, which is why
it belongs where the database's writers cannot reach (another machine, write-once storage).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.config.settings import Settings
from fieldvault.errors import ConfigError, FieldvaultError
from fieldvault.storage import audit
from fieldvault.storage.audit import Checkpoint
from fieldvault.storage.crypto import CryptoError
from fieldvault.storage.db import make_engine, session_factory, transaction
from fieldvault.storage.keys import KeyRing, KeySet, create_key_file, load_key_file

__all__ = [
    "AuditCheckpoints",
    "ChainContradictsCheckpoint",
    "CheckpointInvalid",
    "CheckpointsMissing",
    "open_audit",
    "prepare_audit",
]

CHECKPOINT_VERSION = 1
_MAC_LABEL = b"fieldvault/audit/checkpoint/v1\x00"
_FIELDS = ("v", "seq", "head", "at", "keyed_from", "reason", "key")


class CheckpointsMissing(ConfigError):
    """The checkpoint file is not there: a cut tail of the chain could not be seen."""

    code = "audit.checkpoints_missing"


class CheckpointInvalid(FieldvaultError):
    """A line of the checkpoint file is damaged or was not written with the audit key."""

    code = "audit.checkpoint_invalid"


class ChainContradictsCheckpoint(FieldvaultError):
    """The chain no longer holds the latest checkpoint: it was cut or rewritten."""

    code = "audit.chain_contradicts_checkpoint"


@dataclass(frozen=True)
class AuditCheckpoints:
    """The audit key and the file its signed checkpoints are appended to."""

    path: Path
    keys: KeySet = field(repr=False)

    def bind(self, research: sessionmaker[Session]) -> None:
        """Key every audit event appended through ``research`` (see ``audit.bind_key``)."""
        audit.bind_key(research, self.keys)

    def exists(self) -> bool:
        """Whether the checkpoint file is there."""
        return self.path.is_file()

    def read(self) -> list[Checkpoint]:
        """Every checkpoint in the file, each one's MAC checked; CheckpointsMissing without it."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise CheckpointsMissing(
                f"the audit checkpoint file {self.path} is missing, so a cut end of the audit "
                "chain cannot be detected; restore it from where you keep its copy",
                path=str(self.path),
            ) from None
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return [self._parse(number, line) for number, line in enumerate(lines, start=1)]

    def latest(self) -> Checkpoint | None:
        """The checkpoint of the newest event (the later line of equals), or None for none."""
        return _latest(self.read())

    def record(
        self,
        research: sessionmaker[Session],
        now: dt.datetime,
        reason: str,
        *,
        start: bool = False,
    ) -> Checkpoint:
        """Append a checkpoint of the chain's head as of ``now``; return it.

        Refuses (ChainContradictsCheckpoint) when the chain no longer holds the latest
        checkpoint, and (CheckpointsMissing) when the file is gone, unless ``start`` begins one.
        """
        if now.tzinfo is None:
            raise ValueError("a checkpoint needs a timezone-aware time")
        with transaction(research) as session:
            # Under the append lock: the head cannot move, and two recorders write in turn.
            audit.lock_chain(session)
            existing = self.read() if not start or self.exists() else []
            seq, head = audit.head(session)
            _check_still_holds(session, _latest(existing), seq)
            marks = [c.keyed_from for c in existing if c.keyed_from is not None]
            keyed_from = min(marks) if marks else (audit.first_keyed_seq(session) or seq + 1)
            checkpoint = Checkpoint(
                seq=seq,
                head=head,
                at=now.astimezone(dt.UTC),
                keyed_from=keyed_from,
                reason=reason,
                line=len(existing) + 1,
            )
            self._append(checkpoint)
        return checkpoint

    def _document(self, checkpoint: Checkpoint, key_id: str) -> dict[str, Any]:
        return {
            "v": CHECKPOINT_VERSION,
            "seq": checkpoint.seq,
            "head": checkpoint.head,
            "at": checkpoint.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "keyed_from": checkpoint.keyed_from,
            "reason": checkpoint.reason,
            "key": key_id,
        }

    def _append(self, checkpoint: Checkpoint) -> None:
        document = self._document(checkpoint, self.keys.current_id)
        document["mac"] = _mac(self.keys.current, document)
        data = (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode()
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # One write of one short line with O_APPEND: lines of two writers never interleave.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write to {self.path}")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _parse(self, number: int, line: bytes) -> Checkpoint:
        invalid = CheckpointInvalid(
            f"line {number} of the audit checkpoint file {self.path} is damaged or was not "
            "written with this installation's audit key",
            line=number,
            path=str(self.path),
        )
        try:
            document = json.loads(line)
        except ValueError:
            raise invalid from None
        if not isinstance(document, dict) or set(document) != {*_FIELDS, "mac"}:
            raise invalid
        try:
            key = self.keys.get(str(document["key"]))
        except CryptoError:
            raise invalid from None
        claimed = document.pop("mac")
        if not isinstance(claimed, str) or not hmac.compare_digest(_mac(key, document), claimed):
            raise invalid
        try:
            at = dt.datetime.fromisoformat(document["at"])
            checkpoint = Checkpoint(
                seq=int(document["seq"]),
                head=str(document["head"]),
                at=at,
                keyed_from=None if document["keyed_from"] is None else int(document["keyed_from"]),
                reason=str(document["reason"]),
                line=number,
            )
        except (TypeError, ValueError):
            raise invalid from None
        if document["v"] != CHECKPOINT_VERSION or at.tzinfo is None:
            raise invalid
        return checkpoint


def _mac(key: bytes, document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, _MAC_LABEL + canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def _latest(checkpoints: list[Checkpoint]) -> Checkpoint | None:
    return max(checkpoints, key=lambda c: (c.seq, c.line), default=None)


def _check_still_holds(session: Session, latest: Checkpoint | None, seq: int) -> None:
    """Refuse to record over a chain that was cut or rewritten since ``latest``."""
    if latest is None:
        return
    if seq < latest.seq:
        raise ChainContradictsCheckpoint(
            f"the audit chain ends at event {seq} but {latest.label} recorded event "
            f"{latest.seq}: events were deleted from the end; no checkpoint was written",
            seq=latest.seq,
            line=latest.line,
        )
    stored = audit.hash_at(session, latest.seq)
    if stored is None or not hmac.compare_digest(stored, latest.head):
        raise ChainContradictsCheckpoint(
            f"event {latest.seq} of the audit chain differs from {latest.label}: the chain was "
            "rewritten; no checkpoint was written",
            seq=latest.seq,
            line=latest.line,
        )


def _load_or_create_key(settings: Settings) -> tuple[KeySet, bool]:
    """The audit key set, created (0600) when missing; and whether it was created now."""
    path = settings.audit_key_path
    created = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            create_key_file(path, "audit")
            created = True
        except ConfigError:
            if not path.exists():  # not a process that won the race: a real failure
                raise
    return load_key_file(path, "audit"), created


def open_audit(settings: Settings, research_engine: Engine, ring: KeyRing) -> AuditCheckpoints:
    """The audit key and checkpoint file of an install; creates both for one that lacks them.

    Creating the key writes the first checkpoint at once: it marks where the chain turns from
    unkeyed (older events) to keyed, so that a later rewrite of the keyed part without the key
    cannot pass as unkeyed events.
    """
    keys, created = _load_or_create_key(settings)
    for _, secret in keys.keys:
        for _, other in (*ring.linkage.keys, *ring.content.keys):
            if hmac.compare_digest(secret, other):
                raise ConfigError(
                    f"the audit key file {settings.audit_key_path} holds the same key as the "
                    "linkage or content key file; they must be different secrets"
                )
    trail = AuditCheckpoints(settings.audit_checkpoint_path, keys)
    if created:
        trail.record(
            session_factory(research_engine), dt.datetime.now(dt.UTC), "key created", start=True
        )
    return trail


def prepare_audit(settings: Settings) -> bool:
    """For ``initialise``: create the audit key and first checkpoint when missing; True if so."""
    existed = settings.audit_key_path.exists()
    engine = make_engine(settings.research_url)
    try:
        ring = KeyRing.load(settings.linkage_key_path, settings.content_key_path)
        trail = open_audit(settings, engine, ring)
        if not trail.exists():
            # Keys made before the databases (a container stack's keys come from a throwaway
            # init elsewhere): a fresh, empty chain starts its checkpoint file now. A chain
            # with events and no file stays refused by `audit verify` (the file was lost).
            research = session_factory(engine)
            with transaction(research) as session:
                empty = audit.head(session)[0] == 0
            if empty:
                trail.record(research, dt.datetime.now(dt.UTC), "init", start=True)
    finally:
        engine.dispose()
    return not existed
