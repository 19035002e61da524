"""Treatment courses: prescribe, schedule and show.

Planning runs the screening rules first (a known contraindication refuses the plan; missing
findings only warn), books the sessions with ``clinical/course.py`` (working days, German public
holidays of the clinic's state, the clinic's configured closing days, no double-booking of the
table) and gives every session the
force progression of ``clinical/dosing.py``, assuming each earlier session is tolerated; the
sessions service re-derives later sessions once real results arrive.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.contraindications import Decision, ScreeningSettings
from spinecare.clinical.course import (
    COURSE_MAX_SESSIONS,
    COURSE_MIN_SESSIONS,
    MAX_PER_WEEK,
    MIN_PER_WEEK,
    REVIEW_WINDOW,
)
from spinecare.clinical.course import plan_course as schedule_course
from spinecare.clinical.dosing import progression_ceiling_fraction, weight_force_n
from spinecare.errors import InputError, describe_validation_error
from spinecare.services._common import WholeNumber, act_as, load, utcnow
from spinecare.services.auth import Actor, require_physician, require_reader
from spinecare.services.patients import load_patient
from spinecare.services.screening import evaluate_screening
from spinecare.settings import ClinicSettings, clinic_today
from spinecare.store.enums import CourseStatus, SessionStatus
from spinecare.store.models import Course, TreatmentSession
from spinecare.therapy.protocol import (
    BASE_FRACTION,
    Protocol,
    default_protocol,
    next_session_protocol,
)
from spinecare.vocab import SEGMENTS, Region, segment_normalise

# How far ahead a course may be planned: the screening, weight and forces it is planned with
# should still hold when it starts (engineering choice; 9999-12-31 overflowed the calendar).
COURSE_START_AHEAD_DAYS = 365


class CoursePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: int
    region: Region
    segment: str
    sessions: WholeNumber = Field(ge=COURSE_MIN_SESSIONS, le=COURSE_MAX_SESSIONS)
    per_week: WholeNumber = Field(default=3, ge=MIN_PER_WEEK, le=MAX_PER_WEEK)
    start: date
    preferred_time: time | None = None
    review_after: WholeNumber = Field(
        default=REVIEW_WINDOW[1], ge=REVIEW_WINDOW[0], le=REVIEW_WINDOW[1]
    )

    @field_validator("segment")
    @classmethod
    def _segment(cls, v: str, info: ValidationInfo) -> str:
        seg = segment_normalise(v)
        region = info.data.get("region")
        if isinstance(region, Region) and seg not in SEGMENTS[region]:
            allowed = ", ".join(SEGMENTS[region])
            raise ValueError(f"not a {region.value} segment (one of {allowed})")
        return seg

    @field_validator("start")
    @classmethod
    def _not_past(cls, v: date) -> date:
        today = clinic_today()
        if v < today:
            raise ValueError("must not be in the past")
        if v > today + timedelta(days=COURSE_START_AHEAD_DAYS):
            raise ValueError(
                f"more than {COURSE_START_AHEAD_DAYS} days ahead: plan a course when it is due "
                "(screening and the patient's weight are checked at planning)"
            )
        return v


class SessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    course_id: int
    number: int
    scheduled_start: datetime
    scheduled_end: datetime
    status: SessionStatus
    peak_force_n: float
    base_force_n: float
    review_point: bool
    telemetry_dir: str | None
    summary: dict[str, Any] | None


class CoursePublic(BaseModel):
    id: int
    patient_id: int
    region: Region
    segment: str
    planned_sessions: int
    sessions_per_week: int
    start_date: date
    review_after_session: int | None
    status: CourseStatus
    created_at: datetime
    sessions: list[SessionPublic]
    warnings: list[str] = Field(default_factory=list)


def session_public(s: TreatmentSession, review_after: int | None) -> SessionPublic:
    return SessionPublic(
        id=s.id,
        course_id=s.course_id,
        number=s.number,
        scheduled_start=s.scheduled_start.astimezone(UTC),
        scheduled_end=s.scheduled_end.astimezone(UTC),
        status=SessionStatus(s.status),
        peak_force_n=float(s.protocol["peak_force_n"]),
        base_force_n=float(s.protocol["base_force_n"]),
        review_point=s.number == review_after,
        telemetry_dir=s.telemetry_dir,
        summary=s.summary,
    )


def course_public(c: Course, warnings: list[str] | None = None) -> CoursePublic:
    return CoursePublic(
        id=c.id,
        patient_id=c.patient_id,
        region=Region(c.region),
        segment=c.segment,
        planned_sessions=c.planned_sessions,
        sessions_per_week=c.sessions_per_week,
        start_date=c.start_date,
        review_after_session=c.review_after_session,
        status=CourseStatus(c.status),
        created_at=c.created_at,
        sessions=[session_public(s, c.review_after_session) for s in c.sessions],
        warnings=warnings or [],
    )


def protocol_with_peak(template: Protocol, peak_n: float, number: int) -> Protocol:
    """``template`` with another peak (base = 50% of peak) and session number."""
    return Protocol.model_validate(
        {
            **template.model_dump(),
            "peak_force_n": peak_n,
            "base_force_n": round(peak_n * BASE_FRACTION, 1),
            "session_number": number,
        }
    )


def protocol_at_weight(planned: Protocol, weight_kg: float) -> Protocol:
    """A planned session's protocol for the patient as weighed now. The body-weight caps
    (SAF-3) follow the current weight; the planned peak is only ever lowered, to where the
    course's progression stops at that weight (constraints only tighten), never raised.
    A protocol that no longer fits (a mode's swing beyond the lower peak) is refused with the
    reason: the course's forces need planning again."""
    if abs(weight_kg - planned.body_weight_kg) < 0.05:
        return planned
    cap = math.floor(weight_force_n(weight_kg, progression_ceiling_fraction(planned.region)) * 10)
    data: dict[str, Any] = {**planned.model_dump(), "body_weight_kg": weight_kg}
    if planned.peak_force_n > cap / 10:
        data["peak_force_n"] = cap / 10
        data["base_force_n"] = round(cap / 10 * BASE_FRACTION, 1)
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            "weight",
            f"the patient weighs {weight_kg:g} kg now, {planned.body_weight_kg:g} kg when the "
            f"course was planned, and the planned session does not fit: "
            f"{describe_validation_error(exc)} (plan the course's forces again)",
            weight_kg,
        ) from None


def progress_protocol(previous: Protocol, tolerated: bool) -> Protocol:
    """``next_session_protocol``, but at the 50%-body-weight cap a peak that rounds to 0.1 N a
    hair above the cap is rounded down instead of refused (same as clinical/course.py)."""
    try:
        return next_session_protocol(previous, tolerated)
    except ValidationError:
        if not tolerated:
            raise
        cap = weight_force_n(previous.body_weight_kg, progression_ceiling_fraction(previous.region))
        peak = max(previous.peak_force_n, math.floor(cap * 10) / 10)
        return protocol_with_peak(previous, peak, previous.session_number + 1)


def _busy_local(
    session: Session, start: date, clinic: ClinicSettings
) -> list[tuple[datetime, datetime]]:
    """Planned sessions of every course from ``start`` on, as naive clinic-local intervals."""
    zone = clinic.zone
    since = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC) - timedelta(days=1)
    rows = session.execute(
        select(TreatmentSession.scheduled_start, TreatmentSession.scheduled_end).where(
            TreatmentSession.status == SessionStatus.PLANNED.value,
            TreatmentSession.scheduled_end >= since,
        )
    ).all()
    return [
        (a.astimezone(zone).replace(tzinfo=None), b.astimezone(zone).replace(tzinfo=None))
        for a, b in rows
    ]


def plan_course(
    session: Session,
    actor: Actor,
    plan: CoursePlan,
    *,
    clinic: ClinicSettings | None = None,
    screening_settings: ScreeningSettings | None = None,
    now: datetime | None = None,
) -> CoursePublic:
    """Prescribe a course and book its sessions (physicians and admins only)."""
    require_physician(actor, "prescribe a course")
    act_as(session, actor)
    clinic = clinic or ClinicSettings()
    patient = load_patient(session, plan.patient_id)
    weight = float(patient.weight_kg)

    screening = evaluate_screening(
        session,
        actor,
        plan.patient_id,
        plan.region,
        plan.start,
        settings=screening_settings or clinic.screening,
    )
    if screening.decision is Decision.NOT_ELIGIBLE:
        codes = ", ".join(f"{c.code} {c.title}" for c in screening.contraindications)
        raise InputError("patient", f"not eligible for {plan.region.value} decompression: {codes}")
    warnings: list[str] = []
    if screening.decision is Decision.INCOMPLETE:
        items = ", ".join(sorted({m.code for m in screening.missing}))
        warnings.append(f"screening incomplete (missing {items}): complete before session 1")

    schedule = schedule_course(
        plan.start,
        region=plan.region,
        body_weight_kg=weight,
        segment=plan.segment,
        sessions=plan.sessions,
        per_week=plan.per_week,
        busy=_busy_local(session, plan.start, clinic),
        settings=clinic.schedule(),
        preferred_time=plan.preferred_time,
        review_after=plan.review_after,
    )
    warnings += schedule.warnings
    template = default_protocol(plan.region, weight, plan.segment)
    stamp = utcnow(now)
    course = Course(
        patient_id=plan.patient_id,
        region=plan.region.value,
        segment=plan.segment,
        planned_sessions=plan.sessions,
        sessions_per_week=plan.per_week,
        start_date=plan.start,
        review_after_session=schedule.review_after_session,
        status=CourseStatus.PLANNED.value,
        created_at=stamp,
    )
    zone = clinic.zone
    for planned in schedule.sessions:
        proto = protocol_with_peak(template, planned.projected_peak_force_n, planned.number)
        course.sessions.append(
            TreatmentSession(
                number=planned.number,
                scheduled_start=planned.start.replace(tzinfo=zone),
                scheduled_end=planned.end.replace(tzinfo=zone),
                status=SessionStatus.PLANNED.value,
                protocol=proto.model_dump(mode="json"),
                created_at=stamp,
            )
        )
    session.add(course)
    session.flush()
    return course_public(course, warnings)


def get_course(session: Session, actor: Actor, course_id: int) -> CoursePublic:
    require_reader(actor)
    return course_public(load(session, Course, course_id, "course"))


def list_courses(session: Session, actor: Actor, patient_id: int) -> list[CoursePublic]:
    require_reader(actor)
    load_patient(session, patient_id, include_deleted=True)
    rows = session.scalars(
        select(Course).where(Course.patient_id == patient_id).order_by(Course.id)
    )
    return [course_public(c) for c in rows]
