"""`spinecare users`: bootstrap, passwords only from stdin or a prompt, roles."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.conftest import CLI_PASSWORD

Run = Callable[..., tuple[int, str, str]]


def test_first_user_then_admin_only(cli: Run) -> None:
    code, out, err = cli(
        "users", "create", "--username", "boss", "--role", "admin", "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert "boss" in out and CLI_PASSWORD not in out
    # second user: an acting user is now required
    code, _, err = cli(
        "users", "create", "--username", "tina", "--role", "therapist", "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 2 and err.startswith("error: as:")
    code, _, err = cli(
        "users", "create", "--username", "tina", "--role", "therapist", "--password-stdin",
        "--as", "boss", stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli(
        "users", "create", "--username", "bill", "--role", "billing", "--password-stdin",
        "--as", "tina", stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 3 and "tina (therapist) may not" in err
    code, out, _ = cli("users", "list", "--as", "boss", "--json")
    assert [u["username"] for u in json.loads(out)] == ["boss", "tina"]


def test_bad_user_input(cli: Run) -> None:
    code, _, err = cli(
        "users", "create", "--username", "u", "--role", "janitor", "--password-stdin",
        stdin=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 2 and err.startswith("error: role:") and err.count("\n") == 1
    code, _, err = cli(
        "users", "create", "--username", "u1", "--role", "admin", "--password-stdin", stdin="\n"
    )
    assert code == 2 and "password" in err
    code, _, err = cli(
        "users", "create", "--username", "u1", "--role", "admin", "--password-stdin",
        stdin="short\n",
    )  # fmt: skip
    assert code == 2 and "password" in err
    # no terminal and no --password-stdin: refuse rather than invent a password
    code, _, err = cli("users", "create", "--username", "u1", "--role", "admin")
    assert code == 2 and "password" in err
