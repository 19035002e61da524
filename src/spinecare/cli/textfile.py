"""Reading a file the user names: one clear line for every way it can fail.

Every file a command reads is read with a cap. The size the file system reports is not enough:
``/dev/zero``, a FIFO or ``/proc`` files report 0 bytes and never end (or lie), and reading one
to its end took 5 GB in 8 s before the machine or a ``ulimit`` stopped it (status 70). So a
device is refused before it is opened, and everything else is read up to one byte past the cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from spinecare.errors import InputError

MB = 1_000_000

# An hour of 2 kHz sEMG or a day of 50 Hz IMU samples as text is 50-100 MB; parsing a file this
# size already takes a few GB of memory as Python floats, so anything larger is refused before
# it is read rather than left to exhaust the machine (engineering choice).
MAX_RECORDING_BYTES = 256 * MB

# A patient file for `screen --file` or a DXA export of a few sites is kilobytes; a few MB is
# hundreds of times that and still parses in a moment (engineering choice).
MAX_CLINICAL_FILE_BYTES = 5 * MB


def text_decode(data: bytes, name: str, *, field: str = "file") -> str:
    """UTF-8, else Windows-1252: what a spreadsheet in a German locale saves as "CSV" (a "µV" in
    the header, a "Gerät" in a cell). A NUL byte means binary (or UTF-16): not a text file."""
    if b"\x00" in data:
        raise InputError(field, "not a text file", name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(field, "not a text file", name) from None


def bytes_read(path: Path, *, limit_bytes: int, field: str = "file") -> bytes:
    """The file's bytes, at most ``limit_bytes`` of them, or an InputError naming ``field``.

    A FIFO (``<(zcat rec.gz)``) is read like a file, up to the cap; a device (``/dev/zero``, a
    terminal) is refused, since what it gives is never a file the user saved."""
    name = str(path)
    too_large = f"larger than {limit_bytes // MB} MB" if limit_bytes >= MB else "too large"
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(field, "is a directory", name)
        if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or stat.S_ISSOCK(info.st_mode):
            raise InputError(field, "not a regular file (a device or socket)", name)
        if stat.S_ISREG(info.st_mode) and info.st_size > limit_bytes:
            raise InputError(field, too_large, name)
        with open(path, "rb") as f:
            data = f.read(limit_bytes + 1)
    except FileNotFoundError:
        raise InputError(field, "not found", name) from None
    except IsADirectoryError:
        raise InputError(field, "is a directory", name) from None
    except OSError as exc:
        raise InputError(field, f"cannot be read ({exc.strerror or 'error'})", name) from None
    if len(data) > limit_bytes:  # a file that grew, a FIFO, a /proc file
        raise InputError(field, too_large, name)
    return data


def text_read(path: Path, *, limit_bytes: int, field: str = "file") -> str:
    """The file's text (UTF-8 or Windows-1252), read with the cap of :func:`bytes_read`."""
    data = bytes_read(path, limit_bytes=limit_bytes, field=field)
    return text_decode(data, str(path), field=field)


def recording_read(path: Path, *, limit_bytes: int = MAX_RECORDING_BYTES) -> str:
    """A recording's text (UTF-8 or Windows-1252), or an InputError naming the field ``file``
    and the reason."""
    return text_read(path, limit_bytes=limit_bytes)
