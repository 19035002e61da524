"""`spinecare session curve` and the mode options of `session run` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinecare.cli import main

SHORT = ["--minutes", "3"]


def curve_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["session", "curve", *SHORT, *args, "--json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


@pytest.mark.parametrize(
    ("args", "mode"),
    [
        ([], "intermittent"),
        (["--mode", "static"], "static"),
        (["--mode", "cyclic"], "cyclic"),
        (["--progressive-steps", "1"], "intermittent"),
        (["--ramp", "logarithmic"], "intermittent"),
        (["--oscillation", "10", "--oscillation-hz", "0.1"], "intermittent"),
    ],
)
def test_the_curve_ahead_of_time_for_each_mode(
    capsys: pytest.CaptureFixture[str], args: list[str], mode: str
) -> None:
    c = curve_json(capsys, *args)
    assert c["mode"] == mode
    targets = c["target_n"]
    assert isinstance(targets, list) and len(targets) == len(c["t_s"])  # type: ignore[arg-type]
    peak = c["peak_force_n"]
    assert peak - 0.5 <= max(targets) <= peak  # type: ignore[operator]
    assert c["max_rise_n_s"] <= 50.0  # type: ignore[operator]
    assert c["cycles"] and c["segment"] == "L4/5"


def test_the_curve_in_words_and_as_a_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "curve.png"
    args = ["session", "curve", *SHORT, "--mode", "static", "--png", str(png)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith("mode static (linear)")
    assert "rise limit 50 N/s" in text and "(model estimate)" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--mode", "spiral"], "mode"),
        (["--ramp", "cubic"], "ramp"),
        (["--log-factor", "9", "--ramp", "logarithmic"], "log_ramp_factor"),
        (["--log-factor", "4", "--ramp", "logarithmic"], "log_ramp_factor"),  # 60 N/s > 50
        (["--oscillation", "60"], "oscillation_amplitude_n"),
        (["--oscillation", "20"], "oscillation_amplitude_n"),  # > 5% of the peak
        (["--mode", "cyclic", "--oscillation", "3"], "oscillation_amplitude_n"),
        (["--oscillation", "5", "--oscillation-hz", "1"], "oscillation_hz"),
        (["--progressive-steps", "11"], "progressive_steps"),
        (["--regressive-steps", "-1"], "regressive_steps"),
        (["--progressive-steps", "3"], "progressive_steps"),  # 3 cycles take more than 3 min
        (["--step", "0"], "step"),
    ],
)
def test_bad_mode_options_are_refused_with_the_field(
    capsys: pytest.CaptureFixture[str], args: list[str], field: str
) -> None:
    assert main(["session", "curve", *SHORT, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {field}") and err.count("\n") == 1


def test_a_session_runs_in_a_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    args = ["session", "run", "--minutes", "2", "--fast", "--seed", "3", "--mode", "static"]
    assert main([*args, "--ramp", "logarithmic", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["completed"] and summary["limit_violations"] == 0
    assert summary["protocol"]["mode"] == "static"
    assert summary["protocol"]["ramp_shape"] == "logarithmic"
    assert json.loads((out / "summary.json").read_text())["protocol"]["mode"] == "static"


def test_a_course_session_keeps_its_planned_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["session", "run", "--course-session", "1", "--as", "dr_a", "--mode", "cyclic"]
    assert main([*args, "--out", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err.startswith("error: mode:")
    assert not (tmp_path / "c").exists()
