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
