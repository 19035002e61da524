"""`spinecare serve --device`: the table is probed before the server opens anything; a table
that does not answer stops it with status 2 (never a silent fall-back to the simulator)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.cli.test_table_cli import free_port, serve_sim_process

Cli = Callable[..., tuple[int, str, str]]


def test_serve_refuses_a_device_that_does_not_answer(cli: Cli) -> None:
    code, out, err = cli("serve", "--device", f"modbus://127.0.0.1:{free_port()}", "--no-demo")
    assert code == 2 and "device: no usable table there" in err
    assert "opening the database" not in out  # refused before anything else
    code, _, err = cli("serve", "--device", "tcp://x", "--no-demo")
    assert code == 2 and "device: must be modbus://" in err


def _wait_port(port: int, proc: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate(timeout=5)
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the server did not listen")


@pytest.mark.slow
def test_serve_drives_the_served_simulator(tmp_path: Path) -> None:
    with serve_sim_process(tmp_path) as table_port:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPINECARE_")}
        env["SPINECARE_DATA_DIR"] = str(tmp_path / "clinic")
        device = f"modbus://127.0.0.1:{table_port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "spinecare.cli", "serve", "--device", device,
             "--port", str(port), "--no-demo"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            _wait_port(port, proc)
            r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
            assert r.status_code == 200 and "spinecare" in r.text
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    assert f"sessions drive the table at {device}" in out
    assert "a served simulator" in err and "force limit 890 N" in err


def test_a_bad_web_setting_stops_the_server_before_it_says_where_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from spinecare.cli import main

    monkeypatch.setenv("SPINECARE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPINECARE_WEB_SESSION_MAX_AGE_S", "10")
    assert main(["serve", "--port", str(free_port()), "--no-demo"]) == 2
    out, err = capsys.readouterr()
    assert "session_max_age_s" in err and "http://" not in out
    assert not (tmp_path / "data" / "spinecare.db").exists()  # nothing was opened
