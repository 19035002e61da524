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


# -- every field of every form, one hostile value at a time -----------------------------------
LONG = "x" * 5000
HOSTILE = ["nan", "NaN", "snan", "sNaN", "inf", "-inf", "Infinity", "1e400", "", "abc", "25:00",
           "9", "2.7", "٧٠", LONG]  # fmt: skip
NOT_NUMBERS = {"nan", "NaN", "snan", "sNaN", "inf", "-inf", "Infinity", "1e400", "abc", "25:00",
               "٧٠", LONG}  # fmt: skip
# Per kind of field, the hostile values it must refuse (others may be accepted: '' for an
# optional field, '9' for a number).
REFUSE = {
    "number": NOT_NUMBERS,
    "whole": NOT_NUMBERS | {"2.7"},
    "time": {"abc", "25:00", "9", "2.7", "nan", "inf", LONG},
    "date": {"abc", "25:00", "9", "2.7", "nan", "inf", "1e400", LONG},
    "moment": {"abc", "25:00", "9", "2.7", "nan", LONG},
    "choice": {"abc", "nan", "9", LONG},
    "switch": {"abc", "nan", "9", "2.7", LONG},
    "text": {LONG},
}


def _forms(clinic: Clinic, therapist_id: int) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(url, a valid form, field -> kind) for every form route a physician may post."""
    p, c, rx = clinic.patient_id, clinic.course_id, clinic.prescription_id or 1
    planned, done = clinic.planned_session_id, clinic.done_session_id
    patient = {"name": "Hostile Test", "birth_date": "01.02.1960", "sex": "F", "weight_kg": "70,5",
               "height_cm": "170", "insurance": "private", "street": "Weg 1", "postcode": "12345",
               "city": "Berlin", "phone": "030 1234"}  # fmt: skip
    patient_kinds = {"name": "text", "birth_date": "date", "sex": "choice", "weight_kg": "number",
                     "height_cm": "number", "insurance": "choice", "street": "text",
                     "postcode": "text", "city": "text", "phone": "text",
                     "icd_consent": "switch"}  # fmt: skip
    measures = {"back_extensor_strength": "number", "kyphosis_angle": "number", "pain": "number"}
    return [
        ("/patients/new", patient, patient_kinds),
        (f"/patients/{p}/edit", patient, patient_kinds),
        (f"/patients/{p}/findings", {"ci_CI-01": "no", "detail_CI-01": "none"},
         {"ci_CI-01": "choice", "detail_CI-01": "text"}),
        (f"/patients/{p}/bmd", {"site": "lumbar_spine", "measured_on": "01.10.2026",
                                "t_score": "-1,2", "bmd_g_cm2": "0,9"},
         {"site": "choice", "measured_on": "date", "t_score": "number", "bmd_g_cm2": "number"}),
        (f"/patients/{p}/courses", {"region": "lumbar", "segment": "L4/5", "sessions": "15",
                                    "per_week": "3", "start": "14.12.2026",
                                    "preferred_time": "09:00"},
         {"region": "choice", "sessions": "whole", "per_week": "whole", "start": "date",
          "preferred_time": "time"}),
        (f"/courses/{c}/odi", {"answers": "3,2,2,1,3,2,1,0,2,1"}, {"answers": "text"}),
        (f"/sessions/{planned}/reschedule", {"start": "2026-12-15T10:00"}, {"start": "moment"}),
        (f"/sessions/{planned}/no-show", {"replacement": "pick",
                                          "replacement_start": "2026-12-16T10:00"},
         {"replacement": "choice", "replacement_start": "moment"}),
        (f"/sessions/{done}/nrs", {"nrs_before": "6", "nrs_after": "4"},
         {"nrs_before": "whole", "nrs_after": "whole"}),
        (f"/sessions/{done}/odi", {"answers": "3,2,2,1,3,2,1,0,2,1"}, {"answers": "text"}),
        (f"/sessions/{planned}/start", {"minutes": "1", "speed": "1", "harness_fastened": "on",
                                        "stop_switch_in_hand": "on",
                                        "contraindications_reconfirmed": "on"},
         {"minutes": "number", "speed": "number", "clinician_max_force_n": "number",
          "emg": "switch", "harness_fastened": "switch"}),
        (f"/patients/{p}/orthosis", {"device": "spinomed", "prescribed_on": "01.11.2026",
                                     "start_hours": "1", "target_hours": "2", "step_hours": "0,5",
                                     "step_days": "7", "reason": "fracture"},
         {"device": "choice", "prescribed_on": "date", "start_hours": "number",
          "target_hours": "number", "step_hours": "number", "step_days": "whole",
          "reason": "text"}),
        (f"/orthosis/{rx}/fit", {"fitted_on": "02.11.2026", "size": "M"},
         {"fitted_on": "date", "size": "text"}),
        (f"/orthosis/{rx}/followup", {"visit": "month_3", "done_on": "20.11.2026",
                                      "back_extensor_strength": "100", "kyphosis_angle": "50",
                                      "pain": "3", "note": "fine"},
         {"visit": "choice", "done_on": "date", **measures, "note": "text"}),
        (f"/patients/{p}/osteo/risk", {"code": "prior_fracture", "present": "no",
                                       "recorded_on": "01.11.2026", "note": "asked"},
         {"present": "choice", "recorded_on": "date", "note": "text"}),
        (f"/patients/{p}/osteo/drug", {"drug_class": "bisphosphonate", "substance": "Alendronat",
                                       "prescriber": "Dr. X", "started_on": "01.10.2026",
                                       "dose": "70 mg"},
         {"drug_class": "choice", "substance": "text", "prescriber": "text", "started_on": "date",
          "dose": "text"}),
        (f"/patients/{p}/osteo/height", {"height_cm": "164", "measured_on": "01.11.2026"},
         {"height_cm": "number", "measured_on": "date", "recalled": "switch"}),
        ("/invoices", {"patient_id": str(p), "course_id": str(c)},
         {"patient_id": "whole", "course_id": "whole"}),
        (f"/users/{therapist_id}/active", {"active": "off"}, {"active": "switch"}),
        ("/users", {"username": "newuser", "role": "therapist", "password": "a long password 1",
                    "full_name": "New User"},
         {"username": "text", "role": "choice", "full_name": "text"}),
    ]  # fmt: skip


def _audit_rows(app: Any) -> int:
    from sqlalchemy import func, select

    from spinecare.store.models import AuditEntry

    with app.state.ctx.store.session() as db:
        return int(db.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _refusal(who: Browser, r: Any) -> str | None:
    """The refusal's text (an error page, or the error flash on the page a redirect leads to);
    None when the form was accepted."""
    if 400 <= r.status_code < 500:
        return str(r.text)
    if r.status_code == 303:
        nxt = who.client.get(r.headers["location"])
        m = re.search(r'class="flash error"[^>]*>(.*?)</', nxt.text, re.S)
        return m.group(1) if m else None
    return None


@pytest.mark.slow
def test_hostile_values_in_every_form_field_are_refused_by_name_and_nothing_is_stored(
    app: Any, login: Any, clinic: Clinic
) -> None:
    """NaN, signalling NaN, infinities, overflowing exponents, '', text, impossible times, a
    bare hour, a fraction where a whole number is due, other scripts' digits and 5000
    characters, in each field of each form in turn: never a 5xx; what the field's kind cannot
    be is refused with the field named; a refused post stores nothing (the audit log, which
    every change writes to, did not grow)."""
    from sqlalchemy import select

    from spinecare.store.models import User

    doc: Browser = login("physician")
    doc.post("/lang", {"lang": "en", "next": "/"})  # the messages as the services word them
    with app.state.ctx.store.session() as db:
        therapist = db.scalar(select(User.id).where(User.username == "therapist"))
    assert therapist is not None
    problems: list[str] = []
    for url, valid, kinds in _forms(clinic, therapist):
        start = url.endswith("/start")
        for field, kind in kinds.items():
            for value in HOSTILE:
                must_refuse = value in REFUSE[kind]
                if start and not must_refuse:
                    continue  # an accepted start would run a table process
                before = _audit_rows(app)
                r = doc.post(url, {**valid, field: value}, follow_redirects=False)
                what = f"{url} {field}={value[:12]!r}: {r.status_code}"
                if r.status_code >= 500:
                    problems.append(f"{what} server error")
                    continue
                refused = _refusal(doc, r)
                if refused is not None and _audit_rows(app) != before:
                    problems.append(f"{what} refused but stored")
                if must_refuse:
                    if refused is None:
                        problems.append(f"{what} accepted")
                    elif field not in refused and "checklist" not in refused:
                        problems.append(f"{what} refusal does not name the field: {refused[:120]}")
    assert not problems, "\n".join(problems)


def test_a_file_in_a_text_field_is_refused_not_stored_as_its_repr(
    app: Any, login: Any, clinic: Clinic
) -> None:
    doc: Browser = login("physician")
    doc.post("/lang", {"lang": "en", "next": "/"})  # the messages as the services word them
    form = {"csrf_token": doc.csrf, "birth_date": "1970-01-01", "sex": "F", "weight_kg": "70",
            "height_cm": "170", "insurance": "private"}  # fmt: skip
    before = _audit_rows(app)
    r = doc.client.post(
        "/patients/new", data=form, files={"name": ("x.txt", b"hello", "text/plain")}
    )
    assert r.status_code == 422 and "not a file" in r.text
    assert "UploadFile" not in r.text and _audit_rows(app) == before
    r = doc.client.post(
        f"/patients/{clinic.patient_id}/findings",
        data={"csrf_token": doc.csrf, "ci_CI-01": "no"},
        files={"detail_CI-01": ("x.txt", b"hello", "text/plain")},
    )
    assert r.status_code == 422 and "detail_CI-01" in r.text and _audit_rows(app) == before


def test_deactivation_takes_only_on_or_off(app: Any, login: Any) -> None:
    from sqlalchemy import select

    from spinecare.store.models import User

    admin: Browser = login("admin")
    with app.state.ctx.store.session() as db:
        doc = db.scalar(select(User).where(User.username == "physician"))
        assert doc is not None
        doc_id = doc.id
    for value in ("maybe", "", "ON", "true", "0"):
        r = admin.post(f"/users/{doc_id}/active", {"active": value})
        assert r.status_code == 422 and "active" in r.text, value
    with app.state.ctx.store.session() as db:
        assert db.get(User, doc_id).active  # type: ignore[union-attr]
    assert admin.post(f"/users/{doc_id}/active", {"active": "off"}).status_code == 303


def test_long_notes_are_refused_not_cut(app: Any, login: Any, clinic: Clinic) -> None:
    doc: Browser = login("physician")
    doc.post("/lang", {"lang": "en", "next": "/"})  # the messages as the services word them
    before = _audit_rows(app)
    r = doc.post(
        f"/patients/{clinic.patient_id}/findings",
        {"ci_CI-01": "yes", "detail_CI-01": "d" * 501},
    )
    assert r.status_code == 422 and "at most 500 characters" in r.text
    r = doc.post(
        f"/orthosis/{clinic.prescription_id}/followup",
        {"visit": "month_3", "done_on": "20.11.2026", "pain": "3", "note": "n" * 2001},
        follow_redirects=True,
    )
    assert "at most 2000 characters" in r.text
    assert _audit_rows(app) == before
