"""`spinecare outcome record|series` on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from tests.cli.conftest import screening_clear

Run = Callable[..., tuple[int, str, str]]


def _course(cli: Run) -> dict[str, object]:
    code, out, err = cli(
        "patients", "add", "--name", "Eva", "--birth-date", "1958-01-01", "--sex", "F",
        "--weight", "65", "--height", "160", "--insurance", "statutory", "--json",
    )  # fmt: skip
    assert code == 0, err
    pid = str(json.loads(out)["id"])
    screening_clear(cli, pid)
    start = (date.today() + timedelta(days=10)).isoformat()
    code, out, err = cli(
        "course", "plan", "--patient", pid, "--region", "cervical", "--segment", "C5/6",
        "--sessions", "15", "--per-week", "2", "--start", start, "--json",
    )  # fmt: skip
    assert code == 0, err
    data: dict[str, object] = json.loads(out)
    return data


def _ran(*session_ids: str) -> None:
    """Record sessions as run (session runs have their own tests)."""
    import os

    from spinecare.store import open_store
    from spinecare.store.audit import set_actor
    from spinecare.store.models import TreatmentSession

    store = open_store(url=os.environ["SPINECARE_DATABASE_URL"])
    try:
        with store.unit_of_work() as db:
            set_actor(db, "doc")
            for sid in session_ids:
                row = db.get(TreatmentSession, int(sid))
                assert row is not None
                row.status = "done"
    finally:
        store.dispose()


def test_record_and_series(cli_doc: Run) -> None:
    course = _course(cli_doc)
    sessions = course["sessions"]
    assert isinstance(sessions, list)
    s1, s2 = str(sessions[0]["id"]), str(sessions[1]["id"])
    code, _, err = cli_doc("outcome", "record", "--session", s1, "--nrs-before", "6")
    assert code == 2 and "once the session has run" in err  # still planned
    _ran(s1, s2)
    code, out, err = cli_doc("outcome", "record", "--session", s1, "--nrs-before", "6",
                             "--nrs-after", "4")  # fmt: skip
    assert code == 0, err
    assert "nrs_before: 6" in out and "nrs_after: 4" in out
    code, out, err = cli_doc(
        "outcome", "record", "--session", s2, "--nrs-before", "5", "--odi", "3,2,1,,2,2,1,0,2,1",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["odi"]["percent"] == 31.1 and data["odi"]["blank_sections"] == ["walking"]
    code, out, _ = cli_doc("outcome", "series", "--course", str(course["id"]), "--json")
    series = json.loads(out)
    assert series["chart"]["nrs_before"] == [6, 5]
    assert series["chart"]["odi_percent"] == [31.1]


def test_bad_outcome_input(cli_doc: Run) -> None:
    course = _course(cli_doc)
    sessions = course["sessions"]
    assert isinstance(sessions, list)
    s1 = str(sessions[0]["id"])
    _ran(s1)
    code, _, err = cli_doc("outcome", "record", "--session", s1, "--nrs-before", "11")
    assert code == 2 and err.startswith("error: nrs_before:")
    code, _, err = cli_doc("outcome", "record", "--session", s1, "--odi", "1,2,3")
    assert code == 2 and err.startswith("error: odi:")
    code, _, err = cli_doc("outcome", "record", "--session", s1, "--odi", "1,2,3,4,5,6,1,1,1,1")
    assert code == 2 and err.startswith("error: odi:")
    code, _, err = cli_doc("outcome", "record", "--session", "9999", "--nrs-before", "3")
    assert code == 1 and "session 9999: not found" in err
    # a course named that is not the session's: refused (it was stored against the session's)
    other = str(int(course["id"]) + 1)
    code, _, err = cli_doc("outcome", "record", "--course", other, "--session", s1,
                           "--nrs-before", "3")  # fmt: skip
    assert code == 2 and err.startswith("error: course:") and "another course" in err
    code, out, _ = cli_doc("outcome", "series", "--course", str(course["id"]), "--json")
    assert json.loads(out)["chart"]["nrs_before"] == []  # nothing was stored


@pytest.mark.slow
def test_nrs_refused_before_the_run_and_the_early_run_warning(cli_doc: Run, tmp_path: Path) -> None:
    sessions = _course(cli_doc)["sessions"]  # the first booked 10 days ahead
    assert isinstance(sessions, list)
    first = str(sessions[0]["id"])
    code, _, err = cli_doc("outcome", "record", "--session", first, "--nrs-before", "6")
    assert code == 2 and "run it first" in err
    code, _, err = cli_doc("session", "run", "--course-session", first, "--fast",
                           "--minutes", "2.5", "--out", str(tmp_path / "s1"))  # fmt: skip
    assert code == 0, err
    assert "warning: session 1 is booked for" in err
    code, _, err = cli_doc("outcome", "record", "--session", first, "--nrs-before", "6")
    assert code == 0, err


def test_series_shows_odi_and_the_day_each_session_ran(cli_doc: Run) -> None:
    course = _course(cli_doc)
    sessions = course["sessions"]
    assert isinstance(sessions, list)
    s1 = str(sessions[0]["id"])
    _ran(s1)
    code, _, err = cli_doc("outcome", "record", "--course", str(course["id"]),
                           "--odi", "3,2,2,3,1,2,2,1,2,3")  # fmt: skip
    assert code == 0, err
    code, _, err = cli_doc("outcome", "record", "--session", s1, "--nrs-before", "6",
                           "--odi", "2,2,1,2,1,1,2,1,1,2")  # fmt: skip
    assert code == 0, err
    code, out, _ = cli_doc("outcome", "series", "--course", str(course["id"]))
    assert "baseline" in out and "ODI 42 %" in out and "ODI 30 % (moderate)" in out
