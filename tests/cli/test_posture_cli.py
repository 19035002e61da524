"""`spinecare posture`: simulate, analyse (JSON, plot), hostile files (one line, status 2) and the
live serial stream through a pseudo-terminal."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from spinecare.cli import main

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def go(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return go


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    d = tmp_path_factory.mktemp("posture")
    csv, truth = d / "rec.csv", d / "truth.json"
    assert main(["posture", "simulate", "--out", str(csv), "--minutes", "30", "--seed", "3",
                 "--truth", str(truth)]) == 0  # fmt: skip
    return csv, json.loads(truth.read_text())


def test_analyze_json_has_wear_upright_and_reminders(
    run: Run, recording: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    csv, truth = recording
    png = tmp_path / "rec.png"
    code, out, err = run("posture", "analyze", str(csv), "--json", "--plot", str(png))
    assert code == 0, err
    data = json.loads(out)
    assert data["wear_time_s"] == pytest.approx(truth["wear_time_s"], rel=0.02)
    assert 0.0 <= data["upright_fraction"] <= 1.0
    assert data["reminders"] and all(set(r) >= {"t_s"} for r in data["reminders"])
    for r in data["reminders"]:
        assert r["t_s"] - r["slump_onset_s"] > 60.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a longer delay: fewer (or as many) reminders, each after its delay
    code, out, _ = run("posture", "analyze", str(csv), "--json", "--delay-s", "120",
                       "--slump-deg", "25")  # fmt: skip
    later = json.loads(out)
    assert len(later["reminders"]) <= len(data["reminders"])
    assert all(r["t_s"] - r["slump_onset_s"] > 120.0 for r in later["reminders"])
    code, out, _ = run("posture", "analyze", str(csv))
    assert code == 0 and "reminder at" in out and "Debrunner" in out


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"a,b,c\n1,2,3\n", "header"),
        (b"t_s,ax,ay,az,gx,gy,gz\n0,1,2\n", "line 2"),
        (b"t_s,ax,ay,az,gx,gy,gz\n0,9.8,0,0,0,0,0\n0.02,9.8,x,0,0,0,0\n", "line 3: not numeric"),
        (b"\xff\xfe\x00binary", "not a text file"),
        (b"t_s,ax,ay,az,gx,gy,gz\n" + b"".join(b"%d,9.8,0,0,0,0,0\n" % i for i in range(300)),
         "sampling rate"),
    ],
)  # fmt: skip
def test_hostile_files_are_one_line_and_status_two(
    run: Run, tmp_path: Path, content: bytes, needle: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    code, out, err = run("posture", "analyze", str(f), "--json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


@pytest.mark.parametrize(
    "args",
    [
        ["posture", "analyze", "missing.csv"],
        ["posture", "analyze", "."],
        ["posture", "analyze", "{csv}", "--slump-deg", "80"],
        ["posture", "analyze", "{csv}", "--delay-s", "0"],
        ["posture", "analyze", "{csv}", "--plot", "out.jpg"],
        ["posture", "simulate", "--out", "x.csv", "--rate", "10"],
    ],
)
def test_bad_arguments_are_refused_before_work(
    run: Run, recording: tuple[Path, dict[str, object]], args: list[str]
) -> None:
    argv = [a.replace("{csv}", str(recording[0])) for a in args]
    code, _, err = run(*argv)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_live_stream_from_a_serial_port_prints_reminders(
    run: Run, recording: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """A pseudo-terminal stands in for the sensor's serial port; the stream is replayed into it
    (with a garbage line) and the command stops after the stream's length."""
    import tty

    csv, truth = recording
    lines = csv.read_text().splitlines()[1:]
    # up to shortly after the first slump long enough for a reminder
    first = next(s for s in truth["slumps"] if s["end_s"] - s["onset_s"] > 70)  # type: ignore[attr-defined]
    n = int((first["onset_s"] + 75.0) * 50)
    master, slave = os.openpty()
    tty.setraw(slave)

    def feed() -> None:
        for i in range(0, n, 500):
            os.write(master, ("\n".join(lines[i : i + 500]) + "\n").encode())
            if i == 1000:
                os.write(master, b"garbage line\r\n")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    saved = tmp_path / "live.csv"
    try:
        code, out, err = run("posture", "live", "--port", os.ttyname(slave), "--seconds",
                             str(n / 50 - 1), "--out", str(saved))  # fmt: skip
    finally:
        writer.join(timeout=30)
        os.close(master)
        os.close(slave)
    assert code == 0, err
    assert "calibrated" in out and "reminder" in out
    assert "line(s) that were not 7 numbers" in err  # the garbage line
    code, out, _ = run("posture", "analyze", str(saved), "--json")
    assert code == 0 and json.loads(out)["reminders"]
