"""Assignment rounds started at the same moment (several workers) assign each submission once, on both backends."""

from __future__ import annotations

import threading

from credflow.services import build_services
from tests.utils.builders import applicant
from tests.utils.review_cycle import NOW, assignments_of, load_pool, ready_submission

ROUNDS = 4


def test_simultaneous_rounds_do_not_over_assign(make_settings, database_url, tmp_path):
    services = build_services(make_settings(database_url=database_url))
    try:
        load_pool(services)
        sids = [
            ready_submission(services, tmp_path, who=applicant(f"Teacher {n}", org=f"School {n}")) for n in range(3)
        ]
        from credflow.assignment.stage import assign_reviewers

        start = threading.Barrier(ROUNDS)
        errors: list[BaseException] = []
        assigned: list[int] = []

        def one_round() -> None:
            start.wait()
            try:
                assigned.append(len(assign_reviewers(services, now=NOW).assigned))
            except BaseException as exc:  # the assertion below names it
                errors.append(exc)

        threads = [threading.Thread(target=one_round) for _ in range(ROUNDS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert sorted(assigned) == [0] * (ROUNDS - 1) + [2 * len(sids)]  # one round did all the work
        for sid in sids:
            reviewers = [a.reviewer_id for a in assignments_of(services, sid)]
            assert len(reviewers) == 2 and len(set(reviewers)) == 2
    finally:
        services.close()
