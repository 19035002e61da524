"""Every file a command reads is read with a cap: an endless input (a device, a FIFO that keeps
writing) is one line and status 2, never gigabytes of memory or an internal error."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from spinecare.cli.textfile import MAX_CLINICAL_FILE_BYTES, MAX_RECORDING_BYTES, recording_read
from spinecare.errors import InputError

Run = Callable[..., tuple[int, str, str]]


def _feed_fifo(path: Path, size: int) -> threading.Thread:
    """A FIFO whose writer sends ``size`` bytes of digits (the reader decides when to stop)."""
    os.mkfifo(path)

    def write() -> None:
        try:
            with open(path, "wb") as f:
                f.write(b"1\n" * (size // 2))
        except BrokenPipeError:  # the reader stopped at its cap: what is tested
            pass

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def test_a_fifo_is_read_only_up_to_the_cap(tmp_path: Path) -> None:
    fifo = tmp_path / "rec.fifo"
    writer = _feed_fifo(fifo, 20_000)
    with pytest.raises(InputError, match="file: too large"):
        recording_read(fifo, limit_bytes=1000)
    writer.join(5)


def test_a_fifo_within_the_cap_is_read_whole(tmp_path: Path) -> None:
    fifo = tmp_path / "rec.fifo"
    writer = _feed_fifo(fifo, 200)
    assert recording_read(fifo, limit_bytes=1000) == "1\n" * 100
    writer.join(5)


def test_a_regular_file_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(MAX_RECORDING_BYTES + 1)  # sparse: no disk used
    with pytest.raises(InputError, match=r"file: larger than 256 MB"):
        recording_read(big)


def test_the_caps_are_generous_and_ordered() -> None:
    assert MAX_CLINICAL_FILE_BYTES >= 1_000_000 and MAX_RECORDING_BYTES >= 100_000_000


@pytest.mark.parametrize(
    "args",
    [
        ["screen", "--file", "/dev/zero", "--region", "lumbar"],
        ["import", "dxa", "/dev/zero", "--patient", "1"],
        ["posture", "analyze", "/dev/zero"],
        ["emg", "detect", "/dev/zero", "--rate", "1000"],
        ["posture", "record", "--patient", "1", "--file", "/dev/zero",
         "--start", "2026-01-01T09:00+01:00"],
    ],
)  # fmt: skip
def test_an_endless_device_is_one_line_and_status_2(cli: Run, args: list[str]) -> None:
    code, _, err = cli(*args)
    assert code == 2, err
    assert err.count("\n") == 1 and "not a regular file" in err and "/dev/zero" in err
