"""The front desk in a real browser: a new patient typed the German way, a refusal beside its
field with everything typed kept, then the documents and the early-run warning as shown."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import PASSWORD, Clinic, book_days_ahead, shot, start_from_setup

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_front_desk_registers_a_patient_and_sees_the_documents(
    page: Any, app: Any, clinic: Clinic
) -> None:
    page.goto("/")
    page.fill("input[name=username]", "therapist")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/")
    page.goto("/patients/new")
    assert page.is_checked("input[name=icd_consent]")  # the diagnosis on the invoice: default
    typed = {
        "name": "Anna Schröder",
        "birth_date": "14.05.1961",
        "weight_kg": "80,5",
        "height_cm": "168",
        "street": "Sendlinger Str. 7",
        "postcode": "8033",  # four digits: refused
        "city": "München",
        "phone": "+49 89 1234567",
        "email": "anna@example.de",
        "insurer": "Allianz PKV",
        "insurance_number": "A123456789",
        "physician": "Dr. med. Eva Roth",
    }
    for field, value in typed.items():
        page.fill(f"input[name={field}]", value)
    page.select_option("select[name=sex]", "F")
    page.select_option("select[name=insurance]", "private")
    page.select_option("select[name=menopausal_status]", "post")
    page.click("form.patient-form button.primary")
    error = page.locator("#err-postcode")
    error.wait_for()
    assert "fünf Ziffern" in error.inner_text()  # the page is German, so is the reason
    assert page.get_attribute("input[name=postcode]", "aria-invalid") == "true"
    for field, value in typed.items():  # nothing typed is lost
        assert page.input_value(f"input[name={field}]") == value
    assert page.is_checked("input[name=icd_consent]")
    assert "PLZ" in page.inner_text(".flash.error")  # the banner names the field
    page.click(".flash.error a")  # and takes the front desk to it
    shot(page, "40-patient-form-error")
    page.fill("input[name=postcode]", "80331")
    page.click("form.patient-form button.primary")
    page.wait_for_url("**/patients/*")
    master = page.inner_text("dl.master")
    assert "80331 München" in master and "Allianz PKV" in master and "Dr. med. Eva Roth" in master
    shot(page, "41-patient-master-data")
    # the course: all documents in one step
    page.goto(f"/courses/{clinic.course_id}")
    assert page.locator(f"a[href='/courses/{clinic.course_id}/documents.zip']").is_visible()
    shot(page, "42-course-documents")
    # a session booked five days ahead: said on the set-up page and on the monitor
    sid = clinic.planned_session_id
    book_days_ahead(app, sid, 5)
    page.goto(f"/sessions/{sid}/setup")
    assert "in 5 Tagen" in page.inner_text(".early-run")
    shot(page, "43-setup-early-run")
    start_from_setup(page, "3")
    assert "in 5 Tagen" in page.inner_text(".early-run")
    shot(page, "44-monitor-early-run")
    page.click("#stop")
