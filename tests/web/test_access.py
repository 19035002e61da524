"""Who may open what: every route of the app by every role and anonymous. Refusals are
401 (API) or a redirect to the login (pages), 403 for a role that may not, and never data."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from tests.web.conftest import Browser, Clinic

ROLES = ("admin", "physician", "therapist", "billing")
ALL = frozenset(ROLES)
CLINICAL = frozenset({"admin", "physician", "therapist"})
MEDICAL = frozenset({"admin", "physician"})
BILLING = frozenset({"admin", "physician", "billing"})
USERS = frozenset({"admin", "physician"})

# The access matrix: (method, path) -> roles that may. Every route of the app is listed here
# (test_every_route_is_in_the_matrix); "public" routes need no login.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/lang"), ("POST", "/logout")}
SIGNED_IN = {("GET", "/account"), ("POST", "/account"), ("GET", "/api/v1/me")}
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/"): ALL,
    ("GET", "/today/stream"): ALL,
    ("GET", "/patients"): ALL,
    ("GET", "/patients/new"): CLINICAL,
    ("POST", "/patients/new"): CLINICAL,
    ("GET", "/patients/{patient_id}"): ALL,
    ("GET", "/patients/{patient_id}/edit"): CLINICAL,
    ("POST", "/patients/{patient_id}/edit"): CLINICAL,
    ("POST", "/patients/{patient_id}/findings"): CLINICAL,
    ("POST", "/patients/{patient_id}/fractures/none"): CLINICAL,
    ("POST", "/patients/{patient_id}/bmd"): CLINICAL,
    ("POST", "/patients/{patient_id}/screen"): MEDICAL,
    ("POST", "/patients/{patient_id}/courses"): MEDICAL,
    ("GET", "/patients/{patient_id}/consent.pdf"): ALL,
    ("GET", "/courses/{course_id}"): ALL,
    ("POST", "/courses/{course_id}/odi"): CLINICAL,
    ("GET", "/courses/{course_id}/report.pdf"): ALL,
    ("GET", "/courses/{course_id}/documents.zip"): ALL,
    ("POST", "/sessions/{session_id}/cancel"): CLINICAL,
    ("POST", "/sessions/{session_id}/reschedule"): CLINICAL,
    ("POST", "/sessions/{session_id}/no-show"): CLINICAL,
    ("GET", "/sessions/{session_id}/setup"): CLINICAL,
    ("GET", "/sessions/{session_id}/segments"): CLINICAL,
    ("POST", "/sessions/{session_id}/start"): CLINICAL,
    ("GET", "/sessions/{session_id}/curve.json"): CLINICAL,
    ("GET", "/live/{session_id}/curve.json"): CLINICAL,
    ("GET", "/sessions/{session_id}"): ALL,
    ("GET", "/sessions/{session_id}/telemetry.json"): ALL,
    ("GET", "/sessions/{session_id}/report.pdf"): ALL,
    ("GET", "/sessions/{session_id}/emg.txt"): ALL,
    ("POST", "/sessions/{session_id}/nrs"): CLINICAL,
    ("POST", "/sessions/{session_id}/odi"): CLINICAL,
    ("GET", "/live/{session_id}"): CLINICAL,
    ("GET", "/live/{session_id}/patient"): CLINICAL,
    ("GET", "/live/{session_id}/stream"): CLINICAL,
    ("POST", "/live/{session_id}/stop"): CLINICAL,
    ("POST", "/live/{session_id}/pause"): CLINICAL,
    ("GET", "/invoices"): BILLING,
    ("POST", "/invoices"): BILLING,
    ("POST", "/invoices/{invoice_id}/issue"): BILLING,
    ("POST", "/invoices/{invoice_id}/pay"): BILLING,
    ("POST", "/invoices/{invoice_id}/cancel"): BILLING,
    ("GET", "/invoices/{invoice_id}.pdf"): BILLING,
    ("GET", "/audit"): USERS,
    ("GET", "/users"): USERS,
    ("POST", "/users"): USERS,
    ("POST", "/users/{user_id}/active"): USERS,
    ("POST", "/users/{user_id}/reset"): USERS,
    ("GET", "/api/v1/patients"): ALL,
    ("POST", "/api/v1/patients"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_id}"): ALL,
    ("PATCH", "/api/v1/patients/{patient_id}"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_id}/findings"): ALL,
    ("POST", "/api/v1/patients/{patient_id}/findings"): CLINICAL,
    ("POST", "/api/v1/patients/{patient_id}/fracture-history"): CLINICAL,
    ("POST", "/api/v1/patients/{patient_id}/bmd"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_id}/screening"): ALL,
    ("POST", "/api/v1/patients/{patient_id}/screening"): MEDICAL,
    ("GET", "/api/v1/patients/{patient_id}/courses"): ALL,
    ("POST", "/api/v1/courses"): MEDICAL,
    ("GET", "/api/v1/courses/{course_id}"): ALL,
    ("GET", "/api/v1/courses/{course_id}/outcomes"): ALL,
    ("GET", "/api/v1/sessions/{session_id}"): ALL,
    ("POST", "/api/v1/sessions/{session_id}/start"): CLINICAL,
    ("GET", "/api/v1/sessions/{session_id}/live"): ALL,
    ("POST", "/api/v1/sessions/{session_id}/stop"): CLINICAL,
    ("POST", "/api/v1/sessions/{session_id}/pause"): CLINICAL,
    ("POST", "/api/v1/sessions/{session_id}/nrs"): CLINICAL,
    ("POST", "/api/v1/sessions/{session_id}/odi"): CLINICAL,
    ("POST", "/api/v1/sessions/{session_id}/reschedule"): CLINICAL,
    ("POST", "/api/v1/sessions/{session_id}/no-show"): CLINICAL,
    ("POST", "/api/v1/sessions/{session_id}/cancel"): CLINICAL,
    ("GET", "/api/v1/today"): ALL,
    ("GET", "/api/v1/patients/{patient_id}/orthoses"): ALL,
    ("POST", "/api/v1/patients/{patient_id}/orthoses"): MEDICAL,
    ("GET", "/api/v1/orthoses/{prescription_id}"): ALL,
    ("POST", "/api/v1/orthoses/{prescription_id}/fit"): CLINICAL,
    ("POST", "/api/v1/orthoses/{prescription_id}/followups/{visit}"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_id}/osteoporosis"): ALL,
    ("POST", "/api/v1/patients/{patient_id}/osteoporosis/risk-factors"): CLINICAL,
    ("POST", "/api/v1/patients/{patient_id}/osteoporosis/drug-therapies"): CLINICAL,
    ("POST", "/api/v1/patients/{patient_id}/osteoporosis/heights"): CLINICAL,
    ("POST", "/patients/{patient_id}/orthosis"): MEDICAL,
    ("POST", "/orthosis/{prescription_id}/fit"): CLINICAL,
    ("POST", "/orthosis/{prescription_id}/followup"): CLINICAL,
    ("GET", "/orthosis/{prescription_id}/report.pdf"): ALL,
    ("GET", "/orthosis/{prescription_id}/evidence.png"): ALL,
    ("POST", "/patients/{patient_id}/osteo/risk"): CLINICAL,
    ("POST", "/patients/{patient_id}/osteo/drug"): CLINICAL,
    ("POST", "/osteo/drug/{therapy_id}/stop"): CLINICAL,
    ("POST", "/patients/{patient_id}/osteo/height"): CLINICAL,
    ("GET", "/api/v1/invoices"): BILLING,
    ("POST", "/api/v1/invoices"): BILLING,
    ("GET", "/api/v1/invoices/{invoice_id}"): BILLING,
    ("POST", "/api/v1/invoices/{invoice_id}/{action}"): BILLING,
    ("GET", "/api/v1/users"): USERS,
    ("POST", "/api/v1/users"): USERS,
    ("GET", "/api/v1/audit"): USERS,
}
SECRETS = ("Mustermann", "Öztürk", "Weiß", "password_hash")


def _routes() -> set[tuple[str, str]]:
    from spinecare.web.api import router as api
    from spinecare.web.app import API_PREFIX
    from spinecare.web.orthosis import router as orthosis
    from spinecare.web.pages import router as pages

    out = set()
    for router, prefix in ((pages, ""), (orthosis, ""), (api, API_PREFIX)):
        for r in router.routes:
            assert isinstance(r, APIRoute)
            out |= {(m, prefix + r.path) for m in r.methods if m != "HEAD"}
    return out


def _url(path: str, clinic: Clinic) -> str:
    ids = {
        "patient_id": clinic.patient_id,
        "course_id": clinic.course_id,
        # a planned session: set-up and start are reachable; history pages answer for it too
        "session_id": clinic.planned_session_id,
        "invoice_id": clinic.invoice_id or 1,
        "action": "pay",
        "user_id": 999,
        "prescription_id": clinic.prescription_id or 1,
        "visit": "baseline",
        "therapy_id": 1,
    }
    url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
    return url + ("?angle=10" if url.endswith("/segments") else "")


def test_every_route_is_in_the_matrix() -> None:
    assert _routes() == set(MATRIX) | PUBLIC | SIGNED_IN


def _request(b: Browser, method: str, url: str) -> Any:
    if url.startswith("/api/"):
        body = {} if method in ("POST", "PATCH") else None
        return b.api(method, url, json=body)
    if method == "POST":
        return b.post(url, {})
    return b.client.request(method, url)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_access_matrix(login: Any, clinic: Clinic, role: str | None) -> None:
    b: Browser = login(role)
    for (method, path), allowed in sorted(MATRIX.items()):
        url = _url(path, clinic)
        r = _request(b, method, url)
        where = f"{role} {method} {url}: {r.status_code}"
        if role is None:
            if path.startswith("/api/"):
                assert r.status_code == 401, where
            else:
                assert r.status_code == 303 and "/login" in r.headers["location"], where
        elif role not in allowed:
            assert r.status_code == 403, where
        else:
            assert r.status_code not in (401, 403), where
            assert r.status_code < 500, where
        if role is None or role not in allowed:
            assert not any(s in r.text for s in SECRETS), where
