"""The order `make test` gives its workers: the longest files first, every other file after them as collected."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.conftest import ROOT
from tests.utils.scheduling import LONGEST_FIRST, longest_first

TESTS = ROOT / "tests"


def test_every_file_named_longest_first_exists():
    # A renamed or split file must be renamed here too, or it would silently run late again.
    missing = [name for name in LONGEST_FIRST if not (TESTS / name).is_file()]
    assert missing == []
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert LONGEST_FIRST[0] == "flows/test_cluster.py"  # the ~6-minute file starts at once


def test_named_files_go_first_in_their_order_and_the_rest_keep_the_collection_order():
    collected = [
        TESTS / "a/test_one.py",  # two tests of an unnamed file
        TESTS / "a/test_one.py",
        TESTS / "b/test_long.py",
        TESTS / "c/test_other.py",
        TESTS / "d/test_longest.py",
        TESTS / "d/test_longest.py",
        ROOT / "elsewhere/test_outside.py",  # outside tests/: unnamed, kept in place
    ]
    order = longest_first(collected, TESTS, longest=("d/test_longest.py", "b/test_long.py"))
    assert order == [4, 5, 2, 0, 1, 3, 6]


def test_make_test_keeps_the_collection_order():
    # Without --no-loadscope-reorder, xdist sorts files by their number of tests and the order above is lost.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    dist = re.search(r"^TEST_DIST := (.*)$", makefile, re.MULTILINE)
    assert dist and dist.group(1).split() == ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]
    for target in ("test", "test-future"):
        recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
        assert recipe and "$(TEST_DIST)" in recipe.group(1), target


def test_the_collection_hook_runs_the_cluster_file_first_whatever_order_it_was_collected_in():
    # tests/conftest.py's hook reorders what pytest collected, in place.
    from tests import conftest

    paths = [TESTS / "test_scheduling.py", TESTS / "cli/test_serve.py", TESTS / "flows/test_cluster.py"]
    items: list[Any] = [SimpleNamespace(path=path) for path in paths]
    conftest.pytest_collection_modifyitems(cast(pytest.Config, None), items)
    assert [item.path for item in items] == [paths[2], paths[1], paths[0]]
