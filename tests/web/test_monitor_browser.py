"""The monitor and the day's pages in a real browser (Debian's chromium): the patient switch
and the messages by severity, the mode's curve drawn ahead of the live trace, the set-up page's
curve, and the day's changes (move, no-show). Screenshots in tests/web/artifacts/."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spinecare.runtime.session import TickView
from spinecare.therapy.protocol import Protocol
from tests.web.conftest import PASSWORD, Clinic, shot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


class ReplayedSession:
    """Stands in for a session's process: plays scripted ticks at 50 Hz into the monitor."""

    def __init__(self, protocol: Protocol, views: list[TickView]) -> None:
        self.protocol = protocol
        self._views = views
        self.stopped = threading.Event()

    def request_stop(self, reason: str = "") -> None:
        self.stopped.set()

    def request_pause(self, paused: bool = True) -> None:
        pass

    def run(self, sink: Callable[[int, float, TickView], None]) -> str:
        for i, v in enumerate(self._views, 1):
            if self.stopped.is_set():
                break
            sink(i, time.time() * 1000.0, v)
            time.sleep(0.02)
        return "completed"


def _views(proto: Protocol, seconds: float) -> list[TickView]:
    """A pull along the plan; at 12 s the patient presses the switch and at 13 s the load cell
    sticks (a latched fault); the EMG channel calibrates for the first 5 s; the clinician's limit
    clamps around 8 s."""
    from spinecare.therapy.curve import target_curve

    c = target_curve(proto)
    out = []
    for k in range(int(seconds / 0.02)):
        t = k * 0.02
        phase, target = c.at(t)
        pressed = t >= 12.0
        faults = ("stuck_load_cell",) if t >= 13.0 else ()
        flags = ("clamp:clinician",) if 8.0 <= t < 9.0 else ()
        out.append(
            TickView(
                t_s=t,
                phase="stopped" if pressed else phase,
                target_n=0.0 if pressed else target,
                commanded_n=target,
                measured_n=max(0.0, target * 0.97 - (t - 12.0) * 60 if pressed else target * 0.97),
                muscle_tension_n=2.0,
                emg_envelope_uv=5.0,
                segment_force_n=target * 0.6,
                time_left_s=120.0 - t,
                guarding_events=0,
                peak_n=proto.peak_force_n,
                flags=flags,
                stop_pressed=pressed,
                faults=faults,
                emg_status="calibrating" if t < 5.0 else "active",
            )
        )
    # the session's last frame: released after the patient's switch
    out.append(replace(out[-1], ended=True, end_reason="stopped: patient stop button"))
    return out


def _login(page: Any, who: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/")


def test_monitor_shows_the_patient_switch_faults_by_severity_and_the_plan_ahead(
    page: Any,
    app: Any,
    clinic: Clinic,
) -> None:
    from spinecare.therapy.protocol import default_protocol
    from spinecare.vocab import Region

    proto = default_protocol(Region.LUMBAR, 70.0, "L4/5").model_copy(
        update={"traction_minutes": 2.0, "pull_angle_deg": 12.0}
    )
    replay = ReplayedSession(proto, _views(proto, 16.0))
    sid = clinic.planned_session_id
    app.state.ctx.live.start(
        sid, lambda: replay, patient_id=clinic.patient_id, patient_name="Erika Mustermann",
        started_by="therapist",
    )  # fmt: skip
    _login(page, "therapist")
    page.goto(f"/live/{sid}")
    page.wait_for_function("document.getElementById('monitor').dataset.plan === '1'")
    # The switch is free and the EMG channel calibrates: a warning, no fault.
    page.wait_for_function("window.__spinecare.rows > 100")
    assert page.inner_text("#v-switch") == "nicht gedrückt"
    assert "Warnung: EMG kalibriert" in page.inner_text("#messages")
    assert page.locator("#messages li.sev-error").count() == 0
    page.wait_for_function("window.__spinecare.rows > 550")  # past 11 s, before the switch
    shot(page, "20-live-plan")
    # The patient presses the switch: shown at once; then the stuck load cell as a fault.
    page.wait_for_function("document.getElementById('v-switch').textContent === 'GEDRÜCKT'")
    assert "pressed" in (page.get_attribute("#switch-box", "class") or "")
    page.wait_for_selector("#messages li.sev-error")
    text = page.inner_text("#messages")
    assert (
        text.index("Störung: Kraftsensor hängt") < text.index("Warnung")
        if "Warnung" in text
        else True
    )
    shot(page, "21-live-switch-fault")
    page.goto(f"/live/{sid}/patient")
    page.wait_for_selector("#messages li.sev-error")
    shot(page, "22-live-patient-view-fault")
    page.goto(f"/live/{sid}")  # the end, in the monitor's language
    page.wait_for_selector("#ended:not([hidden])", timeout=30_000)
    assert page.inner_text("#ended") == "gestoppt: Stopptaste des Patienten"
    replay.stopped.set()


def test_set_up_page_draws_the_curve_and_redraws_it_for_the_traction_time(
    page: Any,
    clinic: Clinic,
) -> None:
    _login(page, "therapist")
    page.goto(f"/sessions/{clinic.planned_session_id}/setup")
    page.wait_for_function("document.getElementById('curve-chart').dataset.ready === '1'")
    first = page.inner_text("#curve-summary")
    assert "Züge" in first and "min bis zum Lösen" in first
    page.locator("#curve").scroll_into_view_if_needed()
    shot(page, "23-setup-curve")
    page.fill("input[name=minutes]", "10")
    page.wait_for_function(
        "t => document.getElementById('curve-summary').textContent !== t", arg=first
    )
    assert page.inner_text("#curve-summary") != first


def test_today_move_and_no_show_from_the_row_menu(page: Any, clinic: Clinic) -> None:
    from sqlalchemy import create_engine, update

    from spinecare.store.models import TreatmentSession

    # Erika's next session is due now (its time has come): the no-show form is offered.
    now = datetime.now(UTC).replace(microsecond=0)
    engine = create_engine(clinic.db_url)
    with engine.begin() as conn:
        conn.execute(
            update(TreatmentSession)
            .where(TreatmentSession.id == clinic.planned_session_id)
            .values(
                scheduled_start=now - timedelta(minutes=5),
                scheduled_end=now + timedelta(minutes=40),
            )
        )
    engine.dispose()
    _login(page, "therapist")
    sid = clinic.planned_session_id
    page.click(f"#actions-{sid} summary")
    shot(page, "24-today-row-menu")
    page.click(f"#actions-{sid} form.no-show button")
    page.wait_for_url("**/")
    assert "Nicht erschienen vermerkt." in page.inner_text("main")
    assert "Ersatztermin:" in page.inner_text("main")
    shot(page, "25-today-no-show")


def test_patient_page_shows_the_orthosis_pathway(page: Any, clinic: Clinic) -> None:
    _login(page, "physician")
    page.goto("/patients?q=Helga")
    page.click("text=Helga Brandt")
    page.wait_for_selector("#orthosis")
    page.locator("#orthosis").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('img.evidence'); return i && i.complete "
        "&& i.naturalWidth > 0; }"
    )
    shot(page, "26-patient-orthosis")
    page.locator("img.evidence").scroll_into_view_if_needed()
    shot(page, "27-patient-orthosis-evidence")
    page.locator("#osteoporosis").scroll_into_view_if_needed()
    shot(page, "28-patient-osteoporosis")


def test_on_a_tablet_the_row_menu_and_the_orthosis_section_fit(page: Any, clinic: Clinic) -> None:
    page.set_viewport_size({"width": 820, "height": 1180})
    _login(page, "physician")
    page.goto(f"/courses/{clinic.course_id}")
    sid = clinic.planned_session_id
    page.click(f"#actions-{sid} summary")
    box = page.locator(f"#actions-{sid} .menu").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 820
    shot(page, "29-tablet-course-menu")
    page.goto("/patients?q=Helga")
    page.click("text=Helga Brandt")
    page.locator("#orthosis").scroll_into_view_if_needed()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 820, width  # nothing wider than the screen
    shot(page, "30-tablet-orthosis")
