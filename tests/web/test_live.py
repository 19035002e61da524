"""A session run from the web: its own process, telemetry by SSE, a monitor that disconnects
and catches up, STOP through the API, and a refused start that never moves the table."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.web.conftest import Browser, Clinic, book_days_ahead

CHECKLIST = {
    "harness_fastened": True,
    "stop_switch_in_hand": True,
    "contraindications_reconfirmed": True,
}


def _ticks(client: httpx.Client, url: str, last: int, want: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    headers = {"Last-Event-ID": str(last)} if last else {}
    with client.stream("GET", url, headers=headers, timeout=30) as r:
        assert r.status_code == 200
        event = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "ticks":
                rows += json.loads(line[5:])["rows"]
                if len(rows) >= want:
                    return rows
    return rows


def test_monitor_disconnects_session_goes_on_and_catches_up(
    server: str, login: Any, clinic: Clinic
) -> None:
    doc: Browser = login("therapist")
    sid = clinic.planned_session_id
    r = doc.api(
        "POST", f"/api/v1/sessions/{sid}/start", json={"minutes": 3.0, "speed": 2.0, **CHECKLIST}
    )
    assert r.status_code == 201, r.text
    cookies = dict(doc.client.cookies.items())
    with httpx.Client(base_url=server, cookies=cookies) as c:
        first = _ticks(c, f"/live/{sid}/stream", 0, 20)
        last = first[-1][0]
        time.sleep(1.0)  # the browser is gone; the session is not
        status = doc.api("GET", f"/api/v1/sessions/{sid}/live").json()
        assert status["running"] and status["seq"] > last
        again = _ticks(c, f"/live/{sid}/stream", last, 20)
        assert again[0][0] == last + 1  # nothing missed: caught up from the ring
        seqs = [row[0] for row in again]
        assert seqs == list(range(last + 1, last + 1 + len(seqs)))
    # PAUSE holds the force and stops the clock; RESUME goes on
    assert (
        doc.api("POST", f"/api/v1/sessions/{sid}/pause", json={"paused": True}).status_code == 200
    )
    time.sleep(1.0)
    held = doc.api("GET", f"/api/v1/sessions/{sid}/live").json()
    time.sleep(1.0)
    later = doc.api("GET", f"/api/v1/sessions/{sid}/live").json()
    assert held["phase"] == later["phase"] == "paused"
    assert later["time_left_s"] == held["time_left_s"]
    assert doc.api("POST", f"/api/v1/sessions/{sid}/pause", json={"paused": 1}).status_code == 422
    assert (
        doc.api("POST", f"/api/v1/sessions/{sid}/pause", json={"paused": False}).status_code == 200
    )
    stop = doc.api("POST", f"/api/v1/sessions/{sid}/stop")
    assert stop.status_code == 200
    deadline = time.monotonic() + 20
    while doc.api("GET", f"/api/v1/sessions/{sid}/live").json()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    done = doc.api("GET", f"/api/v1/sessions/{sid}").json()
    assert done["status"] == "aborted" and done["summary"]["stopped"]
    assert done["summary"]["peak_force_n"] > 0


def test_a_session_that_is_not_planned_is_refused_before_the_table_moves(
    login: Any, clinic: Clinic
) -> None:
    doc: Browser = login("physician")
    r = doc.api("POST", f"/api/v1/sessions/{clinic.done_session_id}/start", json=CHECKLIST)
    assert r.status_code == 422 and "not planned" in r.text
    assert doc.api("GET", f"/api/v1/sessions/{clinic.done_session_id}/live").status_code == 404


def test_a_waiting_monitor_is_woken_by_the_tick_not_by_a_poll() -> None:
    """The relay thread wakes the SSE handler when it stores a tick (no 20 ms polling) and
    when the session ends."""
    import asyncio
    import threading

    from spinecare.runtime.session import TickView
    from spinecare.web.live import LiveEntry

    view = TickView(0.0, "hold", 100.0, 100.0, 99.0, 0.0, 0.0, 60.0, 100.0, 0, 100.0, ())
    entry = LiveEntry(1, 1, "P", "therapist", live=None)  # type: ignore[arg-type]

    async def waited(after_s: float, act: Any) -> float:
        threading.Timer(after_s, act).start()
        t0 = time.perf_counter()
        await entry.wait_after(entry.seq, timeout_s=5.0)
        return time.perf_counter() - t0

    took = asyncio.run(waited(0.05, lambda: entry.put(1, time.time() * 1000.0, view)))
    assert 0.04 <= took < 0.5 and entry.seq == 1

    def end() -> None:
        entry.finished_at = time.monotonic()
        entry._wake()

    took = asyncio.run(waited(0.05, end))
    assert took < 0.5 and not entry.running
    assert entry._waiting == []


def test_a_session_run_days_before_its_booked_day_is_said_so(
    login: Any, app: Any, clinic: Clinic
) -> None:
    sid = clinic.planned_session_id
    book_days_ahead(app, sid, 5)
    doc: Browser = login("therapist")
    setup = doc.client.get(f"/sessions/{sid}/setup").text
    assert "early-run" in setup and "in 5 Tagen" in setup
    r = doc.api(
        "POST", f"/api/v1/sessions/{sid}/start", json={"minutes": 3.0, "speed": 5.0, **CHECKLIST}
    )
    assert r.status_code == 201, r.text
    try:
        assert any("5 days from today" in w for w in r.json()["warnings"])
        monitor = doc.client.get(f"/live/{sid}").text
        assert "early-run" in monitor and "in 5 Tagen" in monitor
        assert "early-run" not in doc.client.get(f"/live/{sid}/patient").text
    finally:
        doc.api("POST", f"/api/v1/sessions/{sid}/stop")


def test_every_emg_state_the_detector_can_report_has_a_monitor_message() -> None:
    # the monitor showed the raw key "emg:unconfirmed" for a state added to the detector
    from spinecare.signals.detector import EmgStatus
    from spinecare.web.i18n import MESSAGES
    from spinecare.web.live import EMG_FINE

    names = {s.name.lower() for s in EmgStatus if s is not EmgStatus.READY} | {"calibrating"}
    missing = {n for n in names if n not in EMG_FINE and f"emg:{n}" not in MESSAGES}
    assert missing == set()


def test_start_warnings_are_said_in_the_page_language_under_their_own_label() -> None:
    from spinecare.web.i18n import start_warning

    early = "session 2 is booked for 2026-12-03, 5 days from today; reschedule it"
    short = ("the traction time of 1.2 min is shorter than one pull (ramp and hold take about "
             "80 s): the table keeps base tension only")  # fmt: skip
    assert start_warning(early, "de") == (
        "early_run",
        "Sitzung 2 ist für den 03.12.2026 gebucht, in 5 Tagen. Jetzt gestartet, verkürzt sie "
        "den Abstand der Serie; sonst bitte verschieben.",
    )
    label, text = start_warning(short, "de")
    assert label == "start_note" and text.startswith("Die Zugzeit von 1,2 min ist kürzer")
    assert start_warning(short, "en") == ("start_note", short)
    assert start_warning("anything else", "de") == ("start_note", "anything else")
    twice = ("the patient was treated today already (session 3 of course 2): this is a second "
             "dose of traction on one day")  # fmt: skip
    label, text = start_warning(twice, "de")
    assert label == "start_note" and text.startswith("Die Patientin/der Patient wurde heute")


def _until_ended(doc: Browser, sid: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = doc.api("GET", f"/api/v1/sessions/{sid}/live").json()
        if not status["running"]:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_the_live_status_of_an_ended_session_says_why_and_is_not_paused(
    login: Any, clinic: Clinic
) -> None:
    """A stop while paused: the status says the session ended (with the summary's reason) and
    is no longer paused; a pause sent after the end changes nothing."""
    doc: Browser = login("therapist")
    sid = clinic.planned_session_id
    r = doc.api(
        "POST", f"/api/v1/sessions/{sid}/start", json={"minutes": 3.0, "speed": 5.0, **CHECKLIST}
    )
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while doc.api("GET", f"/api/v1/sessions/{sid}/live").json()["seq"] < 20:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r = doc.api("POST", f"/api/v1/sessions/{sid}/pause", json={"paused": True})
    assert r.status_code == 200 and r.json()["paused"]
    assert doc.api("POST", f"/api/v1/sessions/{sid}/stop").status_code == 200
    ended = _until_ended(doc, sid)
    assert ended["ended"] and not ended["paused"], ended
    assert ended["end_reason"], ended
    after = doc.api("POST", f"/api/v1/sessions/{sid}/pause", json={"paused": True}).json()
    assert not after["paused"]


def test_a_stop_and_a_pause_on_the_monitor_are_audited_as_who_gave_them(
    login: Any, clinic: Clinic
) -> None:
    """The process running a session records its result as the user who started it: a stop a
    colleague gave was in the audit log under the starter's name, and a pause not at all."""
    from spinecare.store import open_store
    from spinecare.store.audit import audit_entries

    nurse: Browser = login("therapist")
    doc: Browser = login("physician")
    sid = clinic.planned_session_id
    r = nurse.api(
        "POST", f"/api/v1/sessions/{sid}/start", json={"minutes": 3.0, "speed": 5.0, **CHECKLIST}
    )
    assert r.status_code == 201, r.text
    assert doc.post(f"/live/{sid}/pause", {"paused": "on"}).status_code == 303
    assert doc.post(f"/live/{sid}/stop").status_code == 303
    _until_ended(nurse, sid)
    store = open_store(url=clinic.db_url)
    try:
        with store.session() as db:
            given = [
                (e.actor, (e.after or {}).get("control"))
                for e in audit_entries(db, "sessions", sid)
                if (e.after or {}).get("control")
            ]
    finally:
        store.dispose()
    assert given == [("physician", "pause"), ("physician", "stop")]


def test_a_speed_of_zero_is_refused_not_run_in_real_time(login: Any, clinic: Clinic) -> None:
    doc: Browser = login("therapist")
    sid = clinic.planned_session_id
    form = {"minutes": "3", "speed": "0", "harness_fastened": "on",
            "stop_switch_in_hand": "on", "contraindications_reconfirmed": "on"}  # fmt: skip
    r = doc.post(f"/sessions/{sid}/start", form)
    assert r.status_code == 422, r.text[:300]
    assert doc.api("GET", f"/api/v1/sessions/{sid}").json()["status"] == "planned"
