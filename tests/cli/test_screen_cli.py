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
