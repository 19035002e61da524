"""How `spinecare session run` ends when something outside the session ends it: the process
is told to terminate, or the output disk fills up. The table is released under control either
way, and what the user reads says what is there and what is not."""

from __future__ import annotations

import csv
import io
import json
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spinecare.cli.session import _Monitor
from spinecare.runtime.session import TickView
from spinecare.therapy.protocol import default_protocol
from spinecare.vocab import Region

CLI = [sys.executable, "-m", "spinecare.cli"]


def _wait_for_telemetry(out: Path, proc: subprocess.Popen[str], size: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        tel = out / "telemetry.csv"
        if tel.exists() and tel.stat().st_size > size:
            return
        time.sleep(0.1)
    raise AssertionError("the session did not get under way")


def _default_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _ignore_sighup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _signalled_session(
    out: Path, minutes: int, preexec: Callable[[], None], sig: int, started: int, wait_s: float
) -> tuple[int, str, str]:
    """Run a fast session, send ``sig`` once it is under way; its status, stdout and stderr."""
    proc = subprocess.Popen(
        [*CLI, "session", "run", "--minutes", str(minutes), "--speed", "20", "--seed", "2",
         "--out", str(out), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )  # fmt: skip
    try:
        _wait_for_telemetry(out, proc, started)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=wait_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stdout, stderr


def test_a_session_started_under_nohup_keeps_running_when_its_terminal_closes(
    tmp_path: Path,
) -> None:
    """``nohup spinecare session run``: the user asked for the session to outlive the terminal,
    so SIGHUP stays ignored and the session runs to its end (status 0)."""
    status, stdout, stderr = _signalled_session(
        tmp_path / "nohup", 1, _ignore_sighup, signal.SIGHUP, 5_000, 120
    )
    assert status == 0, stderr
    assert json.loads(stdout)["stopped"] is False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_session_releases_the_table_like_a_stop(tmp_path: Path, sig: int) -> None:
    """A service manager's SIGTERM or a closed terminal's SIGHUP: the controlled release, the
    summary, and the stop's exit status, never a process dying with the table pulling."""
    out = tmp_path / "terminated"
    # As from a terminal: a test run under nohup would hand down "ignore SIGHUP", which the
    # session keeps (test above).
    status, stdout, stderr = _signalled_session(out, 5, _default_signals, sig, 20_000, 60)
    assert status == 4, stderr
    summary = json.loads(stdout)
    assert summary["stopped"] is True and signal.Signals(sig).name in summary["stop_reason"]
    rows = list(csv.DictReader((out / "telemetry.csv").open()))
    last = rows[-1]
    assert last["phase"] == "stopped" and float(last["commanded_n"]) == 0.0
    assert float(last["measured_n"]) < 5.0


def test_a_full_disk_releases_the_table_and_says_what_was_not_written(tmp_path: Path) -> None:
    """Every file limited to 40 kB (as a nearly full disk): telemetry and the chart cannot be
    written in full. The session faults and releases (status 5); the plain summary lists only
    the files that are there, says why the rest are not, and no half-written chart is left."""
    out = tmp_path / "full"
    limit = 40_000

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a dead process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [*CLI, "session", "run", "--fast", "--minutes", "2", "--seed", "3", "--out", str(out)],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        timeout=120,
        check=False,
    )
    assert done.returncode == 5, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    text = done.stdout
    assert "telemetry incomplete" in text and "fault at" in text
    assert "force chart not written" in text
    listed = next(line for line in text.splitlines() if line.startswith("output: "))
    assert "force.png" not in listed and "summary.json" in listed
    assert not (out / "force.png").exists()  # no truncated chart
    summary = json.loads((out / "summary.json").read_text())
    assert summary["faulted"] and summary["telemetry_complete"] is False


def _view(phase: str, *, ended: bool, force: float) -> TickView:
    return TickView(
        t_s=10.0, phase=phase, target_n=0.0, commanded_n=force, measured_n=force,
        muscle_tension_n=0.0, emg_envelope_uv=0.0, segment_force_n=0.0, time_left_s=0.0,
        guarding_events=0, peak_n=261.5, flags=(), ended=ended,
        end_reason="stopped: patient stop (Ctrl-C)" if ended else "",
    )  # fmt: skip


def _text(monitor: _Monitor, view: TickView | None) -> str:
    from rich.console import Console

    screen = io.StringIO()
    Console(file=screen, width=120, color_system=None).print(monitor._render(view))
    return screen.getvalue()


@pytest.mark.parametrize(
    ("phase", "releasing", "released"),
    [
        ("stopped", "STOPPED: releasing to zero", "STOPPED: released"),
        ("fault", "FAULT: releasing to zero", "FAULT: released"),
    ],
)
def test_the_monitor_shows_the_stop_and_the_release(
    phase: str, releasing: str, released: str
) -> None:
    """After a stop or a fault the monitor says so while the table releases and once it is
    slack, never the phase it was in when the stop came."""
    monitor = _Monitor(enabled=False, fast=False, speed=1.0)
    monitor.proto = default_protocol(Region.LUMBAR, 80.0, "L4/5")
    during = _text(monitor, _view(phase, ended=False, force=120.0))
    assert releasing in during and "hold" not in during
    after = _text(monitor, _view(phase, ended=True, force=0.4))
    assert released in after and "stopped: patient stop" in after


@pytest.mark.parametrize(("simulated", "shown"), [(True, "simulated table"), (False, "real table")])
def test_the_monitor_names_the_table_it_drives(simulated: bool, shown: str) -> None:
    """SAF-16: a simulated table is never shown as a real one (nor the reverse)."""
    monitor = _Monitor(enabled=False, fast=False, speed=1.0)
    monitor.proto = default_protocol(Region.LUMBAR, 80.0, "L4/5")
    monitor.simulated = simulated
    text = _text(monitor, None)
    assert shown in text
    assert ("real table" in text) is not simulated


def test_a_directory_holding_another_record_is_refused_and_left_as_it_was(
    cli: Any, tmp_path: Path
) -> None:
    """Only an existing telemetry.csv used to be refused: a session then appended its events
    to a foreign events.jsonl and replaced a summary.json."""
    for name in ("events.jsonl", "summary.json", "emg.txt"):
        out = tmp_path / name.replace(".", "_")
        out.mkdir()
        (out / name).write_text('{"kind": "bogus"}\n')
        code, _, err = cli(
            "session", "run", "--region", "lumbar", "--weight", "80", "--segment", "L4/5",
            "--minutes", "0.2", "--fast", "--emg", "--out", str(out),
        )  # fmt: skip
        assert code == 2 and f"holds a session's record already ({name})" in err, err
        assert sorted(p.name for p in out.iterdir()) == [name]
        assert (out / name).read_text() == '{"kind": "bogus"}\n'
