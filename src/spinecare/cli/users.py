"""`spinecare users bootstrap|create|list|reset-password|deactivate|activate`.

Passwords never come from an argument: from stdin (``--password-stdin``) or a hidden prompt.
The first admin comes from ``bootstrap`` on an empty database, with a one-time password shown
once; afterwards a logged-in admin or physician creates users, granting only a role they hold.
"""

from __future__ import annotations

import sys

import typer
from pydantic import SecretStr

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, clinic_store, run_read, run_write
from spinecare.cli.errors import EXIT_FORBIDDEN
from spinecare.cli.output import echo, error, note, print_json
from spinecare.errors import InputError
from spinecare.services import users as svc
from spinecare.store.enums import Role

users_app = typer.Typer(help="User accounts (roles: physician, therapist, billing, admin).")
app.add_typer(users_app, name="users")

USERNAME = typer.Option(..., "--username", help="the user's username")


def _read_password(from_stdin: bool) -> SecretStr:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("password", "nothing on standard input")
        return SecretStr(line)
    if not sys.stdin.isatty():
        raise InputError("password", "no terminal to prompt on: use --password-stdin")
    pw = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return SecretStr(str(pw))


def _role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InputError("role", f"one of {', '.join(r.value for r in Role)}", value) from None


@users_app.command("bootstrap")
def bootstrap(
    username: str = typer.Option(svc.FIRST_ADMIN, "--username", help="the first admin's name"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create the first admin on an empty database; its one-time password is shown once."""
    try:
        name = svc.normalise_username(username)
    except ValueError as exc:
        raise InputError("username", str(exc), username) from None
    with clinic_store() as (store, _), store.unit_of_work() as db:
        password = svc.bootstrap_admin(db, username=name)
    if password is None:
        error("users exist already: the first admin is created only on an empty database")
        raise typer.Exit(EXIT_FORBIDDEN)
    if as_json:
        print_json({"username": name, "role": "admin", "one_time_password": password})
        return
    echo(f"first admin created: {name}")
    echo(f"one-time password: {password}")
    note(
        "It is shown only this once. Log in with `spinecare login --username "
        f"{name}`; you will choose your own password then."
    )


@users_app.command("create")
def create(
    username: str = USERNAME,
    role: str = typer.Option(..., "--role", help="physician | therapist | billing | admin"),
    full_name: str = typer.Option("", "--full-name"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from the first line of stdin"
    ),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a user (admins and physicians; only an admin creates an admin). The password
    given is one-time: the user replaces it at the first login."""
    data = svc.UserCreate(
        username=username,
        full_name=full_name,
        role=_role(role),
        password=_read_password(password_stdin),
    )
    user = run_write(as_user, lambda s, actor, _: svc.create_user(s, actor, data))
    if as_json:
        print_json(user)
    else:
        echo(f"user {user.id}: {user.username} ({user.role.value})")
        note(
            f"the password is one-time: {user.username} chooses their own at the first login "
            f"(`spinecare login --username {user.username}`)"
        )


@users_app.command("list")
def list_(as_user: str | None = AS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List users (admins and physicians)."""
    users = run_read(as_user, lambda s, actor, _: svc.list_users(s, actor))
    if as_json:
        print_json(users)
        return
    for u in users:
        state = "" if u.active else "  (deactivated)"
        echo(f"{u.id:>4}  {u.username:<20} {u.role.value:<10} {u.full_name}{state}")


@users_app.command("reset-password")
def reset_password(
    username: str = USERNAME, as_user: str | None = AS_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Give a user a one-time password (shown once) and end their logins."""
    password = run_write(as_user, lambda s, actor, _: svc.reset_password(s, actor, username))
    if as_json:
        print_json({"username": username.strip().lower(), "one_time_password": password})
        return
    echo(f"one-time password for {username.strip().lower()}: {password}")
    note("It is shown only this once; it must be changed at the next login.")


def _set_active(username: str, active: bool, as_user: str | None) -> None:
    user = run_write(
        as_user,
        lambda s, actor, _: svc.set_active(s, actor, svc.user_id_of(s, actor, username), active),
    )
    echo(f"user {user.username}: {'active' if user.active else 'deactivated'}")


@users_app.command("deactivate")
def deactivate(username: str = USERNAME, as_user: str | None = AS_OPTION) -> None:
    """Deactivate a user (kept for the audit log) and end their logins."""
    _set_active(username, False, as_user)


@users_app.command("activate")
def activate(username: str = USERNAME, as_user: str | None = AS_OPTION) -> None:
    """Activate a deactivated user again."""
    _set_active(username, True, as_user)
