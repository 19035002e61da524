"""Reading a recording the user names: one clear line for every way it can fail."""

from __future__ import annotations

from pathlib import Path

from spinecare.errors import InputError

# A day of 2 kHz sEMG or 200 Hz IMU samples in text is well below this; anything larger is not a
# recording (engineering choice: refused before it is read into memory).
MAX_RECORDING_BYTES = 512 * 1024 * 1024


def text_decode(data: bytes, name: str) -> str:
    """UTF-8, else Windows-1252: what a spreadsheet in a German locale saves as "CSV" (a "µV" in
    the header, a "Gerät" in a cell). A NUL byte means binary (or UTF-16): not a text file."""
    if b"\x00" in data:
        raise InputError("file", "not a text file", name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError("file", "not a text file", name) from None


def recording_read(path: Path, *, limit_bytes: int = MAX_RECORDING_BYTES) -> str:
    """The file's text (UTF-8 or Windows-1252), or an InputError naming the field ``file`` and
    the reason."""
    try:
        if path.stat().st_size > limit_bytes:
            raise InputError("file", f"larger than {limit_bytes // (1024 * 1024)} MiB", str(path))
        return text_decode(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise InputError("file", "not found", str(path)) from None
    except IsADirectoryError:
        raise InputError("file", "is a directory", str(path)) from None
    except OSError as exc:
        raise InputError("file", exc.strerror or "cannot be read", str(path)) from None
