"""Files that hold patient data or credentials: readable by their owner only.

The data directory is kept at 0700 and the files in it at 0600, whatever the process umask: a
database created world-readable on a shared machine hands every local account the clinic's
patients. The helpers tighten what this account owns and refuse what it cannot make private.
Every write of a whole file is atomic (temporary file in the same directory, fsync, rename), so
a full disk or a crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from spinecare.errors import InputError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def private_dir(path: Path, *, setting: str = "SPINECARE_DATA_DIR") -> Path:
    """Create ``path`` (and missing parents) as 0700, or tighten it to 0700 if this account
    owns it. A shared directory (sticky bit, e.g. /tmp) or one owned by someone else that
    others can read is refused: patient data does not go there."""
    path = Path(path).expanduser()
    if not path.exists():
        try:
            path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        except FileExistsError:  # a file, or a dangling link, where the directory should be
            raise InputError(setting, "is not a directory", str(path)) from None
        except NotADirectoryError:
            raise InputError(setting, "a part of this path is a file", str(path)) from None
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is masked by the umask; parents stay as made
        return path
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(setting, "is not a directory", str(path))
    if st.st_mode & _OTHERS:
        if st.st_mode & stat.S_ISVTX or st.st_uid != os.geteuid():
            raise InputError(
                setting,
                "is shared with other accounts and cannot be made private: "
                "use a directory of your own",
                str(path),
            )
        os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if missing; tighten it to 0600 if this account owns it."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        st = path.stat()
        if stat.S_ISREG(st.st_mode) and st.st_mode & _OTHERS and st.st_uid == os.geteuid():
            os.chmod(path, PRIVATE_FILE)
        return path
    os.close(fd)
    return path


def is_private(path: Path) -> bool:
    """True when ``path`` is a regular file of this account that nobody else may read."""
    st = os.lstat(path)
    return stat.S_ISREG(st.st_mode) and not st.st_mode & _OTHERS and st.st_uid == os.geteuid()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically as a 0600 file (replacing an earlier one).

    A failure leaves no temporary file and raises the OSError under ``path``, the name the user
    gave: a write that finds the disk full carries no file name at all, and the temporary
    file's name means nothing to anyone."""
    path = Path(path)
    if is_special(path):
        # A device or a pipe (/dev/null, /dev/stdout, a FIFO): written through. Renaming a
        # file over it would replace the device node itself, for every program on the machine.
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as exc:
            raise named(exc, path) from None
        return
    if not path.name or path.is_dir():
        # "/" or an existing directory: no file can take its place (there is no name to give a
        # temporary file either), so it is the error of a directory, under the name given.
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, PRIVATE_FILE)
    except OSError as exc:
        raise named(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise named(exc, path) from None
        raise
    fsync_dir(path.parent)


def is_special(path: Path) -> bool:
    """True when ``path`` (followed) is neither a regular file nor a directory nor missing."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def named(exc: OSError, path: Path) -> OSError:
    """``exc`` as an OSError about ``path`` (same errno, so the same kind and exit status)."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: not every file system supports it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
