"""Benchmark: the deadline sweep over N participants with one small recording each, and a rerun.

Usage: .venv/bin/python bench/retention_sweep.py [--participants 10000] [--keep DIR]

Targets (embedded default, SQLite + local folder): sweep at most 30 s for 10,000 participants,
a rerun that finds nothing to do at most 2 s. The reference, measured in the same run on the
same disk, is the bare floor of the work: unlinking as many files of the same size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from fieldvault.config.settings import load_settings
from fieldvault.config.study import load_study
from fieldvault.domain import retention, studies
from fieldvault.domain.participants import new_code
from fieldvault.storage.blobs import LocalBlobStore, new_object_id, put_encrypted
from fieldvault.storage.content import _context
from fieldvault.storage.crypto import generate_key, seal, wrap_key
from fieldvault.storage.db import transaction
from fieldvault.storage.models import BlobObject, Participant, VaultIdentity, WrappedDataKey
from fieldvault.storage.services import Services, initialise, open_services
from fieldvault.storage.vault import Identity, _associated_data

EXAMPLE = Path(__file__).parents[1] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
NOW = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)
DEADLINE = dt.datetime(2021, 6, 30, 22, 0, tzinfo=dt.UTC)
RECORDING = os.urandom(16 * 1024)  # 16 KiB: "one small recording"
TARGET_SWEEP_S = 30.0
TARGET_RERUN_S = 2.0


def populate(root: Path, count: int) -> tuple[Services, float]:
    settings = load_settings(environ={}, data_dir=root / "data")
    initialise(settings)
    services = open_services(settings)
    definition = load_study(EXAMPLE)
    with transaction(services.research) as session:
        studies.register_study(session, definition, EXAMPLE.read_text(encoding="utf-8"), NOW)
    start = time.perf_counter()
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_code())
    with transaction(services.research) as session:
        people = [
            Participant(
                study_id=definition.id,
                code=code,
                state="interviewed",
                variables={},
                created_at=NOW,
                state_changed_at=NOW,
            )
            for code in sorted(codes)
        ]
        session.add_all(people)
        session.flush()
        # Set up in bulk what ``LinkageVault.put`` and ``ContentStore.put`` write one by one:
        # a sealed identity, a wrapped data key and one encrypted object per participant.
        linkage, content = services.keys.linkage, services.keys.content
        identities, data_keys, objects, blobs = [], [], [], []
        for i, person in enumerate(people):
            who = Identity(name=f"Informant {i}", telegram_chat_id=10_000 + i)
            identities.append(
                VaultIdentity(
                    study_id=definition.id,
                    participant_code=person.code,
                    key_id=linkage.current_id,
                    sealed=seal(
                        linkage.current,
                        who.to_json(),
                        _associated_data(definition.id, person.code),
                    ),
                    created_at=NOW,
                )
            )
            key_id, key = secrets.token_hex(16), generate_key()
            context = _context(definition.id, person.code, "recording", key_id)
            data_keys.append(
                WrappedDataKey(
                    id=key_id,
                    study_id=definition.id,
                    participant_code=person.code,
                    purpose="recording",
                    kek_id=content.current_id,
                    wrapped=wrap_key(content.current, key, context),
                    created_at=NOW,
                )
            )
            object_id = new_object_id()
            blobs.append((object_id, key))
            objects.append(
                BlobObject(
                    object_id=object_id,
                    study_id=definition.id,
                    participant_id=person.id,
                    kind="recording",
                    data_key_id=key_id,
                    plaintext_size=len(RECORDING),
                    created_at=NOW,
                )
            )
        store = services.content.blobs
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda b: put_encrypted(store, b[0], [RECORDING], b[1]), blobs))
        with services.vault_sessions.begin() as vs:
            vs.add_all(identities)
            vs.add_all(data_keys)
        session.add_all(objects)
    return services, time.perf_counter() - start


def reference(root: Path, count: int) -> float:
    """Unlink ``count`` objects written like the blob store writes them: the sweep's floor."""
    store = LocalBlobStore(root / "reference")
    ids = [new_object_id() for _ in range(count)]

    def write(object_id: str) -> None:
        with store.write(object_id) as out:
            out.write(RECORDING)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, ids))
    start = time.perf_counter()
    for object_id in ids:
        store.delete(object_id)
    return time.perf_counter() - start


class Reachable:
    def to_informant(self, notice: object, identity: Identity) -> bool:
        return identity.telegram_chat_id is not None

    def to_researchers(self, notice: object) -> bool:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="fv-retention-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"setting up {args.participants} participants in {root} …", flush=True)
    services, setup_s = populate(root, args.participants)
    print(f"setup          {setup_s:7.2f} s")
    floor = reference(root, args.participants)
    print(f"reference      {floor:7.2f} s  (unlink {args.participants} stored objects, one thread)")

    start = time.perf_counter()
    report = retention.run_sweep(services, DEADLINE, notifier=Reachable())
    sweep_s = time.perf_counter() - start
    start = time.perf_counter()
    again = retention.run_sweep(services, DEADLINE + dt.timedelta(hours=1))
    rerun_s = time.perf_counter() - start

    with transaction(services.research) as session:
        live = session.scalar(
            select(func.count()).select_from(BlobObject).where(BlobObject.deleted_at.is_(None))
        )
    deleted = sum(len(c) for c in report.deleted.values())
    print(
        f"sweep          {sweep_s:7.2f} s  ({deleted} participants, {sum(report.objects.values())} "
        f"objects, {report.identities} identities, notices {dict(report.notices)}) "
        f"= {sweep_s / floor:6.1f} x reference; target {TARGET_SWEEP_S:.0f} s"
    )
    print(
        f"rerun          {rerun_s:7.2f} s  (nothing to do: {again.nothing_to_do}); "
        f"target {TARGET_RERUN_S:.0f} s"
    )
    ok = (
        deleted == args.participants
        and live == 0
        and again.nothing_to_do
        and sweep_s <= TARGET_SWEEP_S * args.participants / 10_000
        and rerun_s <= TARGET_RERUN_S
    )
    print("OK" if ok else "TARGET MISSED")
    services.close()
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
