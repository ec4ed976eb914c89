"""The shared formatters: one way to show a byte size, and a YAML error located by line and column in words."""

import pytest
import yaml

from credflow.formatting import human_size, yaml_error


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


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a: 'open\nb: c\n", "doc line 3, column 1: the quote opened at line 1, column 4 is never closed"),
        ("a: b: c\n", "doc line 1, column 5: a colon and a space inside a value: put the whole value in quotes, or"),
        ("a:\n\t- b\n", "doc line 2, column 1: a tab: indent YAML with spaces only"),
        (
            "a: {b: c\n",
            "doc line 2, column 1: the file ends before every [ or { is closed (the one at line 1, column 4)",
        ),
        ("- a\nb: c\n", "doc line 2, column 1: the indentation does not line up with the lines above"),
        ("a: *x\n", "doc line 1, column 4: found undefined alias 'x'"),
    ],
)
def test_a_yaml_error_is_one_line_with_its_line_and_column_in_words(text: str, shown: str) -> None:
    with pytest.raises(yaml.YAMLError) as raised:
        yaml.safe_load(text)
    assert yaml_error(raised.value, source="doc").startswith(shown)
