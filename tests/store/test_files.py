"""Whole-file writes: atomic for files, written through for devices and pipes."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from spinecare.store.files import write_private


def test_a_pipe_or_device_is_written_through_never_replaced(tmp_path: Path) -> None:
    """``--out /dev/null`` must not rename a file over the device node (as root it did:
    /dev/null became a regular file for every program on the machine). A FIFO stands in."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_private(fifo, b"telemetry")
    reader.join(timeout=10)
    assert got == [b"telemetry"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_file_is_replaced_whole_and_private(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_bytes(b"old")
    write_private(out, b"new")
    assert out.read_bytes() == b"new" and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("target", ["/", "."])
def test_a_directory_as_the_file_to_write_is_the_error_of_a_directory(
    target: str, tmp_path: Path
) -> None:
    """``--out /`` once raised ValueError (no name for the temporary file): an internal error
    instead of the documented status for a file that cannot be written."""
    path = tmp_path if target == "." else Path(target)
    with pytest.raises(OSError) as err:
        write_private(path, b"x")
    assert err.value.errno == errno.EISDIR and err.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []
