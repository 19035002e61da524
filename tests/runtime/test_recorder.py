"""Recorder: what is on disk after a clean close, an exception, and a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spinecare.runtime.recorder import (
    EMG_SAMPLES,
    TELEMETRY,
    Recorder,
    load_events,
    load_summary,
    load_telemetry,
)
from spinecare.signals.textfile import column, parse_table
from spinecare.vocab import TICK_S

COLS = ("force_n", "target_n", "phase", "seq")


def _rows_on_disk(out: Path) -> int:
    lines = (out / TELEMETRY).read_text().splitlines()
    return len(lines) - 1


def test_round_trip_with_types(tmp_path: Path) -> None:
    out = tmp_path / "s1"
    with Recorder(out, COLS, fsync=False) as rec:
        for k in range(120):
            rec.append(k * TICK_S, (100.0 + k / 3, 150.0, "ramp_up" if k < 60 else "hold", k))
        rec.event("counter_tension", 1.3, size_n=42.5, channel="force")
        rec.close({"peak_n": 150.0})
    tel = load_telemetry(out)
    assert list(tel) == ["t_s", *COLS]
    assert tel["t_s"][-1] == pytest.approx(119 * TICK_S)
    np.testing.assert_array_equal(tel["force_n"], [100.0 + k / 3 for k in range(120)])
    assert tel["seq"].dtype == np.int64
    assert tel["phase"][0] == "ramp_up" and tel["phase"][-1] == "hold"
    assert load_events(out) == [
        {"kind": "counter_tension", "t_s": 1.3, "size_n": 42.5, "channel": "force"}
    ]
    summary = load_summary(out)
    assert summary == {"peak_n": 150.0, "aborted": False, "rows": 120}


def test_rows_reach_disk_within_one_second_of_session_time(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rec = Recorder(out, ["x"], flush_every_s=1.0, fsync=False)
    for k in range(400):  # 8 s of session time
        t = k * TICK_S
        rec.append(t, [float(k)])
        rec.sync()  # the writer thread has done what it was handed
        on_disk = _rows_on_disk(out)
        if on_disk:
            last_t = load_telemetry(out)["t_s"][-1]
            assert t - last_t < 1.0 + 1e-9
        else:
            assert t < 1.0 + 1e-9
    rec.close()


def test_events_are_on_disk_immediately(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "s", ["x"], fsync=False)
    rec.event("patient_stop", 12.34, by="patient")
    rec.sync()  # queued at once; on disk as soon as the writer thread has run
    assert load_events(tmp_path / "s")[0]["kind"] == "patient_stop"
    rec.close()


def test_exception_mid_session_keeps_telemetry_and_writes_aborted_summary(
    tmp_path: Path,
) -> None:
    out = tmp_path / "s"
    with pytest.raises(RuntimeError, match="sensor stale"), Recorder(out, ["x"]) as rec:
        for k in range(30):  # 0.6 s: below one flush interval, all still buffered
            rec.append(k * TICK_S, [k])
        raise RuntimeError("sensor stale")
    assert len(load_telemetry(out)["x"]) == 30
    summary = load_summary(out)
    assert summary is not None
    assert summary["aborted"] is True
    assert "sensor stale" in summary["reason"]
    assert not (out / "summary.json.tmp").exists()


def test_refuses_to_overwrite_and_validates(tmp_path: Path) -> None:
    Recorder(tmp_path / "s", ["x"], fsync=False).close()
    with pytest.raises(FileExistsError):
        Recorder(tmp_path / "s", ["x"])
    with pytest.raises(ValueError):
        Recorder(tmp_path / "t", ["t_s"])
    rec = Recorder(tmp_path / "u", ["a", "b"], fsync=False)
    with pytest.raises(ValueError):
        rec.append(0.0, [1.0])
    rec.close()


def test_loaders_drop_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rec = Recorder(out, ["x", "y"], fsync=False)
    for k in range(60):
        rec.append(k * TICK_S, [k, 0.5])
    rec.event("a", 0.0)
    rec.flush()
    with open(out / TELEMETRY, "a") as f:
        f.write("1.22,61,0.")  # a write cut short by a kill
    with open(out / "events.jsonl", "a") as f:
        f.write('{"kind": "b", "t_')
    tel = load_telemetry(out)
    assert len(tel["x"]) == 60 and tel["x"].dtype == np.int64
    assert [e["kind"] for e in load_events(out)] == ["a"]
    assert load_summary(out) is None


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from spinecare.runtime.recorder import Recorder
    rec = Recorder(Path(sys.argv[1]), ["force_n", "phase"], flush_every_s=1.0, fsync=True)
    k = 0
    while True:
        t = k * 0.02
        rec.append(t, [100.0 + k, "hold"])
        if k % 5 == 0:
            print(repr(t), flush=True)  # the session time reached so far (a lower bound)
        k += 1
        time.sleep(0.0005)
    """
)


def test_sigkill_mid_run_loses_at_most_the_last_second(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(out)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    reached = 0.0
    try:
        for line in proc.stdout:
            reached = float(line)
            if reached >= 3.5:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert reached >= 3.5
    tel = load_telemetry(out)
    t = tel["t_s"]
    assert t[-1] >= reached - 1.0
    np.testing.assert_allclose(np.diff(t), 0.02, atol=1e-9)  # contiguous, nothing torn inside
    np.testing.assert_array_equal(tel["force_n"], 100.0 + np.arange(len(t)))
    assert load_summary(out) is None  # never closed: a reader can tell it crashed
    assert json.loads(json.dumps(load_events(out))) == []


def test_a_summary_the_disk_cannot_take_leaves_no_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import spinecare.runtime.recorder as recorder_mod

    def full_disk(obj: object, f: Any, **kw: Any) -> None:
        f.write('{"peak_n": 1')
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "s1"
    rec = Recorder(out, COLS, fsync=False)
    rec.append(0.0, (1.0, 2.0, "hold", 0))
    monkeypatch.setattr(recorder_mod.json, "dump", full_disk)
    with pytest.raises(OSError):
        rec.close({"peak_n": 1.0})
    assert sorted(p.name for p in out.iterdir() if "summary" in p.name) == []


def test_raw_samples_are_kept_one_block_per_tick(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rng = np.random.default_rng(0)
    blocks = [rng.normal(0.0, 3.0, 20) for _ in range(120)]
    with Recorder(out, ["x"], fsync=False, samples_hz=1000.0) as rec:
        for k, b in enumerate(blocks):
            t = (k + 1) * TICK_S
            rec.append(t, [float(k)])
            rec.append_samples(t, None if k == 60 else b, 20)  # tick 60 had no EMG
    text = (out / EMG_SAMPLES).read_text(encoding="utf-8")
    assert text.startswith("# spinecare session: surface EMG, microvolts, 1000 samples/s\n")
    assert "# first sample at session time 0.0000 s\n" in text
    assert (out / EMG_SAMPLES).stat().st_mode & 0o777 == 0o600
    got = column(parse_table(text), 0)  # what `emg detect` reads
    want = np.concatenate([np.full(20, np.nan) if k == 60 else b for k, b in enumerate(blocks)])
    np.testing.assert_allclose(got, want, atol=5e-4)  # three decimals of a microvolt
    summary = load_summary(out)
    assert summary is not None
    assert summary["emg_samples"] == 2400 and summary["emg_first_sample_t_s"] == 0.0


def test_samples_the_disk_cannot_take_set_the_error_and_are_kept(tmp_path: Path) -> None:
    import errno

    class FullDisk:
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None: ...

        def close(self) -> None: ...

    rec = Recorder(tmp_path / "s", ["x"], fsync=False, samples_hz=1000.0)
    rec.append(TICK_S, [0.0])
    rec.append_samples(TICK_S, np.ones(20), 20)
    real, rec._emg = rec._emg, FullDisk()  # type: ignore[assignment]
    rec.flush()
    assert isinstance(rec.error, OSError) and rec.samples_written == 0  # the session releases
    rec._emg = real  # the disk has room again: the kept samples go out at close
    rec.error = None
    rec.close()
    assert rec.samples_written == 20


def test_a_recorder_without_samples_refuses_them(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "s", ["x"], fsync=False)
    with pytest.raises(ValueError, match="no samples"):
        rec.append_samples(TICK_S, np.zeros(20), 20)
    rec.close()
    assert not (tmp_path / "s" / EMG_SAMPLES).exists()


def test_an_emg_file_already_there_is_kept_and_nothing_is_left_behind(tmp_path: Path) -> None:
    out = tmp_path / "s"
    out.mkdir()
    (out / EMG_SAMPLES).write_text("an earlier recording\n")
    with pytest.raises(FileExistsError):
        Recorder(out, ["x"], fsync=False, samples_hz=1000.0)
    assert sorted(p.name for p in out.iterdir()) == [EMG_SAMPLES]  # the directory as it was
    assert (out / EMG_SAMPLES).read_text() == "an earlier recording\n"


def test_a_directory_holding_a_record_s_file_is_refused_untouched(tmp_path: Path) -> None:
    from spinecare.runtime.recorder import RECORD_FILES

    for name in RECORD_FILES:
        out = tmp_path / name.replace(".", "_")
        out.mkdir()
        (out / name).write_text("earlier\n")
        with pytest.raises(FileExistsError, match="record already"):
            Recorder(out, ["force_n"], fsync=False)
        assert [p.name for p in out.iterdir()] == [name]
        assert (out / name).read_text() == "earlier\n"
