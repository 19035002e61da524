"""`spinecare session run` as a user runs it (SAF-15, SAF-16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinecare.cli import main

REQUIRED = {
    "peak_force_n",
    "limit_violations",
    "guarding_detected",
    "guarding_true",
    "false_stops",
    "hold_within_10pct",
    "base_tension_lost_s",
    "timing",
}


def test_fast_session_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s1"
    code = main(
        [
            "session",
            "run",
            "--region",
            "cervical",
            "--weight",
            "70",
            "--segment",
            "C5/6",
            "--minutes",
            "3",
            "--fast",
            "--seed",
            "4",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary.keys() >= REQUIRED
    assert {"period_error_ms_p50", "period_error_ms_p99", "period_error_ms_max", "overruns"} <= (
        summary["timing"].keys()
    )
    assert summary["simulated"] is True  # SAF-16
    assert summary["completed"] and summary["limit_violations"] == 0
    assert summary["peak_force_n"] <= summary["hard_limit_n"]
    for name in ("telemetry.csv", "events.jsonl", "summary.json", "force.png"):
        assert (out / name).stat().st_size > 0
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["guarding_true"] == summary["guarding_true"]
    assert (out / "force.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--weight", "20"], "weight"),
        (["--region", "thoracic"], "region"),
        (["--segment", "C5/6"], "segment"),
        (["--peak", "900"], "peak_force_n"),
        (["--minutes", "90"], "minutes"),
        (["--table", "tilted"], "table"),
        (["--angle", "80"], "pull_angle_deg"),
    ],
)
def test_invalid_arguments_start_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], field: str
) -> None:
    out = tmp_path / "never"
    code = main(["session", "run", "--fast", "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and field in err
    assert not out.exists()  # nothing was started or written
