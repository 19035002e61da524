"""The suite's own scheduling: `make test` runs on two xdist workers with ``--dist loadgroup``,
and the real-time sessions over a wire (tests/web/test_wire.py) rely on their group to run one
after another with the browser tests, never beside them. pytest 9.2 broke that grouping silently
(pytest-xdist issue 1386: every test ran wherever it fell); this holds the installed pair to it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_GROUPED = """
import os
import time

import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("i", range(4))
def test_grouped(i: int) -> None:
    time.sleep(0.2)
    print("worker", os.environ["PYTEST_XDIST_WORKER"])
"""

_FREE = """
import time

import pytest


@pytest.mark.parametrize("i", range(4))
def test_free(i: int) -> None:
    time.sleep(0.2)
"""


def test_grouped_tests_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_grouped.py").write_text(_GROUPED)
    (tmp_path / "test_free.py").write_text(_FREE)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
         "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    workers = set(re.findall(r"\[(gw\d)\] .*PASSED .*test_grouped", run.stdout))
    assert len(workers) == 1, run.stdout
    assert len(re.findall(r"PASSED .*test_grouped.*@together", run.stdout)) == 4, run.stdout
