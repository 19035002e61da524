"""The clinic's day as use cases: move a planned session to another time, record a no-show.

Rescheduling obeys the course planner's calendar (``clinical/course.py``): a clinic day (open
weekday, no German public holiday of the clinic's state, no closing day), within opening hours,
no clash with another booked session on the table, never in the past, and within its course's
order (after the session before it and before the one after it: sessions run in order).

A no-show is recorded for a planned session whose time has come (never in advance): the session
becomes ``no_show`` (audited with who recorded it; not invoiceable: only treated sessions are
billed), the force progression does not advance (each later planned session takes the protocol
the one before it had), and a replacement is booked at the end of the course (the first free
slot after its last session, near the same time of day), at a time the user picks, or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.course import ScheduleSettings, is_clinic_day
from spinecare.errors import InputError
from spinecare.services._common import act_as, as_utc, load, utcnow
from spinecare.services.auth import Actor, require_clinical_writer
from spinecare.services.courses import SessionPublic, session_public
from spinecare.settings import ClinicSettings
from spinecare.store.enums import CourseStatus, SessionStatus
from spinecare.store.models import TreatmentSession
from spinecare.therapy.protocol import Protocol

# Sessions that hold the table at their time: a planned or a running session is a clash.
BOOKED = (SessionStatus.PLANNED.value, SessionStatus.RUNNING.value)
# How far ahead the replacement at the end of the course is searched (a year, as the planner).
REPLACEMENT_SEARCH_DAYS = 365
# A session is moved at most this far ahead (a course lasts weeks; beyond is a typing error).
MAX_AHEAD_DAYS = 730
MIN_YEAR, MAX_YEAR = 2000, 2199


def _bounded(v: datetime | None) -> datetime | None:
    """A calendar time, not the end of the calendar: years outside 2000-2199 are typing errors
    (and would overflow when converted between zones)."""
    if v is not None and not MIN_YEAR <= v.year <= MAX_YEAR:
        raise ValueError(f"a time within the years {MIN_YEAR}-{MAX_YEAR}")
    return v


class SessionReschedule(BaseModel):
    """A planned session's new start; a time without a zone is clinic-local."""

    model_config = ConfigDict(extra="forbid")

    start: datetime

    _start = field_validator("start")(_bounded)


ReplacementChoice = Literal["end_of_course", "pick", "none"]


class NoShowCreate(BaseModel):
    """Recording that the patient did not come, and what replaces the session."""

    model_config = ConfigDict(extra="forbid")

    replacement: ReplacementChoice = "end_of_course"
    # Only with ``replacement="pick"``: the replacement's start (clinic-local without a zone).
    replacement_start: datetime | None = None

    _replacement_start = field_validator("replacement_start")(_bounded)

    @model_validator(mode="after")
    def _pick_needs_a_time(self) -> Self:
        if self.replacement == "pick" and self.replacement_start is None:
            raise ValueError("replacement_start: give the time when you pick the replacement")
        if self.replacement != "pick" and self.replacement_start is not None:
            raise ValueError("replacement_start: only with replacement='pick'")
        return self


class NoShowPublic(BaseModel):
    session: SessionPublic
    replacement: SessionPublic | None
    # Later planned sessions whose force step moved back by one (their protocol changed).
    replanned_session_ids: list[int] = Field(default_factory=list)


# -- the calendar ---------------------------------------------------------------------------
def _settings(clinic: ClinicSettings) -> ScheduleSettings:
    """The clinic's calendar, as the course planner books with it (its closing days too)."""
    return clinic.schedule()


def _local(t: datetime, zone: ZoneInfo) -> datetime:
    """An instant as an aware clinic-local time; a naive time is clinic-local already."""
    if t.tzinfo is None:
        return t.replace(tzinfo=zone)
    return t.astimezone(zone)


def _slot_problem(
    db: Session,
    start: datetime,
    length: timedelta,
    *,
    sched: ScheduleSettings,
    now: datetime,
    ignore_id: int | None = None,
) -> str | None:
    """Why ``start`` (aware, clinic-local) cannot hold a session of ``length``; None if it can."""
    end = start + length
    if start < now:
        return "is in the past"
    if start > now + timedelta(days=MAX_AHEAD_DAYS):
        return f"is more than {MAX_AHEAD_DAYS} days ahead"
    day = start.date()
    if not is_clinic_day(day, sched):
        return f"{day.isoformat()} is not a clinic day (weekend, public holiday or closed)"
    open_t, close_t = sched.opening_hours[day.weekday()]
    naive_start, naive_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    if naive_start.time() < open_t or naive_end > datetime.combine(day, close_t):
        return (
            f"outside opening hours ({open_t:%H:%M}-{close_t:%H:%M}, a session takes "
            f"{int(length.total_seconds() // 60)} min)"
        )
    if naive_end.date() != day:
        return "must end on the day it starts"
    clash = db.scalars(
        select(TreatmentSession)
        .where(
            TreatmentSession.status.in_(BOOKED),
            TreatmentSession.scheduled_start < end.astimezone(UTC),
            TreatmentSession.scheduled_end > start.astimezone(UTC),
        )
        .order_by(TreatmentSession.scheduled_start)
    ).all()
    clash = [s for s in clash if s.id != ignore_id]
    if clash:
        other = as_utc(clash[0].scheduled_start).astimezone(start.tzinfo)
        return f"the table is booked then (session {clash[0].id} at {other:%d.%m.%Y %H:%M})"
    return None


def _order_problem(s: TreatmentSession, start: datetime) -> str | None:
    """Sessions of a course run in order: a planned session stays after the one before it and
    before the one after it."""
    before = [x for x in s.course.sessions if x.number < s.number and x.status in BOOKED]
    after = [x for x in s.course.sessions if x.number > s.number and x.status in BOOKED]
    zone = start.tzinfo
    if before:
        prev = max(before, key=lambda x: x.number)
        if start < as_utc(prev.scheduled_end):
            at = as_utc(prev.scheduled_start).astimezone(zone)
            return f"must be after session {prev.number} of the course ({at:%d.%m.%Y %H:%M})"
    if after:
        nxt = min(after, key=lambda x: x.number)
        if start >= as_utc(nxt.scheduled_start):
            at = as_utc(nxt.scheduled_start).astimezone(zone)
            return f"must be before session {nxt.number} of the course ({at:%d.%m.%Y %H:%M})"
    return None


def _planned(db: Session, session_id: int) -> TreatmentSession:
    s = load(db, TreatmentSession, session_id, "session")
    if s.status != SessionStatus.PLANNED.value:
        raise InputError("session", f"is {s.status}, not planned", session_id)
    if s.course.status == CourseStatus.CANCELLED.value:
        raise InputError("session", "its course is cancelled", session_id)
    if s.course.patient.deleted_at is not None:
        raise InputError("session", "its patient has been deleted", session_id)
    return s


def _length(s: TreatmentSession) -> timedelta:
    return as_utc(s.scheduled_end) - as_utc(s.scheduled_start)


# -- rescheduling ---------------------------------------------------------------------------
def reschedule_session(
    db: Session,
    actor: Actor,
    session_id: int,
    data: SessionReschedule,
    *,
    clinic: ClinicSettings | None = None,
    now: datetime | None = None,
) -> SessionPublic:
    """Move a planned session to another day or time (refused with the reason: past, not a
    clinic day, outside opening hours, the table booked, out of the course's order)."""
    require_clinical_writer(actor)
    act_as(db, actor)
    clinic = clinic or ClinicSettings()
    zone = clinic.zone
    s = _planned(db, session_id)
    at = utcnow(now)
    start = _local(data.start, zone)
    length = _length(s)
    problem = _slot_problem(
        db, start, length, sched=_settings(clinic), now=at, ignore_id=s.id
    ) or _order_problem(s, start)
    if problem:
        raise InputError("start", problem, start.strftime("%Y-%m-%d %H:%M"))
    s.scheduled_start = start.astimezone(UTC)
    s.scheduled_end = (start + length).astimezone(UTC)
    s.updated_at = at
    db.flush()
    return session_public(s, s.course.review_after_session)


def free_slot_after(
    db: Session,
    after: datetime,
    length: timedelta,
    *,
    clinic: ClinicSettings,
    preferred: time | None = None,
    now: datetime | None = None,
) -> datetime:
    """The first free slot (aware, clinic-local) on a clinic day after ``after`` (not on its
    day), nearest ``preferred`` that day; on the planner's 15-minute grid."""
    zone = clinic.zone
    sched = _settings(clinic)
    at = utcnow(now)
    first = max(_local(after, zone), at.astimezone(zone)).date() + timedelta(days=1)
    grid = timedelta(minutes=sched.grid_minutes)
    for offset in range(REPLACEMENT_SEARCH_DAYS):
        day = first + timedelta(days=offset)
        if not is_clinic_day(day, sched):
            continue
        open_t, close_t = sched.opening_hours[day.weekday()]
        t = datetime.combine(day, open_t)
        candidates: list[datetime] = []
        while t + length <= datetime.combine(day, close_t):
            candidates.append(t)
            t += grid
        if preferred is not None:
            pref = datetime.combine(day, preferred)
            candidates.sort(key=lambda c: abs((c - pref).total_seconds()))
        for c in candidates:
            start = c.replace(tzinfo=zone)
            if _slot_problem(db, start, length, sched=sched, now=at) is None:
                return start
    raise InputError(
        "replacement", f"no free slot within {REPLACEMENT_SEARCH_DAYS} days after the course"
    )


# -- no-show --------------------------------------------------------------------------------
def record_no_show(
    db: Session,
    actor: Actor,
    session_id: int,
    data: NoShowCreate,
    *,
    clinic: ClinicSettings | None = None,
    now: datetime | None = None,
) -> NoShowPublic:
    """The patient did not come: the session becomes ``no_show`` (audited, never billed), the
    force progression does not advance, and a replacement is booked as chosen."""
    require_clinical_writer(actor)
    act_as(db, actor)
    clinic = clinic or ClinicSettings()
    zone = clinic.zone
    s = _planned(db, session_id)
    at = utcnow(now)
    start = as_utc(s.scheduled_start)
    if start > at:
        local = start.astimezone(zone)
        raise InputError(
            "session",
            f"its time has not come (planned {local:%d.%m.%Y %H:%M}): reschedule or cancel it",
            session_id,
        )
    course = s.course
    length = _length(s)
    later = sorted(
        (x for x in course.sessions if x.number > s.number and x.status == SessionStatus.PLANNED),
        key=lambda x: x.number,
    )
    # The protocol the no-show would have run moves on to the next planned session, and so on:
    # a session not run is no step of the progression.
    protocols = [s.protocol, *(x.protocol for x in later)]
    s.status = SessionStatus.NO_SHOW.value
    s.updated_at = at
    db.flush()

    replacement: TreatmentSession | None = None
    if data.replacement != "none":
        if data.replacement == "pick":
            assert data.replacement_start is not None
            new_start = _local(data.replacement_start, zone)
            last = max(course.sessions, key=lambda x: x.number)
            problem = _slot_problem(db, new_start, length, sched=_settings(clinic), now=at)
            if problem is None and last.status in BOOKED and new_start < as_utc(last.scheduled_end):
                last_at = as_utc(last.scheduled_start).astimezone(zone)
                problem = (
                    f"the replacement comes after the course's last session "
                    f"({last_at:%d.%m.%Y %H:%M})"
                )
            if problem:
                raise InputError("replacement_start", problem, new_start.strftime("%Y-%m-%d %H:%M"))
        else:
            end_of_course = max(as_utc(x.scheduled_end) for x in course.sessions)
            new_start = free_slot_after(
                db,
                end_of_course,
                length,
                clinic=clinic,
                preferred=start.astimezone(zone).time(),
                now=at,
            )
        number = max(x.number for x in course.sessions) + 1
        replacement = TreatmentSession(
            number=number,
            scheduled_start=new_start.astimezone(UTC),
            scheduled_end=(new_start + length).astimezone(UTC),
            status=SessionStatus.PLANNED.value,
            protocol=protocols[-1],
            created_at=at,
        )
        course.sessions.append(replacement)
        later.append(replacement)
    changed: list[int] = []
    for x, proto in zip(later, protocols, strict=False):
        new = Protocol.model_validate({**proto, "session_number": x.number}).model_dump(mode="json")
        if new != x.protocol:
            x.protocol = new
            x.updated_at = at
            if x is not replacement:
                changed.append(x.id)
    db.flush()
    review = course.review_after_session
    return NoShowPublic(
        session=session_public(s, review),
        replacement=None if replacement is None else session_public(replacement, review),
        replanned_session_ids=changed,
    )
