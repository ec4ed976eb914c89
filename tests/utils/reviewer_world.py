"""Builders for the reviewer workspace's tests: a pool of two reviewers, their assignments, two gold standards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from credflow.db.models import Assignment, GoldStandard, Reviewer, new_id
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import import_gold, import_pool
from credflow.services import Services
from tests.utils.review_world import udl_submission

#: Monday 7 December 2026, 09:00 UTC: the workspace tests' fixed clock.
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ROSA = "rosa@review.org"
SAM = "sam@review.org"
UDL_CRITERIA = ("variability_analysed", "options_designed", "reflection_on_barriers")

POOL = """
reviewers:
  - {name: Rosa Diaz, email: rosa@review.org, organisation: Northgate PD,
     certified_for: [udl-level-1, udl-level-2], calibrated_on: 2025-12-20}
  - {name: Sam Iyer, email: sam@review.org, organisation: Pine Valley, certified_for: [udl-level-1],
     calibrated_on: 2026-09-01}
"""

GOLD = """
gold:
  - name: "UDL gold 1: Grade 7 ratios"
    credential: udl-level-1
    scores: {variability_analysed: true, options_designed: false, reflection_on_barriers: true}
    evidence_notes: >-
      UDL lesson plan (PDF, 3 pages): a ratios lesson with a choice of worked video or text example
      (representation) and a choice of poster or spreadsheet to show the answer (action and expression).
      No option for engagement is offered, and no guideline is named beside any option.
    answers:
      learner_variability: >-
        My 28 learners read at levels from grade 3 to grade 10; six are still learning English. In the
        original lesson the only way in was a dense word problem read aloud once, so anyone who missed
        a step could not get back to it, and the only way to show understanding was a written explanation.
      reflection: >-
        Most learners chose the worked video and replayed it; the spreadsheet was chosen by the learners
        who usually stay quiet. The barrier that remained was the start: several learners waited for me
        to say which option to take. Next time I will model the choice board in the first five minutes.
    comments:
      variability_analysed: >-
        Met: the barriers are placed in the lesson's design (a single read-aloud, a single way to answer),
        not in the learners.
      options_designed: >-
        Not Yet: options cover representation and action and expression only; engagement has none, and
        the plan names no guideline for any option, which the criterion asks for.
      reflection_on_barriers: >-
        Met: uses what learners chose (replays, the spreadsheet) and names the barrier that remains
        (starting) with the next design change.
  - name: "UDL gold 2: Grade 4 reading"
    credential: udl-level-1
    scores: {variability_analysed: false, options_designed: true, reflection_on_barriers: true}
    answers:
      learner_variability: >-
        Some of my students are low readers and two have IEPs, so they struggle with the text.
      reflection: >-
        The audio book and the graphic organiser were the most popular; the barrier left is vocabulary,
        which I will pre-teach with pictures next time, as learners asked for it.
    comments:
      variability_analysed: "Not Yet: the barriers are described as deficits of labelled learners, not of the design."
"""


@dataclass(frozen=True)
class ReviewerWorld:
    """The pool, gold standards and assignments the workspace tests read (ids by what they are)."""

    services: Services
    soon: str  # Rosa's, due Tue 8 Dec
    later: str  # Rosa's, due Mon 14 Dec
    submitted: str  # Rosa's, submitted 4 Dec
    declined: str  # Rosa's, declined 3 Dec
    sams: str  # Sam's, active, on the same submission as ``soon``
    golds: tuple[str, ...]  # gold ids by name order
    applicants: tuple[str, ...]  # the applicants' names (never shown to reviewers)


def _assignment(
    services: Services,
    *,
    email: str,
    submission_id: str,
    assigned: datetime,
    due: datetime,
    state: str = "active",
    **extra: Any,
) -> str:
    with services.db.session() as session:
        reviewer = session.scalar(select(Reviewer).where(Reviewer.email == email))
        assert reviewer is not None
        row = Assignment(
            submission_id=submission_id,
            reviewer_id=reviewer.id,
            role="review",
            state=state,
            token_nonce=new_id() if state == "active" else None,
            assigned_at=assigned,
            due_at=due,
            **extra,
        )
        session.add(row)
        session.flush()
        return row.id


def build_reviewer_world(services: Services, folder: Path) -> ReviewerWorld:
    """Rosa with two open assignments, one submitted, one declined; Sam with one; two UDL gold standards."""
    with services.db.session() as session:
        import_pool(session, parse_pool(POOL, catalog=services.catalog))
        import_gold(session, GOLD, catalog=services.catalog)
    names = ("Ana Alvarez", "Bo Brightwater", "Cy Chen", "Di Dunn")
    subs = [udl_submission(services, folder, name=name, now=NOW - timedelta(days=8)) for name in names]
    met = {key: {"verdict": "met", "comment": ""} for key in UDL_CRITERIA}
    soon = _assignment(
        services,
        email=ROSA,
        submission_id=subs[0].submission_id,
        assigned=NOW - timedelta(days=6),
        due=NOW + timedelta(days=1),
    )
    later = _assignment(
        services,
        email=ROSA,
        submission_id=subs[1].submission_id,
        assigned=NOW - timedelta(hours=1),
        due=NOW + timedelta(days=7, hours=-1),
    )
    submitted = _assignment(
        services,
        email=ROSA,
        submission_id=subs[2].submission_id,
        assigned=NOW - timedelta(days=10),
        due=NOW - timedelta(days=3),
        state="submitted",
        scores=met,
        completed_at=NOW - timedelta(days=3),
    )
    declined = _assignment(
        services,
        email=ROSA,
        submission_id=subs[3].submission_id,
        assigned=NOW - timedelta(days=5),
        due=NOW + timedelta(days=2),
        state="declined",
        decline_reason="I coached this teacher last year: a conflict of interest.",
        completed_at=NOW - timedelta(days=4),
    )
    sams = _assignment(
        services,
        email=SAM,
        submission_id=subs[0].submission_id,
        assigned=NOW - timedelta(days=6),
        due=NOW + timedelta(days=1),
    )
    with services.db.session() as session:
        golds = tuple(session.scalars(select(GoldStandard.id).order_by(GoldStandard.name)))
    return ReviewerWorld(services, soon, later, submitted, declined, sams, golds, names)
