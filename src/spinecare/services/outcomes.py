"""Patient-reported outcomes: pain NRS before/after a session, ODI; the course's series.

Scoring and the review rule are ``clinical/outcomes.py`` and ``clinical/course.py``; a correction
is a new row (the newest per session and kind counts), so nothing recorded is ever lost.

Outcomes belong to what has happened: a session's NRS and ODI are recorded once the session has
run (done or aborted), never for a planned, running or cancelled one, and nothing new is recorded
for a deleted patient.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.course import REVIEW_WINDOW, CourseReview, review_course
from spinecare.clinical.outcomes import (
    ODI_SECTION_MAX,
    ODI_SECTIONS,
    CourseChart,
    OdiResult,
    SessionOutcome,
    course_chart_data,
    odi_score,
)
from spinecare.errors import InputError
from spinecare.services._common import WholeNumber, act_as, load, utcnow
from spinecare.services.auth import Actor, require_clinical_writer, require_reader
from spinecare.settings import ClinicSettings
from spinecare.store.enums import OutcomeKind, SessionStatus
from spinecare.store.models import Course, Outcome, TreatmentSession

# A session has run when it ended, completed or not; outcomes of others would describe nothing.
RUN_STATES = frozenset({SessionStatus.DONE.value, SessionStatus.ABORTED.value})


def _session_that_ran(session: Session, session_id: int) -> TreatmentSession:
    s = load(session, TreatmentSession, session_id, "session")
    if s.course.patient.deleted_at is not None:
        raise InputError("session", "its patient has been deleted", session_id)
    if s.status not in RUN_STATES:
        todo = (
            f": run it first (spinecare session run --course-session {session_id})"
            if s.status == SessionStatus.PLANNED.value
            else ""
        )
        raise InputError(
            "session",
            f"is {s.status}: outcomes are recorded once the session has run{todo}",
            session_id,
        )
    return s


def _live_course(session: Session, course_id: int) -> Course:
    c = load(session, Course, course_id, "course")
    if c.patient.deleted_at is not None:
        raise InputError("course", "its patient has been deleted", course_id)
    return c


Num = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
Nrs = Annotated[WholeNumber, Field(ge=0, le=10)]  # NRS-11: integers 0-10 (clinical/outcomes.py)


class NrsRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nrs_before: Nrs | None = None
    nrs_after: Nrs | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.nrs_before is None and self.nrs_after is None:
            raise ValueError("nrs_before: give nrs_before and/or nrs_after")
        return self


class OdiRecord(BaseModel):
    """The ten ODI section answers (0-5, None = left blank)."""

    model_config = ConfigDict(extra="forbid")

    answers: list[Annotated[WholeNumber, Field(ge=0, le=ODI_SECTION_MAX)] | None] = Field(
        min_length=ODI_SECTIONS, max_length=ODI_SECTIONS
    )


def parse_odi(text: str) -> OdiRecord:
    """'3,2,1,,0,...' (10 comma-separated values, blanks allowed) -> OdiRecord."""
    parts = text.split(",")
    if len(parts) == ODI_SECTIONS + 1 and parts[-1].strip() == "":
        parts = parts[:-1]  # tolerate one trailing comma
    if len(parts) != ODI_SECTIONS:
        raise InputError("odi", f"needs {ODI_SECTIONS} comma-separated values", text)
    answers: list[int | None] = []
    for i, p in enumerate(parts, start=1):
        p = p.strip()
        if not p:
            answers.append(None)
        elif p.isdecimal() and int(p) <= ODI_SECTION_MAX:
            answers.append(int(p))
        else:
            raise InputError("odi", f"section {i} must be 0-{ODI_SECTION_MAX} or blank", p)
    return OdiRecord(answers=answers)


class OutcomePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: int | None
    course_id: int | None
    kind: OutcomeKind
    value: Num
    odi_answers: list[int | None] | None
    recorded_at: datetime


def _add(
    session: Session,
    kind: OutcomeKind,
    value: float | int,
    *,
    session_id: int | None,
    course_id: int | None,
    at: datetime,
    answers: list[int | None] | None = None,
) -> Outcome:
    row = Outcome(
        session_id=session_id,
        course_id=course_id,
        kind=kind.value,
        value=Decimal(str(value)),
        odi_answers=answers,
        recorded_at=at,
        created_at=at,
    )
    session.add(row)
    return row


def record_nrs(
    session: Session,
    actor: Actor,
    session_id: int,
    data: NrsRecord,
    *,
    course_id: int | None = None,
    now: datetime | None = None,
) -> list[OutcomePublic]:
    """Pain before and/or after a session (NRS-11). ``course_id``, when the user named one,
    must be the session's course (as for the ODI): a mistyped id is refused, never silently
    stored against another course."""
    require_clinical_writer(actor)
    act_as(session, actor)
    s = _session_that_ran(session, session_id)
    if course_id is not None and course_id != s.course_id:
        raise InputError("course", f"session {session_id} is of another course", course_id)
    at = utcnow(now)
    rows = [
        _add(session, kind, value, session_id=s.id, course_id=s.course_id, at=at)
        for kind, value in (
            (OutcomeKind.NRS_BEFORE, data.nrs_before),
            (OutcomeKind.NRS_AFTER, data.nrs_after),
        )
        if value is not None
    ]
    session.flush()
    return [OutcomePublic.model_validate(r) for r in rows]


def record_odi(
    session: Session,
    actor: Actor,
    data: OdiRecord,
    *,
    session_id: int | None = None,
    course_id: int | None = None,
    now: datetime | None = None,
) -> tuple[OutcomePublic, OdiResult]:
    """An ODI questionnaire at a session or for a course (e.g. the baseline)."""
    require_clinical_writer(actor)
    act_as(session, actor)
    if session_id is not None:
        s = _session_that_ran(session, session_id)
        if course_id is not None and course_id != s.course_id:
            raise InputError("course", f"session {session_id} is of another course", course_id)
        course_id = s.course_id
    elif course_id is not None:
        _live_course(session, course_id)
    else:
        raise InputError("session", "an ODI belongs to a session or a course")
    result = odi_score(data.answers)
    if result.percent is None:
        raise InputError(
            "odi", f"too many blank sections to score ({', '.join(result.blank_sections)})"
        )
    row = _add(
        session,
        OutcomeKind.ODI,
        result.percent,
        session_id=session_id,
        course_id=course_id,
        at=utcnow(now),
        answers=list(data.answers),
    )
    session.flush()
    return OutcomePublic.model_validate(row), result


class CourseOutcomes(BaseModel):
    """Everything the course chart and the review point need."""

    course_id: int
    sessions: list[SessionOutcome]
    chart: CourseChart
    review: CourseReview
    course_odi: list[OutcomePublic]


def course_outcomes(
    session: Session,
    actor: Actor,
    course_id: int,
    *,
    clinic: ClinicSettings | None = None,
) -> CourseOutcomes:
    """Per-session outcome series (newest value per session and kind) and the review status."""
    require_reader(actor)
    course = load(session, Course, course_id, "course")
    zone = (clinic or ClinicSettings()).zone
    rows = session.scalars(
        select(Outcome).where(Outcome.course_id == course_id).order_by(Outcome.id)
    ).all()
    by_session: dict[int, dict[str, Outcome]] = {}
    course_level: list[Outcome] = []
    for r in rows:
        if r.session_id is None:
            course_level.append(r)
        else:
            by_session.setdefault(r.session_id, {})[r.kind] = r  # newest wins
    series: list[SessionOutcome] = []
    for s in course.sessions:
        got = by_session.get(s.id, {})
        before = got.get(OutcomeKind.NRS_BEFORE.value)
        if before is None:
            continue  # the series is anchored on the pre-session pain
        after = got.get(OutcomeKind.NRS_AFTER.value)
        odi = got.get(OutcomeKind.ODI.value)
        # The day it ran (the date of service), as on the invoice and the reports.
        ran = s.started_at or s.updated_at or s.scheduled_start
        day: date = (ran if ran.tzinfo else ran.replace(tzinfo=UTC)).astimezone(zone).date()
        series.append(
            SessionOutcome(
                session_number=s.number,
                date=day,
                nrs_before=int(before.value),
                nrs_after=None if after is None else int(after.value),
                odi_sections=None if odi is None else odi.odi_answers,
            )
        )
    review_after = course.review_after_session or REVIEW_WINDOW[1]
    return CourseOutcomes(
        course_id=course_id,
        sessions=series,
        chart=course_chart_data(series),
        review=review_course(series, review_after=review_after),
        course_odi=[OutcomePublic.model_validate(r) for r in course_level],
    )
