"""Screening from stored findings, course planning, attaching sessions, outcomes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import holidays
import pytest
from pydantic import ValidationError

from spinecare.clinical.contraindications import Decision
from spinecare.clinical.findings import CI_CODES, Finding, Fracture
from spinecare.clinical.vocab import BmdSite, FractureKind
from spinecare.errors import InputError
from spinecare.services.auth import Actor
from spinecare.services.courses import CoursePlan, get_course, plan_course
from spinecare.services.errors import PermissionDeniedError
from spinecare.services.findings import (
    BmdCreate,
    list_findings,
    record_bmd,
    record_finding,
    record_fracture,
    record_fracture_history,
)
from spinecare.services.outcomes import (
    NrsRecord,
    course_outcomes,
    parse_odi,
    record_nrs,
    record_odi,
)
from spinecare.services.screening import screen_patient, screening_history
from spinecare.services.sessions import attach_output
from spinecare.settings import ClinicSettings
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from spinecare.store.models import TreatmentSession
from spinecare.vocab import G
from tests.services.conftest import next_weekday


def _complete_screening(db: AuditedSession, who: Actor, pid: int) -> None:
    for code in CI_CODES:
        record_finding(db, who, pid, Finding(code=code, present=False))
    record_bmd(
        db,
        who,
        pid,
        BmdCreate(
            measured_on=date(2026, 1, 10),
            site=BmdSite.LUMBAR_SPINE,
            bmd_g_cm2=Decimal("0.950"),
            t_score=Decimal("-1.2"),
            device="Hologic Horizon",
            manufacturer="Hologic",
        ),
    )
    record_fracture_history(db, who, pid, date(2026, 1, 10))


def test_screening_from_stored_findings(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    doc, ther = actors[Role.PHYSICIAN], actors[Role.THERAPIST]
    on = date.today()
    assert screen_patient(db, doc, patient_id, "lumbar", on).decision is Decision.INCOMPLETE
    _complete_screening(db, ther, patient_id)
    result = screen_patient(db, doc, patient_id, "lumbar", on)
    assert result.decision is Decision.ELIGIBLE, result.missing
    assert result.bone is not None
    # a newer answer replaces the older one; the older stays on record
    record_finding(db, ther, patient_id, Finding(code="CI-13", present=True, region="lumbar"))
    assert screen_patient(db, doc, patient_id, "lumbar", on).decision is Decision.NOT_ELIGIBLE
    assert len(list_findings(db, ther, patient_id)) == len(CI_CODES) + 1
    assert len(list_findings(db, ther, patient_id, latest_only=True)) == len(CI_CODES)
    with pytest.raises(PermissionDeniedError):
        screen_patient(db, ther, patient_id, "lumbar", on)
    history = screening_history(db, ther, patient_id)
    assert [h["decision"] for h in history] == ["incomplete", "eligible", "not_eligible"]
    assert history[-1]["contraindications"] == ["CI-13"] and history[-1]["actor"] == "physician"


def test_fresh_fracture_makes_patient_not_eligible(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    _complete_screening(db, actors[Role.THERAPIST], patient_id)
    record_fracture(
        db,
        actors[Role.THERAPIST],
        patient_id,
        Fracture(
            level="L1", date=date.today() - timedelta(days=30), kind=FractureKind.OSTEOPOROTIC
        ),
    )
    res = screen_patient(db, actors[Role.PHYSICIAN], patient_id, "lumbar")
    assert res.decision is Decision.NOT_ELIGIBLE
    assert "CI-04" in {c.code for c in res.contraindications}


def test_plan_course_schedules_and_progresses(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    doc = actors[Role.PHYSICIAN]
    _complete_screening(db, actors[Role.THERAPIST], patient_id)
    start = next_weekday(0)
    clinic = ClinicSettings(federal_state="BY")
    plan = CoursePlan(
        patient_id=patient_id, region="lumbar", segment="l4-5", sessions=15, per_week=3, start=start
    )
    course = plan_course(db, doc, plan, clinic=clinic)
    db.commit()
    assert course.segment == "L4/5" and course.warnings == []
    assert len(course.sessions) == 15 and course.review_after_session == 8
    by = holidays.Germany(subdiv="BY", years=range(start.year, start.year + 2))
    zone = clinic.zone
    days = [s.scheduled_start.astimezone(zone).date() for s in course.sessions]
    assert all(d.weekday() < 5 and d not in by and d >= start for d in days)
    assert days == sorted(days) and len(set(days)) == 15
    peaks = [s.peak_force_n for s in course.sessions]
    assert peaks[0] == pytest.approx(70 * G / 3, abs=0.1)
    assert peaks == sorted(peaks) and max(peaks) <= 70 * G * 0.5
    assert [s.number for s in course.sessions if s.review_point] == [8]
    shown = get_course(db, actors[Role.BILLING], course.id)
    assert [s.id for s in shown.sessions] == [s.id for s in course.sessions]
    # a second course never double-books the table
    other = plan_course(db, doc, plan, clinic=clinic)
    taken = {(s.scheduled_start, s.scheduled_end) for s in course.sessions}
    assert all(
        not any(a < s.scheduled_end and s.scheduled_start < b for a, b in taken)
        for s in other.sessions
    )


def test_plan_course_refuses_a_contraindicated_patient(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    record_finding(db, actors[Role.THERAPIST], patient_id, Finding(code="CI-01", present=True))
    plan = CoursePlan(
        patient_id=patient_id, region="lumbar", segment="L4/5", sessions=15, start=next_weekday(0)
    )
    with pytest.raises(InputError, match="CI-01"):
        plan_course(db, actors[Role.PHYSICIAN], plan)
    with pytest.raises(PermissionDeniedError):
        plan_course(db, actors[Role.THERAPIST], plan)


def test_incomplete_screening_plans_with_a_warning(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    plan = CoursePlan(
        patient_id=patient_id, region="lumbar", segment="L5/S1", sessions=20, start=next_weekday(2)
    )
    course = plan_course(db, actors[Role.PHYSICIAN], plan)
    assert len(course.sessions) == 20
    assert any("screening incomplete" in w for w in course.warnings)


def test_bad_plan_input() -> None:
    with pytest.raises(ValueError, match="segment"):
        CoursePlan(
            patient_id=1, region="lumbar", segment="C5/6", sessions=15, start=next_weekday(0)
        )
    with pytest.raises(ValueError, match="sessions"):
        CoursePlan(
            patient_id=1, region="lumbar", segment="L4/5", sessions=12, start=next_weekday(0)
        )


def _summary(protocol: dict[str, object], *, completed: bool, **kw: object) -> dict[str, object]:
    """A valid session summary (runtime/summary.py) for a session that ran ``protocol``."""
    from spinecare.runtime.summary import SUMMARY_VERSION, SessionSummary

    data: dict[str, object] = {
        "schema_version": SUMMARY_VERSION,
        "completed": completed,
        "aborted": not completed,
        "stopped": not completed,
        "faulted": False,
        "end_reason": "completed" if completed else "stopped: patient stop button",
        "simulated": True,
        "duration_s": 1800.0,
        "traction_minutes": 30.0,
        "protocol": protocol,
        "peak_force_n": 120.0,
        "peak_target_n": 120.0,
        "final_peak_target_n": 120.0,
        "effective_limit_n": 120.0,
        "hard_limit_n": 400.0,
        "clinician_max_force_n": None,
        "body_weight_cap_n": 400.0,
        "limit_violations": 0,
        "clamps": {},
        "guarding_detected": 0,
        "guarding_events": [],
        "median_time_to_relax_s": None,
        "hold_time_s": 1000.0,
        "hold_within_10pct": 1.0,
        "base_tension_lost_s": 0.0,
        "force_time_integral_ns": 1.0e5,
        "target_segment": "L4/5",
        "pull_angle_deg": 6.0,
        "segment_force_hold_mean_n": 100.0,
        "stop_reason": None if completed else "patient stop button",
        "faults": [],
        "learned_stiffness_n_mm": 10.0,
        "emg_status": "none",
        "timing": {
            "period_error_ms_p50": 0.0,
            "period_error_ms_p99": 0.0,
            "period_error_ms_max": 0.0,
            "overruns": 0,
            "skipped_ticks": 0,
            "work_ms_p99": 0.0,
            "ticks": 90000,
            "clock": "SimulatedClock",
        },
        **kw,
    }
    return SessionSummary.model_validate(data).model_dump(mode="json")


def _write_output(tmp: Path, summary: dict[str, object]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "telemetry.csv").write_text("t,force_n\n0,0\n")
    (tmp / "events.jsonl").write_text("")
    (tmp / "summary.json").write_text(json.dumps(summary))
    return tmp


def test_sessions_and_outcomes(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int, tmp_path: Path
) -> None:
    doc, ther = actors[Role.PHYSICIAN], actors[Role.THERAPIST]
    _complete_screening(db, ther, patient_id)
    plan = CoursePlan(
        patient_id=patient_id, region="lumbar", segment="L4/5", sessions=15, start=next_weekday(0)
    )
    course = plan_course(db, doc, plan)
    s1, s2, s3 = course.sessions[:3]

    def planned(session_id: int) -> dict[str, object]:
        row = db.get(TreatmentSession, session_id)
        assert row is not None
        return dict(row.protocol)

    # A summary without its keys is refused, and nothing is stored: it would otherwise have
    # counted as tolerated and raised the next session's force.
    with pytest.raises(InputError, match="summary"):
        attach_output(db, ther, s1.id, _write_output(tmp_path / "s0", {"aborted": False}))
    assert get_course(db, ther, course.id).sessions[0].status == "planned"
    # session 1 stopped: session 2 keeps session 1's force
    stopped = _summary(planned(s1.id), completed=False)
    attach_output(db, ther, s1.id, _write_output(tmp_path / "s1", stopped))
    after1 = get_course(db, ther, course.id)
    assert after1.sessions[0].status == "aborted" and after1.status == "active"
    assert after1.sessions[1].peak_force_n == pytest.approx(s1.peak_force_n)
    assert after1.sessions[0].summary == stopped
    # session 2 tolerated: session 3 one step up from session 2
    attach_output(
        db, ther, s2.id, _write_output(tmp_path / "s2", _summary(planned(s2.id), completed=True))
    )
    after2 = get_course(db, ther, course.id)
    assert after2.sessions[2].peak_force_n > after2.sessions[1].peak_force_n
    assert after2.sessions[1].telemetry_dir == str((tmp_path / "s2").resolve())
    with pytest.raises(InputError, match="already"):
        attach_output(db, ther, s2.id, tmp_path / "s2")
    with pytest.raises(InputError, match=r"summary\.json"):
        attach_output(db, ther, s3.id, tmp_path / "missing")
    # outcomes
    record_nrs(db, ther, s1.id, NrsRecord(nrs_before=7, nrs_after=5))
    record_nrs(db, ther, s2.id, NrsRecord(nrs_before=6, nrs_after=4))
    record_nrs(db, ther, s2.id, NrsRecord(nrs_after=3))  # correction: newest wins
    out, score = record_odi(db, ther, parse_odi("3,2,1,,2,2,1,0,2,1"), session_id=s2.id)
    assert score.percent == pytest.approx(31.1) and float(out.value) == pytest.approx(31.1)
    record_odi(db, ther, parse_odi("4,3,2,2,3,3,2,1,3,2"), course_id=course.id)  # baseline
    db.commit()
    series = course_outcomes(db, actors[Role.BILLING], course.id)
    assert series.chart.session_numbers == [1, 2]
    assert series.chart.nrs_before == [7, 6] and series.chart.nrs_after == [5, 3]
    assert series.chart.odi_percent == [pytest.approx(31.1)]
    assert len(series.course_odi) == 1 and series.review.sessions_done == 2
    with pytest.raises(InputError, match="odi"):
        parse_odi("1,2,3")
    with pytest.raises(InputError, match="odi"):
        record_odi(db, ther, parse_odi(",,,1,1,1,1,1,1,1"), session_id=s2.id)
    # outcomes belong to sessions that have run
    with pytest.raises(InputError, match="once the session has run") as err:
        record_nrs(db, ther, s3.id, NrsRecord(nrs_before=5))
    assert err.value.field == "session"
    with pytest.raises(PermissionDeniedError):
        record_nrs(db, actors[Role.BILLING], s3.id, NrsRecord(nrs_before=5))


def test_a_screening_day_before_what_is_on_record_names_no_patient_data(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    """The rules compare the day with the stored birth date and finding dates; the refusal
    names the day asked for, never the stored date (a patient's data)."""
    doc, ther = actors[Role.PHYSICIAN], actors[Role.THERAPIST]
    with pytest.raises(InputError) as err:
        screen_patient(db, doc, patient_id, "lumbar", date(1901, 1, 1))
    assert err.value.field == "date" and "birth date" in str(err.value)
    assert "got" not in str(err.value)
    _complete_screening(db, ther, patient_id)  # a DXA of 2026-01-10 on record
    with pytest.raises(InputError) as err:
        screen_patient(db, doc, patient_id, "lumbar", date(2025, 1, 1))
    assert err.value.field == "date" and "2026" not in str(err.value), str(err.value)


def test_a_course_plan_counts_in_whole_numbers() -> None:
    base = {"patient_id": 1, "region": "lumbar", "segment": "L4/5", "start": "2030-01-07"}
    with pytest.raises(ValidationError, match="sessions"):
        CoursePlan.model_validate({**base, "sessions": True})


def test_a_course_starts_within_a_year() -> None:
    """9999-12-31 overflowed the calendar in scheduling ("a number given is too large")."""
    from datetime import timedelta

    from spinecare.settings import clinic_today

    base = {"patient_id": 1, "region": "lumbar", "segment": "L4/5", "sessions": 15}
    for far in ("9999-12-31", (clinic_today() + timedelta(days=366)).isoformat()):
        with pytest.raises(ValidationError, match="start"):
            CoursePlan.model_validate({**base, "start": far})
    CoursePlan.model_validate({**base, "start": clinic_today() + timedelta(days=365)})
