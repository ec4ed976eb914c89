"""The order `make test` hands test files to its two xdist workers: the longest first.

``--dist loadfile`` sends each worker whole files, in collection order once
``--no-loadscope-reorder`` is given (by default xdist sorts files by their number of tests,
which sent the 2-test cluster file, the longest, out near the end). Longest first lets the
cluster test start at once on one worker while the other works through the rest, and the
short files fill in at the end, so both workers finish at about the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: Test files (under tests/) that take longest, longest first, from ``pytest --durations``
#: per-file totals. Files not named here keep their collection order after these.
LONGEST_FIRST: tuple[str, ...] = (
    "flows/test_cluster.py",
    "cli/test_demo.py",
    "cli/test_serve_stop.py",
    "flows/test_review_flows.py",
    "web/test_catalog_pages_browser.py",
    "web/test_portal_journey.py",
    "cli/test_cli_end_to_end.py",
    "web/test_resumable_browser.py",
    "web/test_draft_pages_browser.py",
    "web/test_mine_pages_browser.py",
    "cli/test_serve.py",
    "security/test_hostile_input.py",
    "kernel/test_crash_safety.py",
    "web/test_review_browser.py",
    "flows/test_background.py",
    "web/test_lead_workspace_browser.py",
    "web/test_reviewer_workspace_browser.py",
    "web/test_admin_workspace_browser.py",
    "web/test_cohorts_browser.py",
    "media/test_media_transcode.py",
    "security/test_slow_uploads.py",
    "web/test_signin_browser.py",
    "security/test_further_hostile.py",
    "storage/test_production_backends.py",
    "assignment/test_assignment_properties.py",
    "retention/test_retention.py",
    "infra/test_infra.py",
    "web/test_badge_pages.py",
    "web/test_badge_pages_browser.py",
    "badges/test_badges_ob2.py",
)


def longest_first(paths: Sequence[Path], tests_dir: Path, longest: Sequence[str] = LONGEST_FIRST) -> list[int]:
    """The indexes of ``paths`` (one per collected test) in running order: named files first, in their order.

    The sort is stable, so the tests of a file, and the files not named, keep their collection order.
    """
    rank = {name: n for n, name in enumerate(longest)}

    def key(index: int) -> int:
        path = paths[index]
        name = path.relative_to(tests_dir).as_posix() if path.is_relative_to(tests_dir) else str(path)
        return rank.get(name, len(rank))

    return sorted(range(len(paths)), key=key)
