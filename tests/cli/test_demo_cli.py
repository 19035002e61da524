"""`spinecare demo`, the terminal demonstration: it runs the session command with its own
settings, so a change to that command's signature must not break it."""

from __future__ import annotations

from pathlib import Path

import pytest

from spinecare.cli import main


def test_the_demo_runs_a_session_to_its_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINECARE_SESSIONS_DIR", str(tmp_path / "sessions"))
    assert main(["demo", "--speed", "1000", "--minutes", "2"]) == 0
    out = capsys.readouterr().out
    assert "output:" in out and "summary.json" in out
