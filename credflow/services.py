"""The composition root: the one place that builds real or local services from settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from credflow.calendar import BusinessCalendar, Calendars
from credflow.catalog import Catalog, load_catalog
from credflow.db.engine import Database
from credflow.db.migrate import upgrade
from credflow.issuance.rules import Pathway, load_pathways
from credflow.keyring import Purpose
from credflow.mail.base import Mailer
from credflow.media.base import Media
from credflow.settings import MailBackend, Settings, StorageBackend
from credflow.storage.base import ObjectStore

if TYPE_CHECKING:  # the badge libraries load on first use: most processes sign nothing
    from credflow.badges.keys import KeyStore
    from credflow.badges.ob2 import RsaKeyStore


class BadgeKeys:
    """The issuers' signing key stores, each opened once on first use.

    The keys are files: each store keeps the keys it parsed for the process and reads a key file again
    when its stamp changes, so a rotation by ``credflow badge rotate-key`` in another process is seen.

    Stores are kept by the settings that make them (keys folder, did:web base), so services copied
    with other settings (``dataclasses.replace``) never get a store of the old ones.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ob3: dict[tuple[Path, str | None], KeyStore] = {}
        self._ob2: dict[tuple[Path, str], RsaKeyStore] = {}

    def ob3(self, settings: Settings) -> KeyStore:
        """The Ed25519 keys of every issuer (Open Badges 3.0), generated on first use, kept outside the database."""
        from credflow.badges.keys import KeyStore

        key = (settings.resolved_keys_dir, settings.did_web_base)
        with self._lock:
            store = self._ob3.get(key)
            if store is None:
                store = self._ob3[key] = KeyStore(key[0], did_web_base=key[1])
            return store

    def ob2(self, settings: Settings, issuer_id: str) -> RsaKeyStore:
        """One issuer's RSA keys for signed Open Badges 2.0 assertions (beside the Ed25519 keys)."""
        from credflow.badges.ob2 import RsaKeyStore

        key = (settings.resolved_keys_dir, issuer_id)
        with self._lock:
            store = self._ob2.get(key)
            if store is None:
                store = self._ob2[key] = RsaKeyStore(key[0] / "ob2" / issuer_id)
            return store


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
    badge_keys: BadgeKeys = field(repr=False, compare=False)

    @cached_property
    def pathways(self) -> dict[str, Pathway]:
        """The pathway rules in ``<catalog>/pathways``, by id: parsed on first use, then kept for the process."""
        return load_pathways(self.settings.catalog_dir / "pathways", known_credentials=self.catalog.credentials)

    @cached_property
    def calendars(self) -> Calendars:
        """Each issuer's business calendar: the configured public holidays plus the issuer's closures."""
        return Calendars(self.settings.holidays_country, self.settings.holidays_subdivision, self.catalog.closures)

    def calendar_for(self, credential_id: str) -> BusinessCalendar:
        """The business calendar a credential's deadlines and SLAs count in (its issuer's)."""
        return self.calendars.for_issuer(self.catalog.get(credential_id).issuer.id)

    def key_store(self) -> KeyStore:
        """The issuers' Ed25519 signing keys (Open Badges 3.0), opened once."""
        return self.badge_keys.ob3(self.settings)

    def ob2_key_store(self, issuer_id: str) -> RsaKeyStore:
        """One issuer's RSA signing keys (Open Badges 2.0), opened once."""
        return self.badge_keys.ob2(self.settings, issuer_id)

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
        badge_keys=BadgeKeys(),
    )
