"""`spinecare table serve-sim|probe` and `session run --device`: what a user runs from the
README, against the simulated table served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spinecare.cohort.run import VirtualSession, make_table
from spinecare.devices.modbus_sim import SimTableServer, sim_identity
from spinecare.vocab import Region

Cli = Callable[..., tuple[int, str, str]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def realtime_server(max_force_n: float = 890.0) -> SimTableServer:
    """A table on the monotonic clock, as `table serve-sim` runs it (here in a thread)."""
    vs = VirtualSession(seed=1, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5")
    table = make_table(vs, time.perf_counter)
    ident = sim_identity(emg=False, serial="SIM-1", max_force_n=max_force_n)
    return SimTableServer(table, time.perf_counter, port=0, identity=ident, fifo_priority=41)


@pytest.fixture
def limited_server() -> Iterator[SimTableServer]:
    srv = realtime_server(max_force_n=250.0).start()
    yield srv
    srv.stop()


def tcp(server: SimTableServer) -> str:
    return f"modbus://127.0.0.1:{server.port}"


def test_probe_prints_the_identity(cli: Cli, limited_server: SimTableServer) -> None:
    code, out, _ = cli("table", "probe", "--device", tcp(limited_server), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["simulated"] is True and data["max_force_n"] == 250.0
    assert data["watchdog_ms"] == 100 and data["serial"] == "SIM-1"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fast"], "fast: a table on the wire runs in real time"),
        (["--speed", "20"], "speed: a table on the wire runs in real time"),
        (["--emg"], "emg: the table on the wire has no EMG channel"),
        ([], "force limit is 250 N, below the"),  # the default lumbar 80 kg peak is higher
    ],
)
def test_session_refuses_before_anything_starts(
    cli: Cli, limited_server: SimTableServer, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "run"
    code, _, err = cli("session", "run", "--device", tcp(limited_server), "--out", str(out), *extra)
    assert code == 2 and message in err
    assert not (out / "telemetry.csv").exists()
    assert limited_server.commands == 0  # the table never moved


def test_no_table_there_is_never_a_fallback_to_the_simulator(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli(
        "session", "run", "--device", f"modbus://127.0.0.1:{free_port()}", "--out",
        str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2 and "device: no usable table there" in err
    code, _, err = cli("session", "run", "--device", "tcp://x", "--out", str(tmp_path / "r2"))
    assert code == 2 and "device: must be modbus://" in err


@contextlib.contextmanager
def serve_sim_process(tmp_path: Path, *args: str) -> Iterator[int]:
    """`spinecare table serve-sim` in a process of its own (as a table has its own processor);
    yields its port, ends it with SIGTERM and checks it stopped cleanly."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINECARE_")}
    env["SPINECARE_DATA_DIR"] = str(tmp_path / "server-data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spinecare.cli", "table", "serve-sim", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        from spinecare.devices.modbus_sim import wait_port

        wait_port("127.0.0.1", port, timeout_s=60.0)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"session run --device modbus://127.0.0.1:{port}" in err
    # Served in real time: its start-up heap is out of the collector's sight (a full collection
    # over it takes about 90 ms, and the session would see stale readings).
    assert "start-up heap frozen" in err


@pytest.mark.slow
def test_a_real_time_session_over_modbus_within_the_table_limit(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with serve_sim_process(tmp_path, "--max-force", "250") as port:
        code, stdout, err = cli(
            "session", "run", "--device", f"modbus://127.0.0.1:{port}", "--minutes", "0.3",
            "--clinician-max", "250", "--out", str(out), "--json",
        )  # fmt: skip
    summary = json.loads(stdout)
    assert code == 0, (err, summary["end_reason"], summary["faults"], summary["timing"])
    assert "a served simulator" in err  # which table, said before the session starts
    assert summary["completed"] and not summary["faulted"] and summary["faults"] == []
    assert summary["simulated"] is True and summary["limit_violations"] == 0
    assert summary["clinician_max_force_n"] == 250.0 and summary["peak_force_n"] <= 262.5
    assert summary["timing"]["clock"] == "MonotonicClock"
    assert summary["timing"]["overruns"] == 0
    # The same outcome as the in-process table on the simulated clock.
    code, stdout, _ = cli(
        "session", "run", "--minutes", "0.3", "--clinician-max", "250", "--fast", "--json",
        "--out", str(tmp_path / "local"),
    )  # fmt: skip
    local = json.loads(stdout)
    for key in ("completed", "stopped", "faulted", "faults", "limit_violations", "end_reason"):
        assert summary[key] == local[key]


def test_serve_sim_refuses_bad_arguments(cli: Cli) -> None:
    code, _, err = cli("table", "serve-sim", "--port", "80")
    assert code == 2 and "port: must be within 1024-65535" in err
    code, _, err = cli("table", "serve-sim", "--host", "0.0.0.0")
    assert code == 2 and "loopback" in err
    code, _, err = cli("table", "serve-sim", "--segment", "C5/6")
    assert code == 2 and "segment: is not a lumbar segment" in err
