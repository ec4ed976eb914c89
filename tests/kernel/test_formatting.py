"""The one byte-size formatter: every message, email and page shows a size the same way."""

import pytest

from credflow.formatting import human_size


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (2, "2 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        ((1 << 20) - 1, "1024.0 KB"),  # just under a MiB rounds, but stays in KB
        (1 << 20, "1.0 MB"),
        (25 << 20, "25.0 MB"),
        (1 << 30, "1.0 GB"),
        (5 << 30, "5.0 GB"),
        (3 << 40, "3072.0 GB"),  # nothing bigger than GB
    ],
)
def test_human_size_at_the_unit_boundaries(size: int, shown: str) -> None:
    assert human_size(size) == shown
