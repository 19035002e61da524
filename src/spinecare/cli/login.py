"""`spinecare login|logout|passwd|whoami`: this account's logins to the clinic database.

``login`` checks the username and password (lockout after repeated failures) and stores a token
that expires after ``SPINECARE_LOGIN_HOURS`` in ``<data dir>/credentials.json`` (0600 in the
0700 data directory). Every command that reads or writes the clinic's records acts as that
login. A one-time password (the first admin, a reset) must be changed first: ``login`` asks for
the new one on a terminal, or reads it as the second line with ``--password-stdin``; otherwise
``passwd`` does it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, acting_name, clinic_store, current_actor
from spinecare.cli.output import echo, note, print_json
from spinecare.errors import InputError

PASSWORD_STDIN = typer.Option(
    False,
    "--password-stdin",
    help="read the password from the first line of stdin (a new one from the second)",
)


def _line(field: str) -> str | None:
    line = sys.stdin.readline()
    if not line:
        return None
    value = line.rstrip("\r\n")
    return value if value else None


def _prompt(text: str, *, confirm: bool = False) -> str:
    if not sys.stdin.isatty():
        raise InputError("password", "no terminal to prompt on: use --password-stdin")
    return str(typer.prompt(text, hide_input=True, confirmation_prompt=confirm))


def _local(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M %Z")


@app.command("login")
def login(
    username: str | None = typer.Option(None, "--username", help="your username"),
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Log in to the clinic database (a token that expires, readable by you only)."""
    from spinecare.cli import credentials
    from spinecare.services.auth import issue_token, revoke_token
    from spinecare.services.users import authenticate, change_password, count_users

    if username is None:
        if not sys.stdin.isatty():
            raise InputError("username", "give --username NAME")
        username = str(typer.prompt("Username"))
    if password_stdin:
        password = _line("password")
        if password is None:
            raise InputError("password", "nothing on standard input")
        new_password = _line("new password")
    else:
        password = _prompt("Password")
        new_password = None
    with clinic_store() as (store, settings):
        with store.session() as db:
            if count_users(db) == 0:
                from spinecare.services.errors import AuthenticationError

                raise AuthenticationError(
                    "there are no users yet", "create the first admin: spinecare users bootstrap"
                )
            actor = authenticate(db, username, password)  # commits (failures count)
            from spinecare.store.models import User

            user = db.get(User, actor.id)
            must_change = bool(user and user.must_change_password)
        if must_change:
            if new_password is None and not password_stdin and sys.stdin.isatty():
                new_password = _prompt("New password (the one-time password must go)", confirm=True)
            if new_password is not None:  # changed before a token exists: all or nothing
                with store.session() as db:
                    change_password(db, actor, password, new_password)
                must_change = False
        hours = timedelta(hours=settings.login_hours)
        with store.unit_of_work() as db:
            issued = issue_token(db, actor, lifetime=hours, kind="cli")
        entry = credentials.Login(
            database=settings.database_url_masked,
            username=actor.username,
            token=issued.token,
            expires_at=issued.expires_at.astimezone(UTC).isoformat(),
            logged_in_at=datetime.now(UTC).isoformat(),
        )
        try:
            credentials.add(settings, entry)
        except BaseException:
            with store.unit_of_work() as undo:  # no token in the database without its file
                revoke_token(undo, issued.token)
            raise
    data = {
        "username": actor.username,
        "role": actor.role.value,
        "expires_at": issued.expires_at.astimezone(UTC).isoformat(),
        "must_change_password": must_change,
        "credentials": str(credentials.path(settings)),
    }
    if as_json:
        print_json(data)
        return
    echo(f"logged in as {actor.username} ({actor.role.value}) until {_local(issued.expires_at)}")
    if must_change:
        note("your password is a one-time password: change it now with spinecare passwd")


@app.command("logout")
def logout(
    all_: bool = typer.Option(
        False, "--all", help="end every login of yours on this database, on every machine"
    ),
    as_user: str | None = AS_OPTION,
) -> None:
    """Log out: end the login in the database and forget its token."""
    from spinecare.cli import credentials
    from spinecare.services.auth import revoke_token, revoke_user_tokens, verify_token
    from spinecare.services.errors import AuthenticationError
    from spinecare.settings import get_settings

    settings = get_settings()
    database = settings.database_url_masked
    name = acting_name(as_user, settings)
    exposed = False
    try:
        mine = [x for x in credentials.load(settings) if x.database == database]
    except AuthenticationError:
        # Others could read the file: its tokens may have been copied, so all of them end in
        # the database (forgetting them here would leave the copies working).
        mine = [x for x in credentials.load_exposed(settings) if x.database == database]
        all_ = exposed = True
    if not exposed:
        # One user's logins: the one acting (--as, SPINECARE_USER, else the newest). The file
        # may hold colleagues' logins on a shared workstation account; --all ends that user's
        # logins everywhere, never the colleagues'.
        chosen = credentials.find(settings, database, name) if mine else None
        mine = [chosen] if chosen is not None else []
    names = {x.username for x in mine}
    # Forget them here first: whatever the database says, this account is logged out.
    credentials.remove(settings, database, None if exposed else names)
    if not mine:
        echo("not logged in")
        return
    try:
        with clinic_store() as (store, _), store.unit_of_work() as db:
            for x in mine:
                if all_:
                    try:
                        who = verify_token(db, x.token, allow_password_change=True)
                    except AuthenticationError:
                        continue
                    revoke_user_tokens(db, who.id)
                else:
                    revoke_token(db, x.token)
    except Exception as exc:
        from spinecare.cli.errors import describe
        from spinecare.cli.output import error

        described = describe(exc)
        if described is None:
            raise
        status, message = described
        error(
            f"logged out here, but the login could not be ended in the database (it ends by "
            f"itself when it expires): {message}"
        )
        raise typer.Exit(status) from None
    echo(f"logged out: {', '.join(sorted(names))}")


@app.command("passwd")
def passwd(
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="current password on stdin's first line, new on second"
    ),
    as_user: str | None = AS_OPTION,
) -> None:
    """Change your password (a one-time password first of all); your other logins end."""
    from spinecare.cli import credentials
    from spinecare.services.users import change_password

    if password_stdin:
        current = _line("password")
        new = _line("new password")
        if current is None or new is None:
            raise InputError("password", "give the current and the new password on two lines")
    else:
        current = _prompt("Current password")
        new = _prompt("New password", confirm=True)
    with clinic_store() as (store, settings), store.session() as db:
        actor = current_actor(db, settings, as_user, allow_password_change=True)
        login = credentials.find(settings, settings.database_url_masked, actor.username)
        change_password(
            db, actor, current, new, keep_token=login.token if login is not None else None
        )
    echo(f"password of {actor.username} changed; your other logins have ended")


@app.command("whoami")
def whoami(as_user: str | None = AS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Show who you act as, and until when."""
    from spinecare.cli import credentials
    from spinecare.services.auth import token_expiry

    with clinic_store() as (store, settings), store.session() as db:
        actor = current_actor(db, settings, as_user, allow_password_change=True)
        login = credentials.find(settings, settings.database_url_masked, actor.username)
        expires = token_expiry(db, login.token) if login is not None else None
    data = {
        "username": actor.username,
        "role": actor.role.value,
        "expires_at": expires.astimezone(UTC).isoformat() if expires else None,
        "database_url": settings.database_url_masked,
    }
    if as_json:
        print_json(data)
        return
    until = f" until {_local(expires)}" if expires else ""
    echo(f"{actor.username} ({actor.role.value}) on {settings.database_url_masked}{until}")
