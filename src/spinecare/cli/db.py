"""`spinecare db upgrade|downgrade|current|backup|restore`, and what every database command shares.

Shared here (imported by the other clinic commands): opening the configured store, the acting
user (the login this account holds: ``spinecare login``; ``--as NAME`` / ``SPINECARE_USER`` only
choose among this account's own logins) and JSON output. Errors are not handled here: they
propagate to ``spinecare.cli.main``, which words each one and picks its exit status
(``cli/errors.py``).

Destructive schema commands (``downgrade``, ``restore``) need a logged-in admin, an explicit
confirmation (``--yes``, or typing it on a terminal) and write a backup of the database first.
No downgrade loses an issued invoice number: below the billing revision it is refused while
numbers have been issued. Both are refused while a session runs (its result could not be stored
afterwards), and both leave an entry in the audit log: a restore otherwise looked like a log
cut back, a downgrade that drops a column like nothing at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer

from spinecare.cli.app import app
from spinecare.cli.errors import EXIT_FORBIDDEN, EXIT_NOT_FOUND
from spinecare.cli.output import echo, note, print_json
from spinecare.errors import InputError
from spinecare.services.auth import Actor
from spinecare.services.errors import AuthenticationError

if TYPE_CHECKING:  # SQLAlchemy, Alembic and the settings load inside the commands (start-up)
    from spinecare.settings import Settings
    from spinecare.store import Store
    from spinecare.store.audit import AuditedSession
    from spinecare.store.backup import PreparedRestore

T = TypeVar("T")

db_app = typer.Typer(help="Database: schema migrations, backup and restore.")
app.add_typer(db_app, name="db")

AS_OPTION = typer.Option(
    None,
    "--as",
    help="which of your logins acts, by username (default: your newest login; SPINECARE_USER)",
)
JSON_OPTION = typer.Option(False, "--json", help="print JSON")
YES_OPTION = typer.Option(False, "--yes", help="confirm: this destroys data (a backup is made)")
BACKUP_OPTION = typer.Option(
    None, "--backup", help="where to write the backup first (default: <data dir>/backups/...)"
)
BROKEN_AUDIT_OPTION = typer.Option(
    False,
    "--accept-broken-audit",
    help="restore a backup whose audit log's hash chain is broken (refused otherwise; the "
    "restore's own audit entry notes it)",
)

__all__ = [
    "AS_OPTION",
    "EXIT_FORBIDDEN",
    "EXIT_NOT_FOUND",
    "JSON_OPTION",
    "acting_user",
    "clinic_store",
    "current_actor",
    "fail",
    "print_json",
    "run_read",
    "run_write",
]


def fail(message: str, status: int) -> typer.Exit:
    from spinecare.cli.output import error

    error(message)
    return typer.Exit(status)


@contextmanager
def clinic_store(*, auto_migrate: bool = True) -> Iterator[tuple[Store, Settings]]:
    """The configured store (migrated to the newest schema unless told not to)."""
    from spinecare.settings import get_settings
    from spinecare.store import open_store

    settings = get_settings()
    store = open_store(settings, auto_migrate=auto_migrate)
    try:
        yield store, settings
    finally:
        store.dispose()


def acting_name(as_user: str | None, settings: Settings) -> str | None:
    """Whose login acts: ``--as``, else ``SPINECARE_USER``, else None (the newest login). An
    empty or blank name counts as not given: ``SPINECARE_USER=`` in a script, ``--as "$WHO"``
    with WHO unset, said "not logged in" although the account held valid logins."""
    for name in (as_user, settings.user):
        if name is not None and name.strip():
            return name
    return None


def current_actor(
    session: AuditedSession,
    settings: Settings,
    as_user: str | None,
    *,
    allow_password_change: bool = False,
) -> Actor:
    """The user of this account's login for the configured database: the one named by
    ``--as``/``SPINECARE_USER``, else the newest. Raises AuthenticationError (exit 7) when there
    is none, or it expired, was ended, or its user still has a one-time password."""
    from spinecare.cli import credentials
    from spinecare.services.auth import verify_token

    name = acting_name(as_user, settings)
    login = credentials.find(settings, settings.database_url_masked, name)
    if login is None:
        raise _not_logged_in(session, name)
    return verify_token(session, login.token, allow_password_change=allow_password_change)


def _not_logged_in(session: AuditedSession, name: str | None) -> AuthenticationError:
    from spinecare.services.users import count_users

    if count_users(session) == 0:
        return AuthenticationError(
            "there are no users yet",
            "create the first admin with spinecare users bootstrap, then spinecare login",
        )
    if name:
        return AuthenticationError(
            f"you are not logged in as {name}", f"log in: spinecare login --username {name}"
        )
    return AuthenticationError("you are not logged in", "log in first: spinecare login")


def acting_user(session: AuditedSession, settings: Settings, as_user: str | None) -> Actor:
    """The acting user (see :func:`current_actor`)."""
    return current_actor(session, settings, as_user)


def run_write(as_user: str | None, work: Callable[[AuditedSession, Actor, Settings], T]) -> T:
    """Run ``work`` in one committed unit of work as the logged-in user."""
    with clinic_store() as (store, settings), store.unit_of_work() as session:
        return work(session, current_actor(session, settings, as_user), settings)


def run_read(as_user: str | None, work: Callable[[AuditedSession, Actor, Settings], T]) -> T:
    """Run ``work`` without committing, as the logged-in user (reads need a login too)."""
    with clinic_store() as (store, settings), store.session() as session:
        return work(session, current_actor(session, settings, as_user), settings)


# --- schema and whole-database commands ---------------------------------------------------


def confirm(yes: bool, what: str, word: str) -> None:
    """Go on only with ``--yes``, or when the user types ``word`` on a terminal."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError("yes", f"{what}: confirm with --yes (a backup is written first)")
    typed = typer.prompt(f"{what}. Type {word!r} to go on")
    if str(typed).strip() != word:
        raise InputError("yes", "not confirmed; nothing was changed")


def default_backup(settings: Settings, reason: str) -> Path:
    from spinecare.store.files import private_dir

    folder = private_dir(Path(settings.data_dir) / "backups")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    suffix = ".pgdump" if settings.database_url.startswith("postgresql") else ".db"
    return folder / f"spinecare-{stamp}-{reason}{suffix}"


def _write_backup(settings: Settings, dest: Path | None, reason: str) -> Path:
    from spinecare.store import backup

    info = backup.backup(settings.database_url, dest or default_backup(settings, reason))
    note(f"backup of the database written to {info.path}")
    return info.path


def _has_table(store: Store, name: str) -> bool:
    from sqlalchemy import inspect

    return name in inspect(store.engine).get_table_names()


def _read_password(from_stdin: bool, prompt: str = "Password") -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise InputError("password", "nothing on standard input")
        return password
    if not sys.stdin.isatty():
        raise InputError("password", "no terminal to prompt on: use --password-stdin")
    return str(typer.prompt(prompt, hide_input=True))


def require_db_admin(
    store: Store, settings: Settings, as_user: str | None, action: str, password_stdin: bool
) -> Actor:
    """The logged-in admin; on a schema older than logins (below 0004, after a downgrade) the
    admin's username and password are checked directly (``--as NAME --password-stdin``)."""
    from spinecare.services.auth import require_database_admin

    with store.session() as db:
        if _has_table(store, "auth_tokens"):
            actor = current_actor(db, settings, as_user)
        else:
            from spinecare.services.users import authenticate_old_schema

            name = acting_name(as_user, settings)
            if not name:
                raise InputError("as", "name the admin: --as USERNAME (the schema predates logins)")
            actor = authenticate_old_schema(db, name, _read_password(password_stdin))
    return require_database_admin(actor, action)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Migrate the database up (to the newest schema by default)."""
    from spinecare.store import migrate as migrations
    from spinecare.store.engine import check_known_revision

    with clinic_store(auto_migrate=False) as (store, settings):
        check_known_revision(store)
        store.upgrade(migrations.upgrade_target(store.engine, revision))
        now = migrations.current_revision(store.engine)
        echo(f"{settings.database_url_masked}: at {now}")


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: str = typer.Argument("-1", help="target revision, -N steps, or 'base'"),
    yes: bool = YES_OPTION,
    backup_to: Path | None = BACKUP_OPTION,
    as_user: str | None = AS_OPTION,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="the admin's password (schemas older than logins)"
    ),
) -> None:
    """Migrate the database down (one step by default): admins only, confirmed, backed up."""
    from spinecare.store import migrate as migrations

    with clinic_store(auto_migrate=False) as (store, settings):
        current, target = migrations.downgrade_target(store.engine, revision)
        admin = require_db_admin(store, settings, as_user, "downgrade the database", password_stdin)
        _refuse_losing_invoice_numbers(store, target)
        refuse_running_sessions(store, "downgrade")
        shown = target or "base (every table dropped)"
        confirm(yes, f"downgrade {settings.database_url_masked} from {current} to {shown}", "yes")
        written = _write_backup(settings, backup_to, "before-downgrade")
        recorded = _record_downgrade(store, admin.username, current, target, written)
        try:
            store.downgrade(target or "base")
        except Exception as exc:
            if not recorded:
                raise
            status, what = _described(exc)
            raise fail(
                f"{what}; the schema is still at {current}, only the audit log notes the "
                "attempted downgrade",
                status,
            ) from None
        now = migrations.current_revision(store.engine) or "base"
        echo(f"{settings.database_url_masked}: at {now}")


def _record_downgrade(
    store: Store, actor: str, current: str, target: str | None, backup: Path
) -> bool:
    """Append the downgrade to the audit log before it runs, where the schema still has the
    chained log (from ``0004_auth_audit_chain``): a downgrade drops columns and tables with
    their data, and left no trace. False when the schema has no chained log."""
    from spinecare.store.audit import record_event
    from spinecare.store.enums import AuditAction

    if not (_has_table(store, "audit_chain") and _has_table(store, "audit_log")):
        return False
    with store.unit_of_work(actor) as db:
        record_event(
            db, "database", "downgrade", AuditAction.UPDATE,
            before={"revision": current},
            after={"revision": target or "base", "backup": _shown_path(backup)},
        )  # fmt: skip
    return True


def _shown_path(path: Path) -> str:
    """A file name as stored text: characters no stored text may hold are escaped."""
    from spinecare.errors import is_unsafe

    name = os.fsdecode(path)
    return "".join(f"\\x{ord(c):02x}" if is_unsafe(c) else c for c in name)


def _described(exc: BaseException) -> tuple[int, str]:
    """(status, one line) for ``exc`` as ``spinecare.cli.main`` words it, without the "nothing
    was changed" it may end with: for callers that know something was."""
    from spinecare.cli.errors import EXIT_INTERNAL, describe

    found = describe(exc)
    status, what = found if found is not None else (
        EXIT_INTERNAL, f"internal error ({type(exc).__name__})"
    )  # fmt: skip
    for cut in (". Nothing was", "; nothing was", ". nothing was"):
        what = what.split(cut)[0]
    return status, what


def refuse_running_sessions(store: Store, action: str) -> None:
    """Refuse ``action`` while a session recorded ``running`` is held by a live process (the
    lock in its output directory, as ``services.sessions`` tests it): a restore or downgrade
    under it made its result unstorable ("session: is planned, not running") and lost the
    treatment's record. A session whose process is gone is not in the way (the next session
    start closes it as aborted)."""
    from sqlalchemy import inspect, text

    from spinecare.services.sessions import held_by_a_live_process

    if not _has_table(store, "sessions"):
        return
    columns = {c["name"] for c in inspect(store.engine).get_columns("sessions")}
    if not {"status", "telemetry_dir", "course_id", "number"} <= columns:
        return
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, course_id, number, telemetry_dir FROM sessions "
                "WHERE status = 'running' ORDER BY id"
            )
        ).all()
    for row in rows:
        if held_by_a_live_process(row.telemetry_dir):
            raise InputError(
                "database",
                f"session {row.id} (number {row.number} of course {row.course_id}) is running "
                f"in another process: {action} refused; wait until it has ended, then try "
                "again. Nothing was changed",
            )


def _refuse_losing_invoice_numbers(store: Store, target: str | None) -> None:
    """Below 0002_billing the invoices go: refused while any number has been issued (the
    migration refuses too; this says so before the backup and the question)."""
    from sqlalchemy import text

    from spinecare.store import migrate as migrations

    if not _has_table(store, "invoices"):
        return
    keeps_billing = target is not None and target != "0001_clinical"
    if keeps_billing or not migrations.is_known_revision("0002_billing"):
        return
    with store.engine.connect() as conn:
        issued = conn.execute(
            text("SELECT COUNT(*) FROM invoices WHERE number IS NOT NULL")
        ).scalar_one()
    if issued:
        raise InputError(
            "revision",
            f"{issued} issued invoice(s) would be lost and their numbers issued again: a "
            "downgrade below 0002_billing is refused while invoices have numbers",
            target or "base",
        )


@db_app.command("current")
def current(as_json: bool = JSON_OPTION) -> None:
    """Show the database's schema revision and the newest one this version ships."""
    from spinecare.store import migrate as migrations

    with clinic_store(auto_migrate=False) as (store, settings):
        data = {
            "database_url": settings.database_url_masked,
            "current": migrations.current_revision(store.engine),
            "head": migrations.head_revision(),
        }
    if as_json:
        print_json(data)
    else:
        echo(f"{data['database_url']}: at {data['current'] or 'base'} (head {data['head']})")


@db_app.command("backup")
def backup_cmd(
    file: Path = typer.Argument(..., help="the backup file to write (must not exist)"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a backup of the whole database (admins): SQLite online backup, or pg_dump."""
    from spinecare.services.auth import require_database_admin
    from spinecare.store import backup

    with clinic_store() as (store, settings), store.session() as db:
        require_database_admin(current_actor(db, settings, as_user), "back up the database")
    info = backup.backup(settings.database_url, file)
    data = {"file": str(info.path), "bytes": info.size_bytes, "revision": info.revision}
    if as_json:
        print_json(data)
    else:
        echo(f"backup of {settings.database_url_masked} written to {info.path} "
             f"({info.size_bytes} bytes)")  # fmt: skip


def _state(settings: Settings) -> str:
    """'empty' (no database yet), 'ok' (a spinecare database with users) or 'damaged'."""
    from spinecare.store import open_store
    from spinecare.store.engine import sqlite_path
    from spinecare.store.faults import TRANSIENT, classify

    path = sqlite_path(settings.database_url)
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        return "empty"
    try:
        store = open_store(settings, auto_migrate=False)
        try:
            if not _has_table(store, "users"):
                return "empty"
            with store.engine.connect() as conn:
                from sqlalchemy import text

                users = conn.execute(text("SELECT COUNT(*) FROM users")).scalar_one()
            return "ok" if users else "empty"
        finally:
            store.dispose()
    except Exception as exc:
        fault = classify(exc)
        if fault is None or fault.kind in TRANSIENT:
            raise
        return "damaged"


@db_app.command("restore")
def restore_cmd(
    file: Path = typer.Argument(..., help="a backup written by spinecare db backup"),
    yes: bool = YES_OPTION,
    backup_to: Path | None = BACKUP_OPTION,
    as_user: str | None = AS_OPTION,
    accept_broken_audit: bool = BROKEN_AUDIT_OPTION,
) -> None:
    """Replace the database by a backup: checked in full first; the current one is backed up.

    A database with users needs a logged-in admin; an empty location, or a damaged database
    (which is what a restore is for), needs only the confirmation. The backup is checked in a
    private copy (tables, upgrade, audit chain) before the database is touched; the restore is
    recorded in the restored audit log, in the same transaction on SQLite."""
    from spinecare.settings import get_settings
    from spinecare.store import backup

    settings = get_settings()
    backup.check_backup(file, settings.database_url)  # the cheap checks before the login
    state = _state(settings)
    actor_name = _system_actor()
    if state == "ok":
        with clinic_store(auto_migrate=False) as (store, _):
            admin = require_db_admin(store, settings, as_user, "restore the database", False)
            actor_name = admin.username
            refuse_running_sessions(store, "restore")
    with backup.prepared_restore(file, settings.database_url) as prepared:
        info = prepared.source
        chain = prepared.chain
        if chain is not None and not chain.intact and not accept_broken_audit:
            from spinecare.cli.errors import EXIT_AUDIT_BROKEN

            where = f"entry #{chain.broken_at}" if chain.broken_at is not None else "its head"
            raise fail(
                f"the backup {info.path} has an audit log broken at {where}: {chain.reason}. "
                "Nothing was changed; restore it anyway with --accept-broken-audit",
                EXIT_AUDIT_BROKEN,
            )
        confirm(yes, f"replace {settings.database_url_masked} by the backup {info.path}", "yes")
        safety: Path | None = None
        if state == "ok":
            safety = _write_backup(settings, backup_to, "before-restore")
        elif state == "damaged":
            safety = _keep_damaged(settings, backup_to)
        event = _restore_event(settings, prepared, state, safety)
        if prepared.copy_url is not None:  # SQLite: in the copy, one transaction with it
            _append_event(prepared.copy_url, actor_name, event)
        try:
            backup.restore(prepared, settings.database_url, damaged=state == "damaged")
        except backup.RestoreIncomplete as exc:
            raise _replaced_but(exc, info.path, safety) from None
    try:
        with clinic_store() as (store, _):  # PostgreSQL: upgraded to the newest schema here
            if prepared.copy_url is None:
                _append_event(settings.database_url, actor_name, event)
            with store.session() as db:
                from spinecare.store.audit import verify_chain

                report = verify_chain(db)
                if report.intact and report.entries:
                    _anchor(settings, db, report.last_id, report.last_hash)
    except Exception as exc:
        raise _replaced_but(exc, info.path, safety) from None
    echo(f"{settings.database_url_masked}: restored from {info.path}")
    if not report.intact:
        note(f"warning: the restored audit log is broken at entry #{report.broken_at}: "
             f"{report.reason}")  # fmt: skip


def _system_actor() -> str:
    """Who restores into an empty or damaged database, where there is no login to name: the
    operating-system account."""
    import getpass

    try:
        name = getpass.getuser()
    except (OSError, KeyError):
        name = str(os.getuid())
    return f"system:{name}"[:64]


def _restore_event(
    settings: Settings, prepared: PreparedRestore, state: str, safety: Path | None
) -> dict[str, object]:
    """What the restore's audit entry says: the backup, its log's head, and the head of the log
    it replaces (so a later reader sees the log did not simply end there)."""
    chain = prepared.chain
    backup_head = (
        {"id": chain.last_id, "hash": chain.last_hash, "intact": chain.intact}
        if chain is not None
        else None
    )
    return {
        "restored_from": _shown_path(prepared.source.path.resolve()),
        "backup_revision": prepared.source.revision,
        "backup_head": backup_head,
        "replaced_head": _live_head(settings) if state == "ok" else None,
        "replaced_state": state,
        "safety_backup": _shown_path(safety) if safety is not None else None,
    }


def _live_head(settings: Settings) -> dict[str, object] | None:
    """The live log's newest entry (id and hash) before the restore replaces it."""
    from sqlalchemy import text

    with clinic_store(auto_migrate=False) as (store, _):
        if not _has_table(store, "audit_chain"):
            return None
        with store.engine.connect() as conn:
            row = conn.execute(text("SELECT last_id, last_hash FROM audit_chain WHERE id = 1"))
            head = row.first()
    return {"id": int(head.last_id), "hash": str(head.last_hash)} if head is not None else None


def _append_event(url: str, actor: str, after: dict[str, object]) -> None:
    from spinecare.store import open_store
    from spinecare.store.audit import record_event
    from spinecare.store.enums import AuditAction

    store = open_store(url=url, auto_migrate=False)
    try:
        with store.unit_of_work(actor) as db:
            record_event(db, "database", "restore", AuditAction.UPDATE, after=after)
    finally:
        store.dispose()


def _anchor(settings: Settings, db: AuditedSession, last_id: int, last_hash: str) -> None:
    from spinecare.cli.audit import AnchorsUnreadable, anchor_restored

    try:
        anchor_restored(settings, db, last_id, last_hash)
    except (OSError, AnchorsUnreadable):  # restored all the same; audit verify says so
        note("warning: the restored audit log could not be noted for audit verify")


def _replaced_but(exc: BaseException, file: Path, safety: Path | None) -> typer.Exit:
    """The one line for a failure after the database was replaced: never "nothing was
    changed", and where the database before the restore is."""
    status, what = _described(exc)
    if safety is not None:
        back = (
            f"the database before the restore is kept in {safety} "
            f"(spinecare db restore {safety} --yes brings it back)"
        )
    else:
        back = "the location held no database with users before"
    return fail(f"the database WAS replaced by the backup {file}, but then: {what}; {back}", status)


def _keep_damaged(settings: Settings, dest: Path | None) -> Path | None:
    """Keep a damaged SQLite file as it is (the backup API may not read it); its copy."""
    import shutil

    from spinecare.store.engine import sqlite_path

    path = sqlite_path(settings.database_url)
    if path is None:
        return None
    target = dest or default_backup(settings, "damaged")
    if target.exists():
        raise InputError("backup", "exists already: choose a new file name", str(target))
    shutil.copyfile(path, target)
    target.chmod(0o600)
    note(f"the damaged database was kept as {target}")
    return target
