"""The clinic's journey in a real browser (Playwright driving Debian's chromium), with a
screenshot of every page in tests/web/artifacts/."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, Clinic, shot, start_from_setup

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _session_in_the_past(clinic: Clinic) -> None:
    """The demo's treated session counts as yesterday's (a weekend start books it for Monday,
    and a session is billed only once its date has come)."""
    from sqlalchemy import create_engine, update

    from spinecare.store.models import TreatmentSession

    engine = create_engine(clinic.db_url)
    start = datetime.now(UTC) - timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(
            update(TreatmentSession)
            .where(TreatmentSession.id == clinic.done_session_id)
            .values(scheduled_start=start, scheduled_end=start + timedelta(minutes=45))
        )
    engine.dispose()


def test_clinic_journey(page: Any, clinic: Clinic) -> None:
    _session_in_the_past(clinic)
    # log in
    page.goto("/")
    shot(page, "01-login")
    page.fill("input[name=username]", "physician")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/")
    shot(page, "02-today")
    # create a patient
    page.goto("/patients/new")
    page.fill("input[name=name]", "Anna Schröder")
    page.fill("input[name=birth_date]", "1971-04-05")
    page.select_option("select[name=sex]", "F")
    page.fill("input[name=weight_kg]", "66")
    page.fill("input[name=height_cm]", "170")
    page.select_option("select[name=menopausal_status]", "post")
    page.click("button.primary")
    page.wait_for_url("**/patients/*")
    patient_url = page.url
    assert "unvollständig" in page.inner_text(".decision")
    # the screening form until eligible
    for i in range(1, 14):
        page.check(f"input[name='ci_CI-{i:02d}'][value=no]")
    page.click("form.findings button.primary")
    page.click("text=Anamnese erhoben: keine Frakturen")
    assert "geeignet" in page.inner_text(".decision")
    shot(page, "03-patient")
    # plan a course
    page.click("#plan-course button.primary")
    page.wait_for_url("**/courses/*")
    shot(page, "04-course")
    # the course charts count sessions in whole steps
    splits = page.evaluate("(window.__charts || []).map(function (u) { return u.axes[0]._splits })")
    assert splits and all(float(v).is_integer() for s in splits for v in s or []), splits
    # set up and start a simulated session (three minutes of traction, real time; stopped below)
    page.click("a.btn.primary >> nth=0")
    page.wait_for_url("**/setup")
    assert "Modellschätzung" in page.inner_text("#segments")
    shot(page, "05-setup")
    start_from_setup(page, "3")
    # the chart moves
    page.wait_for_function("window.__spinecare && window.__spinecare.rows > 50")
    page.wait_for_function(
        "parseFloat(document.getElementById('v-measured').textContent) > 20", timeout=20_000
    )
    time.sleep(1.0)
    stats = page.evaluate("window.__spinecare")
    assert stats["frames"] > 10 and stats["gaps"] == 0
    shot(page, "06-live")
    # on a tablet held upright STOP and PAUSE are still on screen
    page.set_viewport_size({"width": 768, "height": 1024})
    time.sleep(0.3)
    for button in ("#stop", "#pause"):
        box = page.locator(button).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1024, button
    shot(page, "06-live-tablet")
    page.set_viewport_size({"width": 1280, "height": 800})
    # the full-screen view for the display in front of the patient (it has STOP as well)
    page.goto(page.url + "/patient")
    page.wait_for_function("window.__spinecare && window.__spinecare.rows > 20")
    page.wait_for_function(
        "parseFloat(document.getElementById('v-measured').textContent) > 20", timeout=20_000
    )
    time.sleep(1.5)  # the frames-per-second counter has ticked
    shot(page, "07-patient-view")
    # STOP: the force is below 5 N within 2 s
    page.click("#stop")
    t0 = time.monotonic()
    page.wait_for_function(
        "parseFloat(document.getElementById('v-measured').textContent) < 5", timeout=2_000
    )
    assert time.monotonic() - t0 < 2.0
    page.wait_for_selector("#history-link:not([hidden])", timeout=10_000)
    shot(page, "08-live-stopped")
    # history: the session replayed from its telemetry
    page.click("#history-link")
    page.wait_for_url("**/sessions/*")
    page.wait_for_function("window.__replay && window.__replay.points > 10")
    page.click("#play")
    time.sleep(0.5)
    assert "abgebrochen" in page.inner_text(".meta")  # stopped: not a completed session
    shot(page, "09-history")
    # NRS and ODI
    page.fill("#nrs-form input[name=nrs_before]", "6")
    page.fill("#nrs-form input[name=nrs_after]", "4")
    page.click("#nrs-form button")
    page.fill("#odi-form input[name=answers]", "3,2,2,1,3,2,1,0,2,1")
    page.click("#odi-form button")
    assert "<strong>6</strong>" in page.content()
    # the patient page with its courses
    page.goto(patient_url)
    # invoices: issue the demo patient's draft (or draft it) and download the PDF
    page.goto(f"/courses/{clinic.course_id}")
    page.goto("/invoices")
    if not page.query_selector("text=Ausstellen"):
        page.goto(f"/courses/{clinic.course_id}")
        page.click("text=Rechnung erstellen")
    page.click("text=Ausstellen >> nth=0")
    shot(page, "10-invoices")
    with page.expect_download() as dl:
        page.click("a:text('PDF') >> nth=0")
    path = dl.value.path()
    assert Path(path).read_bytes().startswith(b"%PDF")
    # audit
    page.goto("/audit")
    assert "physician" in page.inner_text("table")
    shot(page, "11-audit")


def test_a_treated_session_offers_its_raw_emg_for_review(page: Any, clinic: Clinic) -> None:
    # The demo's treated session ran with EMG: its page offers the raw sEMG the loop received
    # (for `spinecare emg detect`), and the download is that file.
    page.goto("/")
    page.fill("input[name=username]", "therapist")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/")
    page.goto(f"/sessions/{clinic.done_session_id}")
    page.wait_for_function("window.__replay && window.__replay.points > 10")
    link = page.locator("#emg-link")
    assert link.inner_text() == "Roh-EMG (TXT)" and "spinecare emg detect" in (
        link.get_attribute("title") or ""
    )
    shot(page, "45-history-emg")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"session-{clinic.done_session_id}-emg.txt"
    head = Path(download.path()).read_text(encoding="utf-8").splitlines()[:3]
    assert head[0].startswith("# spinecare session: surface EMG, microvolts")
