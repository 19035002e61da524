"""One table, one session: a host-wide lock on a table on the wire.

Modbus lets any number of masters talk to a table. Two sessions driving one table (two browser
tabs on the web clinic, or the web clinic and ``spinecare session run --device`` on the same
machine) would each command their own force, and each safety policy would see the other's
pull as the patient's. So the driver holds an exclusive lock on the table from ``configure``
to ``close``; a second driver is refused before anything moves, with the holder's process id.

The lock is an advisory ``flock`` on a file named after the table's address as connected (the
peer's IP and port, so ``localhost`` and ``127.0.0.1`` are one table; the serial device's real
path), and its Modbus unit (a gateway serves several tables). The kernel releases it when the
process ends, however it ends, so a crashed session never leaves the table locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from spinecare.errors import InputError

LOCK_PREFIX = "spinecare-table-"


def lock_dir() -> Path:
    """Where the lock files live: the system's temporary directory, shared by every user of
    the machine (a table is one table whoever drives it)."""
    return Path(tempfile.gettempdir())


class TableLock:
    """An exclusive hold on one table; ``acquire`` refuses if another driver holds it."""

    def __init__(self, key: str, url: str) -> None:
        self.key = key
        self.url = url
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        self.path = lock_dir() / f"{LOCK_PREFIX}{digest}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o666)
        except PermissionError:  # created by another user: a read-only handle locks as well
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(self.path)
            os.close(fd)
            raise InputError(
                "device",
                f"the table at {self.url} is driven by another session{holder}: one table runs "
                "one session at a time",
            ) from None
        except BaseException:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):  # who holds it, for the next one's message
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def __del__(self) -> None:
        # A driver dropped without ``close`` (a test, an error path) frees its table when it
        # is collected, as the kernel does when the process ends.
        self.release()


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text().split()[0])
        return f" (process {pid})"
    return ""
