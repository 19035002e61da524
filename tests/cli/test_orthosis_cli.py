"""`spinecare orthosis` and the posture commands that keep records: the pathway from
prescription to the follow-up PDF on a SQLite file.

The acting user is resolved by ``cli/db.py`` (logins); here the commands' ``run_read`` and
``run_write`` are pointed at a fixed actor so the test exercises the pathway, not the login.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.services.conftest import make_users

from spinecare.cli import main
from spinecare.clinical.vocab import Menopause, Sex
from spinecare.services.patients import PatientCreate, add_patient
from spinecare.store import open_store
from spinecare.store.enums import Insurance, Role

Run = Callable[..., tuple[int, str, str]]
T0 = date.today() - timedelta(days=190)


@pytest.fixture
def run(
    sqlite_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Run]:
    from spinecare.cli import orthosis as cli_mod
    from spinecare.cli import posture as posture_mod

    store = open_store(url=sqlite_env)
    with store.session() as s:
        actors = make_users(s, (Role.PHYSICIAN, Role.THERAPIST))
        add_patient(s, actors[Role.PHYSICIAN], PatientCreate(
            name="Erika Mustermann", birth_date=date(1951, 3, 14), sex=Sex.FEMALE,
            weight_kg=Decimal("62.0"), height_cm=Decimal("158.0"),
            insurance=Insurance.PRIVATE, menopausal_status=Menopause.POST,
        ))  # fmt: skip
        s.commit()
    acting = {"who": actors[Role.PHYSICIAN]}

    def write(_as: str | None, work: Callable[..., Any]) -> Any:
        from spinecare.settings import get_settings

        with store.unit_of_work() as s:
            return work(s, acting["who"], get_settings())

    def read(_as: str | None, work: Callable[..., Any]) -> Any:
        from spinecare.settings import get_settings

        with store.session() as s:
            return work(s, acting["who"], get_settings())

    for mod in (cli_mod, posture_mod):
        monkeypatch.setattr(mod, "run_write", write)
        monkeypatch.setattr(mod, "run_read", read)

    def go(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield go
    store.dispose()


def test_pathway_from_prescription_to_the_followup_pdf(run: Run, tmp_path: Path) -> None:
    ok = lambda *a: run(*a)[0] == 0  # noqa: E731
    assert ok("orthosis", "prescribe", "--patient", "1", "--device", "spinomed", "--size", "M",
              "--on", T0.isoformat(), "--fitted", T0.isoformat())  # fmt: skip
    visits = [
        ("baseline", 0, "200", "6"),
        ("month_3", 92, "240", "5"),
        ("month_6", 183, "250", "3"),
    ]
    for visit, days, strength, pain in visits:
        on = (T0 + timedelta(days=days)).isoformat()
        code, _, err = run("orthosis", "followup", "--prescription", "1", "--visit", visit,
                           "--on", on, "--back-extensor", strength, "--pain", pain,
                           "--kyphosis", "60")  # fmt: skip
        assert code == 0, err
    code, out, _ = run("orthosis", "show", "--prescription", "1", "--json")
    prog = json.loads(out)
    six = {c["key"]: c for c in prog["changes"][-1]["changes"]}
    assert six["back_extensor_strength"]["percent"] == 25.0  # (250 - 200) / 200
    assert six["pain"]["percent"] == -50.0 and six["kyphosis_angle"]["percent"] == 0.0
    chart = tmp_path / "evidence.png"
    code, out, _ = run("orthosis", "show", "--prescription", "1", "--chart", str(chart))
    assert code == 0 and "maker-funded" in out and "Kaijser Alin" in out
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert ok("orthosis", "height", "--patient", "1", "--cm", "165", "--on", "1980-01-01",
              "--recalled")  # fmt: skip
    assert ok("orthosis", "height", "--patient", "1", "--cm", "160.5")
    assert ok("orthosis", "risk", "--patient", "1", "--code", "smoking", "--absent")
    assert ok("orthosis", "drug", "--patient", "1", "--class", "bisphosphonate", "--substance",
              "alendronate", "--since", T0.isoformat(), "--prescriber", "Dr. Hausarzt")  # fmt: skip
    code, out, _ = run("orthosis", "osteo", "--patient", "1", "--json")
    osteo = json.loads(out)["followup"]
    assert osteo["height_loss"]["imaging_indicated"] is True  # 4.5 cm since the tallest
    assert osteo["drug_therapy"][0]["substance"] == "alendronate"
    pdf = tmp_path / "followup.pdf"
    code, out, err = run("orthosis", "report", "--prescription", "1", "--out", str(pdf),
                         "--lang", "en")  # fmt: skip
    assert code == 0, err
    from pypdf import PdfReader

    # whitespace collapsed: where a table cell wraps its text is the layout's business
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(str(pdf)).pages).split())
    assert "Orthosis follow-up" in text and "funded by the" in text and "Kaijser Alin" in text
    assert "does not prescribe" in text and "Debrunner" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["orthosis", "prescribe", "--patient", "1", "--device", "corset"], "device"),
        (["orthosis", "prescribe", "--patient", "1", "--device", "spinomed", "--size", "XXXL"],
         "size"),
        (["orthosis", "prescribe", "--patient", "1", "--device", "other_tlo"], "device_name"),
        (["orthosis", "prescribe", "--patient", "1", "--device", "spinomed", "--start-hours", "3",
          "--target-hours", "2"], "start_hours"),
        (["orthosis", "prescribe", "--patient", "1", "--device", "spinomed",
          "--date", "2026-13-01"], "--date"),
        (["orthosis", "followup", "--prescription", "1", "--visit", "month_9"], "visit"),
        (["orthosis", "height", "--patient", "1", "--cm", "20"], "height_cm"),
        (["orthosis", "report", "--prescription", "1", "--out", "x.txt"], "out"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_status_two(run: Run, args: list[str], needle: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_evidence_needs_no_database(run: Run) -> None:
    code, out, _ = run("orthosis", "evidence")
    assert code == 0 and "funded by the manufacturer" in out and "n=113" in out


def test_posture_recordings_kept_with_the_prescription(run: Run, tmp_path: Path) -> None:
    """Simulated days and a live serial stream are kept with the patient; the summary shows
    days against the wearing plan and weeks."""
    import os
    import threading
    import tty

    fitted = date.today() - timedelta(days=3)
    assert run("orthosis", "prescribe", "--patient", "1", "--device", "spinomed_active",
               "--fitted", fitted.isoformat(), "--on", fitted.isoformat())[0] == 0  # fmt: skip
    code, out, err = run("posture", "record", "--patient", "1", "--simulate-days", "2",
                         "--hours", "0.3", "--json")  # fmt: skip
    assert code == 0, err
    assert [r["source"] for r in json.loads(out)] == ["simulated", "simulated"]
    csv = tmp_path / "rec.csv"
    assert run("posture", "simulate", "--out", str(csv), "--minutes", "6", "--seed", "1")[0] == 0
    lines = csv.read_text().splitlines()[1:]
    master, slave = os.openpty()
    tty.setraw(slave)

    def feed() -> None:
        for i in range(0, len(lines), 500):
            os.write(master, ("\n".join(lines[i : i + 500]) + "\n").encode())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        code, out, err = run("posture", "live", "--port", os.ttyname(slave), "--seconds", "300",
                             "--patient", "1")  # fmt: skip
    finally:
        writer.join(timeout=30)
        os.close(master)
        os.close(slave)
    assert code == 0, err
    assert "recording 3:" in out
    code, out, _ = run("posture", "summary", "--patient", "1", "--json")
    summary = json.loads(out)
    assert [r["source"] for r in summary["recordings"]] == ["simulated", "simulated", "serial"]
    assert all(r["prescription_id"] == 1 for r in summary["recordings"])
    planned = [d for d in summary["days"] if d["plan_s"]]
    assert planned and all(d["plan_s"] == 3600.0 for d in planned)  # the first week: 1 h
    assert summary["weeks"] and "Debrunner" in summary["accuracy"]
    code, out, _ = run("posture", "summary", "--patient", "1")
    assert code == 0 and "of plan" in out


def test_a_followup_before_its_time_is_refused(run: Run) -> None:
    """A 6-month visit on the day after the fitting would be shown as the change after 6
    months beside the trials: one line, status 2, nothing stored."""
    base = (date.today() - timedelta(days=1)).isoformat()
    assert run("orthosis", "prescribe", "--patient", "1", "--device", "spinomed", "--on", base,
               "--fitted", base)[0] == 0  # fmt: skip
    code, out, err = run("orthosis", "followup", "--prescription", "1", "--visit", "month_6",
                         "--pain", "3")  # fmt: skip
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "visit: month_6 is due from" in err and "6 months after the fitting" in err
    code, out, _ = run("orthosis", "show", "--prescription", "1", "--json")
    assert all(f["done_on"] is None for f in json.loads(out)["prescription"]["followups"])


def test_a_correction_keeps_the_measures_not_given(run: Run) -> None:
    base = (date.today() - timedelta(days=1)).isoformat()
    assert run("orthosis", "prescribe", "--patient", "1", "--device", "spinomed", "--on", base,
               "--fitted", base)[0] == 0  # fmt: skip
    assert run("orthosis", "followup", "--prescription", "1", "--visit", "baseline", "--on",
               base, "--pain", "5", "--well-being", "50")[0] == 0  # fmt: skip
    code, out, err = run("orthosis", "followup", "--prescription", "1", "--visit", "baseline",
                         "--pain", "4")  # fmt: skip
    assert code == 0, err
    assert out.strip() == f"baseline on {base}: pain 4, well_being 50"  # and its date kept
    code, out, _ = run("orthosis", "show", "--prescription", "1", "--json")
    (baseline,) = (f for f in json.loads(out)["prescription"]["followups"]
                   if f["visit"] == "baseline")  # fmt: skip
    assert baseline["measures"]["well_being"] == 50.0 and baseline["done_on"] == base


def test_a_posture_recording_is_kept_once(run: Run, tmp_path: Path) -> None:
    """The same file recorded again, or another file covering the same hours, is refused with
    one line naming the recording kept; the summary counts each hour once."""
    csv, other = tmp_path / "rec.csv", tmp_path / "other.csv"
    assert run("posture", "simulate", "--out", str(csv), "--minutes", "10", "--seed", "2")[0] == 0
    assert run("posture", "simulate", "--out", str(other), "--minutes", "10", "--seed", "3")[0] == 0
    day = (date.today() - timedelta(days=2)).isoformat()
    start = f"{day}T09:00+01:00"
    code, _, err = run("posture", "record", "--patient", "1", "--file", str(csv), "--start", start)
    assert code == 0, err
    once = json.loads(run("posture", "summary", "--patient", "1", "--json")[1])
    for f, at, needle in (
        (csv, start, "already recorded as recording 1"),
        (other, f"{day}T09:03+01:00", "overlaps recording 1"),
    ):
        code, out, err = run("posture", "record", "--patient", "1", "--file", str(f),
                             "--start", at)  # fmt: skip
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert needle in err
    code, out, _ = run("posture", "summary", "--patient", "1", "--json")
    summary = json.loads(out)
    assert len(summary["recordings"]) == 1
    assert summary["days"] == once["days"]  # wear time and reminders not doubled
    assert summary["days"][0]["wear_time_s"] > 0
