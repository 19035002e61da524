"""Rescheduling and no-shows (services/schedule.py): the planner's calendar, the course's order,
audited, never billed, the progression not advanced by a session not run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from spinecare.clinical.course import ScheduleSettings, is_clinic_day
from spinecare.errors import InputError
from spinecare.services.auth import Actor
from spinecare.services.courses import CoursePlan, CoursePublic, get_course, plan_course
from spinecare.services.errors import PermissionDeniedError
from spinecare.services.invoices import create_invoice
from spinecare.services.patients import add_patient
from spinecare.services.schedule import (
    NoShowCreate,
    SessionReschedule,
    record_no_show,
    reschedule_session,
)
from spinecare.services.sessions import cancel_session, course_session_prepare
from spinecare.settings import ClinicSettings
from spinecare.store import Store
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from spinecare.store.models import AuditEntry, TreatmentSession
from tests.services.conftest import next_weekday, patient_data
from tests.services.test_screening_courses import _complete_screening

CLINIC = ClinicSettings()
ZONE = CLINIC.zone


def _course(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int, start: date | None = None
) -> CoursePublic:
    _complete_screening(db, actors[Role.THERAPIST], patient_id)
    plan = CoursePlan(
        patient_id=patient_id,
        region="lumbar",
        segment="L4/5",
        sessions=15,
        start=start or next_weekday(0),
        preferred_time=time(10, 0),
    )
    course = plan_course(db, actors[Role.PHYSICIAN], plan, clinic=CLINIC)
    db.commit()
    return course


def _local(s: Any) -> datetime:
    return s.scheduled_start.astimezone(ZONE)


def _next(day: date, pred: Any) -> date:
    d = day + timedelta(days=1)
    while not pred(d):
        d += timedelta(days=1)
    return d


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm))  # naive: clinic-local


def test_a_session_moves_to_a_free_time_and_the_move_is_audited(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    course = _course(db, actors, patient_id)
    last = course.sessions[-1]
    day = _next(_local(last).date(), lambda d: is_clinic_day(d, ScheduleSettings()))
    moved = reschedule_session(
        db,
        actors[Role.THERAPIST],
        last.id,
        SessionReschedule(start=_at(day, 14, 30)),
        clinic=CLINIC,
    )
    db.commit()
    assert _local(moved) == _at(day, 14, 30).replace(tzinfo=ZONE)
    assert moved.scheduled_end - moved.scheduled_start == last.scheduled_end - last.scheduled_start
    entry = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "sessions", AuditEntry.entity_id == str(last.id))
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.actor == "therapist" and entry.action == "update"
    assert entry.before is not None and entry.after is not None
    assert entry.before["scheduled_start"] != entry.after["scheduled_start"]
    # An aware time is taken as the instant it names.
    aware = _at(day, 15, 0).replace(tzinfo=ZONE).astimezone(UTC)
    again = reschedule_session(
        db, actors[Role.THERAPIST], last.id, SessionReschedule(start=aware), clinic=CLINIC
    )
    assert _local(again).hour == 15


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("saturday", "is not a clinic day"),
        ("christmas", "is not a clinic day"),
        ("new_year", "is not a clinic day"),
        ("early", "outside opening hours"),
        ("late", "outside opening hours"),
    ],
)
def test_refused_on_closed_days_and_outside_hours(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int, where: str, message: str
) -> None:
    course = _course(db, actors, patient_id)
    last = course.sessions[-1]
    after = _local(last).date()
    workday = _next(after, lambda d: is_clinic_day(d, ScheduleSettings()))
    start = {
        "saturday": _at(_next(after, lambda d: d.weekday() == 5), 10),
        "christmas": _at(_next(after, lambda d: (d.month, d.day) == (12, 25)), 10),
        "new_year": _at(_next(after, lambda d: (d.month, d.day) == (1, 1)), 10),
        "early": _at(workday, 7, 30),
        "late": _at(workday, 17, 30),  # 45 minutes: ends after 18:00
    }[where]
    with pytest.raises(InputError, match=message):
        reschedule_session(
            db, actors[Role.THERAPIST], last.id, SessionReschedule(start=start), clinic=CLINIC
        )


def test_refused_in_the_past_on_a_clash_and_out_of_order(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    ther = actors[Role.THERAPIST]
    course = _course(db, actors, patient_id)
    first, second, third, last = (
        course.sessions[0],
        course.sessions[1],
        course.sessions[2],
        course.sessions[-1],
    )
    yesterday = datetime.now(ZONE).replace(tzinfo=None) - timedelta(days=1)
    with pytest.raises(InputError, match="in the past"):
        reschedule_session(db, ther, last.id, SessionReschedule(start=yesterday), clinic=CLINIC)
    # Another patient's course after this one: its first session's slot is taken.
    other = add_patient(db, ther, patient_data(name="Max Muster")).id
    db.commit()
    later = _course(db, actors, other, start=_local(last).date() + timedelta(days=14))
    taken = _local(later.sessions[0]).replace(tzinfo=None)
    with pytest.raises(InputError, match="the table is booked then"):
        reschedule_session(db, ther, last.id, SessionReschedule(start=taken), clinic=CLINIC)
    with pytest.raises(InputError, match="the table is booked then"):  # overlapping, not equal
        reschedule_session(
            db, ther, last.id, SessionReschedule(start=taken + timedelta(minutes=30)), clinic=CLINIC
        )
    # Sessions run in order: session 2 stays between sessions 1 and 3.
    after_third = _local(third).replace(tzinfo=None) + timedelta(hours=2)
    if not is_clinic_day(after_third.date(), ScheduleSettings()) or after_third.hour >= 17:
        after_third = _at(
            _next(_local(third).date(), lambda d: is_clinic_day(d, ScheduleSettings())), 9
        )
    with pytest.raises(InputError, match="must be before session 3"):
        reschedule_session(db, ther, second.id, SessionReschedule(start=after_third), clinic=CLINIC)
    before_first = _local(first).replace(tzinfo=None) - timedelta(hours=1)
    with pytest.raises(InputError, match="must be after session 1"):
        reschedule_session(
            db, ther, second.id, SessionReschedule(start=before_first), clinic=CLINIC
        )
    # Nothing moved.
    assert get_course(db, ther, course.id).sessions == course.sessions


def test_who_may_and_what_may_be_moved(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    course = _course(db, actors, patient_id)
    last = course.sessions[-1]
    day = _next(_local(last).date(), lambda d: is_clinic_day(d, ScheduleSettings()))
    req = SessionReschedule(start=_at(day, 11))
    with pytest.raises(PermissionDeniedError):
        reschedule_session(db, actors[Role.BILLING], last.id, req, clinic=CLINIC)
    cancel_session(db, actors[Role.THERAPIST], last.id)
    with pytest.raises(InputError, match="is cancelled, not planned"):
        reschedule_session(db, actors[Role.THERAPIST], last.id, req, clinic=CLINIC)


def _after(s: Any, minutes: int = 10) -> datetime:
    return s.scheduled_start + timedelta(minutes=minutes)


def test_a_no_show_is_recorded_only_when_its_time_has_come(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    course = _course(db, actors, patient_id)
    s1 = course.sessions[0]
    with pytest.raises(InputError, match="its time has not come"):
        record_no_show(db, actors[Role.THERAPIST], s1.id, NoShowCreate(), clinic=CLINIC)
    with pytest.raises(InputError, match="its time has not come"):
        record_no_show(
            db,
            actors[Role.THERAPIST],
            s1.id,
            NoShowCreate(),
            clinic=CLINIC,
            now=s1.scheduled_start - timedelta(minutes=1),
        )
    with pytest.raises(PermissionDeniedError):
        record_no_show(
            db, actors[Role.BILLING], s1.id, NoShowCreate(), clinic=CLINIC, now=_after(s1)
        )


def test_a_no_show_books_a_replacement_at_the_end_and_does_not_advance_the_progression(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    ther = actors[Role.THERAPIST]
    course = _course(db, actors, patient_id)
    s1, s2 = course.sessions[0], course.sessions[1]
    peaks = [s.peak_force_n for s in course.sessions]
    out = record_no_show(db, ther, s2.id, NoShowCreate(), clinic=CLINIC, now=_after(s2))
    db.commit()
    assert out.session.status == "no_show" and out.session.id == s2.id
    rep = out.replacement
    assert rep is not None and rep.number == 16 and rep.status == "planned"
    last = course.sessions[-1]
    assert rep.scheduled_start >= last.scheduled_end
    assert is_clinic_day(_local(rep).date(), ScheduleSettings())
    assert _local(rep).date() > _local(last).date()
    assert _local(rep).time() == _local(s2).time()  # the same time of day, when it is free
    assert rep.scheduled_end - rep.scheduled_start == s2.scheduled_end - s2.scheduled_start
    after = get_course(db, ther, course.id)
    # Session 3 pulls what session 2 would have pulled, and so on; the replacement what 15 would.
    assert [s.peak_force_n for s in after.sessions] == [*peaks[:2], *peaks[1:]]
    assert after.sessions[0].id == s1.id
    # Only the sessions whose protocol changed (the peak levels off at its cap).
    changed = {
        s.id for s, p in zip(after.sessions[2:15], peaks[2:], strict=True) if s.peak_force_n != p
    }
    assert set(out.replanned_session_ids) >= changed and after.sessions[2].id in changed
    row = db.get(TreatmentSession, rep.id)
    assert row is not None and row.protocol["session_number"] == 16
    # Audited with who recorded it.
    entries = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "sessions", AuditEntry.entity_id == str(s2.id)
        )
    ).all()
    assert any(
        e.actor == "therapist" and e.after is not None and e.after.get("status") == "no_show"
        for e in entries
    )
    assert any(
        e.action == "create" and e.entity_id == str(rep.id)
        for e in db.scalars(select(AuditEntry).where(AuditEntry.entity == "sessions"))
    )
    # Recorded once: it is no longer planned.
    with pytest.raises(InputError, match="is no_show, not planned"):
        record_no_show(db, ther, s2.id, NoShowCreate(), clinic=CLINIC, now=_after(s2))


def test_a_no_show_is_never_invoiced(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    course = _course(db, actors, patient_id)
    s1 = course.sessions[0]
    record_no_show(
        db,
        actors[Role.THERAPIST],
        s1.id,
        NoShowCreate(replacement="none"),
        clinic=CLINIC,
        now=_after(s1),
    )
    db.commit()
    bill = actors[Role.BILLING]
    with pytest.raises(InputError, match="is no-show: only a session that ran is billed"):
        create_invoice(db, bill, patient_id, session_ids=[s1.id])
    with pytest.raises(InputError, match="no treated, unbilled sessions"):
        create_invoice(db, bill, patient_id, course_id=course.id)


def test_the_replacement_at_a_time_the_user_picks(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    ther = actors[Role.THERAPIST]
    course = _course(db, actors, patient_id)
    s1, last = course.sessions[0], course.sessions[-1]
    now = _after(s1)
    saturday = _next(_local(last).date(), lambda d: d.weekday() == 5)
    with pytest.raises(InputError, match="not a clinic day"):
        record_no_show(
            db,
            ther,
            s1.id,
            NoShowCreate(replacement="pick", replacement_start=_at(saturday, 10)),
            clinic=CLINIC,
            now=now,
        )
    db.rollback()
    inside = _local(course.sessions[5]).replace(tzinfo=None) + timedelta(hours=2)
    with pytest.raises(InputError, match="after the course's last session"):
        record_no_show(
            db,
            ther,
            s1.id,
            NoShowCreate(replacement="pick", replacement_start=inside),
            clinic=CLINIC,
            now=now,
        )
    db.rollback()
    assert db.get(TreatmentSession, s1.id).status == "planned"  # type: ignore[union-attr]
    monday = _next(
        _local(last).date(), lambda d: d.weekday() == 0 and is_clinic_day(d, ScheduleSettings())
    )
    out = record_no_show(
        db,
        ther,
        s1.id,
        NoShowCreate(replacement="pick", replacement_start=_at(monday, 16, 15)),
        clinic=CLINIC,
        now=now,
    )
    assert out.replacement is not None and _local(out.replacement) == _at(monday, 16, 15).replace(
        tzinfo=ZONE
    )


def test_no_replacement_still_holds_the_progression_back(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    ther = actors[Role.THERAPIST]
    course = _course(db, actors, patient_id)
    peaks = [s.peak_force_n for s in course.sessions]
    s1 = course.sessions[0]
    out = record_no_show(
        db, ther, s1.id, NoShowCreate(replacement="none"), clinic=CLINIC, now=_after(s1)
    )
    assert out.replacement is None
    after = get_course(db, ther, course.id)
    assert len(after.sessions) == 15
    assert [s.peak_force_n for s in after.sessions[1:]] == peaks[:14]


def test_the_schema_wants_a_time_only_when_the_user_picks() -> None:
    with pytest.raises(ValueError, match="give the time"):
        NoShowCreate(replacement="pick")
    with pytest.raises(ValueError, match="only with replacement='pick'"):
        NoShowCreate(replacement="end_of_course", replacement_start=datetime(2030, 1, 7, 10))
    with pytest.raises(ValueError):
        SessionReschedule.model_validate({"start": "2030-01-07T10:00", "extra": 1})


def test_the_session_after_a_no_show_can_start(
    store: Store, db: AuditedSession, actors: dict[Role, Actor], patient_id: int, tmp_path: Path
) -> None:
    ther = actors[Role.THERAPIST]
    course = _course(db, actors, patient_id)
    s1, s2 = course.sessions[0], course.sessions[1]
    record_no_show(db, ther, s1.id, NoShowCreate(), clinic=CLINIC, now=_after(s1))
    db.commit()

    def no_table(now: Any) -> Any:
        raise RuntimeError("checked before the table is built")

    with pytest.raises(RuntimeError, match="checked before the table is built"):
        course_session_prepare(store.unit_of_work, ther, s2.id, no_table, out_dir=tmp_path / "s2")


def test_the_clinic_s_own_closing_days_are_refused(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    course = _course(db, actors, patient_id)
    last = course.sessions[-1]
    day = _next(_local(last).date(), lambda d: is_clinic_day(d, ScheduleSettings()))
    closed = ClinicSettings(closing_days=[day.isoformat()])
    with pytest.raises(InputError, match="is not a clinic day"):
        reschedule_session(
            db,
            actors[Role.THERAPIST],
            last.id,
            SessionReschedule(start=_at(day, 10)),
            clinic=closed,
        )


def test_the_course_report_counts_the_dose_not_the_rows(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    """A no-show and its replacement at the end are one session of the dose, not two."""
    from spinecare.services.reports import dose_sessions

    ther = actors[Role.THERAPIST]
    course = _course(db, actors, patient_id)
    s1 = course.sessions[0]
    record_no_show(db, ther, s1.id, NoShowCreate(), clinic=CLINIC, now=_after(s1))
    db.commit()
    assert len(get_course(db, ther, course.id).sessions) == len(course.sessions) + 1
    assert dose_sessions(get_course(db, ther, course.id)) == len(course.sessions)
