"""The deployments declared in ``prefect.yaml``, as runner deployments ``credflow serve`` serves on one machine.

``prefect.yaml`` is the one list of deployments (the scheduled sweeps and reports, and
assign-reviewers): a process worker gets them from ``prefect deploy --all`` and the single-machine
set-up serves the same names, entrypoints and schedules. The submission and decide flows are not
deployments: ``credflow worker`` runs them (``flows/background.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = ROOT / "prefect.yaml"


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of ``prefect.yaml``: what runs, and when on its own."""

    name: str
    entrypoint: str
    description: str
    tags: tuple[str, ...]
    interval: timedelta | None
    cron: str | None


def deployment_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """Read every deployment of ``prefect.yaml`` (name, entrypoint, description, tags, schedule)."""
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    specs = []
    for entry in document.get("deployments") or []:
        schedules = entry.get("schedules") or []
        if len(schedules) > 1:
            raise ValueError(f"{path}: deployment {entry['name']!r} has more than one schedule")
        schedule = schedules[0] if schedules else {}
        interval = schedule.get("interval")
        specs.append(
            DeploymentSpec(
                name=str(entry["name"]),
                entrypoint=str(entry["entrypoint"]),
                description=str(entry.get("description") or ""),
                tags=tuple(entry.get("tags") or ()),
                interval=timedelta(seconds=float(interval)) if interval is not None else None,
                cron=schedule.get("cron"),
            )
        )
    return specs


def runner_deployments(specs: list[DeploymentSpec]) -> list[RunnerDeployment]:
    """The specs as runner deployments of their flows, named as the workers' deployments are."""
    deployments = []
    for spec in specs:
        path, _, name = spec.entrypoint.partition(":")
        flow: Any = load_flow_from_entrypoint(f"{ROOT / path}:{name}", use_placeholder_flow=False)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=list(spec.tags),
                interval=spec.interval,
                cron=spec.cron,
            )
        )
    return deployments


def serve_deployments(*, limit: int) -> None:
    """Serve every deployment of ``prefect.yaml`` from this process until stopped (runs are subprocesses)."""
    serve(*runner_deployments(deployment_specs()), limit=limit, print_starting_message=False)
