"""The CLI's logins file: a damaged entry is no login (status 7, "log in"), never an internal
error; a blank ``--as``/``SPINECARE_USER`` means no user named."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from spinecare.settings import get_settings

Run = Callable[..., tuple[int, str, str]]


def _rewrite(entries: list[object]) -> None:
    path = get_settings().data_dir / "credentials.json"
    path.write_text(json.dumps({"version": 1, "logins": entries}))
    os.chmod(path, 0o600)


def _logins() -> list[dict[str, object]]:
    data = json.loads((get_settings().data_dir / "credentials.json").read_text())
    entries: list[dict[str, object]] = data["logins"]
    return entries


@pytest.mark.parametrize(
    "damage",
    [
        {"username": 1},
        {"token": 5},
        {"token": None},
        {"expires_at": ["2999-01-01"]},
        {"database": {}},
    ],
)
def test_a_damaged_login_entry_is_no_login(cli_doc: Run, damage: dict[str, object]) -> None:
    (good, *_) = [x for x in _logins() if x["username"] == "doc"]
    _rewrite([{**good, **damage}])
    code, _, err = cli_doc("whoami")
    assert code == 7 and err.count("\n") == 1 and "not logged in" in err
    # next to it, a sound entry still acts
    _rewrite([{**good, **damage}, good])
    code, out, err = cli_doc("whoami")
    assert code == 0 and "doc" in out, err


def test_an_entry_missing_a_key_is_no_login(cli_doc: Run) -> None:
    (good, *_) = [x for x in _logins() if x["username"] == "doc"]
    _rewrite([{k: v for k, v in good.items() if k != "token"}, {"username": 1}, None, "x"])
    code, _, err = cli_doc("whoami")
    assert code == 7 and "not logged in" in err


def test_a_blank_name_is_no_name(cli_doc: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = cli_doc("whoami", "--as", "")
    assert code == 0 and out.startswith("doc"), err
    monkeypatch.setenv("SPINECARE_USER", "")
    code, out, err = cli_doc("whoami")
    assert code == 0 and out.startswith("doc"), err
    monkeypatch.setenv("SPINECARE_USER", "admin")
    code, out, err = cli_doc("whoami", "--as", " ")  # blank --as: SPINECARE_USER decides
    assert code == 0 and out.startswith("admin"), err


def test_a_damaged_or_misplaced_credentials_file_is_said_as_such(cli_doc: Run) -> None:
    """A file that is not text gave "input that is not valid UTF-8 text was refused", naming
    no file; a directory in its place was said to be readable by other accounts."""
    path = get_settings().data_dir / "credentials.json"
    path.write_bytes(bytes(range(256)))
    os.chmod(path, 0o600)
    code, _, err = cli_doc("whoami")
    assert code == 7 and "not logged in" in err and "UTF-8" not in err
    code, _, err = cli_doc(
        "login", "--username", "doc", "--password-stdin", stdin="a long test password\n"
    )
    assert code == 0, err  # a new login rewrites the damaged file
    path.unlink()
    path.mkdir()
    code, _, err = cli_doc("whoami")
    assert code == 7 and f"{path} is not a file" in err and "other accounts" not in err
