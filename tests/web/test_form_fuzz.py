"""Hostile input on every HTML form: whatever a signed-in user posts to any page route (unknown
fields, missing fields, control characters, digits int() refuses, huge and odd numbers, German and
ISO dates that do not exist), the server answers without a 5xx. The API has its own fuzz
(test_api_fuzz.py); this one covers the form routes it does not see."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import Browser, Clinic

EXAMPLES = int(os.environ.get("SPINECARE_FORM_FUZZ_EXAMPLES", "300"))
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "spinecare" / "web" / "templates"
# Routes that would end the test's own login or start a table process; each has its own tests.
SKIP = {"/login", "/logout", "/lang", "/account", "/sessions/{session_id}/start"}

NASTY = st.sampled_from(
    ["", " ", "0", "-1", "1e309", "nan", "inf", "¹", "٣", "1,5", "80,5", "9" * 40, "31.02.2026",
     "14.05.1961", "2026-02-30", "2026-12-01", "2026-12-01T25:00", "L4/5", "/00", "\x00", "\x1b[2J",
     "true", "on", "lumbar", "F", "private", "<script>", "' OR 1=1 --", "ü" * 300]
)  # fmt: skip
VALUES = st.one_of(NASTY, st.text(max_size=40))


def _field_names() -> list[str]:
    names: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        names |= set(re.findall(r'name="([a-zA-Z_][\w-]*)"', path.read_text(encoding="utf-8")))
    names.discard("csrf_token")
    return sorted(names)


def _concrete(path: str, clinic: Clinic) -> str:
    ids = {
        "patient_id": clinic.patient_id,
        "course_id": clinic.course_id,
        "session_id": clinic.planned_session_id,
        "invoice_id": clinic.invoice_id or 1,
        "prescription_id": clinic.prescription_id or 1,
        "user_id": 999,  # no such user: deactivating a signed-in one would end the fuzz
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


@pytest.mark.slow
def test_no_form_answers_with_a_server_error(app: Any, login: Any, clinic: Clinic) -> None:
    admin: Browser = login("admin")
    doc: Browser = login("physician")
    from spinecare.web.orthosis import router as orthosis
    from spinecare.web.pages import router as pages

    routes = sorted(
        {
            r.path
            for router in (pages, orthosis)
            for r in router.routes
            if isinstance(r, APIRoute) and "POST" in r.methods and r.path not in SKIP
        }
    )
    assert len(routes) > 20
    names = _field_names()
    assert len(names) > 20
    seen: set[str] = set()

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        route=st.sampled_from(routes),
        form=st.dictionaries(st.sampled_from(names), VALUES, max_size=8),
        as_admin=st.booleans(),
    )
    def fuzz(route: str, form: dict[str, str], as_admin: bool) -> None:
        who = admin if as_admin else doc
        url = _concrete(route, clinic)
        r = who.post(url, form, follow_redirects=False)
        seen.add(route)
        assert r.status_code < 500, (url, form, r.text[:300])

    fuzz()
    assert len(seen) > len(routes) // 2
