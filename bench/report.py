"""Benchmark results: one record per benchmark, printed as a table and written as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Result:
    """One benchmark's outcome: the baseline and subject figures, their ratio and the target verdict."""

    name: str
    title: str
    unit: str
    baseline_label: str
    subject_label: str
    baseline: float | None = None
    subject: float | None = None
    ratio: float | None = None  # subject / baseline
    target: str | None = None  # e.g. "ratio <= 1.05"
    passed: bool | None = None  # None: no target
    samples: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "ERROR"
        if self.passed is None:
            return "-"
        return "PASS" if self.passed else "FAIL"


def _number(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} {unit}".rstrip()


def table(results: list[Result]) -> str:
    """The results as a fixed-width text table, then each benchmark's notes."""
    header = ("benchmark", "baseline", "subject", "ratio", "target", "result")
    rows = [
        (
            r.title,
            f"{r.baseline_label}: {_number(r.baseline, r.unit)}",
            f"{r.subject_label}: {_number(r.subject, r.unit)}",
            "-" if r.ratio is None else f"{r.ratio:.3f}",
            r.target or "(report only)",
            r.verdict,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    out.append(line)
    for r in results:
        lines = list(r.notes)
        if r.error is not None:
            lines.insert(0, f"error: {r.error}")
        if lines:
            out.append(f"{r.title}:")
            out += [f"  - {note}" for note in lines]
    return "\n".join(out)


def _clean(value: Any) -> Any:
    # JSON has no infinity or NaN; write null instead.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, results: list[Result], meta: dict[str, Any]) -> None:
    """Write the run's metadata and every result (with its verdict) as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {**meta, "results": [{**asdict(r), "verdict": r.verdict} for r in results]}
    path.write_text(json.dumps(_clean(body), indent=2, sort_keys=False) + "\n", encoding="utf-8")
