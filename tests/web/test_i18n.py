"""The DE/EN switch is complete: every main page (and the orthosis follow-up PDF) in both
languages shows no raw code keys (``lumbar_spine``, ``not_indicated``) and a German page no
English text, and error messages on web pages are German, never a CLI command or a path."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.reports.pdfutil import text as pdf_text
from tests.web.conftest import Browser, Clinic

# A raw key: lower-case words joined by underscores (``severe_osteoporosis``).
RAW_KEY = re.compile(r"\b[a-z]+_[a-z_]+\b")

# English words and phrases that must not appear on a German page (as whole words).
ENGLISH = (
    "completed",
    "Risk factor",
    "risk factors",
    "stop on the monitor",
    "must be",
    "is required",
    "not a number",
    "History with",
    "Family history",
    "Smoking",
    "total intake",
    "threshold",
    "height loss",
    "since the",
    "funded by",
    "manufacturer",
    "n=?",
    "Drug therapy is",
    "prescribe",
    "within one year",
    "days)",
    "child-bearing",
    "Loop overruns",
    "the treating",
    "osteoporotic",
    "bisphosphonate",
    "last DXA",
    "open",
    "done",
    "indicated",
    "spinecare session",
    "spinecare passwd",
    "deg",
    "score",
)
_ENGLISH = [
    re.compile(r"(?<![\w-])" + re.escape(p) + (r"(?![\w])" if p[-1].isalnum() else ""))
    for p in ENGLISH
]


class _Visible(HTMLParser):
    """The text a reader sees: no scripts, styles or attributes (option labels included)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def problems(text: str, lang: str) -> list[str]:
    found = sorted(set(RAW_KEY.findall(text)))
    if lang == "de":
        found += [p.pattern for p in _ENGLISH if p.search(text)]
    return found


def _as(login: Any, who: str, lang: str) -> Browser:
    b = login(who)
    b.post("/lang", {"lang": lang, "next": "/"})
    return b


def _typed_texts(app: Any) -> list[str]:
    """Free text the clinic typed (the demo's orthosis indication, a dose): shown as typed."""
    from spinecare.store.models import OrthosisPrescription

    with app.state.ctx.store.session() as db:
        return [t for t in db.scalars(select(OrthosisPrescription.reason)).all() if t]


def _without(text: str, typed: list[str]) -> str:
    for t in typed:
        text = text.replace(t, "")
    return text


def _urls(app: Any, clinic: Clinic) -> list[str]:
    from spinecare.store.models import Course, Patient, TreatmentSession

    with app.state.ctx.store.session() as db:
        patients = db.scalars(select(Patient.id)).all()
        courses = db.scalars(select(Course.id)).all()
        sessions = db.scalars(select(TreatmentSession.id)).all()
    urls = ["/", "/patients", "/patients/new", "/invoices", "/audit", "/users", "/account"]
    for p in patients:
        urls += [f"/patients/{p}", f"/patients/{p}/edit"]
    urls += [f"/courses/{c}" for c in courses]
    urls += [f"/sessions/{s}" for s in sessions]
    urls += [f"/sessions/{clinic.planned_session_id}/setup"]
    urls += [f"/sessions/{clinic.planned_session_id}/segments?angle=10"]
    return urls


@pytest.mark.parametrize("lang", ["de", "en"])
def test_main_pages_show_no_raw_keys_and_german_pages_no_english(
    login: Any, app: Any, clinic: Clinic, lang: str
) -> None:
    b = _as(login, "admin", lang)
    typed = _typed_texts(app)
    bad: dict[str, list[str]] = {}
    for url in _urls(app, clinic):
        r = b.client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        found = problems(_without(visible(r.text), typed), lang)
        if found:
            bad[url] = found
    assert not bad, bad


@pytest.mark.parametrize("lang", ["de", "en"])
def test_orthosis_follow_up_pdf_has_no_raw_keys_and_in_german_no_english(
    login: Any, clinic: Clinic, tmp_path: Path, lang: str
) -> None:
    b = _as(login, "physician", lang)
    r = b.client.get(f"/orthosis/{clinic.prescription_id}/report.pdf")
    assert r.status_code == 200, r.text[:300]
    pdf = tmp_path / "orthosis.pdf"
    pdf.write_bytes(r.content)
    text = pdf_text(pdf)
    assert not problems(text, lang), problems(text, lang)


def test_roles_are_named_in_the_page_language(login: Any) -> None:
    b = _as(login, "admin", "de")
    text = visible(b.client.get("/users").text)
    for role in ("Ärztin/Arzt", "Physiotherapeut/in", "Abrechnung", "Administration"):
        assert role in text
    assert "admin · Administration" in text  # the header
    b.post("/lang", {"lang": "en", "next": "/"})
    text = visible(b.client.get("/users").text)
    assert "Therapist" in text and "Billing" in text


def test_error_pages_are_german_with_no_cli_command_or_server_path(
    login: Any, clinic: Clinic
) -> None:
    b = _as(login, "physician", "de")
    # a password too short: the reason in German
    r = b.post("/account", {"current_password": "a long test password", "new_password": "short"})
    text = visible(r.text)
    assert r.status_code == 422, text
    assert "Neues Passwort" in text and "mindestens 8 Zeichen" in text, text
    assert not problems(text, "de"), problems(text, "de")
    # a query parameter out of range: FastAPI's own refusal, in German
    r = b.client.get(f"/sessions/{clinic.planned_session_id}/segments?angle=50")
    text = visible(r.text)
    assert r.status_code == 422
    assert "Zugwinkel" in text and "höchstens 45" in text, text
    assert not problems(text, "de"), problems(text, "de")
    # outcomes of a session that has not run: no "spinecare session run" for the web user
    r = b.post(f"/sessions/{clinic.planned_session_id}/nrs", {"nrs_before": "3"})
    text = (
        visible(r.text)
        if r.status_code != 303
        else visible(b.client.get(r.headers["location"]).text)
    )
    assert "spinecare session" not in text and "spinecare passwd" not in text, text
    assert not problems(text, "de"), problems(text, "de")


def test_error_text_drops_cli_commands_and_paths_in_both_languages() -> None:
    from spinecare.web.i18n import error_text

    cases = [
        "session: is planned: a report is made once it has run "
        "(spinecare session run --course-session 56) (got 56)",
        "username: change your own password with spinecare passwd (got 'admin')",
        "out: holds a session's record already (telemetry.csv); choose a new directory "
        "(got '/tmp/hweb/sessions/course-1/s03-x')",
        "device: no table on this server: start it with `spinecare serve --device URL`",
    ]
    for lang in ("de", "en"):
        for msg in cases:
            text = error_text(msg, lang)
            assert "spinecare " not in text and "/tmp/" not in text, (lang, text)
    de = error_text("weight_kg: must be 30-250 kg (got '300')", "de")
    assert de == "Gewicht: muss zwischen 30 und 250 kg liegen (Eingabe: '300')", de
    assert error_text("height_cm: not a number (write it like 80.5 or 80,5)", "de") == (
        "Größe: keine Zahl (z. B. 80,5)"
    )
    assert "Sitzung: wurde bereits gestartet" in error_text(cases[2], "de")


def test_an_outcome_out_of_range_is_refused_in_german_with_its_unit(
    login: Any, app: Any, clinic: Clinic
) -> None:
    b = _as(login, "physician", "de")
    data = {"visit": "month_3", "done_on": "2026-11-20", "kyphosis_angle": "500"}
    r = b.post(f"/orthosis/{clinic.prescription_id}/followup", data)
    page = _without(visible(b.client.get(r.headers["location"]).text), _typed_texts(app))
    assert "Kyphosewinkel: muss zwischen 0 und 120 (°) liegen" in page
    assert not problems(page, "de"), problems(page, "de")


def test_orthosis_and_posture_refusals_are_said_in_german() -> None:
    from spinecare.web.i18n import reason_text

    cases = {
        "month_6 is due from 2026-12-01: the trials measured it 6 months after the fitting "
        "(fitted 2026-06-01), so a visit on 2026-11-29 is too early": "ab dem 01.12.2026 fällig",
        "month_3 is counted from the fitting and the orthosis is not fitted yet: record the "
        "fitting first": "bitte zuerst die Anpassung erfassen",
        "month_3 was recorded on 2026-08-01, before it is due after a fitting on this day "
        "(from 2026-09-15)": "„3 Monate“ ist am 01.08.2026 erfasst",
        "already recorded as recording 3": "schon als Aufzeichnung 3 erfasst",
        "overlaps recording 2 (09:00 to 10:00): the same hours would count twice": (
            "überschneidet sich mit Aufzeichnung 2"
        ),
        "nothing to correct: give a measure, the date or a note": "nichts zu korrigieren",
    }
    for english, german in cases.items():
        assert german in reason_text(english, "de"), english
        assert reason_text(english, "en") == english


def test_a_refused_role_and_a_busy_session_directory_are_said_in_german() -> None:
    from spinecare.web.i18n import error_text

    text = error_text("dr1 (physician) may not create a user with the role admin", "de")
    assert text == "dr1 (Ärztin/Arzt) darf diese Aktion nicht ausführen"
    text = error_text("out: another process is running a session there (got '/x')", "de")
    assert "in einem anderen Prozess" in text and "another" not in text
