"""Clinic settings: one TOML file plus environment variables (the environment wins); closing
days a clinic configures are never booked; bank details checked before they reach an invoice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from spinecare.clinical.course import is_clinic_day, plan_course
from spinecare.errors import InputError
from spinecare.settings import ClinicSettings, get_settings, iban_valid

TOML = """
[clinic]
name = "Praxis Dr. Huber"
address = ["Marienplatz 1", "80331 München"]
physicians = ["Dr. med. Eva Huber, Fachärztin für Orthopädie"]
tax_number = "143/123/45678"
federal_state = "BY"
closing_days = ["08-15", "2027-03-22..2027-03-26"]

[clinic.bank]
holder = "Praxis Dr. Huber"
iban = "DE89370400440532013000"
bic = "COBADEFFXXX"
bank = "Commerzbank"
"""


def test_settings_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(TOML, encoding="utf-8")
    monkeypatch.setenv("SPINECARE_SETTINGS_FILE", str(path))
    clinic = get_settings().clinic
    assert clinic.name == "Praxis Dr. Huber" and clinic.federal_state == "BY"
    assert clinic.bank is not None and clinic.bank.iban == "DE89 3704 0044 0532 0130 00"
    monkeypatch.setenv("SPINECARE_CLINIC__NAME", "Praxis am Markt")
    assert get_settings().clinic.name == "Praxis am Markt"  # the environment wins
    path.write_text("[clinic\nname = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        get_settings()


def test_closing_days_are_skipped_by_courses() -> None:
    clinic = ClinicSettings(
        federal_state="BY", closing_days=["08-15", "12-30..01-02", "2027-03-22..2027-03-26"]
    )
    calendar = clinic.schedule()
    # 15 August 2028 is a Tuesday: a local holiday the holiday library leaves out.
    assert not is_clinic_day(dt.date(2028, 8, 15), calendar)
    assert not is_clinic_day(dt.date(2029, 1, 2), calendar)  # every year, over New Year
    assert is_clinic_day(dt.date(2028, 8, 15), ClinicSettings(federal_state="BY").schedule())
    course = plan_course(dt.date(2027, 3, 15), region="lumbar", body_weight_kg=80,
                         segment="L4/5", sessions=15, per_week=3, settings=calendar)  # fmt: skip
    days = {s.start.date() for s in course.sessions}
    assert not days & {dt.date(2027, 3, 22) + dt.timedelta(days=i) for i in range(5)}


@pytest.mark.parametrize(
    "entry", ["08-32", "2027-03-26..2027-03-22", "next week", "2027-01-01..2027-12-31"]
)
def test_a_bad_closing_day_is_refused_naming_it(entry: str) -> None:
    with pytest.raises(ValidationError, match="closing_days"):
        ClinicSettings(closing_days=[entry])


def test_iban_check_digits() -> None:
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE88 3704 0044 0532 0130 00")
    with pytest.raises(ValidationError, match="IBAN"):
        ClinicSettings.model_validate({"bank": {"iban": "DE88370400440532013000"}})


# 25 hours apart: at any moment at least one of them keeps another date than UTC.
@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_today_is_the_clinics_day_in_every_date_check(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoneinfo import ZoneInfo

    from spinecare.services.patients import check_birth_date
    from spinecare.settings import clinic_today

    monkeypatch.setenv("SPINECARE_CLINIC__TIMEZONE", zone)
    before = dt.datetime.now(ZoneInfo(zone)).date()
    today = clinic_today()
    after = dt.datetime.now(ZoneInfo(zone)).date()
    assert today in (before, after)
    assert check_birth_date(today) == today  # born today in the clinic: not "in the future"
    with pytest.raises(ValueError, match="future"):
        check_birth_date(after + dt.timedelta(days=1))


@pytest.mark.parametrize(
    "name",
    [
        "SPINECARE_CLINIC__CLOSING_DAYS",
        "SPINECARE_CLINIC__ADDRESS",
        "SPINECARE_CLINIC__PHYSICIANS",
        "SPINECARE_CLINIC__SCREENING",
        "SPINECARE_CLINIC",
    ],
)
def test_a_list_or_table_setting_that_is_not_json_is_named(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "not json")
    with pytest.raises(InputError, match=f"^{name}: must be a JSON (list|object)"):
        get_settings()


def test_a_settings_file_that_is_a_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINECARE_SETTINGS_FILE", str(tmp_path))
    with pytest.raises(InputError, match="SPINECARE_SETTINGS_FILE: is a directory"):
        get_settings()
    monkeypatch.setenv("SPINECARE_SETTINGS_FILE", "/dev/zero")  # would be read without end
    with pytest.raises(InputError, match="not a regular file"):
        get_settings()
    monkeypatch.setenv("SPINECARE_SETTINGS_FILE", str(tmp_path / "not-yet.toml"))
    assert get_settings().clinic.name  # a named file need not exist (README)


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_user_setting_means_none_chosen(
    blank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINECARE_USER", blank)
    assert get_settings().user is None


@pytest.mark.parametrize("name", ["SPINECARE_DATA_DIR", "SPINECARE_SESSIONS_DIR"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_directory_setting_is_refused_not_taken_for_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A script's unset variable (``SPINECARE_DATA_DIR=$DIR``) would have made the current
    directory the data directory: a second, empty clinic with a new admin."""
    from pydantic import ValidationError

    from spinecare.settings import Settings

    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="empty: name a directory"):
        Settings()


def test_the_logo_must_be_the_image_its_name_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text file named logo.png was accepted and left off every document without a word."""
    from pydantic import ValidationError

    from spinecare.settings import ClinicSettings

    fake = tmp_path / "logo.png"
    fake.write_text("not an image\n")
    with pytest.raises(ValidationError, match="not a PNG image"):
        ClinicSettings(logo=fake)
    real = tmp_path / "real.png"
    real.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert ClinicSettings(logo=real).logo == real.resolve()
    svg = tmp_path / "logo.svg"
    svg.write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    assert ClinicSettings(logo=svg).logo == svg.resolve()
    with pytest.raises(ValidationError, match="not a regular file"):
        ClinicSettings(logo=Path("/dev/zero"))
