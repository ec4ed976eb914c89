"""An issuer's own closures (office shutdowns, PD days), from ``<catalog>/closures/<issuer id>.yaml``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from credflow.calendar import Closure
from credflow.catalog.models import Record
from credflow.formatting import yaml_error

CLOSURES_FOLDER = "closures"


class ClosureEntry(BaseModel):
    """One closure: a single ``date``, or ``from`` and ``to`` (inclusive), and always a ``reason``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    date: dt.date | None = None
    first: dt.date | None = Field(default=None, alias="from")
    last: dt.date | None = Field(default=None, alias="to")
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.date is not None and (self.first is not None or self.last is not None):
            raise ValueError("give either date, or from and to, not both")
        if self.date is None and (self.first is None or self.last is None):
            raise ValueError("give a date, or both from and to")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError(f"to ({self.last}) is before from ({self.first})")
        return self

    def closure(self) -> Closure:
        """The closure as the calendar counts it."""
        first = self.date or self.first
        last = self.date or self.last
        assert first is not None and last is not None  # the validator guarantees it
        return Closure(first, last, " ".join(self.reason.split()))


class ClosuresFile(Record):
    """Everything one issuer's closures file holds."""

    closures: tuple[ClosureEntry, ...] = ()


def parse_closures(path: Path) -> tuple[tuple[Closure, ...], list[tuple[str, str]]]:
    """The closures of one file, or the problems as (field path, message) pairs."""
    from credflow.catalog.loader import field_path

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where, _, what = yaml_error(exc, source="").strip().partition(": ")
        return (), [(where or "(file)", what)]
    except (OSError, UnicodeDecodeError) as exc:
        return (), [("(file)", f"cannot be read: {exc}")]
    if data is None:
        return (), []
    if not isinstance(data, dict):
        return (), [("(file)", "must be a mapping with a closures list")]
    try:
        parsed = ClosuresFile.model_validate(data)
    except ValidationError as exc:
        return (), [(field_path(err["loc"]), err["msg"]) for err in exc.errors()]
    return tuple(sorted(entry.closure() for entry in parsed.closures)), []
