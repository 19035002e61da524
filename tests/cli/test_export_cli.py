"""`spinecare export session|course|patient` and `spinecare import dxa`: open data a user writes
and reads from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

Run = Callable[..., tuple[int, str, str]]
CODES = [f"CI-{i:02d}" for i in range(1, 14)]
DXA_CSV = """measured_on,site,bmd_g_cm2,t_score,z_score,device,manufacturer
2026-10-01,lumbar_spine,0.780,-2.9,-2.1,Lunar iDXA,GE
2026-10-01,femoral_neck,0.440,,,Lunar iDXA,GE
"""


def _patient(cli: Run, name: str) -> str:
    code, out, err = cli(
        "patients", "add", "--name", name, "--birth-date", "1958-03-02", "--sex", "F",
        "--weight", "68", "--height", "164", "--insurance", "private", "--menopausal", "post",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    pid = str(json.loads(out)["id"])
    for c in CODES:
        code, _, err = cli("findings", "add", "--patient", pid, "--code", c, "--absent")
        assert code == 0, err
    code, _, err = cli("findings", "no-fractures", "--patient", pid, "--on", "2026-11-20")
    assert code == 0, err
    return pid


def _screen(cli: Run, pid: str) -> dict[str, object]:
    code, out, err = cli(
        "screen", "--patient", pid, "--region", "lumbar", "--on", "2026-12-01", "--json"
    )
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def _classify(cli: Run, site: str, value: list[str]) -> dict[str, object]:
    code, out, err = cli(
        "bone", "classify", "--site", site, "--sex", "F", "--age", "68", *value,
        "--weight", "68", "--json",
    )  # fmt: skip
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def test_import_dxa_gives_screening_and_bone_classify_the_typed_answers(
    cli_doc: Run, tmp_path: Path
) -> None:
    typed, imported = _patient(cli_doc, "Typed Muster"), _patient(cli_doc, "Imported Muster")
    for line in DXA_CSV.splitlines()[1:]:
        day, site, bmd, t, z, device, _ = line.split(",")
        args = ["--bmd", bmd] + (["--t-score", t] if t else []) + (["--z-score", z] if z else [])
        code, _, err = cli_doc("findings", "bmd", "--patient", typed, "--site", site, "--date",
                               day, "--device", device, *args)  # fmt: skip
        assert code == 0, err
    f = tmp_path / "dxa.csv"
    f.write_text(DXA_CSV)
    code, out, err = cli_doc("import", "dxa", str(f), "--patient", imported, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert len(report["stored"]) == 2 and report["skipped"] == []
    a, b = _screen(cli_doc, typed), _screen(cli_doc, imported)
    assert a == b and a["decision"] == "not_eligible"
    # Each imported site is rated exactly as `bone classify` rates its values; where the
    # report printed a T-score, that one wins over the one computed from the BMD
    # (docs/interop.md) and is the one shown.
    for item in report["stored"]:
        t, rating = item["t_score"], item["assessment"]
        if t is None:
            ref = _classify(cli_doc, item["site"], ["--bmd", str(item["bmd_g_cm2"])])
            assert {k: ref[k] for k in rating} == rating
        else:
            ref = _classify(cli_doc, item["site"], ["--t-score", str(t)])
            assert rating["t_score"] == float(t) == ref["t_score"]
            assert rating["who_class"] == ref["who_class"]
    # Again: nothing stored twice.
    code, out, _ = cli_doc("import", "dxa", str(f), "--patient", imported, "--json")
    assert code == 0 and json.loads(out)["stored"] == []
    # The patient's FHIR bundle exports and imports back (its DXA part) unchanged.
    bundle_path = tmp_path / "patient.json"
    code, out, err = cli_doc("export", "patient", imported, "--out", str(bundle_path), "--json")
    assert code == 0, err
    assert json.loads(out)["Observation"] == 4  # lumbar BMD, T, Z; femoral neck BMD
    Bundle.model_validate_json(bundle_path.read_text())
    # Into another patient the bundle is refused: it names whose results they are.
    third = _patient(cli_doc, "Third Muster")
    code, out, err = cli_doc("import", "dxa", str(bundle_path), "--patient", third, "--json")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert (
        f"Patient.identifier: item 1 entry 1: names patient {imported}, not patient {third}" in err
    )
    # The same results without the patient's identification go to the patient named.
    doc = json.loads(bundle_path.read_text())
    doc["entry"] = [e for e in doc["entry"] if e["resource"]["resourceType"] == "Observation"]
    for e in doc["entry"]:
        del e["resource"]["subject"]
    anonymous = tmp_path / "results-only.json"
    anonymous.write_text(json.dumps(doc))
    code, out, err = cli_doc("import", "dxa", str(anonymous), "--patient", third, "--json")
    assert code == 0, err
    assert _screen(cli_doc, third) == a


def test_import_refuses_bad_files_with_one_line(cli_doc: Run, tmp_path: Path) -> None:
    pid = _patient(cli_doc, "Bad Files")
    bad = tmp_path / "bad.csv"
    bad.write_text("measured_on,site,t_score\n2026-01-01,knee,-1\n")
    code, _, err = cli_doc("import", "dxa", str(bad), "--patient", pid)
    assert code == 2 and "site: line 2" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli_doc("import", "dxa", str(tmp_path / "missing.csv"), "--patient", pid)
    assert code == 2 and "file: not found" in err
    empty = tmp_path / "obs.json"
    empty.write_text(json.dumps([{"resourceType": "Patient"}]))
    code, _, err = cli_doc("import", "dxa", str(empty), "--patient", pid)
    assert code == 2 and "no DXA result in it" in err
    code, _, err = cli_doc("export", "course", "999", "--out", str(tmp_path / "c.zip"))
    assert code == 1 and "course" in err and not (tmp_path / "c.zip").exists()


def test_export_a_session_directory(cli: Run, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    code, _, err = cli("session", "run", "--fast", "--minutes", "0.3", "--out", str(run_dir),
                       "--json")  # fmt: skip
    assert code == 0, err
    out = tmp_path / "open"
    code, stdout, err = cli("export", "session", "--dir", str(run_dir), "--out", str(out),
                            "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["files"] == ["session.json", "summary.csv", "telemetry.csv"]
    doc = json.loads((out / "session.json").read_text())
    assert doc["summary"]["completed"] and doc["telemetry"]["units"]["measured_n"] == "N"
    # Never over existing files unless asked.
    code, _, err = cli("export", "session", "--dir", str(run_dir), "--out", str(out))
    assert code == 2 and "--overwrite" in err
    code, _, err = cli("export", "session", "--out", str(out))
    assert code == 2 and "give a session id or --dir" in err


def test_import_reads_a_dxa_csv_saved_by_german_excel(cli_doc: Run, tmp_path: Path) -> None:
    """Windows-1252, semicolons, decimal comma, DD.MM.YYYY: what Excel saves as "CSV"."""
    pid = _patient(cli_doc, "Excel Muster")
    f = tmp_path / "DXA-Befund.csv"
    f.write_bytes(
        "measured_on;site;bmd_g_cm2;t_score;device\r\n"
        "02.03.2026;lumbar_spine;0,912;-1,8;Gerät Süd\r\n".encode("cp1252")
    )
    code, out, err = cli_doc("import", "dxa", str(f), "--patient", pid, "--json")
    assert code == 0, err
    (stored,) = json.loads(out)["stored"]
    assert stored["measured_on"] == "2026-03-02" and stored["device"] == "Gerät Süd"
    assert float(stored["bmd_g_cm2"]) == 0.912 and float(stored["t_score"]) == -1.8


def _run(cli: Run, out: Path, *extra: str) -> None:
    code, _, err = cli("session", "run", "--fast", "--minutes", "0.3", "--out", str(out),
                       "--json", *extra)  # fmt: skip
    assert code == 0, err


def test_an_overwriting_export_that_fails_leaves_the_old_export_whole(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk on the third file: the directory still holds the first export, every file
    of it, never telemetry of one session and session.json of the other."""
    import errno

    from spinecare.store import files

    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "open"
    _run(cli, first)
    _run(cli, second, "--seed", "9")
    code, _, err = cli("export", "session", "--dir", str(first), "--out", str(out))
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["session.json", "summary.csv", "telemetry.csv"]
    real, calls = files.write_private, []

    def full_disk(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(files, "write_private", full_disk)
    code, _, err = cli("export", "session", "--dir", str(second), "--out", str(out),
                       "--overwrite")  # fmt: skip
    assert code == 10 and "Nothing was finished there" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary file either
    monkeypatch.setattr(files, "write_private", real)
    code, _, err = cli("export", "session", "--dir", str(second), "--out", str(out),
                       "--overwrite")  # fmt: skip
    assert code == 0, err
    after = json.loads((out / "session.json").read_text())["directory"]
    assert after == str(second.resolve()) and sorted(p.name for p in out.iterdir()) == sorted(
        before
    )


def test_a_session_without_telemetry_exports_its_events(cli: Run, tmp_path: Path) -> None:
    run, out = tmp_path / "run", tmp_path / "open"
    _run(cli, run)
    events = (run / "events.jsonl").read_text().splitlines()
    (run / "telemetry.csv").unlink()
    code, _, err = cli("export", "session", "--dir", str(run), "--out", str(out), "--json")
    assert code == 0, err
    doc = json.loads((out / "session.json").read_text())
    assert len(doc["events"]) == len(events) > 0
    assert doc["telemetry_error"].startswith("no telemetry.csv")
