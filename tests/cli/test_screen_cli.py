from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinecare.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def screen_json(capsys: pytest.CaptureFixture[str], name: str, region: str) -> dict[str, object]:
    code = main(["screen", "--file", str(EXAMPLES / name), "--region", region,
                 "--on", "2026-12-01", "--json"])  # fmt: skip
    assert code == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_example_patient_lumbar_eligible_cervical_implant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = screen_json(capsys, "patient.json", "lumbar")
    assert out["decision"] == "eligible"
    assert out["contraindications"] == [] and out["missing"] == []
    out = screen_json(capsys, "patient.json", "cervical")
    assert out["decision"] == "not_eligible"
    [ci] = out["contraindications"]  # type: ignore[misc]
    assert ci["code"] == "CI-13" and ci["wording"] == "Implants in the treatment section"
    assert ci["finding"]


def test_osteoporotic_fracture_goes_to_orthosis(capsys: pytest.CaptureFixture[str]) -> None:
    out = screen_json(capsys, "patient-osteoporotic-fracture.json", "lumbar")
    assert out["decision"] == "not_eligible"
    assert {c["code"] for c in out["contraindications"]} == {"CI-04", "CI-12"}  # type: ignore[attr-defined]
    assert any("orthosis" in r.lower() for r in out["recommendations"])  # type: ignore[attr-defined]


def test_incomplete_lists_missing(capsys: pytest.CaptureFixture[str]) -> None:
    out = screen_json(capsys, "patient-incomplete.json", "lumbar")
    assert out["decision"] == "incomplete"
    assert {"CI-04", "CI-11", "CI-12"} <= {m["code"] for m in out["missing"]}  # type: ignore[attr-defined]


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["screen", "--file", str(EXAMPLES / "patient.json"), "--region", "lumbar",
                 "--on", "2026-12-01"]) == 0  # fmt: skip
    assert "decision: eligible" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('{"birth_date": "2030-01-01", "sex": "F", "weight_kg": 60}', "birth_date"),
        ('{"birth_date": ', "file"),
        ('{"birth_date": "1970-01-01", "sex": "F", "weight_kg": 60, "bmd": '
         '[{"site": "femoral_neck", "bmd_g_cm2": 5}]}', "bmd"),
        ('[1, 2]', "file"),
        ("[" * 100_000 + "]" * 100_000, "file"),  # nested past Python's recursion limit
    ],
)  # fmt: skip
def test_bad_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, field: str
) -> None:
    f = tmp_path / "p.json"
    f.write_text(content)
    assert main(["screen", "--file", str(f), "--region", "lumbar", "--on", "2026-12-01"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err


def test_missing_file_and_bad_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["screen", "--file", str(tmp_path / "none.json"), "--region", "lumbar"]) == 2
    assert "file" in capsys.readouterr().err
    assert main(["screen", "--file", str(EXAMPLES / "patient.json"), "--region", "thoracic"]) == 2
    assert "region" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "value"),
    [("MIN_AGE_YEARS", "14"), ("MAX_BONE_LOSS_PERCENT", "50"),
     ("COMPRESSION_FRACTURE_DAYS", "180")],
)  # fmt: skip
def test_a_looser_clinic_setting_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: str, value: str
) -> None:
    monkeypatch.setenv(f"SPINECARE_CLINIC__SCREENING__{env}", value)
    assert main(["screen", "--file", str(EXAMPLES / "patient.json"), "--region", "lumbar",
                 "--on", "2026-12-01"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"clinic.screening.{env.lower()}" in err and "may only tighten" in err


def test_a_stricter_clinic_setting_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((EXAMPLES / "patient.json").read_text())
    data.update(birth_date="2006-05-14", pregnant=False)  # 20 on 2026-12-01
    f = tmp_path / "p.json"
    f.write_text(json.dumps(data))
    args = ["screen", "--file", str(f), "--region", "lumbar", "--on", "2026-12-01", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "eligible"
    monkeypatch.setenv("SPINECARE_CLINIC__SCREENING__MIN_AGE_YEARS", "21")
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["code"] for c in out["contraindications"]] == ["CI-03"]


def test_the_date_as_the_clinic_types_it(capsys: pytest.CaptureFixture[str]) -> None:
    """--date (old name --on) takes 2026-12-01 or 01.12.2026 alike; a wrong one names --date."""
    iso = screen_json(capsys, "patient.json", "lumbar")
    args = ["screen", "--file", str(EXAMPLES / "patient.json"), "--region", "lumbar", "--json"]
    assert main([*args, "--date", "01.12.2026"]) == 0
    assert json.loads(capsys.readouterr().out) == iso
    assert main([*args, "--date", "31.02.2026"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --date:") and "31.02.2026" in err


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"birth_date": "1850-01-01"}, "birth_date"),
        ({"birth_date": "2099-01-01"}, "birth_date"),
        ({"sex": "M", "premenopausal": True}, "premenopausal"),
        ({"birth_date": "2023-06-01", "weight_kg": 80}, "weight_kg"),
    ],
)
def test_a_file_is_held_to_what_a_stored_patient_must_be(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, change: dict[str, object], field: str
) -> None:
    """A patient in a file that could not be stored is refused, not screened "eligible"."""
    data = json.loads((EXAMPLES / "patient.json").read_text()) | change
    file = tmp_path / "p.json"
    file.write_text(json.dumps(data))
    assert main(["screen", "--file", str(file), "--region", "lumbar"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {field}:") and err.count("\n") == 1, err
