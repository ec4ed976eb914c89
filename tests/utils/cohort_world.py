"""A world for the cohort and milestone tests: educators of two organisations at stages of two micro-credentials.

Built from records (enrolments, drafts, files, submissions, decisions), not through the pipeline, so
the pages' tests run in milliseconds; the milestones are derived from exactly these records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from credflow.accounts.grants import add_grant
from credflow.db.models import Applicant, Decision, Draft, DraftFile, Enrolment, Submission
from credflow.services import Services

#: The pages' clock: a Tuesday.
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
ANCHORING = "openscied-anchoring-phenomenon"
DISCUSSIONS = "openscied-facilitating-discussions"
RIVERSIDE, LAKESIDE = "Riverside Unified", "Lakeside ISD"
RIVERSIDE_ADMIN = "pd.director@riverside.example.org"
LAKESIDE_ADMIN = "coach.lead@lakeside.example.org"
OPERATOR = "operator@example.org"


@dataclass(frozen=True)
class CohortWorld:
    """The applicant ids of the world's educators, by first name."""

    ids: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def build_cohort_world(services: Services) -> CohortWorld:
    """Ana earned the anchoring credential, Ben started it, Cara uploaded evidence, Dev is on another, Eve is erased.

    Ana, Ben, Dev and Eve are of Riverside Unified, Cara of Lakeside ISD. Riverside's and Lakeside's PD
    leads are program admins of their organisation; there is an operator too. Nobody consented yet.
    """
    ids: dict[str, str] = {}
    with services.db.session() as session:

        def educator(name: str, org: str, *, erased: bool = False) -> Applicant:
            person = Applicant(
                name=name,
                email=name.lower().replace(" ", ".") + "@example.org",
                organisation=org,
                erased_at=NOW if erased else None,
            )
            session.add(person)
            session.flush()
            ids[name.split()[0]] = person.id
            return person

        def enrol(person: Applicant, credential: str, on: date) -> None:
            session.add(Enrolment(applicant_id=person.id, credential_id=credential, enrolled_on=on))

        def draft(person: Applicant, credential: str, on: date, *, file_on: date | None = None) -> Draft:
            row = Draft(applicant_id=person.id, credential_id=credential, created_at=_at(on), updated_at=_at(on))
            session.add(row)
            session.flush()
            if file_on is not None:
                session.add(
                    DraftFile(
                        draft_id=row.id,
                        requirement_key="facilitation_plan",
                        filename="plan.pdf",
                        size=1000,
                        sha256="0" * 64,
                        object_key=f"drafts/{row.id}/plan.pdf",
                        added_at=_at(file_on),
                    )
                )
            return row

        ana = educator("Ana Alvarez", RIVERSIDE)
        enrol(ana, ANCHORING, date(2026, 10, 1))
        draft(ana, ANCHORING, date(2026, 10, 20), file_on=date(2026, 11, 2))
        sub = Submission(
            applicant_id=ana.id,
            credential_id=ANCHORING,
            attempt=1,
            state="earned",
            idempotency_key="cohort-world-ana",
            created_at=_at(date(2026, 11, 5)),
            state_since=_at(date(2026, 11, 9)),
        )
        session.add(sub)
        session.flush()
        session.add(Decision(submission_id=sub.id, outcome="earned", decided_at=_at(date(2026, 11, 9))))

        ben = educator("Ben Okoro", RIVERSIDE)
        enrol(ben, ANCHORING, date(2026, 11, 3))
        draft(ben, ANCHORING, date(2026, 11, 3))

        cara = educator("Cara Diaz", LAKESIDE)
        enrol(cara, ANCHORING, date(2026, 11, 4))
        draft(cara, ANCHORING, date(2026, 11, 4), file_on=date(2026, 11, 6))

        dev = educator("Dev Patel", RIVERSIDE)
        enrol(dev, DISCUSSIONS, date(2026, 11, 1))

        eve = educator("Eve Erased", RIVERSIDE, erased=True)
        enrol(eve, ANCHORING, date(2026, 11, 2))
    add_grant(services, RIVERSIDE_ADMIN, organisations=(RIVERSIDE,))
    add_grant(services, LAKESIDE_ADMIN, organisations=(LAKESIDE,))
    add_grant(services, OPERATOR, operator=True)
    return CohortWorld(ids)
