"""Parsing recordings exported as text columns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.errors import InputError
from spinecare.signals.textfile import column, parse_table


def test_comments_headers_and_separators() -> None:
    text = "File: x.log\nChannel 1: 'RF'\n\n# a comment\n1\t2\t3\n4,5,6\n7;8;9\n\t\t\n10 11 12\n"
    t = parse_table(text)
    assert t.shape == (4, 3)
    np.testing.assert_array_equal(column(t, None), [3, 6, 9, 12])
    np.testing.assert_array_equal(column(t, 0), [1, 4, 7, 10])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no numeric data"),
        ("header\n" * 60 + "1\n", "no numeric data"),
        ("1 2\n3\n", "line 2: 1 columns"),
        ("1\n2\nx\n", "line 3: not numeric"),
    ],
)
def test_bad_tables_name_the_line(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        parse_table(text)


def test_column_out_of_range_or_without_a_finite_sample() -> None:
    t = parse_table("1 nan\n2 nan\n")
    with pytest.raises(InputError, match="columns 0-1"):
        column(t, 2)
    with pytest.raises(InputError, match="no finite sample"):
        column(t, 1)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_input_error(text: str) -> None:
    try:
        t = parse_table(text)
    except InputError:
        return
    assert t.ndim == 2 and t.shape[0] >= 1 and t.shape[1] >= 1


def test_a_german_spreadsheet_export_keeps_its_decimal_commas() -> None:
    # Excel in a German locale: semicolons between fields, the comma as the decimal mark (and a
    # byte-order mark); split at its commas, "0,001;-0,25" would be four columns of nonsense.
    text = "\ufeffZeit;EMG\r\n0,000;-0,25\r\n0,001;1,5e-02\r\n0,002;3\r\n"
    t = parse_table(text)
    assert t.shape == (3, 2)
    np.testing.assert_allclose(column(t, None), [-0.25, 0.015, 3.0])
    np.testing.assert_allclose(column(t, 0), [0.0, 0.001, 0.002])
    tabbed = parse_table("0,5\t-1,25\n1,5\t2\n")  # tab-separated, decimal comma
    np.testing.assert_allclose(tabbed, [[0.5, -1.25], [1.5, 2.0]])
    # with a decimal point the comma stays a separator (and a point with semicolons is fine)
    np.testing.assert_allclose(parse_table("0.5,\t1.5\n"), [[0.5, 1.5]])
    np.testing.assert_allclose(parse_table("0.5;1.5\n"), [[0.5, 1.5]])
    with pytest.raises(InputError, match="line 2: not numeric"):
        parse_table("1,5;2\n1,234.5;3\n")  # thousands separator and decimal point: refused
