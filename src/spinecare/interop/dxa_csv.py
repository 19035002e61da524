"""DXA results from a CSV file (the documented exchange format of docs/interop.md).

One row per site and day, as the DXA report printed it; a header row names the columns (in any
order):

    measured_on,site,bmd_g_cm2,t_score,z_score,device,manufacturer
    2026-03-02,lumbar_spine,0.912,-1.8,-1.2,Hologic Horizon A,Hologic

``measured_on`` (YYYY-MM-DD) and ``site`` (lumbar_spine, femoral_neck, total_hip, radius_33) are
required, and ``bmd_g_cm2`` or ``t_score``; the others may be empty or missing. Decimals use a
point. The ranges are checked where every DXA result is checked (``services/findings.py``).

Optional columns say whom a row is about: ``patient_id`` (spinecare's), ``birth_date`` and
``patient_name``. They come back as ``subjects`` for the import to compare with the patient it
imports for (``services/dxa.py``: this package does not see the store); a row about someone
else stores nothing of the file.

The same file saved again by a spreadsheet in a German locale is read too: semicolons between
the columns (seen in the header), the decimal comma, dates as DD.MM.YYYY. A clinic opens the
export, looks at it and saves it; refusing it would send them to a text editor.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation

from spinecare.clinical.vocab import BmdSite
from spinecare.errors import InputError
from spinecare.interop.fhir import DxaImport, SubjectClaim
from spinecare.interop.records import BmdData

COLUMNS = ("measured_on", "site", "bmd_g_cm2", "t_score", "z_score", "device", "manufacturer")
# Whom a row is about (optional): compared with the patient imported for, never stored.
SUBJECT_COLUMNS = ("patient_id", "birth_date", "patient_name")
REQUIRED = ("measured_on", "site")
MAX_ROWS = 1000  # a DXA report has a handful of sites; a larger file is not one


def dxa_from_csv(text: str) -> DxaImport:
    """Parse the DXA CSV; an InputError names the line and the column of the first problem."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    spreadsheet = ";" in first and "," not in first  # a German-locale spreadsheet's save
    reader = csv.DictReader(io.StringIO(text), delimiter=";" if spreadsheet else ",")
    try:
        return _read(reader, spreadsheet)
    except csv.Error as exc:  # a stray carriage return, a NUL byte, an open quote
        raise InputError("file", f"line {reader.line_num}: {exc}") from None


def _read(reader: csv.DictReader[str], spreadsheet: bool) -> DxaImport:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError("file", f"the header must name {', '.join(missing)} (columns: "
                         f"{', '.join(COLUMNS + SUBJECT_COLUMNS)})")  # fmt: skip
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:  # DictReader keeps the last of them: the other cell would be dropped unseen
        raise InputError("file", f"the header names {', '.join(twice)} more than once")
    unknown = [h for h in header if h not in COLUMNS and h not in SUBJECT_COLUMNS]
    if unknown:
        raise InputError("file", f"unknown column(s): {', '.join(unknown)}")
    out: list[BmdData] = []
    subjects: list[SubjectClaim] = []
    for count, row in enumerate(reader, start=1):
        if count > MAX_ROWS:
            raise InputError("file", f"more than {MAX_ROWS} rows")
        line = reader.line_num
        if None in row:  # DictReader files the cells beyond the header under None
            raise InputError("file", f"line {line}: more columns than the header names")
        cells = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not any(cells.values()):
            continue
        out.append(_row(cells, line, decimal_comma=spreadsheet))
        subjects += _subject(cells, line)
    if not out:
        raise InputError("file", "no DXA rows")
    return DxaImport(out, [], subjects)


def _subject(cells: dict[str, str], line: int) -> list[SubjectClaim]:
    """The row's patient columns as claims (the birth date as ISO, as FHIR writes it)."""
    where = f"line {line}"
    out: list[SubjectClaim] = []
    if cells.get("patient_id"):
        out.append(SubjectClaim(where, "patient_id", "patient_id", (cells["patient_id"],)))
    if cells.get("birth_date"):
        try:
            born = _day(cells["birth_date"]).isoformat()
        except ValueError:
            raise InputError("birth_date", f"{where}: not a date (YYYY-MM-DD)",
                             cells["birth_date"]) from None  # fmt: skip
        out.append(SubjectClaim(where, "birth_date", "birth_date", (born,)))
    if cells.get("patient_name"):
        out.append(SubjectClaim(where, "patient_name", "name", (cells["patient_name"],)))
    return out


def _day(text: str) -> date:
    """YYYY-MM-DD, or DD.MM.YYYY as a German spreadsheet writes it back."""
    if text.count(".") == 2:
        d, m, y = text.split(".")
        if len(y) == 4:
            return date(int(y), int(m), int(d))
    return date.fromisoformat(text)


def _row(cells: dict[str, str], line: int, *, decimal_comma: bool = False) -> BmdData:
    where = f"line {line}"
    try:
        measured = _day(cells["measured_on"])
    except ValueError:
        raise InputError("measured_on", f"{where}: not a date (YYYY-MM-DD)",
                         cells["measured_on"]) from None  # fmt: skip
    try:
        site = BmdSite(cells["site"])
    except ValueError:
        allowed = ", ".join(s.value for s in BmdSite)
        raise InputError("site", f"{where}: one of {allowed}", cells["site"]) from None

    def number(name: str) -> Decimal | None:
        raw = cells.get(name, "")
        if not raw:
            return None
        try:
            value = Decimal(raw.replace(",", ".") if decimal_comma else raw)
        except InvalidOperation:
            raise InputError(name, f"{where}: not a number", raw) from None
        if not value.is_finite():
            raise InputError(name, f"{where}: not a number", raw)
        return value

    bmd, t = number("bmd_g_cm2"), number("t_score")
    if bmd is None and t is None:
        raise InputError("bmd_g_cm2", f"{where}: give bmd_g_cm2 or t_score")
    return BmdData(
        measured_on=measured,
        site=site,
        bmd_g_cm2=bmd,
        t_score=t,
        z_score=number("z_score"),
        device=cells.get("device") or None,
        manufacturer=cells.get("manufacturer") or None,
    )
