"""`spinecare db upgrade|downgrade|current|backup|restore`, and what every database command shares.

Shared here (imported by the other clinic commands): opening the configured store, the acting
user (the login this account holds: ``spinecare login``; ``--as NAME`` / ``SPINECARE_USER`` only
choose among this account's own logins) and JSON output. Errors are not handled here: they
propagate to ``spinecare.cli.main``, which words each one and picks its exit status
(``cli/errors.py``).

Destructive schema commands (``downgrade``, ``restore``) need a logged-in admin, an explicit
confirmation (``--yes``, or typing it on a terminal) and write a backup of the database first.
No downgrade loses an issued invoice number: below the billing revision it is refused while
numbers have been issued.
"""

from __future__ import annotations

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
        require_db_admin(store, settings, as_user, "downgrade the database", password_stdin)
        _refuse_losing_invoice_numbers(store, target)
        shown = target or "base (every table dropped)"
        confirm(yes, f"downgrade {settings.database_url_masked} from {current} to {shown}", "yes")
        _write_backup(settings, backup_to, "before-downgrade")
        store.downgrade(target or "base")
        now = migrations.current_revision(store.engine) or "base"
        echo(f"{settings.database_url_masked}: at {now}")


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
) -> None:
    """Replace the database by a backup: checked first; the current one is backed up first.

    A database with users needs a logged-in admin; an empty location, or a damaged database
    (which is what a restore is for), needs only the confirmation."""
    from spinecare.settings import get_settings
    from spinecare.store import backup

    settings = get_settings()
    info = backup.check_backup(file, settings.database_url)
    state = _state(settings)
    if state == "ok":
        with clinic_store(auto_migrate=False) as (store, _):
            require_db_admin(store, settings, as_user, "restore the database", False)
    confirm(yes, f"replace {settings.database_url_masked} by the backup {info.path}", "yes")
    if state == "ok":
        _write_backup(settings, backup_to, "before-restore")
    elif state == "damaged":
        _keep_damaged(settings, backup_to)
    backup.restore(file, settings.database_url, damaged=state == "damaged")
    with clinic_store() as (store, _), store.session() as db:  # the newest schema
        from spinecare.store.audit import verify_chain

        report = verify_chain(db)
        if report.intact and report.entries:
            from spinecare.cli.audit import anchor_restored

            try:
                anchor_restored(settings, db, report.last_id, report.last_hash)
            except OSError:  # restored all the same; the next audit verify notes it
                note("warning: the restored audit log could not be noted for audit verify")
    echo(f"{settings.database_url_masked}: restored from {info.path}")
    if not report.intact:
        note(f"warning: the restored audit log is broken at entry #{report.broken_at}: "
             f"{report.reason}")  # fmt: skip


def _keep_damaged(settings: Settings, dest: Path | None) -> None:
    """Keep a damaged SQLite file as it is (the backup API may not read it)."""
    import shutil

    from spinecare.store.engine import sqlite_path

    path = sqlite_path(settings.database_url)
    if path is None:
        return
    target = dest or default_backup(settings, "damaged")
    if target.exists():
        raise InputError("backup", "exists already: choose a new file name", str(target))
    shutil.copyfile(path, target)
    target.chmod(0o600)
    note(f"the damaged database was kept as {target}")
