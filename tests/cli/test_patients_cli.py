"""`spinecare patients`: add, list, show, edit, delete round trip on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest

Run = Callable[..., tuple[int, str, str]]
ADD = (
    "patients", "add", "--name", "Erika Mustermann", "--birth-date", "1962-03-14", "--sex", "F",
    "--weight", "70", "--height", "165", "--insurance", "private", "--menopausal", "post",
)  # fmt: skip


def _add(cli: Run, *extra: str) -> int:
    code, out, err = cli(*ADD, *extra, "--json")
    assert code == 0, err
    return int(json.loads(out)["id"])


def test_round_trip(cli_doc: Run) -> None:
    pid = _add(cli_doc)
    code, out, _ = cli_doc("patients", "show", str(pid), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["weight_kg"] == 70.0 and shown["menopausal_status"] == "post"
    code, out, _ = cli_doc("patients", "edit", str(pid), "--weight", "72", "--json")
    assert code == 0 and json.loads(out)["weight_kg"] == 72.0
    code, out, _ = cli_doc("patients", "list", "--search", "muster", "--json")
    assert [p["id"] for p in json.loads(out)] == [pid]
    code, out, _ = cli_doc("patients", "list")
    assert "Erika Mustermann" in out
    code, out, _ = cli_doc("patients", "delete", str(pid))
    assert code == 0
    code, out, _ = cli_doc("patients", "list", "--json")
    assert json.loads(out) == []
    code, _, err = cli_doc("patients", "show", str(pid))
    assert code == 1 and "not found" in err
    code, out, _ = cli_doc("patients", "list", "--deleted", "--json")
    assert [p["id"] for p in json.loads(out)] == [pid]


def test_reads_and_writes_need_a_login(cli_admin: Run) -> None:
    code, _, err = cli_admin("logout")
    assert code == 0, err
    for args in (ADD, ("patients", "list"), ("patients", "show", "1")):
        code, out, err = cli_admin(*args)
        assert code == 7 and out == "" and "not logged in" in err, args
    # naming a user is not logging in as that user
    code, _, err = cli_admin(*ADD, "--as", "admin")
    assert code == 7 and "not logged in as admin" in err


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--birth-date", (date.today() + timedelta(days=2)).isoformat(), "birth_date"),
        ("--weight", "0", "weight_kg"),
        ("--height", "abc", "height_cm"),
        ("--sex", "Q", "sex"),
        ("--insurance", "aok", "insurance"),
    ],
)
def test_bad_input_exits_2_naming_the_field(
    cli_doc: Run, option: str, value: str, field: str
) -> None:
    args = list(ADD)
    args[args.index(option) + 1] = value
    code, out, err = cli_doc(*args)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {field}:") and err.count("\n") == 1


def test_edit_with_bad_value_changes_nothing(cli_doc: Run) -> None:
    pid = _add(cli_doc)
    code, _, err = cli_doc("patients", "edit", str(pid), "--weight", "0")
    assert code == 2 and "weight_kg" in err
    code, out, _ = cli_doc("patients", "show", str(pid), "--json")
    assert json.loads(out)["weight_kg"] == 70.0


def test_master_data_as_the_front_desk_types_it(cli_doc: Run) -> None:
    code, out, err = cli_doc(
        "patients", "add", "--name", "Jörg Müller", "--birth-date", "14.05.1961", "--sex", "M",
        "--weight", "80,5", "--height", "178", "--insurance", "private",
        "--street", "Leopoldstraße 12", "--postcode", "80802", "--city", "München",
        "--insurer", "Allianz PKV", "--insurance-number", "A123", "--physician", "Dr. Huber",
        "--email", "jm@example.de", "--json",
    )  # fmt: skip
    assert code == 0, err
    p = json.loads(out)
    assert (p["birth_date"], p["weight_kg"], p["postcode"]) == ("1961-05-14", 80.5, "80802")
    assert p["icd_consent"] is True
    code, out, _ = cli_doc("patients", "list", "--search", "MÜLLER", "--json")
    assert [x["id"] for x in json.loads(out)] == [p["id"]]
    code, out, _ = cli_doc("patients", "show", str(p["id"]))
    assert "Leopoldstraße 12, 80802 München" in out and "Allianz PKV" in out
    code, out, _ = cli_doc(
        "patients", "edit", str(p["id"]), "--no-diagnosis-on-invoice", "--street", "none",
        "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["street"] is None
    assert json.loads(out)["icd_consent"] is False
    code, _, err = cli_doc("patients", "edit", str(p["id"]), "--postcode", "808")
    assert code == 2 and err.startswith("error: postcode:") and "five digits" in err


def test_list_shows_every_patient_and_finds_a_birth_date(cli_doc: Run, sqlite_env: str) -> None:
    """The list was cut at 200 without a word: the front desk would not find a registered
    patient and register them again. And the CLI finds by birth date as the web app does."""
    from tests.services.conftest import patient_data

    from spinecare.services.patients import add_patient
    from spinecare.services.users import actor_for
    from spinecare.store import open_store

    store = open_store(url=sqlite_env)
    try:
        with store.unit_of_work() as s:
            doc = actor_for(s, "doc")
            for i in range(205):
                add_patient(s, doc, patient_data(name=f"Bulk {i:03d}", birth_date=date(1970, 1, 1)))
    finally:
        store.dispose()
    pid = _add(cli_doc)  # "Erika Mustermann" sorts after every "Bulk"
    code, out, _ = cli_doc("patients", "list", "--json")
    assert code == 0 and len(json.loads(out)) == 206
    assert json.loads(out)[-1]["id"] == pid
    code, out, _ = cli_doc("patients", "list", "--search", "14.03.1962", "--json")
    assert code == 0 and [p["id"] for p in json.loads(out)] == [pid]
