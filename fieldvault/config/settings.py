"""The one settings object: environment variables and an optional TOML file, validated at once."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from fieldvault.config.study_limits import StudyLimits
from fieldvault.errors import ConfigError

ENV_PREFIX = "FIELDVAULT_"
# s3://bucket[/prefix]: S3's bucket naming rules (3-63 characters), a prefix of plain key parts.
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*'()/-]*)?")
CONFIG_FILE_ENV = "FIELDVAULT_CONFIG"


class Settings(BaseSettings):
    """Everything fieldvault can be configured with; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=Path("fieldvault-data"),
        description="Folder for the embedded databases, the blob store and the key files.",
    )
    database_url: str | None = Field(
        default=None,
        description="Research database (SQLAlchemy URL). Default: SQLite `research.sqlite3` "
        "in the data dir.",
    )
    vault_url: str | None = Field(
        default=None,
        description="Linkage vault, a separate database. Default: SQLite `vault.sqlite3` "
        "in the data dir.",
    )
    linkage_key_file: Path | None = Field(
        default=None,
        description="Key file protecting identities in the vault. Default: "
        "`keys/linkage.key` in the data dir.",
    )
    content_key_file: Path | None = Field(
        default=None,
        description="Key file wrapping the per-participant data keys of recordings and "
        "raw transcripts. Default: `keys/content.key` in the data dir.",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="Key file of the audit chain's HMAC key (apart from the linkage and "
        "content keys). Default: `keys/audit.key` in the data dir.",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="File the signed audit checkpoints are appended to; keep it, or a copy, "
        "where the database's writers cannot change it. Default: `audit-checkpoints.jsonl` "
        "in the data dir.",
    )
    lookup_key_file: Path | None = Field(
        default=None,
        description="Key file of the HMAC keys that find Telegram chats and accounts; never "
        "rotated. Default: `keys/lookup.key` in the data dir.",
    )
    blob_dir: Path | None = Field(
        default=None, description="Encrypted blob store folder. Default: `blobs` in the data dir."
    )
    blob_url: str | None = Field(
        default=None,
        description="An S3-compatible blob store instead of the folder: `s3://bucket/prefix` "
        "(needs the `s3` extra). Default: unset, the folder of FIELDVAULT_BLOB_DIR.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="The S3 server's URL (e.g. http://127.0.0.1:8333 for SeaweedFS or MinIO); "
        "unset = AWS.",
    )
    s3_region: str | None = Field(
        default=None, description="The bucket's region; unset = boto3's default (AWS_REGION)."
    )
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key id; unset = boto3's default credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret access key; set together with the access key id."
    )
    backup_key_file: Path | None = Field(
        default=None,
        description="Key file of the backup keys (`fieldvault backup`), created on the first "
        "backup. Default: `keys/backup.key` in the data dir.",
    )
    backup_key_rotation_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days one backup key encrypts new backups before a new one takes over.",
    )
    backup_retention_days: int = Field(
        default=28,
        ge=1,
        le=3650,
        description="Days a backup stays restorable after its key stopped encrypting new "
        "ones; then the key is destroyed, so a deleted identity is out of every backup at "
        "most rotation + retention days (35 by default) after its deletion.",
    )
    timezone: str = Field(
        default="Europe/Oslo", description="Default timezone for deadlines (IANA name)."
    )
    study_max_years: int = Field(
        default=10,
        ge=1,
        le=100,
        description="A study's end dates (and extensions) at most this many years after its "
        "start_date; further is refused as a typing mistake.",
    )
    study_letter_max_bytes: int = Field(
        default=200_000,
        ge=1_000,
        le=5_000_000,
        description="Largest information letter of a study file, per language, in UTF-8 bytes.",
    )
    study_consent_items_max: int = Field(
        default=50, ge=1, le=1_000, description="Most consent items a study file may have."
    )
    study_text_max_chars: int = Field(
        default=2_000,
        ge=100,
        le=100_000,
        description="Longest other text of a study file (title, consent item, reason, guide).",
    )
    identity_name_max_chars: int = Field(
        default=200, ge=20, le=10_000, description="Longest participant name the vault accepts."
    )
    telegram_token: SecretStr | None = Field(
        default=None, description="Telegram bot token; the bot is off when unset."
    )
    telegram_bot_username: str = Field(
        default="fieldvault_bot",
        description="Bot username used in invite deep links (https://t.me/<name>?start=<code>).",
    )
    telegram_base_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API base URL (the token is appended); point it at a local Bot API "
        "server to lift the 20 MB download limit.",
    )
    telegram_base_file_url: str = Field(
        default="https://api.telegram.org/file/bot",
        description="Bot API file download base URL (the token is appended).",
    )
    telegram_local_mode: bool = Field(
        default=False,
        description="The Bot API server is a local one on this machine: files are read from its "
        "disk (no 20 MB limit) and deleted there right after they are stored encrypted.",
    )
    telegram_webhook_url: str | None = Field(
        default=None,
        description="Public HTTPS URL Telegram posts updates to; unset means long polling.",
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret token Telegram sends with every webhook request; required with a "
        "webhook URL.",
    )
    telegram_webhook_listen: str = Field(
        default="127.0.0.1", description="Address the webhook server listens on."
    )
    telegram_webhook_port: int = Field(
        default=8443, description="Port the webhook server listens on."
    )
    telegram_rate_limit: bool = Field(
        default=True,
        description="Keep outgoing bot messages within Telegram's flood limits.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL of the web front end, used in web invite links.",
    )
    oidc_discovery_url: str | None = Field(
        default=None,
        description="OpenID Connect login for researchers (e.g. Feide): the provider's "
        "discovery URL (…/.well-known/openid-configuration); unset means password login only.",
    )
    oidc_client_id: str | None = Field(
        default=None, description="The client id registered with the OpenID Connect provider."
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="The client secret registered with the OpenID Connect provider."
    )
    oidc_name: str = Field(
        default="Feide", description="What the login page calls the OpenID Connect provider."
    )
    web_host: str = Field(
        default="127.0.0.1",
        description="Address the web app (upload API) listens on; put a TLS proxy in front of "
        "it before opening it beyond this machine.",
    )
    web_port: int = Field(
        default=8080, ge=0, le=65535, description="Port the web app listens on (0 = any free)."
    )
    web_idle_timeout: float = Field(
        default=20.0,
        gt=0,
        description="Seconds a web connection may stay idle, or take to send a request's "
        "headers, before it is closed.",
    )
    web_body_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds an upload may send no data before it is stopped (nothing kept).",
    )
    web_uploads_per_token: int = Field(
        default=2, ge=1, description="Uploads one API token may run at once (more: 429)."
    )
    web_uploads_total: int = Field(
        default=6, ge=1, description="Uploads the web app receives at once in all (more: 429)."
    )
    api_token_days: int = Field(
        default=90, ge=1, le=3650, description="Days a new API token is valid."
    )
    log_level: str = Field(default="INFO", description="Logging level.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines of the long-running commands: `text`, or `json` (one JSON "
        "object a line, for a log collector).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of a Prometheus /metrics server in `fieldvault worker`, `scheduler` "
        "and `bot`; unset = none (the web app serves /metrics on its own port).",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the metrics server of metrics_port listens on."
    )
    worker_threads: int = Field(
        default=1,
        ge=1,
        le=32,
        description="Jobs one `fieldvault worker` runs at once, each thread with its own "
        "Whisper model (memory for each; share the cores out with whisper_threads).",
    )
    worker_periodic: bool = Field(
        default=False,
        description="`fieldvault worker` also runs the periodic tasks (the retention sweep); "
        "leave off when a `fieldvault scheduler` runs. `serve` always runs them.",
    )
    queue_url: str | None = Field(
        default=None,
        description="Task queue. Default: an SQLite queue `queue.sqlite3` in the data dir; "
        "`redis://host:6379/0` lets several worker machines share the work.",
    )
    model_dir: Path | None = Field(
        default=None,
        description="Folder of installed Whisper models (`fieldvault models install`). "
        "Default: `models` in the data dir.",
    )
    whisper_engine: Literal["faster-whisper", "openai-whisper"] = Field(
        default="faster-whisper", description="Transcription engine."
    )
    whisper_model: str = Field(
        default="base",
        description="An installed model name (see `fieldvault models list`) or a model folder.",
    )
    whisper_device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu", description="Where Whisper runs."
    )
    whisper_compute_type: str = Field(
        default="default",
        description="faster-whisper compute type; `default` = int8 on CPU, float16 on CUDA.",
    )
    whisper_threads: int = Field(
        default=0, ge=0, description="CPU threads for Whisper; 0 = all cores."
    )
    whisper_batch_size: int = Field(
        default=6,
        ge=0,
        description="faster-whisper: speech chunks decoded together; 0 = one after another.",
    )
    diarization: bool = Field(
        default=True,
        description="Tell the voices of a single-track recording apart (CAM++, offline); "
        "per-speaker tracks are never diarized.",
    )
    max_recording_hours: float = Field(
        default=6.0,
        gt=0,
        le=48,
        description="Longest recording accepted, in hours (a long interview is 2-3); checked "
        "at intake and again by the worker before it decodes.",
    )
    max_recording_tracks: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Most audio files (per-speaker tracks) one recording may have, and most "
        "audio streams one file may hold.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as Europe/Oslo"
            ) from exc
        return value

    @field_validator("database_url", "vault_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError(
                "not a database URL; use e.g. sqlite:///path/file.sqlite3 or "
                "postgresql+psycopg://user@127.0.0.1/dbname"
            ) from exc
        return value

    @field_validator("blob_url")
    @classmethod
    def _s3_url(cls, value: str | None) -> str | None:
        if value is not None and not _S3_URL.fullmatch(value):
            raise ValueError(
                "use s3://bucket or s3://bucket/prefix (a bucket name of 3-63 characters "
                "a-z 0-9 . -), or leave it unset for the local folder"
            )
        return value

    @field_validator("queue_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("use a Redis URL such as redis://127.0.0.1:6379/0, or leave it unset")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("use one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        given = (self.oidc_discovery_url, self.oidc_client_id, self.oidc_client_secret)
        if any(value is not None for value in given) and None in given:
            raise ValueError(
                "OpenID Connect login needs all of FIELDVAULT_OIDC_DISCOVERY_URL, "
                "FIELDVAULT_OIDC_CLIENT_ID and FIELDVAULT_OIDC_CLIENT_SECRET (or none of them)"
            )
        return self

    @model_validator(mode="after")
    def _webhook_has_secret(self) -> Settings:
        if self.telegram_webhook_url is not None and self.telegram_webhook_secret is None:
            raise ValueError(
                "FIELDVAULT_TELEGRAM_WEBHOOK_URL is set without "
                "FIELDVAULT_TELEGRAM_WEBHOOK_SECRET; a webhook must check a secret token on "
                "every request"
            )
        return self

    @model_validator(mode="after")
    def _s3_keys_together(self) -> Settings:
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "set FIELDVAULT_S3_ACCESS_KEY_ID and FIELDVAULT_S3_SECRET_ACCESS_KEY together, "
                "or neither (boto3's default credentials)"
            )
        return self

    @model_validator(mode="after")
    def _vault_is_separate(self) -> Settings:
        if self.research_url == self.linkage_url:
            raise ValueError(
                "FIELDVAULT_DATABASE_URL and FIELDVAULT_VAULT_URL point to the same database; "
                "the linkage vault must be a separate database"
            )
        if self.linkage_key_path.resolve() == self.content_key_path.resolve():
            raise ValueError(
                "the linkage key and the content key must be different files; "
                "set FIELDVAULT_LINKAGE_KEY_FILE and FIELDVAULT_CONTENT_KEY_FILE apart"
            )
        return self

    @property
    def research_url(self) -> str:
        """The research database URL, defaulted into the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'research.sqlite3'}"

    @property
    def linkage_url(self) -> str:
        """The linkage vault URL, defaulted into the data dir."""
        return self.vault_url or f"sqlite:///{self.data_dir / 'vault.sqlite3'}"

    @property
    def linkage_key_path(self) -> Path:
        """Where the linkage key file lives."""
        return self.linkage_key_file or self.data_dir / "keys" / "linkage.key"

    @property
    def content_key_path(self) -> Path:
        """Where the content key file lives."""
        return self.content_key_file or self.data_dir / "keys" / "content.key"

    @property
    def audit_key_path(self) -> Path:
        """Where the audit key file lives."""
        return self.audit_key_file or self.data_dir / "keys" / "audit.key"

    @property
    def audit_checkpoint_path(self) -> Path:
        """Where the audit checkpoints are appended."""
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def lookup_key_path(self) -> Path:
        """Where the lookup key file lives."""
        return self.lookup_key_file or self.data_dir / "keys" / "lookup.key"

    @property
    def models_path(self) -> Path:
        """Where installed Whisper models are kept."""
        return self.model_dir or self.data_dir / "models"

    @property
    def study_limits(self) -> StudyLimits:
        """The bounds a new study file is held to (``config.study_limits``)."""
        return StudyLimits(
            max_years=self.study_max_years,
            letter_max_bytes=self.study_letter_max_bytes,
            consent_items_max=self.study_consent_items_max,
            text_max_chars=self.study_text_max_chars,
        )

    @property
    def queue_path(self) -> Path:
        """The embedded (SQLite) task queue file, used when no queue URL is set."""
        return self.data_dir / "queue.sqlite3"

    @property
    def blob_path(self) -> Path:
        """Where encrypted blobs are kept."""
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def backup_key_path(self) -> Path:
        """Where the backup key file lives."""
        return self.backup_key_file or self.data_dir / "keys" / "backup.key"

    @property
    def blob_s3_location(self) -> tuple[str, str] | None:
        """The (bucket, key prefix) of an S3 blob store, or None for the local folder."""
        if self.blob_url is None:
            return None
        bucket, _, prefix = self.blob_url.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        return bucket, f"{prefix}/" if prefix else ""

    def __repr_args__(self) -> Any:
        # Database URLs may carry passwords: show them masked, like SecretStr does for the token.
        for name, value in super().__repr_args__():
            if name in {"database_url", "vault_url", "queue_url"} and value is not None:
                yield name, make_url(value).render_as_string(hide_password=True)
            else:
                yield name, value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"settings file {path} does not exist; check {CONFIG_FILE_ENV}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc
    section = data.get("fieldvault", data)
    if not isinstance(section, dict):
        raise ConfigError(f"settings file {path}: [fieldvault] must be a table")
    return section


def load_settings(
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from environment, optional TOML file and overrides; report every bad key.

    Precedence: explicit overrides > environment > TOML file > defaults.
    """
    env = dict(os.environ if environ is None else environ)
    file_values: dict[str, Any] = {}
    file = config_file or (Path(env[CONFIG_FILE_ENV]) if env.get(CONFIG_FILE_ENV) else None)
    if file is not None:
        file_values = _read_toml(file)
    env_values = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key != CONFIG_FILE_ENV and value != ""
    }
    values = {**file_values, **env_values, **overrides}
    known = set(Settings.model_fields)
    unknown = sorted(set(values) - known)
    problems = [
        f"{ENV_PREFIX}{name.upper()}: unknown setting; see README 'Configuration' for the list"
        for name in unknown
    ]
    try:
        settings = Settings.model_validate({k: v for k, v in values.items() if k in known})
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            label = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
            problems.append(f"{label}: {err['msg'].removeprefix('Value error, ')}")
        settings = None
    if problems or settings is None:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))
    return settings
