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


# -- a table that cannot be used is the table's, never an internal error (status 2) ----------
def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in err, err
    return lines[-1]


def test_a_modbus_exception_from_the_table_is_one_line_and_status_2(
    cli: Cli, limited_server: SimTableServer, tmp_path: Path
) -> None:
    """A wrong unit id: the served table answers the identity read with exception 0x04."""
    wrong_unit = f"{tcp(limited_server)}?unit=2"
    for args in (
        ("table", "probe", "--device", wrong_unit),
        ("session", "run", "--device", wrong_unit, "--minutes", "0.1", "--out",
         str(tmp_path / "run")),
        ("serve", "--device", wrong_unit, "--port", "1"),  # refused before it listens
    ):  # fmt: skip
        code, _, err = cli(*args)
        assert code == 2, (args, err)
        line = one_line(err)
        assert err.strip() == line, err  # one line, and nothing about the table before it
        assert f"the table at {wrong_unit} answered with Modbus exception 0x04" in line
        assert "(server device failure) reading its identity: check the unit id" in line
    assert not (tmp_path / "run" / "telemetry.csv").exists()
    assert limited_server.commands == 0


def test_serve_sim_on_a_port_in_use_is_one_line_and_status_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPINECARE_")}
        env["SPINECARE_DATA_DIR"] = str(tmp_path / "server-data")
        done = subprocess.run(
            [sys.executable, "-m", "spinecare.cli", "table", "serve-sim", "--port", str(port)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"error: port: 127.0.0.1:{port} is in use by another process (Address already in use): "
        "stop it or choose another --port"
    )


@pytest.mark.slow  # the driver waits the table's release time (5 s) before it refuses
def test_a_session_never_takes_over_a_table_still_loaded(cli: Cli, tmp_path: Path) -> None:
    """SAF-18: the table still holds 131 N (its watchdog releasing an earlier session's load)
    and does not let go: refused in one line, status 2, the table never commanded."""
    from spinecare.devices.modbus_map import (
        STATE_CODES,
        STATUS_FAULT,
        STATUS_FORCE,
        STATUS_STATE,
        FaultCode,
        force_reg,
    )
    from spinecare.vocab import DeviceState

    srv = realtime_server().start()
    try:
        srv.corrupt = {
            STATUS_FORCE: force_reg(131.0),
            STATUS_STATE: STATE_CODES[DeviceState.RELEASING],
            STATUS_FAULT: int(FaultCode.WATCHDOG),
        }
        out = tmp_path / "run"
        started = time.monotonic()
        code, _, err = cli(
            "session", "run", "--device", tcp(srv), "--minutes", "0.1", "--out", str(out)
        )
        waited = time.monotonic() - started
        assert code == 2, err
        line = one_line(err)
        assert f"the table at {tcp(srv)}" in line
        assert "still holds 131 N from an earlier session" in line
        assert "wait for it to release" in line
        assert waited >= 4.5  # it gave the table its release time first
        assert srv.commands == 0 and srv.table.state is not DeviceState.ACTIVE
        # Nothing was recorded: at most the telemetry's header (the recorder opens before the
        # table is brought up).
        telemetry = out / "telemetry.csv"
        assert not telemetry.exists() or len(telemetry.read_text().splitlines()) <= 1
    finally:
        srv.stop()
