"""Parse a recording exported as text columns (pure: takes the text, never opens a file).

Accepted, because that is what amplifiers and public data sets write: ``#`` comment lines, blank
lines, a block of header lines before the first numeric row (e.g. the UCI lower-limb files),
columns separated by whitespace, tabs, commas or semicolons (an empty field between two is a
missing value, NaN, in its column), fields in double quotes too. A row with semicolons, or with
tabs and commas but no point, is a spreadsheet export with the decimal comma (German locale:
``0,25;-1,3e-03``): there the comma is the decimal mark, not a separator. Splitting such a row
at its commas would silently turn one number into two. Refused with the line number: a
non-numeric row after the data began, rows of differing width, no numeric row at all.
``nan``/``inf`` entries are kept: the detector holds and counts them as it would in the loop.
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings

import numpy as np
import numpy.typing as npt

from spinecare.errors import InputError

FloatArray = npt.NDArray[np.float64]

_SEP = re.compile(r"[,;\s]+")
_SEP_DECIMAL_COMMA = re.compile(r"[;\s]+")
MAX_HEADER_LINES = 50  # header lines tolerated before the first numeric row


def _decimal_comma(line: str) -> bool:
    """A spreadsheet row with the decimal comma: semicolons between the fields, or tabs and
    commas without a decimal point."""
    return ";" in line or ("\t" in line and "," in line and "." not in line)


def _delimiter(line: str, decimal_comma: bool) -> str | None:
    """The one character that separates fields, or None for columns aligned by spaces."""
    if "\t" in line:
        return "\t"
    if ";" in line:
        return ";"
    if "," in line and not decimal_comma:
        return ","
    return None


_QUOTED = re.compile(r'"[^"]*"')


def _quoted_numbers(line: str) -> list[float] | None:
    """A row whose fields are in double quotes (``"0.25","-1.3"``; a spreadsheet may quote
    ``"0,25","-1,3"`` with the decimal comma, the comma between the quotes then being no
    separator). The separator is the first of tab, semicolon and comma found outside quotes."""
    bare = _QUOTED.sub("", line)
    delim = next((d for d in "\t;," if d in bare), None)
    fields = next(csv.reader([line], delimiter=delim)) if delim else [line.strip().strip('"')]
    out: list[float] = []
    try:
        for field in fields:
            f = field.strip()
            if not f:
                out.append(math.nan)
            else:
                out.append(float(f.replace(",", ".") if "," in f and "." not in f else f))
    except ValueError:
        return None
    return out


def _numbers(line: str) -> list[float] | None:
    """A row's numbers. Between two delimiters (tab, semicolon, comma) nothing is a missing
    value (NaN), kept in its column: collapsing it would move every later column one to the
    left, and a file missing a value in every row would be read shifted without a word."""
    if '"' in line:
        return _quoted_numbers(line)
    comma = _decimal_comma(line)
    inner = _SEP_DECIMAL_COMMA if comma else _SEP
    delim = _delimiter(line, comma)
    fields = line.split(delim) if delim is not None else [line]
    out: list[float] = []
    try:
        for field in fields:
            tokens = [tok for tok in inner.split(field) if tok]
            if not tokens and delim is not None:
                out.append(math.nan)
            out.extend(float(tok.replace(",", ".") if comma else tok) for tok in tokens)
    except ValueError:
        return None
    return out


def _fast(lines: list[str], first: str) -> FloatArray | None:
    """The rows from the first numeric one on, read by numpy's C parser when every one is as
    plain as the first (one separator, no quotes, no decimal comma, no empty field); None
    otherwise, and the general parser reads them (and names the line of any fault). A session's
    raw sEMG at 1 kHz is 1.8 million lines in 30 minutes."""
    if '"' in first or _decimal_comma(first):
        return None
    delim = _delimiter(first, False)
    # whole-line comments only, as the general parser: "1 2 # note" is refused there too
    data = "\n".join(ln for ln in lines if not ln.lstrip().startswith("#"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty input's warning: let the general path say
            table = np.loadtxt(io.StringIO(data), delimiter=delim, comments=None, ndmin=2)
    except (ValueError, UserWarning):
        return None
    return np.asarray(table, dtype=np.float64)


FAST_MIN_LINES = 1000  # below this the general parser is fast enough


def parse_table(text: str) -> FloatArray:
    """Numeric rows of ``text`` as a (rows, columns) array."""
    rows: list[tuple[int, list[float], bool]] = []  # line number, values, delimited
    header = 0
    lines = text.removeprefix("\ufeff").splitlines()
    for no, raw in enumerate(lines, start=1):
        # spaces and the line end go; a leading tab is an empty first field; trailing empty
        # fields are dropped here and come back as missing values if other rows are wider
        line = raw.strip(" \r\n\f\v").rstrip("\t,; ")
        if not line or line.startswith("#"):
            continue
        values = _numbers(line)
        if values is None or not values:
            if rows:
                raise InputError("file", f"line {no}: not numeric", raw[:40])
            header += 1
            if header > MAX_HEADER_LINES:
                raise InputError("file", f"no numeric data in the first {no} lines")
            continue
        if not rows and len(lines) - no >= FAST_MIN_LINES:
            fast = _fast(lines[no - 1 :], line)
            if fast is not None:
                return fast
        rows.append((no, values, any(c in raw for c in "\t,;")))
    if not rows:
        raise InputError("file", "no numeric data")
    width = max(len(values) for _, values, _ in rows)
    for no, values, delimited in rows:
        if len(values) < width and delimited:  # its last fields were empty: missing values
            values.extend([math.nan] * (width - len(values)))
        elif len(values) != width:
            raise InputError("file", f"line {no}: {len(values)} columns, expected {width}")
    return np.asarray([values for _, values, _ in rows], dtype=np.float64)


def column(table: FloatArray, index: int | None) -> FloatArray:
    """One column (0-based; ``None``: the last), refusing an all-invalid one."""
    n = table.shape[1]
    i = n - 1 if index is None else index
    if not 0 <= i < n:
        raise InputError("column", f"the file has columns 0-{n - 1}", index)
    x = np.ascontiguousarray(table[:, i])
    if not np.any(np.isfinite(x)):
        raise InputError("column", "no finite sample in this column", i)
    return x
