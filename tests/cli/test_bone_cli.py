from __future__ import annotations

import json

import pytest

from spinecare.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["bone", "classify", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_reference_case(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--site", "femoral_neck", "--sex", "F", "--age", "70", "--bmd", "0.558")
    assert out["t_score"] == -2.5
    assert out["z_score"] is None
    assert out["score_used"] == "T"
    assert out["who_class"] == "osteoporosis"
    assert out["percent_young_adult_mean"] == 65.0
    assert out["bone_loss_percent"] == 35.0
    assert out["exceeds_seed_bone_loss_threshold"] is False
    assert out["dvo2017_treatment_threshold_t"] == -2.5


def test_t_score_input_and_fracture(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(
        capsys, "--site", "total_hip", "--sex", "M", "--age", "82", "--t-score", "-3.6",
        "--fragility-fracture", "--weight", "70",
    )  # fmt: skip
    assert out["who_class"] == "severe_osteoporosis"
    assert out["exceeds_seed_bone_loss_threshold"] is True
    assert out["ost"] == -2


def test_z_score_for_premenopausal_woman(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(
        capsys, "--site", "lumbar_spine", "--sex", "F", "--age", "42", "--bmd", "0.78",
        "--z-score", "-2.3", "--premenopausal",
    )  # fmt: skip
    assert out["score_used"] == "Z"
    assert out["who_class"] == "below_expected_range"


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bone", "classify", "--site", "femoral_neck", "--sex", "F", "--age", "70",
                 "--bmd", "0.558"]) == 0  # fmt: skip
    assert "who_class: osteoporosis" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--site", "knee", "--bmd", "0.6"], "site"),
        (["--site", "femoral_neck", "--bmd", "0"], "bmd"),
        (["--site", "femoral_neck", "--bmd", "5"], "bmd"),
        (["--site", "femoral_neck"], "bmd"),
    ],
)
def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], args: list[str], field: str) -> None:
    assert main(["bone", "classify", "--sex", "F", "--age", "70", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err


def test_age_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bone", "classify", "--site", "femoral_neck", "--sex", "F", "--age", "12",
                 "--bmd", "0.6"]) == 2  # fmt: skip
    assert "age" in capsys.readouterr().err


def test_a_woman_under_50_without_a_status_is_premenopausal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/bone.md: Z-score and no WHO class unless --postmenopausal is given."""
    from spinecare.cli import main

    base = ["bone", "classify", "--site", "femoral_neck", "--sex", "F", "--age", "45",
            "--t-score", "-2.6", "--json"]  # fmt: skip
    assert main(base) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score_used"] == "Z" and out["who_class"] is None
    assert main([*base, "--postmenopausal"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score_used"] == "T" and out["who_class"] == "osteoporosis"
