"""The composition root: the one place that builds real or local services from settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from credflow.catalog import Catalog, load_catalog
from credflow.db.engine import Database
from credflow.db.migrate import upgrade
from credflow.issuance.rules import Pathway, load_pathways
from credflow.keyring import Purpose
from credflow.mail.base import Mailer
from credflow.media.base import Media
from credflow.settings import MailBackend, Settings, StorageBackend
from credflow.storage.base import ObjectStore


@dataclass(frozen=True)
class Services:
    """Everything the pipeline's stages need, built once per process."""

    settings: Settings
    db: Database
    store: ObjectStore
    mailer: Mailer
    mail_backend: str
    catalog: Catalog
    media: Media

    @cached_property
    def pathways(self) -> dict[str, Pathway]:
        """The pathway rules in ``<catalog>/pathways``, by id: parsed on first use, then kept for the process."""
        return load_pathways(self.settings.catalog_dir / "pathways", known_credentials=self.catalog.credentials)

    def close(self) -> None:
        self.db.dispose()


def build_store(settings: Settings) -> ObjectStore:
    """The object store the settings choose."""
    if settings.storage_backend is StorageBackend.S3:
        from credflow.storage.s3 import S3Store

        assert settings.s3_bucket is not None  # the settings validator guarantees it
        return S3Store(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
        )
    from credflow.storage.local import LocalStore

    return LocalStore(
        settings.resolved_storage_dir,
        public_url=settings.public_url,
        secret=settings.keyring.key(Purpose.STORE_URL),
    )


def build_mailer(settings: Settings) -> Mailer:
    """The mailer the settings choose."""
    if settings.mail_backend is MailBackend.SENDGRID:
        from credflow.mail.sendgrid import SendGridMailer

        assert settings.sendgrid_api_key is not None  # the settings validator guarantees it
        return SendGridMailer(
            api_key=settings.sendgrid_api_key.get_secret_value(),
            sender=settings.mail_sender,
            host=settings.sendgrid_host,
        )
    from credflow.mail.outbox import OutboxMailer

    return OutboxMailer(settings.resolved_outbox_dir, sender=settings.mail_sender)


def build_media(settings: Settings) -> Media:
    """The media tool: Debian's ffmpeg and ffprobe at the paths the settings name (checked now)."""
    from credflow.media.ffmpeg import FfmpegMedia

    settings.check_tools()
    return FfmpegMedia(ffmpeg=settings.ffmpeg_path, ffprobe=settings.ffprobe_path)


def build_services(settings: Settings, *, migrate: bool = True, media: Media | None = None) -> Services:
    """Build every service; fails fast on a bad catalog, missing ffmpeg or bad settings.

    ``media`` replaces ffmpeg (tests pass a :class:`~credflow.media.fake.FakeMedia`); then ffmpeg
    need not be installed.
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the database and evidence
    media = media if media is not None else build_media(settings)
    catalog = load_catalog(settings.catalog_dir)
    db = Database(settings.resolved_database_url)
    if migrate:
        upgrade(db)
    return Services(
        settings=settings,
        db=db,
        store=build_store(settings),
        mailer=build_mailer(settings),
        mail_backend=settings.mail_backend.value,
        catalog=catalog,
        media=media,
    )
