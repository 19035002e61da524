"""`spinecare course plan|show|attach` round trip on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.cli.conftest import screening_clear
from tests.services.test_screening_courses import _summary

Run = Callable[..., tuple[int, str, str]]


def _patient(cli: Run, *, screened: bool = True) -> str:
    code, out, err = cli(
        "patients", "add", "--name", "Max Muster", "--birth-date", "1970-05-01", "--sex", "M",
        "--weight", "80", "--height", "180", "--insurance", "self_payer", "--json",
    )  # fmt: skip
    assert code == 0, err
    pid = str(json.loads(out)["id"])
    if screened:
        screening_clear(cli, pid)
    return pid


def _plan(cli: Run) -> dict[str, Any]:
    """A 15-session lumbar L4/5 course for a new patient."""
    code, out, err = cli(
        "course", "plan", "--patient", _patient(cli), "--region", "lumbar", "--segment", "L4/5",
        "--sessions", "15", "--per-week", "3", "--start", _start(), "--json",
    )  # fmt: skip
    assert code == 0, err
    course: dict[str, Any] = json.loads(out)
    return course


def _start() -> str:
    d = date.today() + timedelta(days=10)
    return d.isoformat()


def _stored_protocol(session_id: int) -> dict[str, object]:
    import os

    from spinecare.store import open_store
    from spinecare.store.models import TreatmentSession

    store = open_store(url=os.environ["SPINECARE_DATABASE_URL"])
    try:
        with store.session() as db:
            row = db.get(TreatmentSession, session_id)
            assert row is not None
            return dict(row.protocol)
    finally:
        store.dispose()


def test_plan_show_attach(cli_doc: Run, tmp_path: Path) -> None:
    pid = _patient(cli_doc, screened=False)
    code, out, err = cli_doc(
        "course", "plan", "--patient", pid, "--region", "lumbar", "--segment", "L4/5",
        "--sessions", "15", "--per-week", "3", "--start", _start(), "--json",
    )  # fmt: skip
    assert code == 0, err
    course = json.loads(out)
    assert len(course["sessions"]) == 15 and course["segment"] == "L4/5"
    assert course["warnings"]  # nothing screened yet
    code, out, _ = cli_doc("course", "show", str(course["id"]))
    assert code == 0 and "review point" in out and "#15" in out
    code, out, _ = cli_doc("course", "show", str(course["id"]), "--json")
    assert json.loads(out)["sessions"] == course["sessions"]
    run_dir = tmp_path / "run1"
    run_dir.mkdir()
    first = str(course["sessions"][0]["id"])
    # A summary without its keys is refused with the reason, and nothing is recorded.
    (run_dir / "summary.json").write_text(json.dumps({"aborted": False, "peak_force_n": 260.0}))
    code, out, err = cli_doc("course", "attach", "--session", first, "--dir", str(run_dir))
    assert code == 2 and err.startswith("error: summary:"), err
    (run_dir / "summary.json").write_text(
        json.dumps(_summary(_stored_protocol(int(first)), completed=True))
    )
    # recorded in order, as if it ran here: not the third while the first is planned
    third = str(course["sessions"][2]["id"])
    code, _, err = cli_doc("course", "attach", "--session", third, "--dir", str(run_dir))
    assert code == 2 and "session 1 of this course has not run yet" in err, err
    code, out, err = cli_doc("course", "attach", "--session", first, "--dir", str(run_dir))
    assert code == 0 and "done" in out, err
    code, out, _ = cli_doc("patients", "show", pid, "--json")
    assert json.loads(out)["courses"][0]["status"] == "active"


def test_bad_plan_input(cli_doc: Run) -> None:
    pid = _patient(cli_doc)
    base = ["course", "plan", "--patient", pid, "--region", "lumbar", "--segment", "L4/5",
            "--start", _start()]  # fmt: skip
    code, _, err = cli_doc(*base, "--sessions", "12")
    assert code == 2 and err.startswith("error: sessions:")
    code, _, err = cli_doc(*[a if a != "L4/5" else "C5/6" for a in base])
    assert code == 2 and err.startswith("error: segment:")
    code, _, err = cli_doc(*[a if a != _start() else "2020-01-06" for a in base])
    assert code == 2 and err.startswith("error: start:")
    code, _, err = cli_doc("course", "plan", "--patient", "999", "--region", "lumbar",
                           "--segment", "L4/5", "--start", _start())  # fmt: skip
    assert code == 1 and "patient 999: not found" in err


def test_run_a_planned_session_and_record_it(cli_doc: Run, tmp_path: Path) -> None:
    """Issue 2 meets issue 3: the core runs the session the course planned, and records it."""
    course = _plan(cli_doc)
    first = course["sessions"][0]
    out_dir = tmp_path / "s1"
    code, out, err = cli_doc(
        "session", "run", "--course-session", str(first["id"]), "--fast", "--minutes", "3",
        "--out", str(out_dir), "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["protocol"]["peak_force_n"] == first["peak_force_n"]
    assert summary["course_session"] == {"id": first["id"], "status": "done"}
    code, out, _ = cli_doc("course", "show", str(course["id"]), "--json")
    stored = json.loads(out)["sessions"][0]
    assert stored["status"] == "done" and stored["telemetry_dir"] == str(out_dir.resolve())
    # A session runs once.
    code, _, err = cli_doc("session", "run", "--course-session", str(first["id"]), "--fast")
    assert code == 2 and "course-session" in err


def test_course_report_from_the_records(cli_doc: Run, tmp_path: Path) -> None:
    """Plan, run a session on the simulated table, record pain and ODI, print the report."""
    from tests.reports.pdfutil import pages, text

    course = _plan(cli_doc)
    first = str(course["sessions"][0]["id"])
    code, _, err = cli_doc(
        "session", "run", "--course-session", first, "--fast", "--minutes", "2",
        "--out", str(tmp_path / "s1"),
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli_doc(
        "outcome", "record", "--session", first, "--nrs-before", "7", "--nrs-after", "5",
        "--odi", "3,2,2,1,2,3,1,2,,2",
    )  # fmt: skip
    assert code == 0, err
    pdf = tmp_path / "course.pdf"
    code, _, err = cli_doc(
        "documents", "course-report", "--course", str(course["id"]), "--out", str(pdf),
        "--lang", "en",
    )  # fmt: skip
    assert code == 0, err
    assert pages(pdf) >= 1
    words = text(pdf)
    assert "Max Muster" in words and "L4/5" in words and "1 / 15" in words
    code, _, err = cli_doc("documents", "course-report", "--out", str(pdf))
    assert code == 2 and "--course or --data" in err


def test_no_session_runs_before_the_screening_is_complete_or_after_a_new_contraindication(
    cli_doc: Run, tmp_path: Path
) -> None:
    pid = _patient(cli_doc, screened=False)
    code, out, err = cli_doc(
        "course", "plan", "--patient", pid, "--region", "lumbar", "--segment", "L4/5",
        "--start", _start(), "--json",
    )  # fmt: skip
    assert code == 0, err
    course = json.loads(out)
    assert any("complete before session 1" in w for w in course["warnings"])
    first, second = (str(s["id"]) for s in course["sessions"][:2])
    run = ("session", "run", "--fast", "--minutes", "2")
    code, _, err = cli_doc(*run, "--course-session", first, "--out", str(tmp_path / "a"))
    assert code == 2 and "screening is incomplete (missing CI-01" in err, err
    code, out, _ = cli_doc("course", "show", str(course["id"]), "--json")
    assert json.loads(out)["sessions"][0]["status"] == "planned"  # the table never moved
    screening_clear(cli_doc, pid)
    code, _, err = cli_doc(*run, "--course-session", first, "--out", str(tmp_path / "b"))
    assert code == 0, err
    # a contraindication found after the first session stops the next one
    code, _, err = cli_doc("findings", "add", "--patient", pid, "--code", "CI-05", "--present")
    assert code == 0, err
    code, _, err = cli_doc(*run, "--course-session", second, "--out", str(tmp_path / "c"))
    assert code == 2 and "not eligible for lumbar decompression now (CI-05" in err, err
