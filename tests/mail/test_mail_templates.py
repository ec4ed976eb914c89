"""Every mail template: links lead to the portal (never a terminal command), layouts fit 390 px, text is readable."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest

from credflow.mail.render import render_message

PUBLIC = "https://credflow.example.org"
TEMPLATES = sorted(
    f.name.removesuffix(".subject")
    for f in (resources.files("credflow") / "templates" / "mail").iterdir()
    if f.name.endswith(".subject")
)
#: Mail to operators, who use the CLI: the one template allowed to name a command.
OPERATOR = {"operator_alert"}
#: Mail to reviewers: their links lead to the review pages, not to an applicant's portal.
REVIEWER = {"assignment", "reminder", "withdrawn"}
#: Mail to a PD director: its link is the confirmation's public verification page.
DIRECTOR = {"hours_confirmation"}
#: Mail to program admins: their links lead to the admin workspace.
ADMIN = {"celebration_note"}
COMMAND = re.compile(r"\bcredflow (resubmit|submit|status|run|unlock|review)\b|`credflow|\$ credflow")


def context() -> dict[str, Any]:
    """A value for every variable any template reads; every link is a page of PUBLIC."""
    criterion = {
        "title": "Purpose explained",
        "not_yet": True,
        "verdict": "Not Yet",
        "looked_for": "The purpose is explained.",
        "strengthen": "Say why.",
        "comments": [{"by": "Reviewer 1", "lines": ["Add timings."]}],
    }
    return {
        "applicant_name": "Ana Alvarez",
        "reviewer_name": "Rosa Diaz",
        "credential_title": "Facilitating OpenSciEd Discussions",
        "issuer_name": "OpenSciEd",
        "badge_name": "Certified Facilitator",
        "submission_id": "5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e01",
        "short_id": "5f0c2a9e",
        "attempt": 1,
        "max_attempts": 3,
        "attempts_left": 2,
        "criteria_count": 4,
        "not_yet": ["Purpose explained"],
        "sections": [{"title": "Practice", "criteria": [criterion]}],
        "resubmit_by": "Monday 1 June 2026",
        "deadline": "1 June 2026",
        "reason": "window",
        "files": [{"requirement": "Plan", "name": "plan.pdf", "size": "1 MB"}],
        "problems": [{"requirement_title": "Plan", "message": "missing", "fix": "add it"}],
        "target_days": 5,
        "valid_until": "1 June 2027",
        "image_attached": True,
        "hours": "3 in-service hours",
        "hours_confirmation": "CF-1",
        "role": "review",
        "applicant": "Applicant 7",
        "due": "Monday 30 November 2026",
        "business_days": 5,
        "criteria_count_split": 1,
        "reissued": False,
        "summary": "a step failed",
        "detail": "boom",
        "expires": "10:15 UTC",
        "minutes": 30,
        "requirement_title": "Reflection",
        "target_date": "Thursday 10 December 2026",
        "when": "tomorrow",
        "url": f"{PUBLIC}/sign-in/abc",
        "link": f"{PUBLIC}/badges/b1",
        "verification_url": f"{PUBLIC}/badges/b1",
        "json_url": f"{PUBLIC}/badges/b1/credential.json",
        "png_url": f"{PUBLIC}/badges/b1/badge.png",
        "letter_url": f"{PUBLIC}/me/submissions/s1/letter",
        "credential_url": f"{PUBLIC}/me/credentials/c1",
        "resubmit_url": f"{PUBLIC}/me/credentials/c1/draft",
        "draft_url": f"{PUBLIC}/me/credentials/c1/draft",
        "plan_url": f"{PUBLIC}/me/credentials/c1/plan",
        "portal_url": f"{PUBLIC}/me/credentials",
        "director_name": "Dr. Keith Wilson",
        "educator_name": "Ana Alvarez",
        "organisation": "Westfield High",
        "start": "1 July 2026",
        "end": "30 June 2027",
        "lines": [
            {"title": "Supporting Coherence", "earned_on": "3 December 2026", "hours": "3 hours", "code": "CF-1"}
        ],
        "total": "3 hours",
        "sent_by": "pd@westfield.org",
        "educator_email": "ana@example.org",
        "milestone": "evidence",
        "milestone_label": "Uploading evidence",
        "did": "you uploaded your first evidence for",
        "reached_on": "Tuesday 3 November 2026",
        "next_step": "Check your draft and apply.",
        "link_text": "Open your draft",
        "cohorts_url": f"{PUBLIC}/me/cohorts",
        "milestones_url": f"{PUBLIC}/admin/milestones",
        "admin_email": "pd.director@example.org",
    }


SUPPORT = "support@openscied.org"


def render(template: str, *, reply_to: str | None = SUPPORT, **changes: Any) -> tuple[str, str]:
    values = {**context(), **changes}
    message = render_message(
        template, idempotency_key="k", to_email="ana@example.org", to_name="A", context=values, reply_to=reply_to
    )
    assert message.reply_to == reply_to
    return message.html, message.text


@pytest.mark.parametrize("template", TEMPLATES)
def test_mail_invites_a_reply_only_when_it_has_a_reply_to(template):
    """With no Reply-To a reply would reach the no-reply sender: no template may ask for one."""
    for part in render(template, reply_to=None, attempts_left=0):
        assert "reply to this email" not in part.casefold(), template
    html, _ = render(template, attempts_left=0)
    if "reply to this email" in html.casefold():
        assert SUPPORT in html, f"{template} invites a reply without saying where it goes"


@pytest.mark.parametrize("template", ["result_not_yet", "chain_closed"])
def test_a_coaching_conversation_is_arranged_by_reply_or_by_writing_to_the_issuer(template):
    html, text = render(template, attempts_left=0)
    assert "reply to this email to arrange" in html and "reply to this email to arrange" in text
    html, text = render(template, reply_to=None, attempts_left=0)
    assert "write to OpenSciEd to arrange" in html and "write to OpenSciEd to arrange" in text


def test_every_template_is_covered():
    assert {"result_not_yet", "result_earned", "received", "returned", "plan_reminder", "sign_in"} <= set(TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_link_leads_to_the_portal_and_no_applicant_mail_names_a_command(template):
    html, text = render(template)
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert all(href.startswith(PUBLIC + "/") for href in hrefs), hrefs
    assert all(url.startswith(PUBLIC + "/") for url in re.findall(r"https?://[^\s<>\"')]+", text))
    if template in OPERATOR:
        return
    for part in (html, text):
        assert not COMMAND.search(part), f"{template} tells its reader to run a command"
        assert "command line" not in part
    if template not in REVIEWER | DIRECTOR | ADMIN:  # an applicant's mail: a way into the portal, in both parts
        portal = (f"{PUBLIC}/me/", f"{PUBLIC}/badges/", f"{PUBLIC}/sign-in/")
        assert any(p in href for href in hrefs for p in portal), template
        assert any(p in text for p in portal), template


@pytest.mark.parametrize("template", TEMPLATES)
def test_layouts_fit_a_390_px_screen(template):
    html, _ = render(template)
    assert 'name="viewport" content="width=device-width' in html
    for value in re.findall(r'\swidth="(\d+)"', html):
        assert int(value) <= 390, f'{template}: width="{value}" overflows a phone'
    for prop, value in re.findall(r"(?<![-\w])(width|min-width):\s*(\d+)px", html):
        assert int(value) <= 390, f"{template}: {prop}:{value}px overflows a phone"
    assert "max-width:600px" in html and "width:100%" in html


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two ``rrggbb`` colours."""
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_helper_knows_the_textbook_values():
    assert round(contrast("000000", "ffffff"), 1) == 21.0
    assert round(contrast("767676", "ffffff"), 2) == 4.54


@pytest.mark.parametrize("template", TEMPLATES)
def test_text_colours_and_the_footer_are_readable(template):
    html, _ = render(template)
    for style in re.findall(r'style="([^"]*)"', html):
        colours = dict(re.findall(r"(?<![-\w])(color|background):\s*#([0-9a-fA-F]{6})", style))
        if "color" not in colours:
            continue
        background = colours.get("background", "ffffff")
        assert contrast(colours["color"], background) >= 4.5, f"{template}: {style}"
    footer = re.findall(r'<tr><td style="([^"]*)">[^<]*(?:<[^/][^>]*>[^<]*)*Reply to this email', html)
    if template != "sign_in":
        [style] = footer
        size = int(re.search(r"font-size:(\d+)px", style).group(1))  # type: ignore[union-attr]
        assert size >= 14, f"{template}: the footer's {size}px is too small to read"
