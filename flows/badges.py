"""Badge upkeep: expiry reminders and expiries, once a day."""

from __future__ import annotations

from prefect import flow

from credflow.notifications.rules import BadgeNotice
from flows.alerts import email_operator_on_failure
from tasks.issuance import badge_sweep_task
from tasks.notifications import badge_notice


@flow(name="badge-sweep", persist_result=False, on_failure=[email_operator_on_failure])
def badge_sweep() -> dict[str, int]:
    """Remind holders 60 days before a badge expires and record the badges that expired."""
    swept = badge_sweep_task()
    for badge_id in swept.remind:
        badge_notice(badge_id, BadgeNotice.EXPIRING)
    return {"reminded": len(swept.remind), "expired": len(swept.expired)}
