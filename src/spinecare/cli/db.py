"""`spinecare db upgrade|downgrade|current`, and what every database command shares.

Shared here (imported by the other clinic commands): opening the configured store, resolving
the acting user (``--as`` or ``SPINECARE_USER``), mapping service errors to exit statuses and
printing JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from spinecare.cli.app import app
from spinecare.errors import InputError
from spinecare.services.auth import Actor
from spinecare.services.errors import NotFoundError, PermissionDeniedError
from spinecare.store.enums import Role

if TYPE_CHECKING:  # SQLAlchemy, Alembic and the settings load inside the commands (start-up)
    from spinecare.settings import Settings
    from spinecare.store import Store
    from spinecare.store.audit import AuditedSession

# Exit statuses beyond main()'s 2 (bad input): the record does not exist / the role may not.
EXIT_NOT_FOUND = 1
EXIT_FORBIDDEN = 3

T = TypeVar("T")

db_app = typer.Typer(help="Database schema (Alembic migrations shipped in the package).")
app.add_typer(db_app, name="db")

AS_OPTION = typer.Option(
    None, "--as", help="acting user (default: SPINECARE_USER); required for changes"
)
JSON_OPTION = typer.Option(False, "--json", help="print JSON")


def fail(message: str, status: int) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(status)


@contextmanager
def clinic_store(*, auto_migrate: bool = True) -> Iterator[tuple[Store, Settings]]:
    """The configured store; service errors become one stderr line and an exit status."""
    from spinecare.settings import get_settings
    from spinecare.store import open_store

    settings = get_settings()
    store = open_store(settings, auto_migrate=auto_migrate)
    try:
        yield store, settings
    except NotFoundError as exc:
        raise fail(str(exc), EXIT_NOT_FOUND) from None
    except PermissionDeniedError as exc:
        raise fail(str(exc), EXIT_FORBIDDEN) from None
    finally:
        store.dispose()


def acting_user(session: AuditedSession, settings: Settings, as_user: str | None) -> Actor:
    """The user named by ``--as`` or ``SPINECARE_USER``; changes are refused without one."""
    name = as_user or settings.user
    if not name:
        raise InputError("as", "name the acting user with --as USERNAME or SPINECARE_USER")
    from spinecare.services.users import actor_for

    return actor_for(session, name)


def run_write(as_user: str | None, work: Callable[[AuditedSession, Actor, Settings], T]) -> T:
    """Run ``work`` in one committed unit of work as the acting user."""
    with clinic_store() as (store, settings), store.unit_of_work() as session:
        return work(session, acting_user(session, settings, as_user), settings)


# Reads without a named user: the local operator can read the database file anyway, so reads
# run with the least-privileged role that may read clinical data (billing: read, never change).
ANONYMOUS_READER = Actor(0, "cli-reader", Role.BILLING)


def run_read(as_user: str | None, work: Callable[[AuditedSession, Actor, Settings], T]) -> T:
    """Run ``work`` without committing, as the named user or an anonymous read-only reader."""
    from spinecare.services.users import actor_for

    with clinic_store() as (store, settings), store.session() as session:
        name = as_user or settings.user
        actor = actor_for(session, name) if name else ANONYMOUS_READER
        return work(session, actor, settings)


def print_json(data: Any) -> None:
    from pydantic import BaseModel

    if isinstance(data, BaseModel):
        text = data.model_dump_json(indent=2)
    elif isinstance(data, list) and all(isinstance(d, BaseModel) for d in data):
        text = json.dumps([d.model_dump(mode="json") for d in data], indent=2)
    else:
        text = json.dumps(data, indent=2, default=str)
    typer.echo(text)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Migrate the database up (to the newest schema by default)."""
    from spinecare.store import migrate as migrations

    with clinic_store(auto_migrate=False) as (store, settings):
        store.upgrade(revision)
        now = migrations.current_revision(store.engine)
        typer.echo(f"{settings.database_url_masked}: at {now}")


@db_app.command("downgrade")
def downgrade(
    revision: str = typer.Argument("-1", help="target revision ('base' drops every table)"),
) -> None:
    """Migrate the database down (one step by default)."""
    from spinecare.store import migrate as migrations

    with clinic_store(auto_migrate=False) as (store, settings):
        store.downgrade(revision)
        now = migrations.current_revision(store.engine) or "base"
        typer.echo(f"{settings.database_url_masked}: at {now}")


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
        typer.echo(f"{data['database_url']}: at {data['current'] or 'base'} (head {data['head']})")
