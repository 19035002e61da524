"""The clinic's day: appointments of every course between two clinic-local dates (read only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.services.auth import Actor, require_reader
from spinecare.store.models import Course, Patient, TreatmentSession


@dataclass(frozen=True, slots=True)
class Appointment:
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


def appointments(
    db: Session, actor: Actor, first: date, days: int, zone: ZoneInfo
) -> list[Appointment]:
    require_reader(actor)
    lo = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    hi = datetime.combine(first + timedelta(days=days), time.min, tzinfo=zone).astimezone(UTC)
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
                start=_aware(s.scheduled_start).astimezone(zone),
                end=_aware(s.scheduled_end).astimezone(zone),
                status=s.status,
                review_point=s.number == c.review_after_session,
            )
        )
    return out


def _aware(t: datetime) -> datetime:
    """SQLite hands back naive UTC instants; PostgreSQL aware ones."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
