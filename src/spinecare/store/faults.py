"""What went wrong with the database, in words a user can act on, without any patient data.

SQLAlchemy's exceptions print the statement and its parameters: a lock error would show the
patient's row. Every face (CLI, web app) turns database exceptions into a :class:`StoreFault`
with :func:`classify` and shows only its ``message``, which is built from the kind of fault,
the masked database URL and schema names, never from the exception's text.
"""

from __future__ import annotations

import enum
import re
import sqlite3
from dataclasses import dataclass


class FaultKind(enum.StrEnum):
    BUSY = "busy"  # locked by another writer longer than the timeout; try again
    UNREACHABLE = "unreachable"  # the server does not answer; try again
    READ_ONLY = "read_only"
    FULL = "full"
    DAMAGED = "damaged"  # corrupt, not a database
    IO = "io"  # an input/output error reading or writing the file (a full or failing disk)
    CANNOT_OPEN = "cannot_open"  # missing directory, no such database, login refused
    SCHEMA = "schema"  # not a spinecare database, or a schema this version does not know
    REFUSED = "refused"  # a constraint refused the record (bad input that got this far)
    INTEGRITY = "integrity"  # the audit log's chain head is missing or broken


# Faults that pass: nothing was changed, the same command may succeed later.
TRANSIENT = frozenset({FaultKind.BUSY, FaultKind.UNREACHABLE})


class StoreFault(Exception):
    """A database fault described for a user: ``message`` says what happened and what to do."""

    def __init__(self, kind: FaultKind, message: str, *, field: str | None = None) -> None:
        self.kind = kind
        self.message = message
        self.field = field  # for REFUSED: the input field the constraint is about, if known
        super().__init__(message)


class MigrationRefused(StoreFault):
    """A migration that would lose data refuses to run (nothing was changed)."""

    def __init__(self, message: str) -> None:
        super().__init__(FaultKind.SCHEMA, message)


@dataclass(frozen=True, slots=True)
class _Refusal:
    field: str
    reason: str


# Constraints whose refusal is a user's mistake, by the name PostgreSQL reports or the
# "table.column" SQLite reports.
_REFUSALS: dict[str, _Refusal] = {
    "uq_sessions_telemetry_dir": _Refusal(
        "dir", "this directory is already attached to another session"
    ),
    "sessions.telemetry_dir": _Refusal(
        "dir", "this directory is already attached to another session"
    ),
    "uq_users_username": _Refusal("username", "already taken"),
    "users_username_key": _Refusal("username", "already taken"),
    "users.username": _Refusal("username", "already taken"),
}

_SQLITE_NAMES: dict[str, FaultKind] = {
    "SQLITE_BUSY": FaultKind.BUSY,
    "SQLITE_LOCKED": FaultKind.BUSY,
    "SQLITE_READONLY": FaultKind.READ_ONLY,
    "SQLITE_PERM": FaultKind.READ_ONLY,
    "SQLITE_FULL": FaultKind.FULL,
    "SQLITE_CORRUPT": FaultKind.DAMAGED,
    "SQLITE_NOTADB": FaultKind.DAMAGED,
    "SQLITE_IOERR": FaultKind.IO,
    "SQLITE_CANTOPEN": FaultKind.CANNOT_OPEN,
    "SQLITE_CONSTRAINT": FaultKind.REFUSED,
}

# PostgreSQL SQLSTATE codes (class or full code) [postgres-errcodes].
_PG_STATES: dict[str, FaultKind] = {
    "55P03": FaultKind.BUSY,  # lock_not_available (lock_timeout)
    "40P01": FaultKind.BUSY,  # deadlock_detected
    "40001": FaultKind.BUSY,  # serialization_failure
    "57014": FaultKind.BUSY,  # query_canceled (statement_timeout)
    "25006": FaultKind.READ_ONLY,  # read_only_sql_transaction
    "53100": FaultKind.FULL,  # disk_full
    "XX001": FaultKind.DAMAGED,  # data_corrupted
    "XX002": FaultKind.DAMAGED,  # index_corrupted
    "3D000": FaultKind.CANNOT_OPEN,  # invalid_catalog_name (no such database)
    "42P01": FaultKind.SCHEMA,  # undefined_table
    "42703": FaultKind.SCHEMA,  # undefined_column
}
_PG_CLASSES: dict[str, FaultKind] = {
    "08": FaultKind.UNREACHABLE,  # connection exception
    "57": FaultKind.UNREACHABLE,  # operator intervention (server shutting down)
    "28": FaultKind.CANNOT_OPEN,  # invalid authorization
    "23": FaultKind.REFUSED,  # integrity constraint violation
    "22": FaultKind.REFUSED,  # data exception (a value out of the column's range)
    "53": FaultKind.FULL,  # insufficient resources
}

_SQLITE_CONSTRAINT = re.compile(r"constraint failed: ([A-Za-z0-9_.]+)")


def _message(kind: FaultKind, where: str) -> str:
    texts = {
        FaultKind.BUSY: (
            f"the database {where} is busy: another program has held it for more than 5 s. "
            "Nothing was changed; try again, and close the other program if it persists"
        ),
        FaultKind.UNREACHABLE: (
            f"cannot reach the database {where}. Nothing was changed; check that the server "
            "runs and the network is up, then try again"
        ),
        FaultKind.READ_ONLY: (
            f"the database {where} is read-only (file permissions or a read-only file "
            "system). Nothing was changed; ask an administrator to make it writable"
        ),
        FaultKind.FULL: (
            f"the disk holding the database {where} is full. Nothing was changed; free space, "
            "then try again"
        ),
        FaultKind.DAMAGED: (
            f"the database {where} is damaged or is not a database. Nothing was changed; "
            "restore it from a backup (spinecare db restore FILE)"
        ),
        FaultKind.IO: (
            f"the database {where} could not be read or written (an input/output error: a "
            "full or failing disk?). Nothing was changed; check the disk, then try again"
        ),
        FaultKind.CANNOT_OPEN: (
            f"cannot open the database {where} (missing directory or database, or the login "
            "was refused). Check SPINECARE_DATABASE_URL and SPINECARE_DATA_DIR"
        ),
        FaultKind.SCHEMA: (
            f"the database {where} is not a spinecare database of a schema this version "
            "knows. Nothing was changed; check SPINECARE_DATABASE_URL (spinecare db current)"
        ),
        FaultKind.REFUSED: (
            "the database refused the record (it breaks one of the database's rules); "
            "nothing was stored"
        ),
        FaultKind.INTEGRITY: (
            f"the audit log of {where} is damaged. Nothing was changed; run spinecare audit "
            "verify and restore from a backup"
        ),
    }
    return texts[kind]


def _sqlite_kind(err: sqlite3.Error) -> FaultKind | None:
    name = getattr(err, "sqlite_errorname", "") or ""
    for prefix, kind in _SQLITE_NAMES.items():
        if name == prefix or name.startswith(prefix + "_"):
            return kind
    text = str(err).lower()
    if "no such table" in text or "no such column" in text:
        return FaultKind.SCHEMA
    if "locked" in text:
        return FaultKind.BUSY
    if "readonly" in text or "read-only" in text:
        return FaultKind.READ_ONLY
    if "not a database" in text or "malformed" in text:
        return FaultKind.DAMAGED
    if "unable to open" in text:
        return FaultKind.CANNOT_OPEN
    return None


def _pg_kind(err: BaseException) -> FaultKind | None:
    state = getattr(err, "sqlstate", None)
    if state:
        return _PG_STATES.get(state) or _PG_CLASSES.get(state[:2])
    # No SQLSTATE: the connection itself failed (refused, timed out, name not resolved).
    if type(err).__name__ in ("OperationalError", "InterfaceError"):
        return FaultKind.UNREACHABLE
    return None


def _constraint(err: BaseException) -> str | None:
    diag = getattr(err, "diag", None)
    name = getattr(diag, "constraint_name", None) if diag is not None else None
    if name:
        return str(name)
    m = _SQLITE_CONSTRAINT.search(str(err))
    return m.group(1) if m else None


def classify(exc: BaseException, where: str = "") -> StoreFault | None:
    """The fault behind a database exception (SQLAlchemy's, sqlite3's or psycopg's), or None
    when ``exc`` is not one. ``where`` names the database (a masked URL or a file path)."""
    if isinstance(exc, StoreFault):
        return exc
    orig = getattr(exc, "orig", None) or exc
    module = type(orig).__module__
    kind: FaultKind | None = None
    if isinstance(orig, sqlite3.Error):
        kind = _sqlite_kind(orig)
    elif module.startswith("psycopg"):
        kind = _pg_kind(orig)
    if kind is None:
        exc_name = type(exc).__name__
        if type(exc).__module__.startswith("sqlalchemy") and exc_name in (
            "OperationalError",
            "InterfaceError",
            "DisconnectionError",
            "TimeoutError",
        ):
            kind = FaultKind.UNREACHABLE
        else:
            return None
    if kind is FaultKind.REFUSED:
        refusal = _REFUSALS.get(_constraint(orig) or "")
        if refusal is not None:
            return StoreFault(kind, f"{refusal.field}: {refusal.reason}", field=refusal.field)
        constraint = _constraint(orig)
        detail = f" ({constraint})" if constraint else ""
        return StoreFault(kind, _message(kind, where) + detail)
    shown = f"({where})" if where else ""
    return StoreFault(kind, _message(kind, shown).replace("  ", " "))
