"""`spinecare info` (`spinecare db`: test_db_cli.py)."""

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


def test_bad_settings_exit_2(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINECARE_DEVICE", "teleporter")
    code, _, err = cli("info")
    assert code == 2 and "device" in err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SPINECARE_CLINIC__NAME", "Praxis\x1b[2J"),
        ("SPINECARE_CLINIC__PHONE", "089\x07"),
        ("SPINECARE_CLINIC__ADDRESS", '["Marienplatz 1", "\\u202e80331"]'),
        ("SPINECARE_CLINIC__BANK__HOLDER", "Praxis\x9b"),
    ],
)
def test_clinic_texts_refuse_control_characters(
    cli: Run, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """The settings are an edge too: the clinic's texts reach every document and page."""
    if "BANK" in variable:
        monkeypatch.setenv("SPINECARE_CLINIC__BANK__IBAN", "DE89 3704 0044 0532 0130 00")
    monkeypatch.setenv(variable, value)
    code, _, err = cli("info")
    assert code == 2 and "control or formatting characters" in err and err.count("\n") == 1
    assert "\x1b" not in err and "\u202e" not in err and "\x9b" not in err
