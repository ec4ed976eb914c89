"""The session's shared set-up: build_services gets the same catalog and schema as a fresh parse and migration."""

from __future__ import annotations

import shutil
import stat

from sqlalchemy import text

from credflow.catalog import load_catalog
from credflow.db.engine import Database
from credflow.db.migrate import upgrade
from credflow.services import build_services
from tests.conftest import ROOT


def _schema(url: str) -> list[tuple[str, ...]]:
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"))
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            return [tuple(str(v) for v in row) for row in rows] + [("alembic_version", *version)]
    finally:
        db.dispose()


def test_a_copied_template_is_the_schema_a_migration_makes_and_stays_private(make_settings, tmp_path):
    services = build_services(make_settings())
    services.close()
    path = services.settings.data_dir / "credflow.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    migrated = Database(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade(migrated)  # the production path, as the migration tests call it
    migrated.dispose()
    assert _schema(f"sqlite:///{path}") == _schema(f"sqlite:///{tmp_path / 'migrated.db'}")


def test_the_rubrics_are_parsed_once_and_other_catalogs_as_usual(make_settings, tmp_path):
    first, second = build_services(make_settings()), build_services(make_settings(data_dir=tmp_path / "other"))
    assert first.catalog is second.catalog and first.catalog == load_catalog(ROOT / "rubrics")
    copied = tmp_path / "rubrics"
    shutil.copytree(ROOT / "rubrics", copied)
    third = build_services(make_settings(data_dir=tmp_path / "third", catalog_dir=copied))
    assert third.catalog is not first.catalog and [c.id for c in third.catalog] == [c.id for c in first.catalog]
    for services in (first, second, third):
        services.close()
