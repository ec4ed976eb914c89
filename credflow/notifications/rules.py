"""What notifications are: the kinds (each names its template), their idempotency keys and delivery outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jinja2 import TemplateError

from credflow.mail.base import PermanentMailError

#: What rendering a message or building it for the wire raises when its content cannot make an email
#: (a bad template variable, text no header takes): retrying cannot help, so the message is given up.
UNSENDABLE: tuple[type[BaseException], ...] = (TemplateError, ValueError, TypeError, LookupError, PermanentMailError)


class Notice(StrEnum):
    """Applicant notices about one submission attempt."""

    RECEIVED = "received"
    RETURNED = "returned"


class ReviewerMail(StrEnum):
    """Reviewer emails about one assignment."""

    ASSIGNMENT = "assignment"
    REMINDER = "reminder"
    WITHDRAWN = "withdrawn"


class BadgeNotice(StrEnum):
    """Emails to a badge holder about one badge."""

    ISSUED = "badge_issued"
    RENEWED = "badge_renewed"
    EXPIRING = "badge_expiring"


class Delivery(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    FAILED = "failed"  # permanently refused; the operator was told


@dataclass(frozen=True)
class DeliveryOutcome:
    key: str
    delivery: Delivery
    provider_id: str | None = None
    error: str | None = None


def notice_key(notice: Notice, submission_id: str) -> str:
    """The idempotency key of one notice about one submission attempt."""
    return f"{notice.value}:{submission_id}"


def reviewer_mail_key(
    kind: ReviewerMail, assignment_id: str, *, reissued: bool = False, nonce: str | None = None
) -> str:
    """The idempotency key of one reviewer email; a reissued link's email is keyed by the link's new ``nonce``."""
    if reissued:
        return f"{kind.value}:{assignment_id}:reissued:{nonce}"
    return f"{kind.value}:{assignment_id}"


def badge_notice_key(notice: BadgeNotice, badge_id: str) -> str:
    """The idempotency key of one notice about one badge."""
    return f"{notice.value}:{badge_id}"


def run_summary(*, flow_run_name: str, flow_name: str, flow_run_id: str, state: str) -> str:
    """One line naming a flow run, shared by the failure hook and the automation (it keys the email)."""
    return f"flow run {flow_run_name} ({flow_name}, {flow_run_id[:8]}) {state.lower()}"
