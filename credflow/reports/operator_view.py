"""What operators see of one submission: a markdown summary for the Prefect UI artifact."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence

from credflow.db.models import Event
from credflow.submissions import SubmissionView

# CommonMark lets a backslash escape exactly the ASCII punctuation, and every one of them can start markup
# somewhere (links, images, emphasis, code, HTML, entities, tables, autolinks like https: or www.).
_ESCAPED = {ord(char): "\\" + char for char in string.punctuation}
# Direction overrides and isolates can make a cell read as something else; control characters have no business.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _cell(text: object) -> str:
    """Applicant-controlled text as literal markdown on one line: nothing in it renders as markup or a link."""
    clean = "".join(c for c in " ".join(str(text).split()) if c not in _BIDI and unicodedata.category(c) != "Cc")
    # One pass over the characters: each is escaped once, so a backslash in the text cannot undo an escape.
    return clean.translate(_ESCAPED)


def artifact_key(submission_id: str) -> str:
    """The artifact key of one submission (Prefect keys: lowercase letters, digits, dashes)."""
    return f"submission-{submission_id.lower()}"


def submission_markdown(view: SubmissionView, events: Sequence[Event]) -> str:
    """Render a submission's state, evidence, problems and timeline as markdown."""
    lines = [
        f"# {view.credential_id} · {view.short_id} · attempt {view.attempt}",
        "",
        f"**State:** `{view.state}` since {view.state_since:%Y-%m-%d %H:%M:%S} UTC  ",
        f"**Applicant:** {_cell(view.applicant_name)} ({_cell(view.organisation)})  ",
        f"**Submission id:** `{view.id}`" + (f" (follows `{view.previous_id}`)" if view.previous_id else ""),
        "",
        "## Evidence",
        "",
        "| requirement | file | format | size | duration | check |",
        "|---|---|---|---|---|---|",
    ]
    for item in view.evidence:
        duration = f"{item.duration:.1f} s" if item.duration else ""
        check = "; ".join(_cell(p) for p in item.problems) if item.problems else "ok"
        lines.append(
            f"| {item.requirement_key} | {_cell(item.display_name)} | {item.sniffed_format or '?'} | "
            f"{item.size:,} B | {duration} | {check} |"
        )
    if not view.evidence:
        lines.append("| (answers only) | | | | | |")
    if view.problems:
        lines += ["", "## Returned to the applicant", ""]
        lines += [f"- **{_cell(p.get('requirement', ''))}** {_cell(p['message'])}" for p in view.problems]
    lines += ["", "## Timeline", "", "| time (UTC) | actor | event | detail |", "|---|---|---|---|"]
    for event in events:
        what = f"{event.from_state or '·'} → {event.to_state}" if event.to_state else event.kind
        detail = ", ".join(f"{_cell(k)}={_cell(v)}" for k, v in sorted(event.detail.items()))
        lines.append(f"| {event.at:%Y-%m-%d %H:%M:%S} | {_cell(event.actor)} | {what} | {detail} |")
    return "\n".join(lines) + "\n"
