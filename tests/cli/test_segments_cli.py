"""`spinecare segments`: output a user reads and exit status 2 on bad input."""

from __future__ import annotations

import json

import pytest

from spinecare.cli import main


def test_table_output_says_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segments", "--weight", "80", "--force", "300", "--angle", "15"]) == 0
    out = capsys.readouterr().out
    assert "model estimate, not a measurement" in out
    assert "L4/5" in out and "friction loss" in out and "assumptions:" in out


def test_json_shape_with_target(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["segments", "--weight", "80", "--force", "300", "--angle", "15"]
    assert main([*argv, "--target", "L4-5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"segments", "transmitted_n", "friction_n", "angle_deg", "assumptions"} <= data.keys()
    assert data["angle_deg"] == 15.0
    assert data["target"] == "L4/5"
    assert 0.0 <= data["recommended_angle_deg"] <= 30.0
    assert [s["segment"] for s in data["segments"]] == ["L1/2", "L2/3", "L3/4", "L4/5", "L5/S1"]
    assert all({"segment", "axial_n", "shear_n"} <= s.keys() for s in data["segments"])
    assert data["transmitted_n"] + data["friction_n"] == pytest.approx(300.0, abs=0.02)


def test_target_without_angle_uses_recommended(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["segments", "--weight", "80", "--force", "80", "--region", "cervical"]
    assert main([*argv, "--target", "C6/7", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["angle_deg"] == data["recommended_angle_deg"]
    assert 15.0 <= data["angle_deg"] <= 35.0


def test_json_without_target_has_no_recommendation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segments", "--weight", "80", "--force", "300", "--angle", "0", "--json"]) == 0
    assert "recommended_angle_deg" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--weight", "0", "--force", "300", "--angle", "15"], "weight"),
        (["--weight", "80", "--force", "300", "--angle", "90"], "angle"),
        (["--weight", "80", "--force", "2000", "--angle", "15"], "force"),
        (["--weight", "80", "--force", "300", "--target", "C5/6"], "target"),
        (["--weight", "80", "--force", "300"], "angle"),
        (["--weight", "80", "--force", "300", "--angle", "5", "--region", "neck"], "region"),
    ],
)
def test_bad_input_exits_2_naming_the_field(
    extra: list[str], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["segments", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert field in err
