"""The clinic's day: the appointments of every course between two clinic-local dates, and what
may be done with each (set up, reschedule, cancel, record a no-show)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.services._common import as_utc
from spinecare.services.auth import Actor, require_reader
from spinecare.store.enums import SessionStatus
from spinecare.store.models import Course, Patient, TreatmentSession


class Appointment(BaseModel):
    """One booked session of the day (the ``Public`` schema of the day's list)."""

    model_config = ConfigDict(frozen=True)

    session_id: int
    course_id: int
    number: int
    planned_sessions: int
    patient_id: int
    patient_name: str
    region: str
    segment: str
    start: datetime  # clinic-local
    end: datetime
    status: str
    review_point: bool
    # A planned session whose time has come (a no-show may be recorded; it can no longer be
    # moved to a time that has passed).
    due: bool

    @property
    def planned(self) -> bool:
        return self.status == SessionStatus.PLANNED.value


def local_day_bounds(first: date, days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of the start of ``first`` and of ``days`` days later, clinic-local."""
    lo = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    hi = datetime.combine(first + timedelta(days=days), time.min, tzinfo=zone).astimezone(UTC)
    return lo, hi


def appointments(
    db: Session,
    actor: Actor,
    first: date,
    days: int,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
) -> list[Appointment]:
    """Every session booked from ``first`` for ``days`` days (clinic-local), of patients not
    deleted, in time order."""
    require_reader(actor)
    lo, hi = local_day_bounds(first, days, zone)
    at = now or datetime.now(UTC)
    rows = db.execute(
        select(TreatmentSession, Course, Patient)
        .join(Course, Course.id == TreatmentSession.course_id)
        .join(Patient, Patient.id == Course.patient_id)
        .where(
            TreatmentSession.scheduled_start >= lo,
            TreatmentSession.scheduled_start < hi,
            Patient.deleted_at.is_(None),
        )
        .order_by(TreatmentSession.scheduled_start, TreatmentSession.id)
    ).all()
    out = []
    for s, c, p in rows:
        start = as_utc(s.scheduled_start)
        out.append(
            Appointment(
                session_id=s.id,
                course_id=c.id,
                number=s.number,
                planned_sessions=c.planned_sessions,
                patient_id=p.id,
                patient_name=p.name,
                region=c.region,
                segment=c.segment,
                start=start.astimezone(zone),
                end=as_utc(s.scheduled_end).astimezone(zone),
                status=s.status,
                review_point=s.number == c.review_after_session,
                due=s.status == SessionStatus.PLANNED.value and start <= at,
            )
        )
    return out
