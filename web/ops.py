"""The operators' endpoints: the health check, and the alert hook Prefect's failed-run automation posts to.

The flows' own ``on_failure`` hook emails the operator when a run fails in a live process; a
run whose process died (SIGKILL, a lost host) never runs that hook, so the server-side
automation covers it. Both build the same summary, so the message's idempotency key is the
same and a run that triggers both is reported once.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.keyring import KeyRing, Purpose
from credflow.notifications.rules import run_summary
from credflow.notifications.stage import alert_operator
from credflow.services import Services
from web.deps import WebDeps

ALERT_PATH = "/ops/alerts"
MAX_ALERT_BYTES = 64 << 10


def alert_token(keys: KeyRing) -> str:
    """The bearer token the automation's webhook sends: the ops key's MAC of a fixed label."""
    return keys.mac(Purpose.OPS_TOKEN, b"credflow operator alerts")


def routes(deps: WebDeps) -> APIRouter:
    """``GET /healthz``, and ``POST /ops/alerts``: authenticated by the bearer token, emails the operator."""
    services = deps.services
    keys = services.settings.keyring
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.post(ALERT_PATH, include_in_schema=False)
    async def alert(request: Request) -> Response:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not keys.verify_mac(Purpose.OPS_TOKEN, b"credflow operator alerts", sent):
            return JSONResponse({"error": "not allowed"}, status_code=403)
        body = await request.body()
        if len(body) > MAX_ALERT_BYTES:
            return JSONResponse({"error": "alert too large"}, status_code=413)
        try:
            alert_in = _parse(body)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        outcome = await run_in_threadpool(_send, services, alert_in)
        return JSONResponse({"sent": outcome}, status_code=202)

    return router


def _parse(body: bytes) -> dict[str, str]:
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the alert is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("the alert must be a JSON object")
    missing = [k for k in ("flow_run_id", "flow_run_name", "flow_name", "state") if not str(data.get(k) or "").strip()]
    if missing:
        raise ValueError(f"the alert lacks {', '.join(missing)}")
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}


def _send(services: Services, alert_in: dict[str, str]) -> str:
    submission_id = alert_in.get("submission_id") or None
    summary = run_summary(
        flow_run_name=alert_in["flow_run_name"],
        flow_name=alert_in["flow_name"],
        flow_run_id=alert_in["flow_run_id"],
        state=alert_in["state"],
    )
    message = alert_in.get("message") or alert_in["state"]
    outcome = alert_operator(
        services,
        summary=summary,
        submission_id=submission_id,
        detail=f"{message} (flow run id {alert_in['flow_run_id']}; reported by the Prefect automation)",
    )
    return "no operator address set" if outcome is None else outcome.delivery.value
