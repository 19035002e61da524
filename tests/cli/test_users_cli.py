"""Logins and users from the command line: the first admin once, one-time passwords changed at
the first login, tokens in a 0600 file that expire, lockout, grants, `--as` only among one's own
logins, reads need a login too."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.cli.conftest import ADMIN_PASSWORD, create_user, login
from tests.conftest import CLI_PASSWORD

Run = Callable[..., tuple[int, str, str]]


def _data_dir() -> Path:
    return Path(os.environ["SPINECARE_DATA_DIR"])


def test_the_first_admin_from_an_empty_database_to_a_working_login(cli: Run) -> None:
    code, _, err = cli("login", "--username", "admin", "--password-stdin", stdin="x" * 12 + "\n")
    assert code == 7 and "users bootstrap" in err  # no users yet: says what to do
    code, out, err = cli("users", "bootstrap")
    assert code == 0, err
    one_time = out.split("one-time password: ")[1].split()[0]
    assert "shown only this once" in err
    code, _, err = cli("users", "bootstrap")
    assert code == 3 and "exist already" in err
    # the one-time password logs in, but only for changing it
    code, out, err = cli("login", "--username", "admin", "--password-stdin", stdin=one_time + "\n")
    assert code == 0 and "passwd" in err
    code, _, err = cli("patients", "list")
    assert code == 7 and "one-time password" in err
    code, _, err = cli("passwd", "--password-stdin", stdin=f"{one_time}\nshort\n")
    assert code == 2 and "new password" in err
    code, out, err = cli("passwd", "--password-stdin", stdin=f"{one_time}\n{ADMIN_PASSWORD}\n")
    assert code == 0, err
    code, out, err = cli("whoami", "--json")
    assert code == 0 and json.loads(out)["username"] == "admin"
    code, out, err = cli("patients", "list")
    assert code == 0 and "no patients" in out
    # the file holding the login: owner only, in a directory owner only
    creds = _data_dir() / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(_data_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE((_data_dir().parent / "cli.db").stat().st_mode) == 0o600
    assert one_time not in creds.read_text() and ADMIN_PASSWORD not in creds.read_text()


def test_login_changes_a_one_time_password_from_stdin(cli: Run) -> None:
    code, out, _ = cli("users", "bootstrap", "--json")
    one_time = json.loads(out)["one_time_password"]
    code, out, err = cli(
        "login", "--username", "admin", "--password-stdin", "--json",
        stdin=f"{one_time}\n{ADMIN_PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["must_change_password"] is False
    code, _, err = cli("login", "--username", "admin", "--password-stdin", stdin=f"{one_time}\n")
    assert code == 7  # the one-time password is gone


def test_grants_and_acting_only_among_ones_own_logins(
    cli_doc: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a physician grants what a physician holds, never admin
    code, _, err = cli_doc(
        "users", "create", "--username", "boss2", "--role", "admin", "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 3 and "admin" in err
    code, _, err = cli_doc(
        "users", "create", "--username", "tina", "--role", "therapist", "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    # --as NAME and SPINECARE_USER choose among this account's logins; tina has none here
    code, _, err = cli_doc("patients", "list", "--as", "tina")
    assert code == 7 and "not logged in as tina" in err
    monkeypatch.setenv("SPINECARE_USER", "tina")
    code, _, err = cli_doc("patients", "list")
    assert code == 7 and "tina" in err
    monkeypatch.delenv("SPINECARE_USER")
    # the password doc gave is one-time: doc knows it, so tina's first login replaces it
    code, _, err = cli_doc(
        "login", "--username", "tina", "--password-stdin", stdin=CLI_PASSWORD + "\n"
    )
    assert code == 0 and "one-time password: change it now" in err
    code, _, err = cli_doc("patients", "list", "--as", "tina")
    assert code == 7, err  # nothing else until it is changed
    login(cli_doc, "tina", f"{CLI_PASSWORD}\ntina's own password")
    code, _, err = cli_doc(
        "login", "--username", "tina", "--password-stdin", stdin=CLI_PASSWORD + "\n"
    )
    assert code == 7  # doc can no longer log in as tina
    code, _, err = cli_doc(
        "users", "create", "--username", "bill", "--role", "billing", "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 3 and "tina (therapist) may not" in err
    code, out, err = cli_doc("users", "list", "--as", "admin", "--json")
    assert code == 0, err
    assert [u["username"] for u in json.loads(out)] == ["admin", "doc", "tina"]
    # deactivating ends the logins; a physician cannot touch an admin
    code, _, err = cli_doc("users", "deactivate", "--username", "admin", "--as", "doc")
    assert code == 3
    code, _, err = cli_doc("users", "deactivate", "--username", "tina", "--as", "doc")
    assert code == 0, err
    code, _, err = cli_doc("patients", "list", "--as", "tina")
    assert code == 7 and "not valid" in err


def test_lockout_after_repeated_failed_logins(cli_doc: Run) -> None:
    from spinecare.services.users import MAX_FAILED_LOGINS

    messages = set()
    for _ in range(MAX_FAILED_LOGINS):
        code, _, err = cli_doc(
            "login", "--username", "doc", "--password-stdin", stdin="wrong password\n"
        )
        assert code == 7
        messages.add(err)
    code, _, err = cli_doc("login", "--username", "doc", "--password-stdin",
                           stdin=CLI_PASSWORD + "\n")  # fmt: skip
    assert code == 7 and "locked" in err  # the right password, refused while locked
    code, _, err = cli_doc("login", "--username", "nobody", "--password-stdin",
                           stdin=CLI_PASSWORD + "\n")  # fmt: skip
    messages.add(err)
    assert len(messages) == 1  # nothing tells which usernames exist
    # an admin's reset unlocks it with a new one-time password
    code, out, err = cli_doc("users", "reset-password", "--username", "doc", "--as", "admin")
    assert code == 0, err
    one_time = out.rsplit(" ", 1)[1].strip()
    code, _, err = cli_doc(
        "login", "--username", "doc", "--password-stdin", stdin=f"{one_time}\n{CLI_PASSWORD}x\n"
    )
    assert code == 0, err


def test_logins_expire_and_logout_ends_them(cli_doc: Run) -> None:
    from sqlalchemy import create_engine, text

    code, _, err = cli_doc("patients", "list")
    assert code == 0, err
    engine = create_engine(os.environ["SPINECARE_DATABASE_URL"])

    def ago(minutes: int) -> str:
        return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S.%f")

    with engine.begin() as conn:
        conn.execute(
            text("UPDATE auth_tokens SET created_at = :c, expires_at = :t"),
            {"c": ago(600), "t": ago(1)},
        )
    engine.dispose()
    code, _, err = cli_doc("patients", "list")
    assert code == 7 and "expired" in err
    login(cli_doc, "doc")
    code, out, _ = cli_doc("logout")
    assert code == 0 and "doc" in out
    code, _, err = cli_doc("patients", "list", "--as", "doc")
    assert code == 7
    code, out, _ = cli_doc("logout", "--all")
    assert code == 0
    assert json.loads((_data_dir() / "credentials.json").read_text())["logins"] == []


def test_logout_all_ends_only_the_acting_user_s_logins(cli_doc: Run) -> None:
    """`--all` ends *your* logins everywhere: on a workstation account that holds colleagues'
    logins too, `logout --all --as doc` used to end every one of them."""
    code, out, err = cli_doc("logout", "--all", "--as", "doc")
    assert code == 0 and out.strip() == "logged out: doc", err
    code, _, err = cli_doc("patients", "list", "--as", "doc")
    assert code == 7
    code, _, err = cli_doc("patients", "list", "--as", "admin")
    assert code == 0, err
    names = [
        x["username"] for x in json.loads((_data_dir() / "credentials.json").read_text())["logins"]
    ]
    assert names == ["admin"]


def test_a_credentials_file_others_can_read_is_not_used(cli_doc: Run) -> None:
    creds = _data_dir() / "credentials.json"
    exposed = creds.read_text()
    creds.chmod(0o644)
    code, _, err = cli_doc("patients", "list")
    assert code == 7 and "other accounts" in err and "logout --all" in err
    code, _, err = cli_doc("logout", "--all")
    assert code == 0, err
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    # the tokens others may have copied are ended in the database, not only forgotten here
    creds.write_text(exposed)
    code, _, err = cli_doc("patients", "list")
    assert code == 7 and "not valid" in err, err
    login(cli_doc, "doc")
    code, _, err = cli_doc("patients", "list")
    assert code == 0, err


def test_bad_user_input(cli_admin: Run) -> None:
    code, _, err = cli_admin(
        "users", "create", "--username", "u", "--role", "janitor", "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 2 and err.startswith("error: role:") and err.count("\n") == 1
    code, _, err = cli_admin(
        "users", "create", "--username", "u1", "--role", "admin", "--password-stdin", stdin="\n"
    )
    assert code == 2 and "password" in err
    code, _, err = cli_admin(
        "users", "create", "--username", "u1", "--role", "admin", "--password-stdin",
        stdin="short\n",
    )  # fmt: skip
    assert code == 2 and "password" in err
    # no terminal and no --password-stdin: refuse rather than invent a password
    code, _, err = cli_admin("users", "create", "--username", "u1", "--role", "admin")
    assert code == 2 and "password" in err
    code, _, err = cli_admin("login", "--password-stdin", stdin="x\n")
    assert code == 2 and "username" in err
    create_user(cli_admin, "u2", "billing")
