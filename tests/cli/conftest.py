"""CLI fixtures: a fresh database with its first admin and a physician logged in, as a user
would set them up from the README (bootstrap, login with the one-time password, create users,
log in)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from tests.conftest import CLI_PASSWORD

Run = Callable[..., tuple[int, str, str]]
ADMIN_PASSWORD = "the admin's own password"


def login(cli: Run, username: str, password: str = CLI_PASSWORD) -> None:
    code, _, err = cli("login", "--username", username, "--password-stdin", stdin=password + "\n")
    assert code == 0, err


FIRST_PASSWORD = "given at creation, one-time"


def create_user(cli: Run, username: str, role: str, *, as_user: str = "admin") -> None:
    """As the README: the creator gives a one-time password, the user's first login replaces
    it (with ``CLI_PASSWORD``); that login is ended again, so who acts does not change."""
    code, _, err = cli(
        "users", "create", "--username", username, "--role", role, "--password-stdin",
        "--as", as_user, stdin=FIRST_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    login(cli, username, f"{FIRST_PASSWORD}\n{CLI_PASSWORD}")
    code, _, err = cli("logout", "--as", username)
    assert code == 0, err


@pytest.fixture
def cli_admin(cli: Run) -> Run:
    """``cli`` on a database whose first admin ``admin`` is logged in (password changed)."""
    code, out, err = cli("users", "bootstrap", "--json")
    assert code == 0, err
    one_time = json.loads(out)["one_time_password"]
    code, _, err = cli(
        "login", "--username", "admin", "--password-stdin",
        stdin=f"{one_time}\n{ADMIN_PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, err
    return cli


@pytest.fixture
def cli_doc(cli_admin: Run) -> Run:
    """``cli_admin`` plus a physician ``doc``, logged in and acting (the newest login)."""
    create_user(cli_admin, "doc", "physician")
    login(cli_admin, "doc")
    return cli_admin


def screening_clear(cli: Run, patient_id: str | int) -> None:
    """Record every contraindication absent and no fracture, as a physician would before the
    first session (a course session is refused while the screening is incomplete)."""
    from datetime import date

    pid = str(patient_id)
    for i in range(1, 14):
        code, _, err = cli("findings", "add", "--patient", pid, "--code", f"CI-{i:02d}", "--absent")
        assert code == 0, err
    today = date.today().isoformat()
    code, _, err = cli("findings", "no-fractures", "--patient", pid, "--date", today)
    assert code == 0, err


def add_patient(cli: Run, *, birth_date: str = "1958-03-02", weight: str = "68") -> str:
    """A postmenopausal woman, privately insured; her id."""
    code, out, err = cli(
        "patients", "add", "--name", "Erika Muster", "--birth-date", birth_date, "--sex", "F",
        "--weight", weight, "--height", "164", "--insurance", "private", "--menopausal", "post",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    return str(json.loads(out)["id"])
