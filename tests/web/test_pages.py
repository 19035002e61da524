"""Pages and API through the ASGI app (no browser): login, lockout, CSRF, search, the screening
form until eligible, planning, outcomes, invoices and their PDF."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.web.conftest import PASSWORD, Browser, Clinic, csrf_of


def test_login_wrong_password_locks_after_repeated_failures(login: Any) -> None:
    anon: Browser = login(None)
    for _ in range(5):
        r = anon.post("/login", {"username": "therapist", "password": "wrong password"})
        assert r.status_code == 401
        anon.csrf = csrf_of(r.text)
    # locked now: even the right password is refused, with the same answer
    r = anon.post("/login", {"username": "therapist", "password": PASSWORD})
    assert r.status_code == 401
    assert "Mustermann" not in r.text


def test_post_without_csrf_token_is_refused(login: Any, clinic: Clinic) -> None:
    doc: Browser = login("physician")
    r = doc.client.post(f"/patients/{clinic.patient_id}/fractures/none")
    assert r.status_code == 403
    r = doc.client.post("/api/v1/patients", json={})
    assert r.status_code == 403


def test_search_is_case_and_accent_insensitive_and_by_birth_date(login: Any) -> None:
    b: Browser = login("billing")
    assert "Zoë Öztürk" in b.client.get("/patients", params={"q": "zoe ozturk"}).text
    assert "Jürgen Weiß" in b.client.get("/patients", params={"q": "WEISS"}).text
    r = b.client.get("/patients", params={"q": "14.03.1962"})
    assert "Erika Mustermann" in r.text and "Zoë" not in r.text
    api = b.api("GET", "/api/v1/patients", params={"q": "jurgen"}).json()
    assert [p["name"] for p in api] == ["Jürgen Weiß"]


def test_screening_form_until_eligible_then_plan_a_course(login: Any) -> None:
    doc: Browser = login("physician")
    r = doc.post(
        "/patients/new",
        {
            "name": "Ida Probe",
            "birth_date": "1970-02-03",
            "sex": "F",
            "weight_kg": "64,5",
            "height_cm": "170",
            "insurance": "private",
            "menopausal_status": "post",
        },
    )
    assert r.status_code == 303
    url = r.headers["location"]
    page = doc.client.get(url).text
    assert "unvollständig" in page and "Frakturanamnese nicht erhoben" in page
    answers = {f"ci_CI-{i:02d}": "no" for i in range(1, 14)}
    assert doc.post(f"{url}/findings", answers).status_code == 303
    assert doc.post(f"{url}/fractures/none").status_code == 303
    page = doc.client.get(url).text
    assert 'class="decision eligible"' in page
    start = date.today() + timedelta(days=1)
    r = doc.post(
        f"{url}/courses",
        {
            "region": "lumbar",
            "segment": "L4/5",
            "sessions": "15",
            "per_week": "3",
            "start": start.isoformat(),
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/courses/")
    course = doc.client.get(r.headers["location"]).text
    assert "Zwischenbilanz" in course  # the review point is marked
    # and the review is said in German, not in the clinical module's English message
    assert "Zwischenbilanz nach Sitzung 8; 0 durchgeführt." in course
    assert "Review after session" not in course


def test_unknown_on_an_answered_item_withdraws_the_answer(login: Any) -> None:
    """A clinician no longer sure of an answer sets it back to "unbekannt": screening is
    incomplete again (it used to keep the old "no" silently); items the form did not send
    keep their answers."""
    doc: Browser = login("physician")
    r = doc.post(
        "/patients/new",
        {"name": "Ida Probe", "birth_date": "1970-02-03", "sex": "F", "weight_kg": "64",
         "height_cm": "170", "insurance": "private", "menopausal_status": "post"},
    )  # fmt: skip
    url = r.headers["location"]
    doc.post(f"{url}/findings", {f"ci_CI-{i:02d}": "no" for i in range(1, 14)})
    doc.post(f"{url}/fractures/none")
    assert 'class="decision eligible"' in doc.client.get(url).text
    assert doc.post(f"{url}/findings", {"ci_CI-01": ""}).status_code == 303
    page = doc.client.get(url).text
    assert 'class="decision eligible"' not in page and "unvollständig" in page
    assert 'name="ci_CI-01" value="" checked' in page
    assert 'name="ci_CI-03" value="no" checked' in page


def test_outcomes_and_invoice_pdf(login: Any, clinic: Clinic) -> None:
    doc: Browser = login("therapist")
    sid = clinic.done_session_id
    assert (
        doc.post(f"/sessions/{sid}/nrs", {"nrs_before": "7", "nrs_after": "5"}).status_code == 303
    )
    assert doc.post(f"/sessions/{sid}/odi", {"answers": "3,2,2,1,3,2,1,0,2,1"}).status_code == 303
    page = doc.client.get(f"/sessions/{sid}").text
    assert "<strong>7</strong>" in page and "<strong>5</strong>" in page
    bill: Browser = login("billing")
    inv = bill.api(
        "POST",
        "/api/v1/invoices",
        json={"patient_id": clinic.patient_id, "course_id": clinic.course_id},
    )
    assert clinic.invoice_id is not None
    assert inv.status_code == 422  # the only treated session is on the demo's draft already
    assert bill.post(f"/invoices/{clinic.invoice_id}/issue").status_code == 303
    shown = bill.api("GET", f"/api/v1/invoices/{clinic.invoice_id}").json()
    assert shown["status"] == "issued" and shown["number"]
    pdf = bill.client.get(f"/invoices/{clinic.invoice_id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_english_is_switchable(login: Any) -> None:
    b: Browser = login("therapist")
    assert "Heute" in b.client.get("/").text
    b.post("/lang", {"lang": "en", "next": "/"})
    assert "Today" in b.client.get("/").text


def test_admin_resets_a_password_and_deactivates_a_user(login: Any, app: Any) -> None:
    import re

    from spinecare.services.users import list_users

    admin: Browser = login("admin")
    with app.state.ctx.store.session() as db:
        from spinecare.services.users import actor_for

        users = {u.username: u.id for u in list_users(db, actor_for(db, "admin"))}
    r = admin.post(f"/users/{users['therapist']}/reset")
    assert r.status_code == 200
    m = re.search(r'<code id="one-time">([^<]+)</code>', r.text)
    assert m
    # the old password no longer works; the one-time one does and asks for a change first
    assert login_status(app, "therapist", PASSWORD) == 401
    assert login_status(app, "therapist", m.group(1)) == 303
    assert admin.post(f"/users/{users['billing']}/active", {"active": "off"}).status_code == 303
    assert login_status(app, "billing", PASSWORD) == 401


def login_status(app: Any, username: str, password: str) -> int:
    from fastapi.testclient import TestClient

    c = TestClient(app, follow_redirects=False)  # no lifespan: the app is shared with the test
    try:
        token = csrf_of(c.get("/login").text)
        data = {"username": username, "password": password, "csrf_token": token}
        return int(c.post("/login", data=data).status_code)
    finally:
        c.close()


def test_today_streams_the_running_sessions_panel(login: Any) -> None:
    b: Browser = login("billing")
    page = b.client.get("/").text
    assert 'sse-connect="/today/stream"' in page
    r = b.client.get("/today/stream")  # nothing runs: one update, then the stream ends
    assert r.status_code == 200 and "event: running" in r.text


def test_first_admin_logs_in_with_the_one_time_password_and_must_change_it(
    tmp_path: Any, _sqlite_template: Any
) -> None:
    import shutil

    from fastapi.testclient import TestClient

    from spinecare.settings import Settings
    from spinecare.store import open_store
    from spinecare.web.accounts import bootstrap_admin
    from spinecare.web.app import create_app

    db = tmp_path / "fresh.db"
    shutil.copyfile(_sqlite_template, db)
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{db}")
    store = open_store(settings)
    with store.unit_of_work() as s:
        once = bootstrap_admin(s)
    assert once
    with store.unit_of_work() as s:
        assert bootstrap_admin(s) is None  # printed once: there is no second one
    c = TestClient(create_app(settings, store=store), follow_redirects=False)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": "admin", "password": once, "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert c.get("/").headers["location"] == "/account"  # nothing else until it is changed
    assert c.get("/api/v1/patients").status_code == 403
    token = csrf_of(c.get("/account").text)
    r = c.post(
        "/account", data={"current_password": once, "new_password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 303
    assert c.get("/").status_code == 200
    c.close()
    store.dispose()


def test_documents_of_a_session_a_course_and_a_patient(login: Any, clinic: Clinic) -> None:
    b: Browser = login("therapist")
    page = b.client.get(f"/sessions/{clinic.done_session_id}").text
    assert "report.pdf" in page and "Wiedergabe" in page
    replay = b.client.get(f"/sessions/{clinic.done_session_id}/telemetry.json").json()
    assert len(replay["columns"]["t_s"]) > 1000  # a 30-minute session at 10 Hz
    # the raw sEMG of a session run with EMG, for `spinecare emg detect`
    assert f"/sessions/{clinic.done_session_id}/emg.txt" in page and "Roh-EMG" in page
    r = b.client.get(f"/sessions/{clinic.done_session_id}/emg.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.splitlines()[1] == "# replay: spinecare emg detect emg.txt --rate 1000"
    assert len(r.text.splitlines()) > 1_000_000  # 30 min at 1000 samples/s
    missing = b.client.get(f"/sessions/{clinic.planned_session_id}/emg.txt")
    assert missing.status_code == 404 and "EMG-Aufzeichnung der Sitzung" in missing.text
    for url in (
        f"/sessions/{clinic.done_session_id}/report.pdf",
        f"/courses/{clinic.course_id}/report.pdf",
        f"/patients/{clinic.patient_id}/consent.pdf",
    ):
        r = b.client.get(url)
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), url


def _session_row(clinic: Clinic, session_id: int, **changes: Any) -> dict[str, Any]:
    """Read (and optionally change, as test set-up) a session's row directly."""
    from spinecare.store import open_store
    from spinecare.store.models import TreatmentSession

    store = open_store(url=clinic.db_url, auto_migrate=False)
    try:
        with store.unit_of_work("test-setup") as db:
            row = db.get(TreatmentSession, session_id)
            assert row is not None
            for k, v in changes.items():
                setattr(row, k, v)
            db.flush()
            return {
                "status": row.status,
                "start": row.scheduled_start,
                "course_sessions": len(row.course.sessions),
            }
    finally:
        store.dispose()


def test_reschedule_from_the_course_page_refused_with_the_reason_then_moved(
    login: Any, clinic: Clinic
) -> None:
    from spinecare.clinical.course import ScheduleSettings, is_clinic_day

    ther: Browser = login("therapist")
    sid = clinic.planned_session_id
    course_url = f"/courses/{clinic.course_id}"
    page = ther.client.get(course_url).text
    assert f'action="/sessions/{sid}/reschedule"' in page
    start = _session_row(clinic, sid)["start"]
    saturday = start.date() + timedelta(days=(5 - start.date().weekday()) % 7 or 7)
    r = ther.post(
        f"/sessions/{sid}/reschedule",
        {"start": f"{saturday.isoformat()}T10:00", "next": course_url},
    )
    assert r.status_code == 303 and r.headers["location"] == course_url
    page = ther.client.get(course_url).text
    assert "Nicht ausgeführt" in page and "ist kein Praxistag" in page
    # The next clinic day at 07:00 is before opening; at 12:15 it is free (nobody books then:
    # the demo plans its courses from the opening on).
    day = start.date() + timedelta(days=1)
    while not is_clinic_day(day, ScheduleSettings()):
        day += timedelta(days=1)
    r = ther.post(f"/sessions/{sid}/reschedule", {"start": f"{day}T07:00", "next": course_url})
    assert "außerhalb der Öffnungszeiten" in ther.client.get(course_url).text
    api = ther.api("POST", f"/api/v1/sessions/{sid}/reschedule", json={"start": f"{day}T12:15"})
    assert api.status_code == 200, api.text
    assert api.json()["id"] == sid
    r = ther.post(f"/sessions/{sid}/reschedule", {"start": f"{day}T12:30", "next": course_url})
    page = ther.client.get(course_url).text
    assert "Termin verschoben auf" in page and f"{day.strftime('%d.%m.%Y')} 12:30" in page


def test_no_show_on_today_when_its_time_has_come_replacement_at_the_end(
    login: Any, clinic: Clinic
) -> None:
    from datetime import UTC, datetime

    ther: Browser = login("therapist")
    sid = clinic.planned_session_id
    # Too early: refused with the reason (the page and the API alike).
    r = ther.api("POST", f"/api/v1/sessions/{sid}/no-show", json={})
    assert r.status_code == 422 and "its time has not come" in r.text
    before = _session_row(clinic, sid)
    now = datetime.now(UTC).replace(microsecond=0)
    _session_row(
        clinic,
        sid,
        scheduled_start=now - timedelta(minutes=10),
        scheduled_end=now + timedelta(minutes=35),
    )
    today = ther.client.get("/").text
    assert f'action="/sessions/{sid}/no-show"' in today
    r = ther.post(f"/sessions/{sid}/no-show", {"replacement": "end_of_course", "next": "/"})
    assert r.status_code == 303
    today = ther.client.get("/").text
    assert "Nicht erschienen vermerkt." in today and "Ersatztermin:" in today
    after = _session_row(clinic, sid)
    assert after["status"] == "no_show"
    assert after["course_sessions"] == before["course_sessions"] + 1
    # Billing sees the no-show, cannot act on it, and cannot bill it.
    bill: Browser = login("billing")
    assert f'action="/sessions/{sid}/no-show"' not in bill.client.get("/").text
    r = bill.api(
        "POST",
        "/api/v1/invoices",
        json={"patient_id": clinic.patient_id, "session_ids": [sid]},
    )
    assert r.status_code == 422 and "is no-show: only a session that ran is billed" in r.text
    day = ther.api("GET", "/api/v1/today").json()
    assert any(a["session_id"] == sid and a["status"] == "no_show" for a in day)


def test_the_set_up_page_draws_the_mode_s_target_curve_ahead_of_time(
    login: Any, clinic: Clinic
) -> None:
    from spinecare.services.sessions import planned_protocol
    from spinecare.store import open_store
    from spinecare.therapy.curve import target_curve
    from spinecare.web.curve import CURVE_STEP_S

    ther: Browser = login("therapist")
    sid = clinic.planned_session_id
    page = ther.client.get(f"/sessions/{sid}/setup").text
    assert f'data-url="/sessions/{sid}/curve.json"' in page and "Sollkurve" in page
    c = ther.client.get(f"/sessions/{sid}/curve.json", params={"minutes": "2"}).json()
    store = open_store(url=clinic.db_url, auto_migrate=False)
    with store.session() as db:
        from spinecare.services.users import actor_for

        proto = planned_protocol(db, actor_for(db, "therapist"), sid)
    store.dispose()
    drawn = target_curve(proto.model_copy(update={"traction_minutes": 2.0}), CURVE_STEP_S)
    assert c["mode"] == proto.mode.value == "intermittent"
    assert len(c["t_s"]) == len(drawn.t_s) and c["duration_s"] == round(drawn.duration_s, 2)
    assert max(c["target_n"]) == round(float(drawn.target_n.max()), 1) == proto.peak_force_n
    assert len(c["cycles"]) == len(drawn.cycles) >= 1
    assert all(s <= t for s, t in zip(c["segment_n"], c["target_n"], strict=True))
    # Within the clinician's limit, as the runner plans it.
    low = ther.client.get(
        f"/sessions/{sid}/curve.json", params={"minutes": "2", "clinician_max_force_n": "100"}
    ).json()
    assert max(low["target_n"]) == 100.0
    bad = ther.client.get(f"/sessions/{sid}/curve.json", params={"minutes": "0"})
    assert bad.status_code == 422
    assert ther.client.get(f"/sessions/{clinic.done_session_id}/curve.json").status_code == 422


def test_the_orthosis_pathway_on_the_patient_page(login: Any, clinic: Clinic) -> None:
    rx = clinic.prescription_id
    assert rx is not None
    ther: Browser = login("therapist")
    prog = ther.api("GET", f"/api/v1/orthoses/{rx}").json()
    pid = prog["prescription"]["patient_id"]
    url = f"/patients/{pid}"
    page = ther.client.get(url).text
    assert 'id="orthosis"' in page and "Spinomed" in page and "Verlaufskontrollen" in page
    assert f'src="/orthosis/{rx}/evidence.png"' in page and f"/orthosis/{rx}/report.pdf" in page
    assert "Kaijser Alin" in page and "Calcium 1000–1200 mg" in page and "Alendronat" in page
    png = ther.client.get(f"/orthosis/{rx}/evidence.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = ther.client.get(f"/orthosis/{rx}/report.pdf")
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    # The 6-month follow-up from the form (German decimal comma); then beside the trials.
    form = {
        "visit": "month_6",
        "done_on": date.today().isoformat(),
        "back_extensor_strength": "231,5",
        "kyphosis_angle": "47",
        "pain": "3",
    }
    assert ther.post(f"/orthosis/{rx}/followup", form).status_code == 303
    assert "Kontrolle erfasst." in ther.client.get(url).text
    prog = ther.api("GET", f"/api/v1/orthoses/{rx}").json()
    assert prog["compared_visit"] == "month_6"
    six = next(f for f in prog["prescription"]["followups"] if f["visit"] == "month_6")
    assert six["measures"]["back_extensor_strength"] == 231.5
    # A value out of range, a visit that does not exist: refused with the reason, nothing stored.
    ther.post(f"/orthosis/{rx}/followup", {**form, "visit": "month_9"})
    assert "erlaubt sind: Ausgangswert, 3 Monate oder 6 Monate" in ther.client.get(url).text
    ther.post(f"/orthosis/{rx}/followup", {**form, "pain": "11"})
    assert "Rückenschmerz: muss zwischen 0 und 10" in ther.client.get(url).text
    # Only a physician prescribes; a fitting date in the future is refused.
    assert (
        ther.post(
            url + "/orthosis", {"device": "spinomed", "prescribed_on": "2026-01-01"}
        ).status_code
        == 403
    )
    doc: Browser = login("physician")
    erika = f"/patients/{clinic.patient_id}"
    future = (date.today() + timedelta(days=3)).isoformat()
    doc.post(erika + "/orthosis", {"device": "spinomed", "prescribed_on": future})
    assert "darf nicht in der Zukunft liegen" in doc.client.get(erika).text
    r = doc.post(erika + "/orthosis", {"device": "spinomed_active", "size": "S",
                                        "prescribed_on": date.today().isoformat()})  # fmt: skip
    assert r.status_code == 303
    assert "Orthese verordnet." in doc.client.get(erika).text
    mine = doc.api("GET", f"/api/v1/patients/{clinic.patient_id}/orthoses").json()
    assert [p["device"] for p in mine] == ["spinomed_active"] and mine[0]["fitted_on"] is None
    assert (
        doc.post(
            f"/orthosis/{mine[0]['id']}/fit", {"fitted_on": date.today().isoformat()}
        ).status_code
        == 303
    )
    # The osteoporosis follow-up: a height, a risk factor, a drug therapy and its end.
    assert ther.post(erika + "/osteo/height", {"height_cm": "164,5"}).status_code == 303
    assert ther.post(erika + "/osteo/risk", {"code": "smoking", "present": "no"}).status_code == 303
    drug = {"drug_class": "denosumab", "substance": "Denosumab", "prescriber": "Dr. X"}
    assert ther.post(erika + "/osteo/drug", drug).status_code == 303
    osteo = ther.api("GET", f"/api/v1/patients/{clinic.patient_id}/osteoporosis").json()
    assert [h["height_cm"] for h in osteo["followup"]["heights"]] == [164.5]
    assert any(
        r["code"] == "smoking" and r["present"] is False for r in osteo["followup"]["risk_factors"]
    )
    tid = osteo["drug_therapy_ids"][0]
    # Another patient's therapy cannot be ended from this page.
    ther.post(f"/osteo/drug/{tid}/stop", {"patient_id": str(pid)})
    assert "gehört nicht zu dieser Patientin/diesem Patienten" in ther.client.get(url).text
    ther.post(f"/osteo/drug/{tid}/stop", {"patient_id": str(clinic.patient_id)})
    osteo = ther.api("GET", f"/api/v1/patients/{clinic.patient_id}/osteoporosis").json()
    assert osteo["followup"]["drug_therapy"][0]["stopped_on"] == date.today().isoformat()


def test_the_users_page_shows_an_account_locked_by_failed_logins(login: Any) -> None:
    """Five wrong passwords lock an account for 15 minutes; the admin sees it and until when
    (a reset opens it), and a new account's password shows as one-time."""
    from spinecare.services.users import MAX_FAILED_LOGINS

    guest = login(None)
    for _ in range(MAX_FAILED_LOGINS):
        r = guest.client.post(
            "/login",
            data={"username": "billing", "password": "not it at all", "csrf_token": guest.csrf},
        )
        assert r.status_code in (200, 401, 422)
    admin = login("admin")
    page = admin.client.get("/users").text
    row = page[page.index("<td>billing</td>") :].split("</tr>", 1)[0]
    assert "gesperrt bis " in row
    assert "gesperrt bis " not in page[page.index("<td>therapist</td>") :].split("</tr>", 1)[0]
    r = admin.post(
        "/users", {"username": "neu", "role": "therapist", "password": "a first password"}
    )
    assert r.status_code == 303, r.text[:300]
    page = admin.client.get("/users").text
    assert "Einmalpasswort" in page[page.index("<td>neu</td>") :].split("</tr>", 1)[0]


def test_the_demo_session_is_done_on_the_day_it_was_booked_for(app: Any, clinic: Clinic) -> None:
    """Made on a day the clinic is closed (a Sunday), the demo's finished session used to be
    booked for the next opening day: done a day before it was due, with the early warning."""
    from spinecare.settings import clinic_day
    from spinecare.store.models import TreatmentSession

    with app.state.ctx.store.session() as db:
        s = db.get(TreatmentSession, clinic.done_session_id)
        assert s is not None and s.status == "done" and s.started_at is not None
        assert clinic_day(s.scheduled_start) == clinic_day(s.started_at)
    assert clinic.invoice_id is not None  # its draft invoice exists whatever the weekday
