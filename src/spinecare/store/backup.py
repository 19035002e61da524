"""Backup and restore of the whole database, all or nothing.

SQLite: SQLite's online backup API [sqlite-backup] copies a consistent snapshot while others
keep using the database; the copy goes to a temporary file next to the target, is checked
(``PRAGMA integrity_check``) and renamed into place, 0600. A restore copies a checked backup into
the live database with the same API in one write transaction: readers see the old database or
the restored one, never a mix.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --single-transaction``
[pg-dump]; the password goes to them in the environment, never on a command line.

A backup file is refused as a restore source unless it is a database of a schema this version
knows; nothing is changed then. For SQLite, :func:`prepared_restore` checks it in full before
the live database is touched: a private copy is made, its tables are compared with those its
revision has, it is upgraded to the newest schema and its audit chain is verified; only that
copy is then copied into the live database. (A bad backup used to be found out only after it
had replaced the database: by the upgrade, or by the chain's check.) For PostgreSQL the dump's
table of contents must list the tables of the schema revision it holds.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

from spinecare.errors import InputError
from spinecare.store import migrate
from spinecare.store.faults import FaultKind, StoreFault, classify
from spinecare.store.files import PRIVATE_FILE, fsync_dir, private_file

if TYPE_CHECKING:
    from spinecare.store.audit import ChainReport

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    revision: str | None
    size_bytes: int


@dataclass(frozen=True, slots=True)
class PreparedRestore:
    """A backup checked in full and ready to replace the live database.

    ``copy``: SQLite, a private copy of the backup upgraded to the newest schema (what is
    copied into the live database; an entry may still be appended to it first). ``chain``: its
    audit chain as verified (None for PostgreSQL, whose dump cannot be opened beside the
    database; its chain is verified after the restore)."""

    source: BackupInfo
    copy: Path | None
    chain: ChainReport | None

    @property
    def copy_url(self) -> str | None:
        return f"sqlite:///{self.copy}" if self.copy is not None else None


class RestoreIncomplete(StoreFault):
    """The live database WAS replaced, then a later step failed: unlike every other fault of a
    restore, this one must never be worded "nothing was changed"."""


def _sqlite_file(url: str) -> Path:
    from spinecare.store.engine import sqlite_path

    path = sqlite_path(url)
    if path is None:
        raise InputError("SPINECARE_DATABASE_URL", "backup needs a SQLite file or PostgreSQL")
    return path


def _new_target(dest: Path) -> Path:
    dest = Path(dest).expanduser()
    if dest.exists() or dest.is_symlink():
        raise InputError("file", "exists already: choose a new file name", str(dest))
    if not dest.parent.is_dir():
        raise InputError("file", "its directory does not exist", str(dest))
    return dest


def _tmp_for(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{os.getpid()}.tmp")


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, busy: str) -> None:
    """``src.backup(dst)``, given up after ``TIMEOUT_S`` of another program's lock.

    Python's ``backup`` retries a step that finds either database locked (SQLITE_BUSY or
    SQLITE_LOCKED) for ever, so a restore waited as long as another writer held the database;
    every other command gives up after 5 s (exit 8). The progress callback is called after
    each step; raising from it aborts the copy, leaving the destination as it was."""
    deadline = time.monotonic() + TIMEOUT_S

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise StoreFault(FaultKind.BUSY, _busy_message(busy))

    src.backup(dst, progress=progress, sleep=0.1)


def _busy_message(where: str) -> str:
    fault = classify(sqlite3.OperationalError("database is locked"), where)
    return fault.message if fault is not None else f"{where} is busy"


def _fault(exc: sqlite3.Error, where: str) -> StoreFault:
    return classify(exc, where) or StoreFault(FaultKind.DAMAGED, f"{where}: {type(exc).__name__}")


def backup(url: str, dest: Path) -> BackupInfo:
    """Write a backup of the database at ``url`` to the new file ``dest``."""
    dest = _new_target(dest)
    if make_url(url).get_backend_name() == "postgresql":
        return _pg_dump(url, dest)
    source = _sqlite_file(url)
    if not source.exists():
        raise InputError("SPINECARE_DATABASE_URL", "the database file does not exist", str(source))
    if dest.resolve() == source.resolve():
        raise InputError("file", "is the database itself", str(dest))
    tmp = _tmp_for(dest)
    private_file(tmp)
    try:
        src = sqlite3.connect(source, timeout=TIMEOUT_S)
        try:
            src.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the source is fine
            dst = sqlite3.connect(tmp)
            try:
                try:
                    _copy(src, dst, str(source))
                except sqlite3.Error as exc:  # the source was readable: writing the copy failed
                    raise _write_failed(exc, dest) from None
                _check_sqlite(dst, str(dest))
                revision = _revision(dst)
            finally:
                dst.close()
        finally:
            src.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _fault(exc, str(source)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return BackupInfo(dest, revision, dest.stat().st_size)


def _write_failed(exc: sqlite3.Error, dest: Path) -> OSError:
    """A failed write of a backup copy, as the file-system error it is (full disk, ...)."""
    import errno

    fault = classify(exc)
    code = errno.ENOSPC if fault is not None and fault.kind is FaultKind.FULL else errno.EIO
    return OSError(code, os.strerror(code), str(dest))


def _check_sqlite(conn: sqlite3.Connection, name: str) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()
    if result is None or result[0] != "ok":
        raise StoreFault(FaultKind.DAMAGED, f"{name}: the copy failed SQLite's integrity check")


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return str(row[0]) if row else None


def check_backup(src: Path, url: str) -> BackupInfo:
    """The backup ``src`` if it can be restored into the database at ``url``; else InputError."""
    src = Path(src).expanduser()
    try:
        with open(src, "rb") as f:
            magic = f.read(16)
    except FileNotFoundError:
        raise InputError("file", "not found", str(src)) from None
    except IsADirectoryError:
        raise InputError("file", "is a directory, not a backup file", str(src)) from None
    postgres = make_url(url).get_backend_name() == "postgresql"
    if postgres:
        if not magic.startswith(PGDUMP_MAGIC):
            raise InputError("file", "is not a PostgreSQL backup (spinecare db backup)", str(src))
        _pg_run("pg_restore", ["--list", str(src)], url=None)
        return BackupInfo(src, None, src.stat().st_size)
    if magic != SQLITE_MAGIC:
        raise InputError("file", "is not a SQLite backup (spinecare db backup)", str(src))
    target = _sqlite_file(url)
    if target.exists() and target.resolve() == src.resolve():
        raise InputError("file", "is the database itself", str(src))
    try:
        conn = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
            if result is None or result[0] != "ok":
                raise InputError("file", "is damaged (SQLite integrity check failed)", str(src))
            revision = _revision(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        raise InputError("file", "is damaged or not a SQLite database", str(src)) from None
    if revision is None or not migrate.is_known_revision(revision):
        raise InputError(
            "file", f"is not a spinecare database of a schema this version knows ({revision})",
            str(src),
        )  # fmt: skip
    return BackupInfo(src, revision, src.stat().st_size)


@contextmanager
def prepared_restore(src: Path, url: str) -> Iterator[PreparedRestore]:
    """Check the backup ``src`` in full for a restore into ``url``, touching nothing there.

    SQLite: the backup is copied into a private temporary directory (beside the database, 0700),
    its tables are compared with those of its schema revision, the copy is upgraded to the
    newest schema and its audit chain verified. Each failure is an InputError about the file
    ("nothing was changed" is true then). The copy is removed when the block ends."""
    info = check_backup(src, url)
    if make_url(url).get_backend_name() == "postgresql":
        _pg_check_contents(info.path)
        yield PreparedRestore(info, None, None)
        return
    target = _sqlite_file(url)
    where = target.parent if target.parent.is_dir() else None
    work = Path(tempfile.mkdtemp(prefix=".spinecare-restore-", dir=where))
    try:
        copy = work / "restore.db"
        _private_copy(info.path, copy)
        _check_tables(copy, info.path, info.revision or "")
        chain = _upgrade_and_verify(copy, info.path)
        yield PreparedRestore(info, copy, chain)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _private_copy(src: Path, copy: Path) -> None:
    private_file(copy)
    try:
        src_conn = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(copy)
            try:
                src_conn.backup(dst)
            finally:
                dst.close()
        finally:
            src_conn.close()
    except sqlite3.Error as exc:
        fault = classify(exc)
        if fault is not None and fault.kind in (FaultKind.FULL, FaultKind.IO):
            raise _write_failed(exc, copy) from None
        raise InputError("file", "is damaged or not a SQLite database", str(src)) from None


def _tables(path: Path) -> dict[str, set[str]]:
    """Every table of the SQLite file ``path`` and its columns."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: {str(c[1]) for c in conn.execute("SELECT * FROM pragma_table_info(?)", (name,))}
            for name in names
        }
    finally:
        conn.close()


@functools.lru_cache(maxsize=8)
def reference_tables(revision: str) -> dict[str, frozenset[str]]:
    """The tables and columns a spinecare database at ``revision`` has: those of a new SQLite
    file migrated to it (what the migrations say, not a list to keep in step by hand)."""
    from spinecare.store.engine import make_engine

    with tempfile.TemporaryDirectory(prefix="spinecare-schema-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'reference.db'}")
        try:
            migrate.upgrade(engine, revision)
        finally:
            engine.dispose()
        return {k: frozenset(v) for k, v in _tables(Path(tmp) / "reference.db").items()}


def _check_tables(copy: Path, src: Path, revision: str) -> None:
    """Refuse a file that says it is at ``revision`` but lacks a table or column of it (an
    ``alembic_version`` table alone used to pass and replace the database)."""
    have = _tables(copy)
    missing: list[str] = []
    for table, columns in sorted(reference_tables(revision).items()):
        if table not in have:
            missing.append(table)
        else:
            missing.extend(f"{table}.{c}" for c in sorted(columns - have[table]))
    if missing:
        raise _not_whole(src, revision, missing)


def _not_whole(src: Path, revision: str, missing: list[str]) -> InputError:
    """The refusal of a backup that lacks tables or columns of its own schema revision."""
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return InputError(
        "file",
        f"is not a whole spinecare database of schema {revision}: it lacks "
        f"{', '.join(missing[:3])}{more}; nothing was changed",
        str(src),
    )


def _upgrade_and_verify(copy: Path, src: Path) -> ChainReport:
    """Upgrade the copy to the newest schema and verify its audit chain (either failing is the
    backup's fault: an InputError naming it)."""
    from spinecare.store.audit import verify_chain
    from spinecare.store.engine import Store, make_engine

    store = Store(make_engine(f"sqlite:///{copy}"))
    try:
        try:
            if not migrate.is_up_to_date(store.engine):
                store.upgrade()
        except Exception as exc:
            fault = classify(exc)
            if fault is not None and fault.kind in (FaultKind.FULL, FaultKind.IO):
                raise
            raise InputError(
                "file",
                "could not be upgraded to the newest schema (the backup's data does not fit "
                f"it: {type(exc).__name__}); nothing was changed",
                str(src),
            ) from None
        with store.session() as session:
            return verify_chain(session)
    finally:
        store.dispose()


def restore(prepared: PreparedRestore, url: str, *, damaged: bool = False) -> BackupInfo:
    """Replace the database at ``url`` by the prepared backup, in one transaction. The caller
    has made a backup of the current database.

    A failure before the copy into the live database completed leaves it as it was (the
    backup API's write is one transaction); one after it raises RestoreIncomplete.

    ``damaged``: the SQLite file there is not a usable database (the caller kept a copy). The
    backup API cannot write into a file that is not a database, so the restored copy is built
    beside it and renamed over it; its journal files, which belong to the damaged file and would
    be replayed into the restored one, are set aside with it."""
    info = prepared.source
    if prepared.copy is None:  # PostgreSQL
        _pg_run(
            "pg_restore",
            ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
             str(info.path)],
            url=url,
        )  # fmt: skip
        return info
    target = _sqlite_file(url)
    if not target.parent.is_dir():
        from spinecare.store.files import private_dir

        private_dir(target.parent, setting="SPINECARE_DATABASE_URL")
    into = _tmp_for(target) if damaged else target
    private_file(into)
    replaced = False
    try:
        src_conn = sqlite3.connect(f"{prepared.copy.resolve().as_uri()}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(into, timeout=TIMEOUT_S)
            try:
                _copy(src_conn, dst, str(target))
                replaced = not damaged
                _check_sqlite(dst, str(target))
            finally:
                dst.close()
        finally:
            src_conn.close()
        if damaged:
            _set_aside_journals(target)
            os.replace(into, target)
            replaced = True
            fsync_dir(target.parent)
        os.chmod(target, PRIVATE_FILE)
    except BaseException as exc:
        if damaged and not replaced:
            with contextlib.suppress(OSError):
                into.unlink()
        if replaced and isinstance(exc, Exception):
            fault = classify(exc, str(target))
            what = fault.message if fault is not None else f"{type(exc).__name__}"
            raise RestoreIncomplete(
                fault.kind if fault is not None else FaultKind.IO, what.split(". Nothing")[0]
            ) from None
        if isinstance(exc, sqlite3.Error):
            raise _fault(exc, str(target)) from None
        raise
    return info


def _set_aside_journals(target: Path) -> None:
    for suffix in ("-journal", "-wal", "-shm"):
        side = target.with_name(target.name + suffix)
        if side.exists():
            os.replace(side, side.with_name(side.name + ".damaged"))


# --- PostgreSQL -------------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: the newest of Debian's server binaries, else from PATH."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdecimal()
        else 0,
    )  # fmt: skip
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise StoreFault(
            FaultKind.CANNOT_OPEN,
            f"{name} is not installed (apt-get install postgresql-client); nothing was changed",
        )
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it."""
    env = {**os.environ, "PGCONNECT_TIMEOUT": str(int(TIMEOUT_S))}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_run(tool: str, args: list[str], *, url: str | None, out: Path | None = None) -> None:
    cmd = [pg_tool(tool)]
    env = dict(os.environ)
    masked = ""
    if url is not None:
        parsed = make_url(url)
        conninfo, env = _libpq(parsed)
        cmd.append(f"--dbname={conninfo}")
        masked = parsed.render_as_string(hide_password=True)
    if out is not None:
        cmd.append(f"--file={out}")
    proc = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["failed"])[0]
        kind = FaultKind.UNREACHABLE if "connect" in first.lower() else FaultKind.DAMAGED
        if tool == "pg_restore" and url is None:
            raise InputError("file", "is not a readable PostgreSQL backup", args[-1])
        raise StoreFault(kind, f"{tool} failed for {masked or 'the backup'}: {first[:200]}")


def _pg_output(args: list[str]) -> str:
    """What ``pg_restore ARGS`` prints for a backup file (no database involved)."""
    proc = subprocess.run(
        [pg_tool("pg_restore"), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise InputError("file", "is not a readable PostgreSQL backup", args[-1])
    return proc.stdout


def _pg_check_contents(src: Path) -> None:
    """A dump of spinecare's tables at a revision this version knows: the revision is read
    from the dump's ``alembic_version`` data, the tables from its table of contents. (Its audit
    chain cannot be verified without restoring it somewhere: that happens after the restore.)"""
    data = _pg_output(["--data-only", "--table=alembic_version", "--file=-", str(src)])
    lines = data.splitlines()
    revision: str | None = None
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and i + 1 < len(lines):
            revision = lines[i + 1].strip() if lines[i + 1].strip() != "\\." else None
            break
    if revision is None or not migrate.is_known_revision(revision):
        raise InputError(
            "file", f"is not a spinecare database of a schema this version knows ({revision})",
            str(src),
        )  # fmt: skip
    listed = set()
    for line in _pg_output(["--list", str(src)]).splitlines():
        parts = line.split()
        if not line.startswith(";") and len(parts) >= 7 and parts[3:5] == ["TABLE", "public"]:
            listed.add(parts[5])
    missing = sorted(set(reference_tables(revision)) - listed)
    if missing:
        raise _not_whole(src, revision, missing)


def _pg_dump(url: str, dest: Path) -> BackupInfo:
    tmp = _tmp_for(dest)
    private_file(tmp)
    try:
        _pg_run("pg_dump", ["--format=custom", "--no-owner"], url=url, out=tmp)
        os.chmod(tmp, PRIVATE_FILE)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return BackupInfo(dest, None, dest.stat().st_size)
