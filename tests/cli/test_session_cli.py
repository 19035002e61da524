"""`spinecare session run` as a user runs it (SAF-15, SAF-16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinecare.cli import main

REQUIRED = {
    "schema_version",
    "peak_force_n",
    "limit_violations",
    "guarding_detected",
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
    # The simulated patient's ground truth is reported apart, never in the clinical summary.
    assert {"guarding_true", "false_stops"} <= summary["truth"].keys()
    on_disk = json.loads((out / "summary.json").read_text())
    assert "guarding_true" not in on_disk and "truth" not in on_disk
    truth = json.loads((out / "truth.json").read_text())
    assert truth["guarding_true"] == summary["truth"]["guarding_true"]
    assert (out / "force.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--weight", "20"], "weight"),
        (["--region", "thoracic"], "region"),
        (["--segment", "C5/6"], "segment"),
        (["--peak", "900"], "peak_force_n"),
        (["--minutes", "90"], "minutes"),
        (["--minutes", "0"], "minutes"),
        (["--minutes", "-1"], "minutes"),
        (["--minutes", "nan"], "minutes"),
        (["--minutes", "inf"], "minutes"),
        (["--weight", "nan"], "weight"),
        (["--clinician-max", "0"], "clinician-max"),
        (["--clinician-max", "nan"], "clinician-max"),
        (["--speed", "0.5"], "speed"),
        (["--table", "tilted"], "table"),
        # named as the option typed, whichever check refuses it
        (["--angle", "80"], "angle:"),
        (["--angle", "45"], "angle:"),
        (["--angle", "-1"], "angle:"),
        # options that would be silently ignored
        (["--course-session", "1", "--peak", "600"], "peak"),
        (["--course-session", "1", "--weight", "60"], "weight"),
        (["--course-session", "1", "--session-number", "3"], "session-number"),
        (["--as", "dr_a"], "as"),
        (["--log-factor", "2"], "log-factor"),
        (["--oscillation-hz", "0.3"], "oscillation-hz"),
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


def test_ctrl_c_is_the_patient_stop(tmp_path: Path) -> None:
    """A real process, paced at 20x real time, interrupted as a user would with Ctrl-C."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spinecare.cli",
            "session",
            "run",
            "--minutes",
            "5",
            "--speed",
            "20",
            "--seed",
            "2",
            "--out",
            str(out),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Wait until the session is well under way (the base tension is reached after ~12 s of
        # session time, 0.6 s of wall time at 20x).
        while time.monotonic() < deadline:
            tel = out / "telemetry.csv"
            if tel.exists() and tel.stat().st_size > 20_000:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, stderr  # stopped: its own exit status (README)
    summary = json.loads(stdout)
    assert summary["stopped"] is True and "Ctrl-C" in summary["stop_reason"]
    assert summary["aborted"] is True and summary["limit_violations"] == 0
    assert json.loads((out / "summary.json").read_text())["stopped"] is True


def test_ctrl_c_pressed_again_and_again_never_cuts_the_release_short(tmp_path: Path) -> None:
    """The first press stops, the second interrupts (exit 130, one line); a third one used to
    end the release with the force still commanded."""
    import signal
    import subprocess
    import sys
    import time

    from spinecare.runtime.recorder import load_telemetry

    out = tmp_path / "again"
    args = ["session", "run", "--minutes", "1", "--speed", "5", "--seed", "2", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "spinecare.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # under way: the base tension is reached
            tel = out / "telemetry.csv"
            if tel.exists() and tel.stat().st_size > 40_000:
                break
            time.sleep(0.1)
        for _ in range(4):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in stderr, stderr
    tel = load_telemetry(out)
    assert tel["commanded_n"][-1] == 0.0 and tel["measured_n"][-1] < 5.0


def test_plain_summary_for_the_clinician(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plain"
    code = main(["session", "run", "--fast", "--minutes", "2", "--seed", "5", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "session: completed" in text and "hard limit" in text
    assert "model estimate" in text and str(out) in text


def test_clinician_limit_below_the_peak_becomes_the_operating_peak(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["session", "run", "--fast", "--minutes", "4", "--seed", "8", "--peak", "380",
         "--base", "100", "--clinician-max", "300", "--out", str(tmp_path / "c"), "--json"]
    )  # fmt: skip
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert s["hard_limit_n"] == 300.0 and s["clinician_max_force_n"] == 300.0
    assert s["final_peak_target_n"] <= 300.0
    assert s["limit_violations"] == 0 and s["hold_within_10pct"] >= 0.95
    assert "clinician" not in s["clamps"]  # the controller planned within the limit


@pytest.mark.slow
def test_a_real_time_session_starts_without_a_fault_on_a_cold_start(tmp_path: Path) -> None:
    """The CLI's default: real time on the monotonic clock. A fresh numba cache forces every
    kernel to compile; that must happen before the first tick, never inside the 20 ms loop."""
    import os
    import subprocess
    import sys

    out = tmp_path / "rt"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    proc = subprocess.run(
        [
            sys.executable, "-m", "spinecare.cli", "session", "run", "--region", "lumbar",
            "--weight", "80", "--segment", "L4/5", "--minutes", "0.1", "--emg",
            "--out", str(out), "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["completed"] and summary["faults"] == []
    assert summary["timing"]["clock"] == "MonotonicClock"
    assert summary["timing"]["ticks"] >= 300


def test_a_session_with_emg_keeps_its_raw_samples_for_emg_detect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A clinic reviews a session's counter-tension from its own record: the raw sEMG the loop
    # received is in emg.txt, and `emg detect` over it finds each EMG-detected onset the
    # session logged, at the same tick (the very detector, the same samples).
    out = tmp_path / "s"
    args = ["session", "run", "--region", "lumbar", "--weight", "80", "--segment", "L4/5"]
    code = main([*args, "--minutes", "1.5", "--fast", "--emg", "--seed", "3", "--out", str(out)])
    assert code == 0
    capsys.readouterr()
    events = [json.loads(ln) for ln in (out / "events.jsonl").read_text().splitlines()]
    by_emg = [e["t_s"] for e in events if e["kind"] == "guarding_onset" and e["source"] == "emg"]
    assert by_emg  # the simulated patient guards in its first hold (seed 3)
    assert (out / "emg.txt").stat().st_mode & 0o777 == 0o600  # patient data, like the rest
    head = (out / "emg.txt").read_text().splitlines()[:3]
    assert head[1] == "# replay: spinecare emg detect emg.txt --rate 1000"
    t0 = float(head[2].removeprefix("# first sample at session time ").removesuffix(" s"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["emg_first_sample_t_s"] == pytest.approx(t0)
    assert summary["emg_samples"] == summary["rows"] * 20  # one 20 ms block per tick
    # the directory stays a valid session record: export, record and close read its summary
    assert main(["export", "session", "--dir", str(out), "--out", str(tmp_path / "x")]) == 0
    capsys.readouterr()
    assert (tmp_path / "x" / "emg.txt").read_bytes() == (out / "emg.txt").read_bytes()
    code = main(["emg", "detect", str(out), "--rate", "1000", "--json"])  # its directory
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["first_sample_session_t_s"] == pytest.approx(t0)  # read from the file's header
    replayed = [t0 + b["reported_s"] for b in doc["bursts"]]
    for t in by_emg:
        assert min(abs(r - t) for r in replayed) < 1e-6, (t, replayed)
    # Each EMG event also carries the detector's back-dated start of the rise, before the tick
    # that stopped the distraction (docs/controller.md): the onset line the estimate the stop
    # was made with, the episode's complete record the one refined 0.1 s later, which is the
    # replay's onset_s.
    onset_lines = [e for e in events if e["kind"] == "guarding_onset" and e["source"] == "emg"]
    assert all(e["emg_onset_s"] < e["t_s"] for e in onset_lines)
    records = [g for g in summary["guarding_events"] if g["source"] == "emg"]
    assert records and all(g["emg_onset_s"] < g["onset_s"] for g in records)
    refined = 0
    for g in records:
        near = [b for b in doc["bursts"] if abs(t0 + b["reported_s"] - g["onset_s"]) < 1e-6]
        if near:
            assert g["emg_onset_s"] == pytest.approx(t0 + near[0]["onset_s"], abs=1.5e-3)
            refined += 1
    assert refined


def test_a_session_without_emg_writes_no_emg_file(tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["session", "run", "--region", "lumbar", "--weight", "80", "--segment", "L4/5"]
    assert main([*args, "--minutes", "0.5", "--fast", "--out", str(out)]) == 0
    assert not (out / "emg.txt").exists()
    assert json.loads((out / "summary.json").read_text()).get("emg_samples") is None


def test_a_session_without_out_keeps_its_record_in_a_private_data_directory_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other command refused a shared data directory; `session run` wrote its record
    there, and on a bad setting fell back to ./runs without a word."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("SPINECARE_DATA_DIR", str(shared))
    code = main(["session", "run", "--minutes", "0.2", "--fast"])
    assert code == 2 and "shared with other accounts" in capsys.readouterr().err
    assert list(shared.iterdir()) == []
    monkeypatch.setenv("SPINECARE_DATA_DIR", "")
    monkeypatch.chdir(tmp_path)
    code = main(["session", "run", "--minutes", "0.2", "--fast"])
    assert code == 2 and "empty" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_session_without_a_completed_hold_says_n_a(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "short"
    assert main(["session", "run", "--minutes", "1", "--fast", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "None" not in text and "hold within +/-10%: n/a" in text
