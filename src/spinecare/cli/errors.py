"""Exit statuses, and every error a command can meet turned into one line and its status.

``spinecare.cli.main`` calls :func:`describe` for any exception a command lets through, so each
fault has one place that words it: what happened and what to do, never a traceback and never
patient data (database exceptions are described from their kind, not their text). The README's
"Exit statuses" table lists the same numbers.

Light at import (the CLI imports it at start-up): SQLAlchemy and pydantic are looked at only
when an exception of theirs arrives.
"""

from __future__ import annotations

import errno
import os

import click

EXIT_OK = 0
EXIT_NOT_FOUND = 1  # the record named does not exist
EXIT_BAD_INPUT = 2  # bad input; nothing was started or stored
EXIT_FORBIDDEN = 3  # the role may not do this
# 4, 5, 6: `session run` (spinecare.cli.session)
EXIT_NOT_LOGGED_IN = 7  # no valid login: log in (or change the one-time password)
EXIT_DB_UNAVAILABLE = 8  # the database is busy or cannot be reached; try again
EXIT_DB_UNUSABLE = 9  # read-only, full, damaged, unknown schema: someone must fix it
EXIT_FILE = 10  # a file or directory could not be written or read (permissions, disk full)
EXIT_AUDIT_BROKEN = 11  # `audit verify`: the audit log's chain is broken
EXIT_INTERNAL = 70  # a defect of spinecare (EX_SOFTWARE); nothing is known to be stored
EXIT_INTERRUPTED = 130

_FILE_ERRNOS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "the file is too large (disk or file size limit)",
    errno.EIO: "input/output error (a full or failing disk?)",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many symbolic links",
    errno.EMFILE: "too many open files",
}


def _path(exc: OSError) -> str:
    name = exc.filename if exc.filename is not None else ""
    return os.fsdecode(name) if not isinstance(name, str) else name


def describe_os_error(exc: OSError) -> tuple[int, str]:
    """A file-system error: the path the user gave and what to do."""
    path = _path(exc)
    where = f"{path}: " if path else ""
    if isinstance(exc, FileExistsError):
        return EXIT_BAD_INPUT, f"{where}exists already (and is not a directory that may be used)"
    if isinstance(exc, NotADirectoryError):
        return EXIT_BAD_INPUT, f"{where}a part of this path is a file, not a directory"
    if isinstance(exc, IsADirectoryError):
        return EXIT_BAD_INPUT, f"{where}is a directory, not a file"
    if isinstance(exc, FileNotFoundError):
        return EXIT_BAD_INPUT, f"{where}no such file or directory"
    what = _FILE_ERRNOS.get(exc.errno or 0, exc.strerror or "the operation failed")
    return EXIT_FILE, f"{where}cannot be written or read: {what}. Nothing was finished there"


# Where a user finds the id of a record that was not found: said after "not found".
FIND_HINTS = {
    "patient": "spinecare patients list",
    "course": "spinecare patients show PATIENT_ID lists a patient's courses",
    "session": "spinecare course show COURSE_ID lists a course's sessions",
    "invoice": "spinecare invoice list",
    "user": "spinecare users list",
}


def describe(exc: BaseException) -> tuple[int, str] | None:
    """(exit status, one line) for an exception a command let through; None: unexpected."""
    from spinecare.errors import InputError
    from spinecare.services.errors import (
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
    )

    if isinstance(exc, InputError):
        return EXIT_BAD_INPUT, str(exc)
    if isinstance(exc, NotFoundError):
        where = FIND_HINTS.get(str(exc.entity))
        return EXIT_NOT_FOUND, f"{exc}" + (f": check the id ({where})" if where else "")
    if isinstance(exc, PermissionDeniedError):  # a PermissionError: before the OSErrors
        return EXIT_FORBIDDEN, (
            f"{exc}: ask a colleague whose role may (README, Logging in), or act as your own "
            "login with that role (--as NAME)"
        )
    if isinstance(exc, AuthenticationError):
        return EXIT_NOT_LOGGED_IN, str(exc)
    module = type(exc).__module__
    if (
        module.startswith(("sqlalchemy", "psycopg", "sqlite3", "spinecare.store"))
        or type(exc).__name__ == "ChainHeadMissingError"
    ):
        found = _store_fault(exc)
        if found is not None:
            return found
    if module.startswith("pydantic") and isinstance(exc, ValueError):
        from pydantic import ValidationError

        from spinecare.errors import describe_validation_error

        if isinstance(exc, ValidationError):
            errors = exc.errors()
            if errors and "database_url" in errors[0]["loc"]:  # never echo a password
                reason = str(errors[0]["msg"]).removeprefix("Value error, ")
                return EXIT_BAD_INPUT, f"SPINECARE_DATABASE_URL: {reason}"
            return EXIT_BAD_INPUT, describe_validation_error(exc)
    if module.startswith("alembic"):
        return EXIT_DB_UNUSABLE, (
            "the database schema could not be changed to the revision asked for "
            "(spinecare db current shows where it is); nothing was changed"
        )
    if isinstance(exc, OverflowError):  # a number beyond what the database can hold
        return EXIT_BAD_INPUT, "a number given is too large; nothing was stored"
    if isinstance(exc, UnicodeError):
        return EXIT_BAD_INPUT, "input that is not valid UTF-8 text was refused"
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    return None


def _store_fault(exc: BaseException) -> tuple[int, str] | None:
    from spinecare.store.audit import ChainHeadMissingError
    from spinecare.store.faults import TRANSIENT, FaultKind, StoreFault, classify

    if isinstance(exc, ChainHeadMissingError):
        exc = StoreFault(
            FaultKind.INTEGRITY,
            "the audit log's chain head is missing: the log has been tampered with. Nothing was "
            "changed; run spinecare audit verify and restore from a backup",
        )
    fault = classify(exc, _database())
    if fault is None:
        return None
    if fault.kind is FaultKind.REFUSED:
        return EXIT_BAD_INPUT, fault.message
    if fault.kind in TRANSIENT:
        return EXIT_DB_UNAVAILABLE, fault.message
    return EXIT_DB_UNUSABLE, fault.message


def _database() -> str:
    """The configured database, masked (for messages); empty when the settings fail."""
    try:
        from spinecare.settings import get_settings

        return get_settings().database_url_masked
    except Exception:
        return ""


def missing_parameter(exc: click.exceptions.MissingParameter) -> str:
    """What is missing and how to give it: ``--on: missing: give --on VALUE (spinecare screen
    --help)``; click's own message for it is empty."""
    param = exc.param
    command = exc.ctx.command_path if exc.ctx is not None else "spinecare"
    if param is None:
        return f"an argument is missing (see {command} --help)"
    if isinstance(param, click.Option):
        name = max(param.opts, key=len)
        metavar = param.make_metavar(exc.ctx) if exc.ctx is not None else "VALUE"
        return f"{name}: missing: give {name} {metavar} (see {command} --help)"
    name = param.human_readable_name
    return f"{name}: missing: give it after the command, {command} {name} (see {command} --help)"
