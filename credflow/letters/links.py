"""Where emails and letters send an applicant: pages of the portal, never a terminal command.

Every link is a page of ``public_url``; a signed-out visitor is taken through sign-in on the way
(``/sign-in?next=...``) and lands on the page the link named.
"""

from __future__ import annotations

from urllib.parse import quote


def _base(public_url: str) -> str:
    return public_url.rstrip("/")


def credentials_url(public_url: str) -> str:
    """The applicant's list of their micro-credentials ("My micro-credentials")."""
    return f"{_base(public_url)}/me/credentials"


def credential_url(public_url: str, credential_id: str) -> str:
    """One enrolment's page: its attempts, letters, badges and plan."""
    return f"{_base(public_url)}/me/credentials/{quote(credential_id, safe='')}"


def draft_url(public_url: str, credential_id: str) -> str:
    """The draft of the next attempt (a first draft, a fix after a return, or a revision after "not yet")."""
    return f"{credential_url(public_url, credential_id)}/draft"


def plan_url(public_url: str, credential_id: str) -> str:
    """The form of the applicant's target dates per requirement."""
    return f"{credential_url(public_url, credential_id)}/plan"


def letter_url(public_url: str, submission_id: str) -> str:
    """The result letter of one decided submission, online."""
    return f"{_base(public_url)}/me/submissions/{quote(submission_id, safe='')}/letter"
