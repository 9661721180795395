"""Rotating the linkage and content keys re-wraps everything; the old key is then retired."""

from __future__ import annotations

import json

from fieldvault.config.settings import Settings
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.storage.db import transaction
from fieldvault.storage.keys import add_key, retire_key
from fieldvault.storage.models import BlobObject
from fieldvault.storage.services import Services, open_services
from fieldvault.storage.vault import Identity

from .conftest import NOW


def test_rotating_both_keys_keeps_identity_and_content_readable(
    services: Services, settings: Settings, study_id: str
) -> None:
    code = register_participant(services, study_id, Identity(name="Åse Rotasjon"), {}, NOW)
    with transaction(services.research) as session:
        person = get_participant(session, study_id, code)
        obj = services.content.put(
            session,
            study_id=study_id,
            participant_id=person.id,
            participant_code=code,
            kind="recording",
            source=[b"audio bytes " * 1000],
            now=NOW,
        )
    old_linkage, old_content = services.keys.linkage.current_id, services.keys.content.current_id

    add_key(settings.linkage_key_path, "linkage")
    add_key(settings.content_key_path, "content")
    rotated = open_services(settings)
    try:
        assert rotated.vault.reseal() == 1
        assert rotated.content.keys.rewrap() == 1
    finally:
        rotated.close()
    retire_key(settings.linkage_key_path, "linkage", old_linkage)
    retire_key(settings.content_key_path, "content", old_content)

    for path, old in (
        (settings.linkage_key_path, old_linkage),
        (settings.content_key_path, old_content),
    ):
        assert old not in [k["id"] for k in json.loads(path.read_text())["keys"]]
    after = open_services(settings)
    try:
        identity = after.vault.get(study_id, code)
        assert identity is not None and identity.name == "Åse Rotasjon"
        with transaction(after.research) as session:
            stored = session.get_one(BlobObject, obj.object_id)
            assert b"".join(after.content.read(stored)) == b"audio bytes " * 1000
    finally:
        after.close()
