"""Parse a recording exported as text columns (pure: takes the text, never opens a file).

Accepted, because that is what amplifiers and public data sets write: ``#`` comment lines, blank
lines, a block of header lines before the first numeric row (e.g. the UCI lower-limb files),
columns separated by whitespace, tabs, commas or semicolons. A row with semicolons, or with
tabs and commas but no point, is a spreadsheet export with the decimal comma (German locale:
``0,25;-1,3e-03``): there the comma is the decimal mark, not a separator. Splitting such a row
at its commas would silently turn one number into two. Refused with the line number: a
non-numeric row after the data began, rows of differing width, no numeric row at all.
``nan``/``inf`` entries are kept: the detector holds and counts them as it would in the loop.
"""

from __future__ import annotations

import re

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


def _numbers(line: str) -> list[float] | None:
    try:
        if _decimal_comma(line):
            return [float(tok.replace(",", ".")) for tok in _SEP_DECIMAL_COMMA.split(line) if tok]
        return [float(tok) for tok in _SEP.split(line) if tok]
    except ValueError:
        return None


def parse_table(text: str) -> FloatArray:
    """Numeric rows of ``text`` as a (rows, columns) array."""
    rows: list[list[float]] = []
    width = 0
    header = 0
    for no, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip().strip(",;")
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
        if not rows:
            width = len(values)
        elif len(values) != width:
            raise InputError("file", f"line {no}: {len(values)} columns, expected {width}")
        rows.append(values)
    if not rows:
        raise InputError("file", "no numeric data")
    return np.asarray(rows, dtype=np.float64)


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
