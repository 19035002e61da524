"""`spinecare info` and `spinecare db`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

Run = Callable[..., tuple[int, str, str]]


def test_info_masks_the_password(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINECARE_DATABASE_URL", "postgresql+psycopg://clinic:s3cret@db:5432/sc")
    code, out, _ = cli("info", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["database_url"] == "postgresql+psycopg://clinic:***@db:5432/sc"
    assert "s3cret" not in out
    assert data["device_simulated"] is True and data["version"]
    code, out, _ = cli("info")
    assert code == 0 and "s3cret" not in out and "simulated" in out


def test_info_defaults_to_sqlite_in_the_data_dir(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPINECARE_DATABASE_URL")
    code, out, _ = cli("info", "--json")
    data = json.loads(out)
    assert code == 0 and data["database_url"].startswith("sqlite:///")
    assert data["database_url"].endswith(f"{data['data_dir']}/spinecare.db")


def test_db_upgrade_downgrade(cli: Run) -> None:
    from spinecare.store.migrate import head_revision

    code, out, _ = cli("db", "upgrade")
    head = head_revision()
    assert code == 0 and head is not None and head in out
    code, out, _ = cli("db", "current", "--json")
    assert json.loads(out)["current"] == json.loads(out)["head"]
    code, out, _ = cli("db", "downgrade", "base")
    assert code == 0 and "base" in out
    code, out, _ = cli("db", "current", "--json")
    assert json.loads(out)["current"] is None


def test_bad_settings_exit_2(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINECARE_DEVICE", "teleporter")
    code, _, err = cli("info")
    assert code == 2 and "device" in err
