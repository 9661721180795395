"""What a process shares (databases, keys, vault, content store), built once from the settings."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from fieldvault.config.settings import Settings
from fieldvault.errors import ConfigError
from fieldvault.storage import migrate
from fieldvault.storage.audit_checkpoints import AuditCheckpoints, open_audit, prepare_audit
from fieldvault.storage.blobs import BlobStore, LocalBlobStore
from fieldvault.storage.content import ContentStore, DataKeys
from fieldvault.storage.db import VaultBase, make_engine, scrub, session_factory
from fieldvault.storage.keys import KeyRing, create_key_file
from fieldvault.storage.lookups import LookupKeys, create_lookup_key_file
from fieldvault.storage.models import BotConversation, Participant
from fieldvault.storage.vault import LinkageVault


@dataclass
class Services:
    """What a fieldvault process shares: databases, keys, vault, content store."""

    settings: Settings
    research: sessionmaker[Session]
    vault_sessions: sessionmaker[Session]
    keys: KeyRing
    vault: LinkageVault
    content: ContentStore
    audit: AuditCheckpoints  # the audit key and its signed checkpoints
    lookups: LookupKeys  # the HMAC keys of the Telegram lookups (storage/lookups.py)
    engines: list[Engine] = field(default_factory=list)

    @property
    def research_engine(self) -> Engine:
        """The research database's engine, for what needs a connection of its own (locks)."""
        bind = self.research.kw["bind"]
        assert isinstance(bind, Engine)
        return bind

    def after_destruction(self) -> None:
        """After a withdrawal purge, a sweep's deletion or a key retirement: leave no remnant.

        Checkpoints and truncates the SQLite WALs (or VACUUMs FULL the vault's tables on
        PostgreSQL), see ``db.scrub``. Blobs need nothing: they are ciphertext under data keys
        destroyed in the vault, so once the wrapped keys are gone from every file of the vault
        a deleted blob's remnants on disk are noise.
        """
        scrub(self.research_engine)
        vault = self.vault_sessions.kw["bind"]
        assert isinstance(vault, Engine)
        scrub(vault, [table.name for table in VaultBase.metadata.sorted_tables])

    def close(self) -> None:
        """Dispose of the database engines."""
        for engine in self.engines:
            engine.dispose()


@dataclass(frozen=True)
class InitReport:
    """What ``initialise`` created (False = it was already there)."""

    data_dir: Path
    linkage_key_created: bool
    content_key_created: bool
    lookup_key_created: bool = False


def initialise(settings: Settings) -> InitReport:
    """Create the data dir, both key files (0600) and both databases; safe to run again."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    created = []
    for path, purpose in (
        (settings.linkage_key_path, "linkage"),
        (settings.content_key_path, "content"),
    ):
        if path.exists():
            created.append(False)
            continue
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        create_key_file(path, purpose)
        created.append(True)
    # Loading checks both files (modes, purposes, distinct secrets) before any database exists.
    ring = KeyRing.load(settings.linkage_key_path, settings.content_key_path)
    settings.blob_path.mkdir(parents=True, exist_ok=True, mode=0o700)
    migrate.upgrade(settings.research_url, "research")
    migrate.upgrade(settings.linkage_url, "vault")
    lookups = _create_lookup_keys(settings, ring, older=not created[0])
    # The audit key and the first checkpoint need the migrated research database.
    prepare_audit(settings)
    return InitReport(settings.data_dir, created[0], created[1], lookups is not None)


def _create_lookup_keys(settings: Settings, ring: KeyRing, *, older: bool) -> LookupKeys | None:
    """Create the lookup key file when it is missing; the keys written, or None when it was there.

    An ``older`` data folder (its linkage key was there already) made its lookups with keys
    derived from its linkage key: the same keys are written, so every stored lookup stays valid,
    once the bot's stored chats confirm them, and the vault's lookups are recomputed under them.
    """
    path = settings.lookup_key_path
    if path.exists():
        return None
    lookups = LookupKeys.derived_from(ring.linkage.current) if older else LookupKeys.generate()
    if older:
        _refuse_keys_that_name_no_chat(settings, ring, lookups)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    create_lookup_key_file(path, lookups)
    if older:
        _rekey_vault_lookups(settings, ring, lookups)
    return lookups


def _refuse_keys_that_name_no_chat(settings: Settings, ring: KeyRing, lookups: LookupKeys) -> None:
    """Refuse derived keys when the bot's stored chats (up to 50 checked) are under others.

    A data folder restored without its lookup key file would otherwise get keys that name none
    of its chats, and every informant would silently be a stranger to the bot.
    """
    research_engine = make_engine(settings.research_url)
    vault_engine = make_engine(settings.linkage_url)
    try:
        with session_factory(research_engine)() as session:
            rows = session.execute(
                select(BotConversation.chat_key, Participant.study_id, Participant.code)
                .join(Participant, Participant.id == BotConversation.participant_id)
                .limit(50)
            ).all()
        vault = LinkageVault(session_factory(vault_engine), ring.linkage, lookups.telegram)
        checked = 0
        for chat_key, study_id, code in rows:
            identity = vault.get(study_id, code)
            if identity is None or identity.telegram_chat_id is None:
                continue
            if hmac.compare_digest(chat_key, lookups.chat_key(identity.telegram_chat_id)):
                return
            checked += 1
    finally:
        research_engine.dispose()
        vault_engine.dispose()
    if checked:
        raise ConfigError(
            f"the lookup key file {settings.lookup_key_path} is missing, and this data folder's "
            "Telegram chats were not made with keys fieldvault init could recreate: restore "
            "lookup.key from where you keep the key files (without it the bot recognises no "
            "informant or researcher)"
        )


def _rekey_vault_lookups(settings: Settings, ring: KeyRing, lookups: LookupKeys) -> None:
    """Every identity's Telegram lookup under the lookup key (those made under older keys too)."""
    engine = make_engine(settings.linkage_url)
    try:
        LinkageVault(session_factory(engine), ring.linkage, lookups.telegram).rekey_lookups()
    finally:
        engine.dispose()


def blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name: the S3 bucket of ``blob_url``, else the local folder."""
    location = settings.blob_s3_location
    if location is None:
        return LocalBlobStore(settings.blob_path)
    # Deferred: boto3 is the optional `s3` extra, needed only by installs that use a bucket.
    try:
        from fieldvault.storage.s3blobs import S3BlobStore, s3_client
    except ImportError:
        raise ConfigError(
            "FIELDVAULT_BLOB_URL names an S3 bucket, but boto3 is not installed; "
            "install fieldvault with the `s3` extra"
        ) from None
    secret = settings.s3_secret_access_key
    client = s3_client(
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=None if secret is None else secret.get_secret_value(),
    )
    return S3BlobStore(client, *location)


def open_services(settings: Settings) -> Services:
    """Build the services of one process; refuse when fieldvault was not initialised."""
    keys = KeyRing.load(settings.linkage_key_path, settings.content_key_path)
    lookups = LookupKeys.load(settings.lookup_key_path)
    research_engine = make_engine(settings.research_url)
    vault_engine = make_engine(settings.linkage_url)
    for url, which, engine in (
        (settings.research_url, "research", research_engine),
        (settings.linkage_url, "vault", vault_engine),
    ):
        if migrate.current_revision(url, which) is None:  # type: ignore[arg-type]
            engine.dispose()
            raise ConfigError(f"the {which} database is not set up; run `fieldvault init` first")
    # An install from before the audit key gets it now, with the checkpoint marking the switch.
    audit = open_audit(settings, research_engine, keys)
    research = session_factory(research_engine)
    audit.bind(research)
    vault_sessions = session_factory(vault_engine)
    blobs = blob_store(settings)
    return Services(
        settings=settings,
        research=research,
        vault_sessions=vault_sessions,
        keys=keys,
        vault=LinkageVault(vault_sessions, keys.linkage, lookups.telegram),
        content=ContentStore(blobs=blobs, keys=DataKeys(vault_sessions, keys.content)),
        audit=audit,
        lookups=lookups,
        engines=[research_engine, vault_engine],
    )
