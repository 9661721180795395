"""The orphan check on the local blob folder: objects no row points to go after their grace."""

from __future__ import annotations

import datetime as dt
import io

from fieldvault.domain.participants import get_participant
from fieldvault.storage.blobs import LocalBlobStore, new_object_id, put_encrypted
from fieldvault.storage.content import BlobKind
from fieldvault.storage.crypto import generate_key
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject
from fieldvault.storage.orphans import ORPHAN_GRACE, remove_orphans
from fieldvault.storage.services import Services

from .conftest import NOW
from .recording_helpers import participant


def test_orphans_older_than_the_grace_go_and_objects_with_a_live_row_stay(
    services: Services, running_study_id: str
) -> None:
    store = services.content.blobs
    assert isinstance(store, LocalBlobStore)
    code = participant(services, running_study_id)
    with transaction(services.research) as session:
        person = get_participant(session, running_study_id, code)
        kept, shredded = (
            services.content.put(
                session,
                study_id=running_study_id,
                participant_id=person.id,
                participant_code=code,
                kind=kind,
                source=io.BytesIO(b"spoken words"),
                now=NOW,
            ).object_id
            for kind in (BlobKind.RECORDING, BlobKind.RAW_TRANSCRIPT)
        )
    with transaction(services.research) as session:
        # A row marked deleted whose object survived (its delete was lost) is no live row.
        row = session.get(BlobObject, shredded)
        assert row is not None
        row.deleted_at = NOW
    orphan = new_object_id()
    put_encrypted(store, orphan, io.BytesIO(b"a killed writer's ciphertext"), generate_key())
    now = dt.datetime.now(dt.UTC)

    assert remove_orphans(services.research, store, now).objects == 0
    assert store.exists(orphan)

    later = now + ORPHAN_GRACE + dt.timedelta(seconds=1)
    report = remove_orphans(services.research, store, later)

    assert report.objects == 2
    assert not store.exists(orphan)
    assert not store.exists(shredded)
    assert store.exists(kept)
