"""Orphans: objects in the blob store that no ``blob_objects`` row points to, and dead writes.

A writer killed between storing a ciphertext and committing its row leaves an object nobody
can find; one killed mid-write leaves a temp file (local folder) or an unfinished multipart
upload (S3). Neither can be read without its row's data key, but both take space and must not
outlive the data they came from. The retention sweep calls :func:`remove_orphans` after its
deletions.

An object is written before its row commits (``ContentStore.put`` flushes the row into the
caller's transaction), so a fresh object without a row may be one whose writer is still
working. Only what is older than ``grace`` (24 hours, far longer than any upload or job takes)
is touched. A row with ``deleted_at`` set does not count: its object was meant to be gone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.storage.blobs import BlobStore, StoredObject
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject

__all__ = ["ORPHAN_GRACE", "OrphanReport", "remove_orphans"]

ORPHAN_GRACE = dt.timedelta(hours=24)
_BATCH = 500

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrphanReport:
    """What one orphan check removed."""

    objects: int  # complete objects without a live row
    incomplete: int  # temp files or multipart uploads of killed writers


def _batches(items: Iterator[StoredObject], size: int) -> Iterator[list[StoredObject]]:
    while batch := list(islice(items, size)):
        yield batch


def remove_orphans(
    research: sessionmaker[Session],
    blobs: BlobStore,
    now: dt.datetime,
    *,
    grace: dt.timedelta = ORPHAN_GRACE,
) -> OrphanReport:
    """Delete objects older than ``grace`` that no live row points to, and dead writes."""
    cutoff = now - grace
    removed = 0
    old = (item for item in blobs.listing() if item.modified < cutoff)
    for batch in _batches(old, _BATCH):
        ids = [item.object_id for item in batch]
        with transaction(research) as session:
            live = set(
                session.scalars(
                    select(BlobObject.object_id).where(
                        BlobObject.object_id.in_(ids), BlobObject.deleted_at.is_(None)
                    )
                )
            )
        removed += sum(blobs.delete(oid) for oid in ids if oid not in live)
    incomplete = blobs.discard_incomplete(cutoff)
    if removed or incomplete:
        log.info(
            "removed %d orphaned blob(s) and %d unfinished write(s) older than %s",
            removed,
            incomplete,
            grace,
        )
    return OrphanReport(objects=removed, incomplete=incomplete)
