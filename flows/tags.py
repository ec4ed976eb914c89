"""Run tags: a submission's runs carry its credential and issuer, from whichever door they start."""

from __future__ import annotations

from credflow.submissions import get_submission
from tasks.runtime import services


def submission_tags(submission_id: str) -> list[str]:
    """The run tags of a submission: its credential and issuer, so runs filter by both."""
    svc = services()
    with svc.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = svc.catalog.get(sub.credential_id)
    return [f"credential:{credential.id}", f"issuer:{credential.issuer.id}"]
