"""Records the store refuses whichever path they come by (CLI, web app, a service, a script).

The services validate their input with the field and the reason; this is the floor under them,
checked on every flush of an audited session, so a path that forgets a check still cannot store:

- a text (column or JSON string) holding control or formatting characters (``store/text.py``);
- a calendar date before 1900, a date of something that has happened (birth, diagnosis, DXA,
  fracture, invoice issue/payment, ...) in the future, a course starting more than two years
  ahead, or a patient's date before the patient was born;
- a new record of a deleted patient, or a session of a deleted patient recorded as run.

Each refusal is an :class:`~spinecare.errors.InputError` naming the column and the reason; the
value is not repeated (it may be a patient's data).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Date, String, event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from spinecare.errors import InputError
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import SessionStatus
from spinecare.store.models import (
    AuditChainHead,
    AuditEntry,
    AuthToken,
    Course,
    Outcome,
    Patient,
    TreatmentSession,
)
from spinecare.store.text import refuse_reason
from spinecare.store.types import UTCDateTime

# Nothing in the clinic's records happened before 1900 (the oldest birth date accepted).
EARLIEST_DATE = date(1900, 1, 1)
# Dates of things that have happened; one day of slack for clinic time zones ahead of UTC.
PAST_DATES = frozenset(
    {
        ("patients", "birth_date"),
        ("patients", "fracture_history_on"),
        ("diagnoses", "diagnosed_on"),
        ("bmd_measurements", "measured_on"),
        ("vertebral_fractures", "occurred_on"),
        ("screening_findings", "event_date"),
        ("invoices", "issued_on"),
        ("invoices", "paid_on"),
        ("invoices", "cancelled_on"),
        ("invoice_lines", "service_date"),
        ("posture_recordings", "started_at"),
    }
)
# Planned dates: courses are booked ahead, but not years ahead.
PLANNING_HORIZON = timedelta(days=2 * 365)
PLANNED_DATES = frozenset({("courses", "start_date")})
_SKIPPED = (AuditEntry, AuditChainHead, AuthToken)  # written by the store itself
# Timestamps the code takes from the clock, never from input: not held to the floor (a record
# made in the first hours of a clinic's day is dated the day before in UTC).
_BOOKKEEPING = frozenset({"created_at", "updated_at", "deleted_at"})
_RUN = frozenset({SessionStatus.DONE.value, SessionStatus.ABORTED.value})


def _changed_columns(obj: Any, new: bool) -> Iterator[tuple[str, Any, Any]]:
    """(column name, column type, value) of the columns a flush will write for ``obj``."""
    state = inspect(obj)
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        if not new and not state.attrs[attr.key].history.has_changes():
            continue
        yield column.name, column.type, getattr(obj, attr.key)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _check_text(table: str, column: str, value: Any) -> None:
    for s in _strings(value):
        reason = refuse_reason(s)
        if reason is not None:
            raise InputError(column, reason)


def _patient_of(session: Session, obj: Any) -> Patient | None:
    if isinstance(obj, Patient):
        return obj
    pid = getattr(obj, "patient_id", None)
    if pid is not None:
        return session.get(Patient, pid)
    if isinstance(obj, Course):
        return obj.patient
    if isinstance(obj, Outcome):
        if obj.session_id is not None:
            s = session.get(TreatmentSession, obj.session_id)
            return s.course.patient if s is not None else None
        if obj.course_id is not None:
            c = session.get(Course, obj.course_id)
            return c.patient if c is not None else None
    return None


def _check_date(table: str, column: str, value: date, patient: Patient | None) -> None:
    today = datetime.now(UTC).date()
    if value < EARLIEST_DATE:
        raise InputError(column, f"must not be before {EARLIEST_DATE.isoformat()}")
    if (table, column) in PAST_DATES and value > today + timedelta(days=1):
        raise InputError(column, "must not be in the future")
    if (table, column) in PLANNED_DATES and value > today + PLANNING_HORIZON:
        raise InputError(column, "must be within two years from today")
    if (
        patient is not None
        and column != "birth_date"
        and patient.birth_date is not None
        and value < patient.birth_date
    ):
        raise InputError(column, "must not be before the patient's birth date")


def check_object(session: Session, obj: Any, *, new: bool) -> None:
    """Refuse ``obj`` if the flush would store one of the states this module names."""
    if isinstance(obj, _SKIPPED):
        return
    table = obj.__tablename__
    patient: Patient | None = None
    patient_loaded = False
    for column, type_, value in _changed_columns(obj, new):
        if value is None:
            continue
        if isinstance(type_, String | JSON):
            _check_text(table, column, value)
        if isinstance(type_, UTCDateTime) and isinstance(value, datetime):
            if column in _BOOKKEEPING:
                continue
            # A moment is held to the same floor as a day (its UTC date): nothing before 1900 or
            # before the patient's birth, and a thing that happened not in the future.
            value = (value.astimezone(UTC) if value.tzinfo else value).date()
        if isinstance(type_, Date | UTCDateTime) and isinstance(value, date):
            if not patient_loaded:
                patient, patient_loaded = _patient_of(session, obj), True
            _check_date(table, column, value, patient)
    if isinstance(obj, Patient):
        return
    if new:
        patient = patient if patient_loaded else _patient_of(session, obj)
        if patient is not None and patient.deleted_at is not None:
            raise InputError("patient", "has been deleted: nothing new is recorded for it")
    elif isinstance(obj, TreatmentSession):
        hist = inspect(obj).attrs["status"].history
        before = hist.deleted[0] if hist.deleted else None
        if before == SessionStatus.PLANNED.value and obj.status in _RUN:
            patient = obj.course.patient
            if patient.deleted_at is not None:
                raise InputError("session", "its patient has been deleted")


@event.listens_for(AuditedSession, "before_flush")
def _validate_flush(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    with session.no_autoflush:
        for obj in list(session.new):
            check_object(session, obj, new=True)
        for obj in list(session.dirty):
            if session.is_modified(obj, include_collections=False):
                check_object(session, obj, new=False)
