"""`spinecare users create|list`: accounts and roles. Passwords never come from an argument."""

from __future__ import annotations

import sys

import typer
from pydantic import SecretStr

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, acting_user, clinic_store, print_json, run_read
from spinecare.errors import InputError
from spinecare.services import users as svc
from spinecare.store.enums import Role

users_app = typer.Typer(help="User accounts (roles: physician, therapist, billing, admin).")
app.add_typer(users_app, name="users")


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


@users_app.command("create")
def create(
    username: str = typer.Option(..., "--username"),
    role: str = typer.Option(..., "--role", help="physician | therapist | billing | admin"),
    full_name: str = typer.Option("", "--full-name"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from the first line of stdin"
    ),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a user. The very first user needs no --as (and must be admin or physician)."""
    try:
        role_ = Role(role.strip().lower())
    except ValueError:
        raise InputError("role", f"one of {', '.join(r.value for r in Role)}", role) from None
    data = svc.UserCreate(
        username=username,
        full_name=full_name,
        role=role_,
        password=_read_password(password_stdin),
    )
    with clinic_store() as (store, settings), store.unit_of_work() as session:
        first = svc.count_users(session) == 0
        actor = None if first else acting_user(session, settings, as_user)
        user = svc.create_user(session, actor, data)
    if as_json:
        print_json(user)
    else:
        typer.echo(f"user {user.id}: {user.username} ({user.role.value})")


@users_app.command("list")
def list_(as_user: str | None = AS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List users (admins and physicians)."""
    users = run_read(as_user, lambda s, actor, _: svc.list_users(s, actor))
    if as_json:
        print_json(users)
        return
    for u in users:
        state = "" if u.active else "  (deactivated)"
        typer.echo(f"{u.id:>4}  {u.username:<20} {u.role.value:<10} {u.full_name}{state}")
