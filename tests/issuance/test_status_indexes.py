"""Status-list indexes: concurrent issuances of one issuer each get their own index, with no gaps, on both backends."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from credflow.db.engine import Database
from credflow.db.migrate import upgrade
from credflow.db.models import Applicant, Decision, IssuedBadge, Submission
from credflow.issuance.stage import issue_micro
from credflow.services import Services, build_services
from tests.utils.review_cycle import CRED, NOW

ISSUANCES = 32


@pytest.fixture
def db_services(make_settings, database_url) -> Iterator[Services]:
    svc = build_services(make_settings(database_url=database_url))
    yield svc
    svc.close()


def _earned(services: Services, count: int) -> list[str]:
    """``count`` earned decisions on one issuer's micro-credential, none issued yet."""
    ids = []
    with services.db.session() as session:
        for n in range(count):
            applicant = Applicant(email=f"t{n}@example.org", name=f"Teacher {n}", organisation="Org")
            session.add(applicant)
            session.flush()
            sub = Submission(
                applicant_id=applicant.id, credential_id=CRED, attempt=1, state="earned", idempotency_key=f"s{n}"
            )
            session.add(sub)
            session.flush()
            session.add(Decision(submission_id=sub.id, outcome="earned", criteria={}, decided_at=NOW))
            ids.append(sub.id)
    return ids


def test_concurrent_issuances_get_distinct_gap_free_indexes(db_services):
    services = db_services
    sids = _earned(services, ISSUANCES)
    issuer = services.catalog.get(CRED).issuer.id
    start = threading.Barrier(ISSUANCES)

    def issue(sid: str) -> str:
        # Each issuance has its own connection, as each worker process has its own engine.
        worker = dataclasses.replace(services, db=Database(services.db.url))
        try:
            start.wait()  # every issuance reaches for an index at once
            badge = issue_micro(worker, sid)
        finally:
            worker.db.dispose()
        assert badge is not None
        return badge.id

    with ThreadPoolExecutor(ISSUANCES) as pool:
        badges = list(pool.map(issue, sids))  # re-raises the first failure

    with services.db.session() as session:
        indexes = sorted(session.scalars(select(IssuedBadge.status_index).where(IssuedBadge.issuer_id == issuer)))
        # The signed credential carries the index its row holds.
        for badge in session.scalars(select(IssuedBadge).where(IssuedBadge.id.in_(badges))):
            assert badge.ob3["credentialStatus"]["statusListIndex"] == str(badge.status_index)
    assert len(set(badges)) == ISSUANCES
    assert indexes == list(range(ISSUANCES))


def _badge_row(conn, *, n: int, issuer: str, index: int) -> None:
    conn.execute(
        text(
            "INSERT INTO applicants (id, email, name, organisation, created_at, updated_at) "
            "VALUES (:id, :email, 'A', 'Org', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"id": f"a{n}", "email": f"a{n}@example.org"},
    )
    conn.execute(
        text(
            "INSERT INTO badges (id, idempotency_key, applicant_id, kind, badge_key, issuer_id, status_index, "
            "valid_from, state, ob3, created_at) VALUES (:id, :key, :applicant, 'micro', 'b', :issuer, :index, "
            "CURRENT_TIMESTAMP, 'active', '{}', CURRENT_TIMESTAMP)"
        ),
        {"id": f"b{n}", "key": f"k{n}", "applicant": f"a{n}", "issuer": issuer, "index": index},
    )


def test_upgrading_a_database_with_badges_continues_each_issuers_indexes_past_its_highest(make_settings, database_url):
    db = Database(database_url)
    try:
        upgrade(db, "0005")
        with db.engine.begin() as conn:
            # Indexes as max+1 left them, with a gap (a badge deleted with its applicant's erasure).
            for n, (issuer, index) in enumerate((("openscied", 0), ("openscied", 1), ("openscied", 4), ("cast", 0))):
                _badge_row(conn, n=n, issuer=issuer, index=index)
        upgrade(db)
    finally:
        db.dispose()

    services = build_services(make_settings(database_url=database_url))
    try:
        [sid] = _earned(services, 1)
        badge = issue_micro(services, sid)
        assert badge is not None and badge.issuer_id == "openscied"
        assert badge.status_index == 5
    finally:
        services.close()
