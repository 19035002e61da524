"""Every web form refuses bad input in the page's language: on a German page (the default) the
reason beside a field, in the flash banner or on the error page is German, never the service's
English; on an English page it stays English.

Each POST form route (not /login, /logout, /lang, and not the live monitor's stop and pause) is
sent the kinds of bad input a person types: a required field left out, a word for a number,
numbers out of range, days that do not exist (31.02.2026) or are not dates ("morgen"), text too
long, a value not among the choices, and a change the record's state refuses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select

from tests.web.conftest import Browser, Clinic
from tests.web.test_i18n import problems, visible
from tests.web.test_patient_form import FORM

# English words that have no place in a German refusal (whole words, any case).
ENGLISH_WORDS = (
    "must",
    "expected",
    "should",
    "not a",
    "not",
    "only",
    "cannot",
    "already",
    "needs",
    "need",
    "give",
    "choose",
    "is",
    "are",
    "the",
    "be",
    "of",
    "and",
    "or",
    "to",
    "for",
    "with",
    "than",
    "at most",
    "at least",
    "allowed",
    "invalid",
    "valid",
    "unknown",
    "before",
    "after",
    "between",
    "number",
    "whole",
    "date",
    "time",
    "day",
    "required",
    "missing",
    "found",
    "such",
    "field",
    "value",
    "input",
    "got",
    "more",
    "characters",
    "letters",
    "digits",
    "blank",
    "section",
    "session",
    "sessions",
    "password",
    "user",
    "account",
    "yes",
    "no",
    "none",
    "nothing",
    "outcome",
    "visit",
    "fitting",
    "prescription",
    "baseline",
    "month",
    "years",
)
_ENGLISH_WORD = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in ENGLISH_WORDS) + r")(?![\w-])",
    re.IGNORECASE,
)
# What the person typed, shown back after a refusal: their words, not the page's.
_TYPED = re.compile(r"\((?:Eingabe|got): (?:'[^']*'|[^)]*)\)")

X = "x"  # text of a length no field takes: X * 5000


class _Errors(HTMLParser):
    """The texts of the refusals a page shows: beside a field (``span.field-error``), in the
    flash banner (``.flash.error``) and the error page's detail (``code``)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = (dict(attrs).get("class") or "").split()
        if ("field-error" in cls or {"flash", "error"} <= set(cls) or tag == "code") or (
            self._open and tag not in ("br", "input", "img")
        ):
            self._open.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, parts = self._open.pop()
            text = " ".join(" ".join(parts).split())
            if self._open:
                self._open[-1][1].append(text)
            elif text:
                self.found.append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1].append(data)


def shown_errors(html: str) -> list[str]:
    parser = _Errors()
    parser.feed(html)
    return parser.found


def english_in(text: str) -> list[str]:
    """English words in a German refusal (what the person typed left out), and the shared
    checks of test_i18n (raw keys such as ``nrs_before``, phrases such as "must be")."""
    own = _TYPED.sub("", text)
    found = sorted({m.group(0) for m in _ENGLISH_WORD.finditer(own)})
    return found + problems(own, "de")


@dataclass(frozen=True)
class Route:
    role: str
    url: str  # with {ids}
    base: dict[str, str]  # a valid form the cases change
    cases: dict[str, dict[str, str | None]]  # name -> fields changed (None: left out)
    before: tuple[str, ...] = ()  # posted first (with the valid form): what makes a retry bad


def _ids(app: Any, clinic: Clinic) -> dict[str, Any]:
    from spinecare.store.models import OrthosisPrescription, User

    with app.state.ctx.store.session() as db:
        rx = db.get(OrthosisPrescription, clinic.prescription_id)
        assert rx is not None
        users = dict(db.execute(select(User.username, User.id)).tuples().all())
    summary = _therapies(app, rx.patient_id)
    return {
        "pid": clinic.patient_id,
        "course": clinic.course_id,
        "done": clinic.done_session_id,
        "planned": clinic.planned_session_id,
        "invoice": clinic.invoice_id,
        "rx": clinic.prescription_id,
        "helga": rx.patient_id,
        "therapy": summary[0],
        "admin": users["admin"],
        "therapist": users["therapist"],
    }


def _therapies(app: Any, patient_id: int) -> list[int]:
    from spinecare.services import orthosis as svc
    from spinecare.services.users import actor_for

    with app.state.ctx.store.session() as db:
        ids = svc.osteoporosis_summary(db, actor_for(db, "admin"), patient_id).drug_therapy_ids
    return sorted(ids)


DATES = {"31.02.2026": "31.02.2026", "morgen": "morgen", "2026-13-01": "2026-13-01"}


def _dates(field: str) -> dict[str, dict[str, str | None]]:
    return {f"{field}={v}": {field: v} for v in DATES}


PATIENT = {**FORM, "country": "DE"}  # the patient form filled in correctly
PATIENT_CASES: dict[str, dict[str, str | None]] = {
    "name missing": {"name": None},
    "name empty": {"name": ""},
    "name too long": {"name": X * 5000},
    "weight a word": {"weight_kg": "achtzig"},
    "weight too high": {"weight_kg": "900"},
    "weight negative": {"weight_kg": "-5"},
    "height too small": {"height_cm": "20"},
    **_dates("birth_date"),
    "birth date in the future": {"birth_date": "01.01.2099"},
    "sex not a choice": {"sex": "Q"},
    "insurance not a choice": {"insurance": "quatsch"},
    "menopause not a choice": {"menopausal_status": "quatsch"},
    "menopause for a man": {"sex": "M"},
    "postcode": {"postcode": "8033"},
    "country": {"country": "XX"},
    "email": {"email": "anna@"},
    "phone": {"phone": "12"},
    "foreign postcode": {"country": "AT", "postcode": "!!"},
    "self-payer with insurer": {"insurance": "self_payer"},
    "checkbox": {"icd_consent": "ja"},
    "city too long": {"city": X * 5000},
}
ODI_CASES: dict[str, dict[str, str | None]] = {
    "missing": {"answers": None},
    "too few": {"answers": "1,2,3"},
    "a word": {"answers": "eins,2,3,4,5,0,0,0,0,0"},
    "too high": {"answers": "9,2,3,4,5,0,0,0,0,0"},
    "too long": {"answers": "1," * 40},
}
BMD = {"site": "lumbar_spine", "measured_on": "01.03.2026", "t_score": "-2,6"}
COURSE = {
    "region": "lumbar",
    "segment": "L4-L5",
    "sessions": "10",
    "per_week": "2",
    "start": "01.12.2026",
    "preferred_time": "09:30",
}
ORTHOSIS = {
    "device": "spinomed",
    "prescribed_on": "01.03.2026",
    "size": "M",
    "start_hours": "2",
    "target_hours": "6",
    "step_hours": "1",
    "step_days": "7",
    "reason": "Wirbelkörperfraktur",
}
START = {
    "minutes": "3",
    "speed": "1",
    "harness_fastened": "on",
    "stop_switch_in_hand": "on",
    "contraindications_reconfirmed": "on",
}

ROUTES: dict[str, Route] = {
    "/account": Route(
        "physician",
        "/account",
        {"current_password": "a long test password", "new_password": "ein neues Passwort"},
        {
            "new password missing": {"new_password": None},
            "new password too short": {"new_password": "kurz"},
            "new password too long": {"new_password": X * 2000},
            "current password wrong": {"current_password": "falsch falsch"},
        },
    ),
    "/sessions/{id}/cancel": Route(
        "therapist",
        "/sessions/{done}/cancel",
        {"next": "/"},
        {"a session that has run": {}, "next too long": {"next": "/" + X * 600}},
    ),
    "/sessions/{id}/reschedule": Route(
        "therapist",
        "/sessions/{planned}/reschedule",
        {"start": "2026-12-01T10:30", "next": "/"},
        {
            "start missing": {"start": None},
            "start empty": {"start": ""},
            "start morgen": {"start": "morgen"},
            "start 31.02.2026": {"start": "2026-02-31T10:30"},
            "start in the past": {"start": "2020-01-06T10:30"},
            "start too long": {"start": X * 100},
        },
    ),
    "/sessions/{id}/reschedule (run)": Route(
        "therapist",
        "/sessions/{done}/reschedule",
        {"start": "2026-12-01T10:30", "next": "/"},
        {"a session that has run": {}},
    ),
    "/sessions/{id}/no-show": Route(
        "therapist",
        "/sessions/{planned}/no-show",
        {"replacement": "end_of_course", "next": "/"},
        {
            "replacement not a choice": {"replacement": "quatsch"},
            "replacement too long": {"replacement": X * 100},
            "picked start missing": {"replacement": "pick"},
            "picked start morgen": {"replacement": "pick", "replacement_start": "morgen"},
            "picked start in the past": {
                "replacement": "pick",
                "replacement_start": "2020-01-06T10:30",
            },
        },
    ),
    "/sessions/{id}/no-show (run)": Route(
        "therapist",
        "/sessions/{done}/no-show",
        {"replacement": "end_of_course", "next": "/"},
        {"a session that has run": {}},
    ),
    "/patients/new": Route("therapist", "/patients/new", PATIENT, PATIENT_CASES),
    "/patients/{id}/edit": Route("therapist", "/patients/{pid}/edit", PATIENT, PATIENT_CASES),
    "/patients/{id}/findings": Route(
        "therapist",
        "/patients/{pid}/findings",
        {"ci_CI-01": "no"},
        {
            "answer not a choice": {"ci_CI-01": "vielleicht"},
            "answer too long": {"ci_CI-01": X * 50},
            "detail too long": {"ci_CI-01": "yes", "detail_CI-01": X * 5000},
        },
    ),
    "/patients/{id}/bmd": Route(
        "therapist",
        "/patients/{pid}/bmd",
        BMD,
        {
            "site missing": {"site": None},
            "site not a choice": {"site": "knie"},
            "day missing": {"measured_on": None},
            **_dates("measured_on"),
            "day in the future": {"measured_on": "01.01.2099"},
            "t-score a word": {"t_score": "minus zwei"},
            "t-score out of range": {"t_score": "-25"},
            "t-score too long": {"t_score": "1" * 50},
            "no t-score nor bmd": {"t_score": ""},
            "bmd out of range": {"t_score": "", "bmd_g_cm2": "9"},
        },
    ),
    "/patients/{id}/screen": Route(
        "physician",
        "/patients/{pid}/screen",
        {"region": "lumbar"},
        {"region missing": {"region": None}, "region not a choice": {"region": "thorakal"}},
    ),
    "/patients/{id}/courses": Route(
        "physician",
        "/patients/{pid}/courses",
        COURSE,
        {
            "region not a choice": {"region": "thorakal"},
            "segment not a choice": {"segment": "Q9"},
            "segment of the other region": {"segment": "C5-C6"},
            "sessions missing": {"sessions": None},
            "sessions a word": {"sessions": "zehn"},
            "sessions 0": {"sessions": "0"},
            "sessions 41": {"sessions": "41"},
            "sessions 2,5": {"sessions": "2,5"},
            "per week 8": {"per_week": "8"},
            "start missing": {"start": None},
            **_dates("start"),
            "time 25:00": {"preferred_time": "25:00"},
            "time a word": {"preferred_time": "früh"},
        },
    ),
    "/courses/{id}/odi": Route("therapist", "/courses/{course}/odi", {}, ODI_CASES),
    "/sessions/{id}/odi": Route("therapist", "/sessions/{done}/odi", {}, ODI_CASES),
    "/sessions/{id}/odi (planned)": Route(
        "therapist",
        "/sessions/{planned}/odi",
        {"answers": "1,1,1,1,1,1,1,1,1,1"},
        {"a session not run yet": {}},
    ),
    "/sessions/{id}/start": Route(
        "therapist",
        "/sessions/{planned}/start",
        START,
        {
            "minutes a word": {"minutes": "drei"},
            "minutes 0": {"minutes": "0"},
            "minutes 100": {"minutes": "100"},
            "minutes too long": {"minutes": "1" * 20},
            "speed too high": {"speed": "5000"},
            "speed too low": {"speed": "0,5"},
            "emg not a checkbox value": {"emg": "ja"},
            "force limit a word": {"clinician_max_force_n": "viel"},
            "force limit too high": {"clinician_max_force_n": "5000"},
            "harness not ticked": {"harness_fastened": None},
            "checklist not ticked": {
                "harness_fastened": None,
                "stop_switch_in_hand": None,
                "contraindications_reconfirmed": None,
            },
        },
    ),
    "/sessions/{id}/start (run)": Route(
        "therapist", "/sessions/{done}/start", START, {"a session that has run": {}}
    ),
    "/sessions/{id}/nrs": Route(
        "therapist",
        "/sessions/{done}/nrs",
        {"nrs_before": "5", "nrs_after": "3"},
        {
            "a word": {"nrs_before": "fünf"},
            "11": {"nrs_before": "11"},
            "-1": {"nrs_after": "-1"},
            "2,5": {"nrs_after": "2,5"},
            "too long": {"nrs_before": "1234"},
            "nothing": {"nrs_before": "", "nrs_after": ""},
        },
    ),
    "/sessions/{id}/nrs (planned)": Route(
        "therapist",
        "/sessions/{planned}/nrs",
        {"nrs_before": "5"},
        {"a session not run yet": {}},
    ),
    "/invoices": Route(
        "billing",
        "/invoices",
        {"patient_id": "{pid}", "course_id": "{course}"},
        {
            "patient missing": {"patient_id": None},
            "patient a word": {"patient_id": "erika"},
            "patient 0": {"patient_id": "0"},
            "course huge": {"course_id": "99999999999"},
            "nothing to bill": {},
            "course not the patient's": {"patient_id": "{helga}"},
        },
    ),
    "/invoices/{id}/issue": Route(
        "billing",
        "/invoices/{invoice}/issue",
        {},
        {"issued twice": {}},
        before=("/invoices/{invoice}/issue",),
    ),
    "/invoices/{id}/pay": Route("billing", "/invoices/{invoice}/pay", {}, {"a draft": {}}),
    "/invoices/{id}/cancel (twice)": Route(
        "billing",
        "/invoices/{invoice}/cancel",
        {},
        {"cancelled twice": {}},
        before=("/invoices/{invoice}/issue", "/invoices/{invoice}/cancel"),
    ),
    "/patients/{id}/fractures/none": Route(
        "therapist", "/patients/999999/fractures/none", {}, {"no such patient": {}}
    ),
    "/users/{id}/reset": Route("admin", "/users/999999/reset", {}, {"no such user": {}}),
    "/users/{id}/active": Route(
        "admin",
        "/users/{therapist}/active",
        {"active": "off"},
        {
            "missing": {"active": None},
            "not a choice": {"active": "ja"},
        },
    ),
    "/users/{id}/active (own)": Route(
        "admin", "/users/{admin}/active", {"active": "off"}, {"own account": {}}
    ),
    "/users": Route(
        "admin",
        "/users",
        {"username": "neu", "role": "therapist", "password": "ein langes Passwort"},
        {
            "username missing": {"username": None},
            "username too short": {"username": "n"},
            "username too long": {"username": X * 100},
            "username taken": {"username": "therapist"},
            "role missing": {"role": None},
            "role not a choice": {"role": "chef"},
            "password short": {"password": "kurz"},
            "password missing": {"password": None},
            "full name too long": {"full_name": X * 500},
        },
    ),
    "/patients/{id}/orthosis": Route(
        "physician",
        "/patients/{helga}/orthosis",
        ORTHOSIS,
        {
            "device missing": {"device": None},
            "device not a choice": {"device": "korsett"},
            "other device unnamed": {"device": "other_tlo"},
            "size not a choice": {"size": "XXXL"},
            "day missing": {"prescribed_on": None},
            **_dates("prescribed_on"),
            "day in the future": {"prescribed_on": "01.01.2099"},
            "fitted before prescribed": {"fitted_on": "01.01.2026"},
            "hours a word": {"start_hours": "zwei"},
            "hours too many": {"target_hours": "30"},
            "step days 2,5": {"step_days": "2,5"},
            "step days 0": {"step_days": "0"},
            "reason too long": {"reason": X * 5000},
            "device name too long": {"device_name": X * 500},
        },
    ),
    "/orthosis/{id}/fit": Route(
        "therapist",
        "/orthosis/{rx}/fit",
        {"fitted_on": "02.03.2026", "size": "M"},
        {
            "day missing": {"fitted_on": None},
            "day empty": {"fitted_on": ""},
            **_dates("fitted_on"),
            "day in the future": {"fitted_on": "01.01.2099"},
            "before the prescription": {"fitted_on": "01.01.2000"},
            "size not a choice": {"size": "XXXL"},
        },
    ),
    "/orthosis/{id}/followup": Route(
        "therapist",
        "/orthosis/{rx}/followup",
        {"visit": "month_6", "done_on": "20.11.2026", "pain": "3"},
        {
            "visit missing": {"visit": None},
            "visit not a choice": {"visit": "monat_9"},
            "day missing": {"done_on": None},
            **_dates("done_on"),
            "day in the future": {"done_on": "01.01.2099"},
            "no measure": {"pain": None},
            "measure a word": {"pain": "drei"},
            "pain out of range": {"pain": "15"},
            "kyphosis out of range": {"kyphosis_angle": "500"},
            "strength negative": {"back_extensor_strength": "-5"},
            "note too long": {"note": X * 5000},
            "measure too long": {"pain": "1" * 60},
        },
    ),
    "/patients/{id}/osteo/risk": Route(
        "therapist",
        "/patients/{helga}/osteo/risk",
        {"code": "family_history", "present": "yes"},
        {
            "code missing": {"code": None},
            "code unknown": {"code": "Rauchen"},
            "answer not a choice": {"present": "vielleicht"},
            **_dates("recorded_on"),
            "day in the future": {"recorded_on": "01.01.2099"},
            "note too long": {"note": X * 2000},
        },
    ),
    "/patients/{id}/osteo/drug": Route(
        "therapist",
        "/patients/{helga}/osteo/drug",
        {
            "drug_class": "denosumab",
            "substance": "Denosumab",
            "prescriber": "Dr. Roth",
            "dose": "60 mg",
        },
        {
            "class missing": {"drug_class": None},
            "class not a choice": {"drug_class": "vitamine"},
            "substance missing": {"substance": None},
            "substance empty": {"substance": ""},
            "prescriber empty": {"prescriber": " "},
            **_dates("started_on"),
            "day in the future": {"started_on": "01.01.2099"},
            "dose too long": {"dose": X * 500},
        },
    ),
    "/osteo/drug/{id}/stop": Route(
        "therapist",
        "/osteo/drug/{therapy}/stop",
        {"patient_id": "{helga}"},
        {
            "patient missing": {"patient_id": None},
            "patient a word": {"patient_id": "helga"},
            "not this patient's": {"patient_id": "{pid}"},
            **_dates("stopped_on"),
            "stopped before started": {"stopped_on": "01.01.1990"},
            "day in the future": {"stopped_on": "01.01.2099"},
        },
    ),
    "/patients/{id}/osteo/height": Route(
        "therapist",
        "/patients/{helga}/osteo/height",
        {"height_cm": "160"},
        {
            "height missing": {"height_cm": None},
            "height empty": {"height_cm": ""},
            "height a word": {"height_cm": "groß"},
            "height too high": {"height_cm": "500"},
            "height too small": {"height_cm": "10"},
            **_dates("measured_on"),
            "day in the future": {"measured_on": "01.01.2099"},
            "recalled not a checkbox value": {"recalled": "ja"},
        },
    ),
}


def _form(
    base: dict[str, str], change: dict[str, str | None], ids: dict[str, Any]
) -> dict[str, str]:
    data = {**base, **change}
    return {k: v.format(**ids) for k, v in data.items() if v is not None}


def _refusals(b: Browser, url: str, data: dict[str, str]) -> tuple[int, list[str]]:
    """Post the form; the refusals the page shows next (the 422 page, or the flash on the
    page the 303 leads to)."""
    r = b.post(url, data)
    if r.status_code in (302, 303):
        r2 = b.client.get(r.headers["location"])
        return r.status_code, shown_errors(r2.text)
    return r.status_code, shown_errors(r.text)


def _as(login: Any, role: str, lang: str) -> Browser:
    b: Browser = login(role)
    b.post("/lang", {"lang": lang, "next": "/"})
    return b


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_german_page_refuses_bad_input_in_german(
    login: Any, app: Any, clinic: Clinic, route: str
) -> None:
    spec = ROUTES[route]
    ids = _ids(app, clinic)
    b = _as(login, spec.role, "de")
    url = spec.url.format(**ids)
    for step in spec.before:
        r = b.post(step.format(**ids), _form(spec.base, {}, ids))
        assert r.status_code == 303, (step, r.status_code)
    english: dict[str, list[str]] = {}
    silent: list[str] = []
    for case, change in spec.cases.items():
        status, errors = _refusals(b, url, _form(spec.base, change, ids))
        if not errors:
            silent.append(f"{case} ({status})")
        for text in errors:
            found = english_in(text)
            if found:
                english[f"{case}: {text}"] = found
    assert not english, english
    assert not silent, f"accepted or refused without a reason: {silent}"


def test_an_english_page_refuses_the_same_input_in_english(login: Any, clinic: Clinic) -> None:
    b = _as(login, "therapist", "en")
    url = f"/sessions/{clinic.done_session_id}/nrs"
    status, errors = _refusals(b, url, {"nrs_before": "11"})
    assert any("Input should be less than or equal to 10" in e for e in errors), (status, errors)
    status, errors = _refusals(b, f"/patients/{clinic.patient_id}/bmd", {**BMD, "t_score": "x"})
    assert any("not a number" in e for e in errors), (status, errors)
    b.post("/lang", {"lang": "de", "next": "/"})
    status, errors = _refusals(b, url, {"nrs_before": "11"})
    assert errors and not any(english_in(e) for e in errors), errors


def test_the_visible_helpers_read_a_refusal() -> None:
    html = (
        '<div class="flash error">Nicht ausgeführt: <b>x</b> must be 0-10</div>'
        '<span class="field-error" id="err-name">ist erforderlich</span><p>anderes</p>'
    )
    assert shown_errors(html) == ["Nicht ausgeführt: x must be 0-10", "ist erforderlich"]
    assert "must" in english_in(shown_errors(html)[0])
    assert not english_in("Gewicht: muss zwischen 30 und 250 kg liegen (Eingabe: 'the')")
    assert visible(html).endswith("anderes")


# Refusals the forms above reach only with a particular calendar or invoice (a weekend, the
# opening hours, a booked table, a credit note): their reasons as the services write them.
SERVICE_REASONS = (
    "start: 2026-12-05 is not a clinic day (weekend, public holiday or closed) "
    "(got '2026-12-05 10:30')",
    "start: outside opening hours (08:00-18:00, a session takes 30 min)",
    "start: the table is booked then (session 12 at 01.12.2026 10:30)",
    "start: must be after session 2 of the course (01.12.2026 10:30)",
    "start: must be before session 4 of the course (08.12.2026 10:30)",
    "start: is more than 730 days ahead",
    "start: must end on the day it starts",
    "start: a time within the years 2000-2199",
    "replacement_start: the replacement comes after the course's last session (15.12.2026 10:30)",
    "replacement_start: give the time when you pick the replacement",
    "replacement: no free slot within 60 days after the course",
    "invoice: a credit note cannot itself be cancelled",
    "invoice: only a draft can be discarded (this one is issued); cancel an issued invoice instead",
    "invoice: the invoice is paid: an issued invoice is never edited; cancel it with a credit "
    "note and draft a new one",
    "paid_on: must not be in the future (today is 2026-12-01) (got '2026-12-24')",
    "sessions: an invoice needs at least one session",
    "session 77: not found",
    "running session 5: not found",
    "orthosis prescription 3: not found",
)


@pytest.mark.parametrize("message", SERVICE_REASONS)
def test_service_reasons_read_german_on_a_german_page(message: str) -> None:
    from spinecare.web.i18n import error_text

    de = error_text(message, "de")
    assert not english_in(de), (de, english_in(de))
    assert error_text(message, "en") == message  # the English page: as the service wrote it


def test_numbers_and_days_read_the_german_way() -> None:
    from spinecare.web.i18n import error_text

    assert error_text("start: is in the past (got '2020-01-06 10:30')", "de") == (
        "Beginn: liegt in der Vergangenheit (Eingabe: '06.01.2020 10:30')"
    )
    assert error_text("bmd_g_cm2: Input should be less than 3.0 (got 9)", "de") == (
        "Knochendichte (g/cm²): muss kleiner als 3,0 sein (Eingabe: 9)"
    )
    assert error_text("session: minutes: Input should be greater than 0 (got 0.5)", "de") == (
        "Sitzung: Traktionszeit: muss größer als 0 sein (Eingabe: 0,5)"
    )
    assert error_text("sex: Input should be 'F' or 'M'", "de") == (
        "Geschlecht: erlaubt sind: weiblich oder männlich"
    )
