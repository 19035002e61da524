"""Session telemetry and summary as CSV and JSON, a course as a checked archive, and the DXA CSV
exchange format."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinecare.clinical.vocab import BmdSite
from spinecare.errors import InputError
from spinecare.interop.dxa_csv import dxa_from_csv
from spinecare.interop.records import BmdData
from spinecare.interop.tables import (
    SessionExport,
    archive_check,
    course_archive,
    session_files,
    summary_csv,
    telemetry_csv,
    unit_of,
)
from tests.interop.test_fhir import summary

TELEMETRY = {
    "t_s": [0.0, 0.02, 0.04],
    "phase": ["pretension", "pretension", "ramp_up"],
    "measured_n": [0.5, 1.2, 2.0],
    "winch_mm": [0.0, 0.01, 0.03],
    "emg_envelope_uv": [0.0, 0.0, 1.5],
}


def export() -> SessionExport:
    return SessionExport({"session_id": 4}, summary(), TELEMETRY, [{"kind": "session_start"}])


def test_telemetry_csv_and_json_carry_the_same_values_with_units() -> None:
    rows = list(csv.DictReader(io.StringIO(telemetry_csv(TELEMETRY))))
    assert [float(r["measured_n"]) for r in rows] == TELEMETRY["measured_n"]
    files = session_files(export(), "both")
    assert set(files) == {"telemetry.csv", "summary.csv", "session.json"}
    doc = json.loads(files["session.json"])
    assert doc["format"] == "spinecare-session" and doc["session_id"] == 4
    assert doc["telemetry"]["data"] == TELEMETRY
    assert doc["telemetry"]["units"] == {
        "t_s": "s", "phase": None, "measured_n": "N", "winch_mm": "mm", "emg_envelope_uv": "uV"
    }  # fmt: skip
    assert doc["summary"] == summary().model_dump(mode="json")
    assert set(session_files(export(), "csv")) == {"telemetry.csv", "summary.csv"}
    assert set(session_files(export(), "json")) == {"session.json"}


def test_summary_csv_has_one_row_per_value() -> None:
    s = summary()
    rows = dict(csv.reader(io.StringIO(summary_csv(s))))
    assert rows["field"] == "value"
    assert float(rows["peak_force_n"]) == s.peak_force_n
    assert rows["protocol.segment"] == "L4/5"
    assert rows["timing.ticks"] == str(s.timing.ticks)
    assert json.loads(rows["guarding_events"]) == [g.model_dump(mode="json")
                                                   for g in s.guarding_events]  # fmt: skip


def test_units_come_from_the_column_names() -> None:
    assert [unit_of(c) for c in ("force_n", "winch_mm", "emg_uv", "t_s", "flags")] == [
        "N", "mm", "uV", "s", None,
    ]  # fmt: skip


def test_course_archive_is_complete_checked_and_reproducible() -> None:
    course = {"course_id": 2, "sessions": [{"number": 1}]}
    outcomes = [{"session_number": 1, "kind": "nrs_before", "value": 7.0, "recorded_at": "x"}]
    data = course_archive(course, [(1, export())], outcomes)
    manifest = archive_check(data)
    assert {"README.txt", "course.json", "outcomes.csv", "sessions/01/telemetry.csv",
            "sessions/01/summary.csv", "sessions/01/session.json"} == set(manifest)  # fmt: skip
    assert course_archive(course, [(1, export())], outcomes) == data  # same data, same bytes
    # A changed member is caught.
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in src.namelist():
            content = src.read(name)
            zf.writestr(name, content + b"x" if name == "outcomes.csv" else content)
    with pytest.raises(ValueError, match=r"outcomes\.csv: checksum"):
        archive_check(buf.getvalue())


# -- the DXA CSV -------------------------------------------------------------------------------
CSV = """measured_on,site,bmd_g_cm2,t_score,z_score,device,manufacturer
2026-03-02,lumbar_spine,0.912,-1.8,-1.2,Hologic Horizon A,Hologic
2026-03-02,femoral_neck,,-2.6,,,
"""


def test_dxa_csv_reads_the_documented_format() -> None:
    got = dxa_from_csv(CSV)
    assert got.measurements == [
        BmdData(measured_on=date(2026, 3, 2), site=BmdSite.LUMBAR_SPINE,
                bmd_g_cm2=Decimal("0.912"), t_score=Decimal("-1.8"), z_score=Decimal("-1.2"),
                device="Hologic Horizon A", manufacturer="Hologic"),
        BmdData(measured_on=date(2026, 3, 2), site=BmdSite.FEMORAL_NECK, t_score=Decimal("-2.6")),
    ]  # fmt: skip
    # Column order is free, optional columns may be missing, blank lines are ignored.
    got2 = dxa_from_csv("site,t_score,measured_on\n\ntotal_hip,-2.0,2026-03-02\n")
    assert got2.measurements[0].site is BmdSite.TOTAL_HIP


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("site,bmd_g_cm2\nlumbar_spine,1\n", "header must name measured_on"),
        ("measured_on,site,colour\n2026-01-01,lumbar_spine,red\n", "unknown column"),
        ("measured_on,site,t_score\n2026-13-01,lumbar_spine,-1\n", "line 2: not a date"),
        ("measured_on,site,t_score\n2026-01-01,spine,-1\n", "line 2: one of lumbar_spine"),
        ("measured_on,site,t_score\n2026-01-01,total_hip,minus one\n", "t_score: line 2"),
        ("measured_on,site,z_score\n2026-01-01,total_hip,-1\n", "give bmd_g_cm2 or t_score"),
        ("measured_on,site,t_score\n", "no DXA rows"),
        ("measured_on,site,t_score\n2026-01-01,total_hip,-1,x\n", "line 2: more columns"),
    ],
)
def test_dxa_csv_errors_name_line_and_column(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        dxa_from_csv(text)


@given(
    bmd=st.decimals(min_value=Decimal("0.100"), max_value=Decimal("2.900"), places=3),
    t=st.decimals(min_value=Decimal("-9.9"), max_value=Decimal("9.9"), places=1),
    site=st.sampled_from(list(BmdSite)),
)
def test_dxa_csv_keeps_every_digit(bmd: Decimal, t: Decimal, site: BmdSite) -> None:
    text = f"measured_on,site,bmd_g_cm2,t_score\n2026-01-01,{site},{bmd},{t}\n"
    (m,) = dxa_from_csv(text).measurements
    assert (m.bmd_g_cm2, m.t_score, m.site) == (bmd, t, site)


def test_dxa_csv_saved_again_by_a_german_spreadsheet_reads_the_same() -> None:
    german = (
        "\ufeffmeasured_on;site;bmd_g_cm2;t_score;z_score;device;manufacturer\r\n"
        "02.03.2026;lumbar_spine;0,912;-1,8;-1,2;Hologic Horizon A;Hologic\r\n"
        "02.03.2026;femoral_neck;;-2,6;;;\r\n"
    )
    assert dxa_from_csv(german).measurements == dxa_from_csv(CSV).measurements
    with pytest.raises(InputError, match="bmd_g_cm2: line 2: not a number"):
        dxa_from_csv('measured_on,site,bmd_g_cm2\n2026-03-02,lumbar_spine,"0,912"\n')
    with pytest.raises(InputError, match="measured_on: line 2: not a date"):
        dxa_from_csv("measured_on;site;t_score\n31.02.2026;total_hip;-1\n")


@given(st.text(max_size=300))
def test_any_dxa_csv_text_is_read_or_refused_with_a_reason(text: str) -> None:
    try:
        got = dxa_from_csv("measured_on,site,bmd_g_cm2,t_score\n" + text)
    except InputError as exc:
        assert str(exc)  # a field and a reason, never a traceback
        return
    assert got.measurements and all(m.site in BmdSite for m in got.measurements)


def test_a_dxa_column_named_twice_is_refused() -> None:
    """csv.DictReader keeps the last of two same-named cells: the first was dropped unseen."""
    with pytest.raises(InputError, match="names measured_on more than once"):
        dxa_from_csv("measured_on,site,measured_on,bmd_g_cm2\n2026-03-02,total_hip,2026-03-03,1\n")


def test_the_dxa_csvs_patient_columns_come_back_as_subjects() -> None:
    """Whom a row is about is read (and compared by the import, which sees the store)."""
    got = dxa_from_csv(
        "measured_on;site;t_score;patient_id;birth_date;patient_name\r\n"
        "02.03.2026;total_hip;-1,2;4;23.09.1951;Helga Brandt\r\n"
    )
    assert [(c.where, c.field, c.kind, c.values) for c in got.subjects] == [
        ("line 2", "patient_id", "patient_id", ("4",)),
        ("line 2", "birth_date", "birth_date", ("1951-09-23",)),
        ("line 2", "patient_name", "name", ("Helga Brandt",)),
    ]
    assert dxa_from_csv("measured_on,site,t_score\n2026-03-02,total_hip,-1\n").subjects == []
    with pytest.raises(InputError, match="birth_date: line 2: not a date"):
        dxa_from_csv("measured_on,site,t_score,birth_date\n2026-03-02,total_hip,-1,1951\n")
