"""Set-up done once per test session: the rubrics parsed once, the SQLite schema migrated once and copied."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from credflow.catalog import Catalog
from credflow.db.engine import Database


def folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Each file under ``folder`` with its modification time and size: a catalog edited on disk is parsed again."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            found.append((str(path.relative_to(folder)), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class CachedCatalogs:
    """``load_catalog`` for the repository's rubrics folder, parsed once; any other folder is loaded as usual."""

    def __init__(self, load: Callable[[Path], Catalog], rubrics: Path) -> None:
        self._load = load
        self._rubrics = rubrics.resolve()
        self._cached: dict[tuple[tuple[str, int, int], ...], Catalog] = {}

    def __call__(self, folder: Path) -> Catalog:
        if Path(folder).resolve() != self._rubrics:
            return self._load(folder)
        signature = folder_signature(self._rubrics)
        if signature not in self._cached:
            self._cached = {signature: self._load(folder)}  # Catalog is frozen: every Services may share it
        return self._cached[signature]


class TemplateSchema:
    """``upgrade`` that copies one SQLite file migrated to head into each new, empty SQLite database.

    A database that already has content, one on PostgreSQL, or another revision is migrated as usual,
    so tests of the migrations themselves (which call ``credflow.db.migrate.upgrade``) still migrate.
    """

    def __init__(self, upgrade: Callable[..., None], folder: Path) -> None:
        self._upgrade = upgrade
        self._template = folder / "credflow-template.db"

    def __call__(self, db: Database, revision: str = "head") -> None:
        path = db.engine.url.database if db.engine.dialect.name == "sqlite" else None
        if revision != "head" or not path or path == ":memory:" or path.startswith("file:") or not _new_file(path):
            self._upgrade(db, revision)
            return
        shutil.copyfile(self.template(), path)  # into the file make_engine created (0600): its mode is kept

    def template(self) -> Path:
        """The migrated file, made on first use."""
        if not self._template.exists():
            building = self._template.with_name(f"building-{os.getpid()}.db")
            template = Database(f"sqlite:///{building}")
            try:
                self._upgrade(template)
                with template.engine.connect() as connection:
                    connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))  # every page in the main file
            finally:
                template.dispose()
            building.replace(self._template)
        return self._template


def _new_file(path: str) -> bool:
    """An empty database file no connection has written to yet (no WAL beside it)."""
    return os.path.exists(path) and os.path.getsize(path) == 0 and not os.path.exists(f"{path}-wal")
