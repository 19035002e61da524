"""The REST API fuzzed from its own OpenAPI schema (schemathesis, in process): whatever a client
sends, signed in as an admin, the server never answers with a 5xx."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import Browser

# Starting a session would run a table loop in a thread for minutes; its input is fuzzed
# through the same strict schema by test_session_start_is_strict below.
# Read at import: the isolation fixture removes every SPINECARE_ variable before a test runs.
EXAMPLES = int(os.environ.get("SPINECARE_API_FUZZ_EXAMPLES", "400"))
SKIP = {("POST", "/api/v1/sessions/{session_id}/start")}


@pytest.mark.slow
def test_api_never_answers_with_a_server_error(app: Any, login: Any) -> None:
    import schemathesis

    admin: Browser = login("admin")
    cookie = "; ".join(f"{k}={v}" for k, v in admin.client.cookies.items())
    headers = {"Cookie": cookie, "X-CSRF-Token": admin.csrf}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=headers)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 20
    strategy = st.one_of(
        [op.as_strategy() for op in operations if (op.method.upper(), op.path) not in SKIP]
    )
    seen: set[str] = set()
    codes: set[int] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        response = case.call(headers=headers)
        seen.add(case.operation.label)
        codes.add(response.status_code)
        assert response.status_code < 500, (case.operation.label, response.text[:300])

    fuzz()
    assert len(seen) > 15
    assert {200, 201} & codes and 401 not in codes, codes  # signed in, and getting through


def test_session_start_is_strict(login: Any) -> None:
    """A boolean is not a force, a string is not a time; and the checklist is required."""
    doc: Browser = login("physician")
    url = "/api/v1/sessions/999999/start"
    ok = {
        "harness_fastened": True,
        "stop_switch_in_hand": True,
        "contraindications_reconfirmed": True,
    }
    for bad in (
        {**ok, "clinician_max_force_n": True},
        {**ok, "minutes": "1"},
        {**ok, "speed": 0.5},
        {"minutes": 1.0},
        {**ok, "extra": 1},
    ):
        assert doc.api("POST", url, json=bad).status_code == 422, bad
    assert doc.api("POST", url, json=ok).status_code == 404


@pytest.mark.slow
def test_day_and_orthosis_inputs_on_real_records_never_answer_a_server_error(
    app: Any, login: Any, clinic: Any
) -> None:
    """The schedule and orthosis operations fuzzed on records that exist (random ids mostly
    meet a 404 before the body is looked at)."""
    import schemathesis

    admin: Browser = login("admin")
    cookie = "; ".join(f"{k}={v}" for k, v in admin.client.cookies.items())
    headers = {"Cookie": cookie, "X-CSRF-Token": admin.csrf}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=headers)
    ids = {
        "session_id": clinic.planned_session_id,
        "patient_id": clinic.patient_id,
        "prescription_id": clinic.prescription_id,
    }
    tags = {"schedule", "orthosis"}
    operations = [
        r.ok()
        for r in schema.get_all_operations()
        if tags & set(r.ok().definition.raw.get("tags", [])) and r.ok().method.upper() == "POST"
    ]
    assert len(operations) >= 8
    strategy = st.one_of([op.as_strategy() for op in operations])
    codes: set[int] = set()

    @settings(
        max_examples=max(200, EXAMPLES),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        for name in list(case.path_parameters or {}):
            if name in ids:
                case.path_parameters[name] = ids[name]
        response = case.call(headers=headers)
        codes.add(response.status_code)
        assert response.status_code < 500, (case.operation.label, response.text[:300])

    fuzz()
    assert codes & {200, 201, 422}


def test_a_body_nested_past_the_recursion_limit_is_refused_not_a_server_error(
    login: Any,
) -> None:
    """``[[[[...`` a hundred thousand deep: the JSON parser recurses; the answer is a 4xx."""
    doc: Browser = login("physician")
    body = "[" * 100_000 + "]" * 100_000
    for method, url in (
        ("POST", "/api/v1/sessions/999999/start"),
        ("POST", "/api/v1/patients"),
    ):
        r = doc.api(method, url, content=body, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:200])


def _audit_rows(app: Any) -> int:
    from sqlalchemy import func, select

    from spinecare.store.models import AuditEntry

    with app.state.ctx.store.session() as db:
        return int(db.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_values_of_the_wrong_json_kind_are_refused_by_field(
    app: Any, login: Any, clinic: Any
) -> None:
    """``true`` is not a pain score, ``"5"`` is not a number, ``0`` is not a birth date: each is
    refused with the field's place, and nothing is stored."""
    doc: Browser = login("physician")
    patient = {"name": "Json Kind", "birth_date": "1970-01-01", "sex": "F", "weight_kg": 70,
               "height_cm": 170, "insurance": "private"}  # fmt: skip
    done, pid = clinic.done_session_id, clinic.patient_id
    cases = [
        (f"/sessions/{done}/nrs", {"nrs_before": True}, ["nrs_before"]),
        (f"/sessions/{done}/nrs", {"nrs_before": "5"}, ["nrs_before"]),
        (f"/sessions/{done}/odi", {"answers": [True] * 10}, ["answers", 0]),
        ("/patients", {**patient, "birth_date": 0}, ["birth_date"]),
        ("/patients", {**patient, "weight_kg": True}, ["weight_kg"]),
        (f"/patients/{pid}/fracture-history", {"taken_on": 0}, ["taken_on"]),
        ("/invoices", {"patient_id": True}, ["patient_id"]),
        (f"/patients/{pid}/orthoses",
         {"device": "spinomed", "prescribed_on": "2026-11-01", "plan": {"step_days": True}},
         ["plan", "step_days"]),
    ]  # fmt: skip
    before = _audit_rows(app)
    for url, body, loc in cases:
        r = doc.api("POST", f"/api/v1{url}", json=body)
        assert r.status_code == 422, (url, body, r.text[:300])
        assert ["body", *loc] in [e["loc"] for e in r.json()["detail"]], (url, r.text[:300])
    assert _audit_rows(app) == before
    # the right kinds still go through
    assert doc.api("POST", "/api/v1/patients", json=patient).status_code == 201
    r = doc.api("POST", f"/api/v1/sessions/{done}/nrs", json={"nrs_before": 5})
    assert r.status_code == 201, r.text


def test_nan_minutes_are_refused_as_not_a_number(login: Any, clinic: Any) -> None:
    doc: Browser = login("physician")
    doc.post("/lang", {"lang": "en", "next": "/"})  # the messages as the services word them
    body = '{"minutes": NaN, "harness_fastened": true, "stop_switch_in_hand": true, ' + (
        '"contraindications_reconfirmed": true}'
    )
    r = doc.api(
        "POST",
        f"/api/v1/sessions/{clinic.planned_session_id}/start",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "finite number" in r.text, r.text
    r = doc.post(
        f"/sessions/{clinic.planned_session_id}/start",
        {"minutes": "sNaN", "harness_fastened": "on", "stop_switch_in_hand": "on",
         "contraindications_reconfirmed": "on"},
    )  # fmt: skip
    assert r.status_code == 422 and "minutes: not a number" in r.text


def test_the_api_description_needs_a_login(login: Any) -> None:
    anon: Browser = login(None)
    for url in ("/api/v1/openapi.json", "/api/v1/docs"):
        assert anon.client.get(url).status_code == 401, url
    doc: Browser = login("physician")
    assert doc.client.get("/api/v1/openapi.json").json()["info"]["title"] == "spinecare"
    page = doc.client.get("/api/v1/docs")
    assert page.status_code == 200
    # everything it loads is served here: an offline clinic network still shows it
    assert "https://" not in page.text and "/static/vendor/swagger-ui-bundle.js" in page.text
    for asset in ("/static/vendor/swagger-ui-bundle.js", "/static/vendor/swagger-ui.css"):
        assert doc.client.get(asset).status_code == 200, asset


def test_the_api_does_not_show_server_paths(login: Any, clinic: Any) -> None:
    doc: Browser = login("physician")
    s = doc.api("GET", f"/api/v1/sessions/{clinic.done_session_id}").json()
    assert "telemetry_dir" not in s and s["status"] == "done"
    c = doc.api("GET", f"/api/v1/courses/{clinic.course_id}").json()
    assert c["sessions"] and all("telemetry_dir" not in x for x in c["sessions"])
    listed = doc.api("GET", f"/api/v1/patients/{clinic.patient_id}/courses").json()
    assert all("telemetry_dir" not in x for course in listed for x in course["sessions"])
    schema = doc.client.get("/api/v1/openapi.json").text
    assert '"telemetry_dir":' not in schema  # no such property (a docstring may name it)


def test_a_stale_form_gets_a_page_in_its_language_and_the_api_json(login: Any) -> None:
    anon: Browser = login(None)
    r = anon.client.post(
        "/login",
        data={"username": "physician", "password": "x", "csrf_token": "stale"},
        headers={"Referer": "http://testserver/login?next=/patients"},
    )
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "Formular ist abgelaufen" in r.text and 'href="/login?next=/patients"' in r.text
    doc: Browser = login("physician")
    r = doc.client.post("/api/v1/patients", json={}, headers={"X-CSRF-Token": "stale"})
    assert r.status_code == 403 and r.json() == {"detail": "CSRF token missing or wrong"}


def test_the_favicon_is_served(login: Any) -> None:
    anon: Browser = login(None)
    r = anon.client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon"' in anon.client.get("/login").text
