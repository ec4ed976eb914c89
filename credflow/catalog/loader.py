"""Load and check every micro-credential file in the catalog folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from credflow.calendar import Closure
from credflow.catalog.closures import CLOSURES_FOLDER, parse_closures
from credflow.catalog.models import Credential
from credflow.errors import ConfigurationError, NotFoundError
from credflow.formatting import yaml_error


@dataclass(frozen=True)
class CatalogProblem:
    """One error in one catalog file, located by field path."""

    file: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class CatalogError(ConfigurationError):
    """The catalog has errors; ``problems`` lists every one."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        super().__init__("catalog errors:\n  " + "\n  ".join(str(p) for p in problems))
        self.problems = problems


def yaml_problem(path: Path, exc: yaml.YAMLError) -> CatalogProblem:
    """A file that is not valid YAML, located by line and column in words."""
    where, _, what = yaml_error(exc, source="").strip().partition(": ")
    return CatalogProblem(path, where or "(file)", what)


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a field path (``criteria[2].levels``), or ``(file)`` for the whole file."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(file)"


def _parse(path: Path) -> tuple[Credential | None, list[CatalogProblem]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return None, [yaml_problem(path, exc)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [CatalogProblem(path, "(file)", f"cannot be read: {exc}")]
    if not isinstance(data, dict):
        return None, [CatalogProblem(path, "(file)", "must be a mapping of fields")]
    try:
        return Credential.model_validate(data), []
    except ValidationError as exc:
        return None, [CatalogProblem(path, field_path(err["loc"]), err["msg"]) for err in exc.errors()]


@dataclass(frozen=True)
class Catalog:
    """Every micro-credential on offer, by id."""

    credentials: dict[str, Credential]
    files: dict[str, Path]
    closures: dict[str, tuple[Closure, ...]] = field(default_factory=dict)  # issuer id -> its own closures

    def get(self, credential_id: str) -> Credential:
        """Return the credential or raise NotFoundError listing the known ids."""
        try:
            return self.credentials[credential_id]
        except KeyError:
            known = ", ".join(sorted(self.credentials)) or "none"
            raise NotFoundError(f"no micro-credential {credential_id!r} in the catalog; known: {known}") from None

    def __iter__(self) -> Iterator[Credential]:
        return iter(self.credentials[key] for key in sorted(self.credentials))

    def __len__(self) -> int:
        return len(self.credentials)


def check_catalog(folder: Path) -> tuple[Catalog, list[CatalogProblem]]:
    """Load what loads and collect every problem (for ``credflow catalog check``)."""
    problems: list[CatalogProblem] = []
    credentials: dict[str, Credential] = {}
    files: dict[str, Path] = {}
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not folder.is_dir():
        problems.append(CatalogProblem(folder, "(folder)", "catalog folder does not exist"))
    elif not paths:
        problems.append(CatalogProblem(folder, "(folder)", "holds no .yaml micro-credential files"))
    for path in paths:
        credential, found = _parse(path)
        problems.extend(found)
        if credential is None:
            continue
        if credential.id in credentials:
            problems.append(
                CatalogProblem(path, "id", f"{credential.id!r} is already defined in {files[credential.id]}")
            )
            continue
        credentials[credential.id] = credential
        files[credential.id] = path
    problems.extend(prerequisite_problems(credentials, files))
    problems.extend(program_problems(credentials, files))
    closures, found = check_closures(folder / CLOSURES_FOLDER, {c.issuer.id for c in credentials.values()})
    problems.extend(found)
    return Catalog(credentials, files, closures), problems


def check_closures(folder: Path, issuers: set[str]) -> tuple[dict[str, tuple[Closure, ...]], list[CatalogProblem]]:
    """Each issuer's closures from ``<issuer id>.yaml`` in ``folder`` (none when the folder is absent)."""
    closures: dict[str, tuple[Closure, ...]] = {}
    problems: list[CatalogProblem] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        if path.stem not in issuers:
            known = ", ".join(sorted(issuers)) or "none"
            problems.append(CatalogProblem(path, "(file)", f"names no issuer of the catalog; known: {known}"))
            continue
        found, errors = parse_closures(path)
        problems.extend(CatalogProblem(path, where, message) for where, message in errors)
        closures[path.stem] = found
    return closures, problems


def program_problems(credentials: dict[str, Credential], files: dict[str, Path]) -> list[CatalogProblem]:
    """Credentials of one program that disagree on its support address (the Reply-To of its mail) or its title."""
    problems = []
    first: dict[str, Credential] = {}
    for credential in sorted(credentials.values(), key=lambda c: c.id):
        seen = first.setdefault(credential.program, credential)
        if seen.reply_to != credential.reply_to:
            problems.append(
                CatalogProblem(
                    files[credential.id],
                    "support_email",
                    f"program {credential.program!r} answers at {seen.reply_to} in {seen.id}: "
                    f"give its credentials one support address",
                )
            )
    titles: dict[str, Credential] = {}
    for credential in sorted(credentials.values(), key=lambda c: c.id):
        if credential.program_title is None:
            continue
        named = titles.setdefault(credential.program, credential)
        if named.program_title != credential.program_title:
            problems.append(
                CatalogProblem(
                    files[credential.id],
                    "program_title",
                    f"program {credential.program!r} is titled {named.program_title!r} in {named.id}: "
                    "give its credentials one title",
                )
            )
    return problems


def prerequisite_problems(credentials: dict[str, Credential], files: dict[str, Path]) -> list[CatalogProblem]:
    """Prerequisites that name no micro-credential of the catalog, or that lead back to themselves."""
    problems = []
    for credential in credentials.values():
        for index, needed in enumerate(credential.prerequisites):
            if needed not in credentials:
                known = ", ".join(sorted(credentials)) or "none"
                problems.append(
                    CatalogProblem(
                        files[credential.id],
                        f"prerequisites[{index}]",
                        f"{needed!r} is not a micro-credential of the catalog; known: {known}",
                    )
                )
    for credential in credentials.values():
        seen: list[str] = []
        todo = list(credential.prerequisites)
        while todo:
            current = todo.pop()
            if current == credential.id:
                problems.append(
                    CatalogProblem(
                        files[credential.id], "prerequisites", "the prerequisites lead back to this micro-credential"
                    )
                )
                break
            if current in seen or current not in credentials:
                continue
            seen.append(current)
            todo.extend(credentials[current].prerequisites)
    return problems


def load_catalog(folder: Path) -> Catalog:
    """Load the catalog, refusing it whole when any file has an error.

    Raises:
        CatalogError: with every problem, each naming its file and field.
    """
    catalog, problems = check_catalog(folder)
    if problems:
        raise CatalogError(problems)
    return catalog
