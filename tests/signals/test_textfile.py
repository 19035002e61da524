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


def test_an_empty_field_is_a_missing_value_in_its_own_column() -> None:
    # A goniometer column left empty now and then (tab-separated, as an amplifier wrote it):
    # the EMG column beside it is read whole. Collapsing the empty field moved the later columns
    # one to the left: refused where rows then differed, read shifted where every row did.
    text = "1\t-3893\t31\r\n2\t\t31\r\n3\t-3865\t31\r\n"
    t = parse_table(text)
    np.testing.assert_array_equal(column(t, 0), [1, 2, 3])
    assert np.isnan(t[1, 1]) and list(column(t, 2)) == [31, 31, 31]
    shifted = parse_table("time,emg,force\n0.001,,5.2\n0.002,,5.3\n")
    assert shifted.shape == (2, 3) and np.isnan(shifted[:, 1]).all()
    np.testing.assert_allclose(column(shifted, None), [5.2, 5.3])
    # the same in a German spreadsheet export, and a leading empty field
    np.testing.assert_allclose(parse_table("0,5;;2\n1,5;3;4\n")[:, 2], [2.0, 4.0])
    lead = parse_table("\t5\t6\n1\t7\t8\n")
    assert np.isnan(lead[0, 0]) and list(lead[:, 2]) == [6, 8]
    # trailing delimiters still end the row (OpenSignals writes a tab after the last value),
    # and where a row's last fields are empty they are missing values
    assert parse_table("0\t0\t32816\t\n1\t0\t32800\t\n").shape == (2, 3)
    tail = parse_table("41\t\t31\r\n49\t\t\r\n")
    assert tail.shape == (2, 3) and np.isnan(tail[1, 2]) and list(tail[:, 0]) == [41, 49]


def test_fields_in_double_quotes_are_read_as_their_numbers() -> None:
    # An export that quotes every field, with a quoted header row; a spreadsheet's quoted
    # decimal commas, separated by semicolons or by commas outside the quotes.
    quoted = '"time","emg"\n"0.001","2.5"\n"0.002","-1e-3"\n'
    np.testing.assert_array_equal(parse_table(quoted), [[0.001, 2.5], [0.002, -1e-3]])
    for sep in (";", ","):
        text = f'"0,25"{sep}"1,3"\n"0,5"{sep}"-2"\n'
        np.testing.assert_array_equal(parse_table(text), [[0.25, 1.3], [0.5, -2.0]])
    mixed = parse_table('"1.0","",3\n4,5,6\n')  # an empty quoted field is a missing value
    assert mixed.shape == (2, 3) and np.isnan(mixed[0, 1])
    with pytest.raises(InputError, match="line 3: not numeric"):
        parse_table('"1"\n"2"\n"x"\n')


@pytest.mark.parametrize(
    "row",
    [
        "{a:.4f}",
        "{i}\t{a:.6e}",
        "{i},{a:.3f}",
        "  {i}   {a:.3f}  ",
        "{a:.2f};{a:.2f}",  # semicolons: the general parser (decimal comma)
        '"{a:.3f}"',  # quoted: the general parser
    ],
)
def test_a_long_recording_parses_as_a_short_one_would(row: str) -> None:
    # Long files (a session's raw sEMG: 1.8 million lines) take numpy's C parser when every
    # row is plain; the result must be the general parser's, and so must every refusal.
    import spinecare.signals.textfile as textfile

    rng = np.random.default_rng(0)
    rows = [row.format(i=i, a=a) for i, a in enumerate(rng.normal(0.0, 3.0, 3000))]
    head = "# recorded 2026-11-29\nTime,EMG\n"

    def both(text: str) -> list[object]:
        out: list[object] = []
        for fast_from in (1000, 10**12):
            textfile.FAST_MIN_LINES = fast_from
            try:
                out.append(parse_table(text))
            except InputError as exc:
                out.append(str(exc))
        textfile.FAST_MIN_LINES = 1000
        return out

    fast, general = both(head + "\n".join(rows) + "\n# a marker\n" + rows[0] + "\n")
    assert isinstance(fast, np.ndarray) and isinstance(general, np.ndarray)
    np.testing.assert_array_equal(fast, general)
    bad = [*rows[:2000], rows[0] + " # note", *rows[2000:]]  # an inline remark: refused
    fast_err, general_err = both(head + "\n".join(bad) + "\n")
    assert fast_err == general_err and "line 2003" in str(fast_err)
