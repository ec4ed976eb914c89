"""credflow's settings: one pydantic-settings class read from ``CREDFLOW_*`` variables.

Build it with :func:`load_settings` when needed; never at import time.
"""

from __future__ import annotations

import shutil
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow.calendar import DEFAULT_COUNTRY, CalendarError, check_region
from credflow.errors import ConfigurationError
from credflow.keyring import DEV_SECRET_KEY, MAKE_ONE, MIN_SECRET_LENGTH, KeyRing


class StorageBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class MailBackend(StrEnum):
    OUTBOX = "outbox"
    SENDGRID = "sendgrid"


class Settings(BaseSettings):
    """Everything credflow reads from its environment (prefix ``CREDFLOW_``)."""

    model_config = SettingsConfigDict(env_prefix="CREDFLOW_", env_file=None, extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Folder for the SQLite file, evidence and outbox.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file credflow.db in the data folder."
    )
    catalog_dir: Path = Field(default=Path("rubrics"), description="Folder of micro-credential YAML files.")
    public_url: str = Field(default="http://127.0.0.1:8000", description="Base URL of `credflow serve`.")
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET_KEY),
        description="The secret every signing key is derived from (HKDF, one key per purpose); at least 32 "
        "characters. The default is public and accepted only when credflow is reachable from this machine alone.",
    )
    secret_key_previous: SecretStr | None = Field(
        default=None,
        description="During a rotation, the secret being replaced: it still verifies links, tokens and sessions "
        "(never signs). Remove it once what it signed has expired.",
    )

    storage_backend: StorageBackend = StorageBackend.LOCAL
    storage_dir: Path | None = Field(default=None, description="Local store folder; default: <data_dir>/objects.")
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_region: str = "us-east-1"
    s3_endpoint_url: str | None = None

    mail_backend: MailBackend = MailBackend.OUTBOX
    outbox_dir: Path | None = Field(default=None, description="Outbox folder; default: <data_dir>/outbox.")
    mail_sender: str = "credflow <no-reply@credflow.local>"
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    operator_email: str | None = Field(default=None, description="Where permanent failures are reported.")

    ffmpeg_path: str = "ffmpeg"
    ffprobe_path: str = "ffprobe"
    transcode_concurrency: int = Field(default=2, ge=1, le=64)
    ingest_max_bytes: int = Field(default=8 << 30, gt=0, description="Hard cap on one uploaded file.")
    upload_url_seconds: int = Field(
        default=3600,
        ge=60,
        le=7 * 24 * 3600,  # SigV4 presigned requests cannot outlive a week
        description="Lifetime of an HTTP intake upload URL (POST /api/uploads), 1 minute to 7 days.",
    )
    upload_idle_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="A request body that sends no byte for this long is refused (408); a partial upload is deleted.",
    )
    upload_body_seconds: int = Field(
        default=6 * 3600,
        ge=1,
        le=7 * 24 * 3600,
        description="The longest a request body may take to arrive (408 after that); at least the idle timeout.",
    )
    upload_concurrency_per_client: int = Field(
        default=16, ge=1, le=10_000, description="Uploads to the local store's upload URLs at once from one address."
    )
    rate_limit_client: str = Field(
        default="120/minute;2000/hour",
        description="Upload URLs, and separately submissions, one client address may ask for (moving windows, "
        "e.g. '120/minute;2000/hour').",
    )
    rate_limit_applicant: str = Field(
        default="30/hour;200/day",
        description="Upload URLs, and separately submissions, for one applicant (moving windows).",
    )
    keys_dir: Path | None = Field(
        default=None, description="Issuer signing keys, outside the database; default: <data_dir>/keys (mode 0700)."
    )
    did_web_base: str | None = Field(
        default=None,
        description="Issue with did:web (production): an https URL whose /<issuer>/did.json credflow serves, "
        "e.g. https://badges.example.org/issuers; default: did:key.",
    )
    deployments: bool = Field(
        default=False,
        description="`1`: flow runs go to Prefect deployments on the workers of PREFECT_API_URL and "
        "`credflow serve` serves the pages only; unset: `credflow serve` runs them itself.",
    )
    backread_share: float = Field(default=0.10, ge=0, le=1, description="Share of decisions back-read by a lead.")
    sweep_interval_seconds: int = Field(default=900, ge=10, description="How often `credflow serve` sweeps deadlines.")
    dispatch_lease_seconds: int = Field(
        default=120,
        ge=5,
        description="A flow run handed to the background workers is handed again when no worker took it, or its "
        "worker stopped renewing it, for this long (workers renew every quarter of it).",
    )
    dispatch_attempts: int = Field(
        default=4, ge=1, description="Hand-outs of one flow run before it is failed and the operator is told."
    )
    sign_in_link_minutes: int = Field(
        default=15, ge=1, le=60, description="Lifetime of an emailed sign-in link (single use), 1 to 60 minutes."
    )
    session_idle_minutes: int = Field(
        default=120, ge=5, le=7 * 24 * 60, description="A signed-in session ends after this long without a request."
    )
    session_max_hours: int = Field(
        default=24, ge=1, le=30 * 24, description="A signed-in session ends this long after sign-in, however active."
    )
    api_token_days: int = Field(
        default=90, ge=1, le=365, description="Lifetime of an applicant's API token (made on the signed-in home page)."
    )
    holidays_country: str | None = Field(
        default=DEFAULT_COUNTRY,
        description="Public holidays that are not business days: an ISO 3166-1 country code of the `holidays` "
        "package (observed days included); 'none' counts weekends only.",
    )
    holidays_subdivision: str | None = Field(
        default=None, description="A subdivision of that country (a US state such as CA) whose holidays count too."
    )
    evidence_retention_days: int = Field(
        default=365,
        description="Days after an attempt ends (earned, superseded, closed, returned, withdrawn) before the "
        "retention sweep deletes its evidence files; 0 keeps them forever.",
    )

    @field_validator("holidays_country", "holidays_subdivision", mode="before")
    @classmethod
    def _blank_region_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return None if value.upper() in {"", "NONE"} else value
        return value

    @field_validator("holidays_country")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        return None if value is None else value.upper()

    @model_validator(mode="after")
    def _known_region(self) -> Self:
        if self.holidays_country is None:
            if self.holidays_subdivision is not None:
                raise ValueError("CREDFLOW_HOLIDAYS_SUBDIVISION needs CREDFLOW_HOLIDAYS_COUNTRY")
            return self
        try:
            check_region(self.holidays_country, self.holidays_subdivision)
        except CalendarError as exc:
            raise ValueError(f"CREDFLOW_HOLIDAYS_COUNTRY/_SUBDIVISION: {exc}") from None
        return self

    @field_validator("evidence_retention_days")
    @classmethod
    def _retention_days(cls, value: int) -> int:
        if not 0 <= value <= 36500:
            raise ValueError(f"must be a number of days from 1 to 36500, or 0 to keep evidence forever; got {value}")
        return value

    @field_validator("deployments", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return False if isinstance(value, str) and not value.strip() else value

    @field_validator("rate_limit_client", "rate_limit_applicant")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit: use e.g. '120/minute;2000/hour'") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("public_url", "sendgrid_host")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("did_web_base")
    @classmethod
    def _https_did_web(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https URL (did:web documents are fetched over https)")
        return value.rstrip("/") if value else value

    @field_validator("secret_key", "secret_key_previous")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters; {MAKE_ONE}")
        return value

    @field_validator("mail_sender")
    @classmethod
    def _sender_has_address(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("must be an email address, optionally 'Name <address>'")
        return value

    @model_validator(mode="after")
    def _body_timeouts(self) -> Self:
        if self.upload_body_seconds < self.upload_idle_seconds:
            raise ValueError(
                f"CREDFLOW_UPLOAD_BODY_SECONDS ({self.upload_body_seconds}) must be at least "
                f"CREDFLOW_UPLOAD_IDLE_SECONDS ({self.upload_idle_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _backend_requirements(self) -> Self:
        if self.storage_backend is StorageBackend.S3 and not self.s3_bucket:
            raise ValueError("CREDFLOW_S3_BUCKET is required when CREDFLOW_STORAGE_BACKEND=s3")
        if self.session_idle_minutes > self.session_max_hours * 60:
            raise ValueError("CREDFLOW_SESSION_IDLE_MINUTES must not exceed CREDFLOW_SESSION_MAX_HOURS (in minutes)")
        if self.mail_backend is MailBackend.SENDGRID and self.sendgrid_api_key is None:
            raise ValueError("CREDFLOW_SENDGRID_API_KEY is required when CREDFLOW_MAIL_BACKEND=sendgrid")
        return self

    @property
    def keyring(self) -> KeyRing:
        """The per-purpose signing keys derived from the secret (and the previous one during a rotation)."""
        previous = self.secret_key_previous.get_secret_value() if self.secret_key_previous else None
        return KeyRing(self.secret_key.get_secret_value(), previous)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'credflow.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "objects"

    @property
    def resolved_keys_dir(self) -> Path:
        return self.keys_dir or self.data_dir / "keys"

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    def check_tools(self) -> None:
        """Fail fast when ffmpeg or ffprobe cannot be found."""
        for name, value in (("CREDFLOW_FFMPEG_PATH", self.ffmpeg_path), ("CREDFLOW_FFPROBE_PATH", self.ffprobe_path)):
            if shutil.which(value) is None:
                raise ConfigurationError(f"{name}={value!r}: no such executable (install Debian's ffmpeg)")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (plus ``overrides``).

    Raises:
        ConfigurationError: a setting is nonsense; the message names each one.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            name = f"CREDFLOW_{field.upper()}" if error["loc"] else "settings"
            lines.append(f"{name}: {error['msg']}")
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(lines)) from None
