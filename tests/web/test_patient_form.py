"""The patient form: master data typed the German way, refusals beside their field with the
typed values kept, the diagnosis-on-invoice default, master data on the patient page."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import Browser, Clinic

FORM = {
    "name": "Anna Beispiel",
    "birth_date": "14.05.1961",
    "sex": "F",
    "weight_kg": "80,5",
    "height_cm": "168",
    "insurance": "private",
    "menopausal_status": "post",
    "street": "Sendlinger Str. 7",
    "postcode": "80331",
    "city": "München",
    "country": "de",
    "phone": "+49 89 1234567",
    "email": "anna@example.de",
    "insurer": "Allianz PKV",
    "insurance_number": "A123456789",
    "physician": "Dr. med. Eva Roth",
    "icd_consent": "on",
}


def _error_of(html: str, field: str) -> str:
    m = re.search(rf'<span class="field-error" id="err-{field}">([^<]*)</span>', html)
    assert m, f"no error shown beside {field}"
    return m.group(1)


def test_new_form_ticks_the_diagnosis_and_registers_german_input(login: Any) -> None:
    desk: Browser = login("therapist")
    form = desk.client.get("/patients/new").text
    assert re.search(r'<input type="checkbox" name="icd_consent"\s+checked', form)
    r = desk.post("/patients/new", FORM)
    assert r.status_code == 303, r.text[:300]
    page = desk.client.get(r.headers["location"]).text
    for shown in ("Sendlinger Str. 7", "80331 München", "Allianz PKV", "A123456789",
                  "Dr. med. Eva Roth", "anna@example.de", "+49 89 1234567"):  # fmt: skip
        assert shown in page
    assert "80,5 kg" in page and "14.05.1961" in page  # a German page writes the decimal comma


def test_a_refusal_is_shown_beside_its_field_and_nothing_typed_is_lost(login: Any) -> None:
    desk: Browser = login("therapist")
    bad = {**FORM, "postcode": "8033", "icd_consent": ""}
    r = desk.post("/patients/new", bad)
    assert r.status_code == 422
    assert _error_of(r.text, "postcode") == (
        "eine deutsche Postleitzahl hat fünf Ziffern, z. B. 80331"
    )  # the page is German, and so is the reason beside the field
    for typed in ('value="8033"', 'value="14.05.1961"', 'value="80,5"', 'value="Allianz PKV"'):
        assert typed in r.text
    assert not re.search(r'name="icd_consent"\s+checked', r.text)  # the unticked box stays so
    r = desk.post("/patients/new", {**FORM, "weight_kg": "achtzig", "email": "anna@"})
    assert r.status_code == 422
    assert _error_of(r.text, "weight_kg") == "keine Zahl (z. B. 80,5)"
    assert _error_of(r.text, "email") == "keine E-Mail-Adresse wie name@example.de"
    r = desk.post("/patients/new", {**FORM, "insurance": "self_payer"})
    assert _error_of(r.text, "insurer").startswith("Selbstzahler haben keinen Versicherer")
    r = desk.post("/patients/new", {**FORM, "birth_date": "31.02.1961", "name": ""})
    assert _error_of(r.text, "birth_date") == "diesen Tag gibt es nicht (31.02.1961)"
    assert _error_of(r.text, "name") == "ist erforderlich"


def test_edit_changes_master_data_clears_a_field_and_keeps_the_choice(
    login: Any, clinic: Clinic
) -> None:
    desk: Browser = login("therapist")
    url = f"/patients/{clinic.patient_id}/edit"
    form = desk.client.get(url).text
    assert 'value="14.03.1962"' in form  # the birth date shown the German way
    values = dict(re.findall(r'<input id="f-\w+" name="(\w+)" type="\w+" value="([^"]*)"', form))
    values.update(sex="F", insurance="private", menopausal_status="post")
    values.update(city="Augsburg", postcode="86150", street="Maximilianstr. 1", phone="")
    r = desk.post(url, values)  # icd_consent not sent: unticked
    assert r.status_code == 303, r.text[:400]
    page = desk.client.get(f"/patients/{clinic.patient_id}").text
    assert "86150 Augsburg" in page and "Maximilianstr. 1" in page and "+49" not in page
    assert "Diagnose nicht auf der Rechnung" in page
    r = desk.post(url, {**values, "country": "DEU"})
    assert r.status_code == 422
    assert _error_of(r.text, "country") == "kein Ländercode nach ISO 3166-1 wie DE, AT, CH"
    assert 'value="DEU"' in r.text


def test_billing_cannot_open_the_form(login: Any, clinic: Clinic) -> None:
    bill: Browser = login("billing")
    assert bill.client.get("/patients/new").status_code == 403
    assert bill.post(f"/patients/{clinic.patient_id}/edit", FORM).status_code == 403


def test_on_an_english_page_the_reasons_are_english(login: Any) -> None:
    desk: Browser = login("therapist")
    desk.post("/lang", {"lang": "en", "next": "/"})
    r = desk.post("/patients/new", {**FORM, "postcode": "8033", "country": "XX"})
    assert r.status_code == 422
    assert "country code of ISO 3166-1" in _error_of(r.text, "country")
    r = desk.post("/patients/new", {**FORM, "postcode": "8033"})
    assert "five digits" in _error_of(r.text, "postcode")
