"""Report data assembled from the records (the PDF layer only renders plain data)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.outcomes import odi_score
from spinecare.errors import InputError
from spinecare.reports.course_report import CourseReportData, CourseSession, OdiScore
from spinecare.reports.session_report import SessionReportData, load_session_dir
from spinecare.runtime.summary import summary_parse
from spinecare.services._common import load
from spinecare.services.auth import Actor, require_reader
from spinecare.services.courses import CoursePublic, get_course
from spinecare.services.invoices import service_start
from spinecare.services.outcomes import course_outcomes
from spinecare.services.patients import get_patient
from spinecare.store.enums import OutcomeKind, SessionStatus
from spinecare.store.models import AuditEntry, Outcome, TreatmentSession, User

DEFAULT_ZONE = ZoneInfo("Europe/Berlin")  # the clinic's default (settings.ClinicSettings)
RAN = frozenset({SessionStatus.DONE.value, SessionStatus.ABORTED.value})


def _local(t: datetime, zone: ZoneInfo) -> datetime:
    """SQLite hands back naive UTC instants, PostgreSQL aware ones: clinic time either way."""
    return (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).astimezone(zone)


def service_day(s: TreatmentSession, zone: ZoneInfo = DEFAULT_ZONE) -> date:
    """The day a session ran (the date of service, GOÄ §12(2) Nr. 1 [goae]), clinic time."""
    return _local(service_start(s), zone).date()


def session_operator(db: Session, session_id: int) -> str | None:
    """Who ran the session: the user whose change set it ``running`` (the audit log), else
    whoever stored its result. Shown as full name (username)."""
    rows = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "sessions", AuditEntry.entity_id == str(session_id))
        .where(AuditEntry.action == "update")
        .order_by(AuditEntry.id)
    ).all()
    actor = next((r.actor for r in rows if (r.after or {}).get("status") == "running"), None)
    if actor is None:
        actor = next((r.actor for r in rows if (r.after or {}).get("status") in RAN), None)
    if actor is None:
        return None
    user = db.scalars(select(User).where(User.username == actor)).first()
    if user is None or not user.full_name or user.full_name == actor:
        return actor
    return f"{user.full_name} ({actor})"


def _nrs(db: Session, session_id: int) -> dict[str, float]:
    """The newest NRS before and after a session."""
    rows = db.scalars(
        select(Outcome).where(Outcome.session_id == session_id).order_by(Outcome.id)
    ).all()
    return {r.kind: float(r.value) for r in rows}


def session_report_data(
    db: Session, actor: Actor, session_id: int, *, zone: ZoneInfo = DEFAULT_ZONE
) -> SessionReportData:
    """A course session's report: its recording with the patient, the day and time it ran,
    who ran it and the pain recorded before and after, all from the records."""
    require_reader(actor)
    s = load(db, TreatmentSession, session_id, "session")
    if s.status not in RAN or not s.telemetry_dir:
        raise InputError(
            "session",
            f"is {s.status}: a report is made once it has run "
            f"(spinecare session run --course-session {session_id})",
            session_id,
        )
    folder = Path(s.telemetry_dir)
    if not folder.is_dir():
        raise InputError(
            "session",
            "its recording is not at the stored place any more: restore the directory "
            "from a backup, or pass it with --session-dir",
            str(folder),
        )
    course = get_course(db, actor, s.course_id)
    patient = get_patient(db, actor, course.patient_id)
    recorded = load_session_dir(folder)
    pain = _nrs(db, session_id)
    started = _local(service_start(s), zone)
    return dataclasses.replace(
        recorded,
        patient_name=patient.name,
        patient_ref=str(patient.id),
        birth_date=patient.birth_date,
        session_number=s.number,
        session_date=started.date(),
        started_at=started,
        operator=session_operator(db, session_id),
        region=course.region.value,
        target_segment=course.segment,
        pain_before=pain.get(OutcomeKind.NRS_BEFORE.value),
        pain_after=pain.get(OutcomeKind.NRS_AFTER.value),
    )


def dose_sessions(course: CoursePublic) -> int:
    """The sessions the patient is to receive: a missed or cancelled one is replaced by a new
    row at the end of the course (services/schedule.py), not added to the dose."""
    return sum(
        1
        for x in course.sessions
        if x.status not in (SessionStatus.NO_SHOW, SessionStatus.CANCELLED)
    )


def course_report_data(
    session: Session, actor: Actor, course_id: int, *, zone: ZoneInfo = DEFAULT_ZONE
) -> CourseReportData:
    """A course's recorded sessions (force dose, counter-tension) with its pain and ODI series.

    Each session is dated by the day it ran. Course-level ODI questionnaires count as the
    baseline (the first) and after the last recorded session (later ones).
    """
    course = get_course(session, actor, course_id)
    patient = get_patient(session, actor, course.patient_id)
    outcomes = course_outcomes(session, actor, course_id)
    by_number = {o.session_number: o for o in outcomes.sessions}
    rows: list[CourseSession] = []
    odi: list[OdiScore] = []
    for cs in course.sessions:
        if cs.summary is None:
            continue
        try:  # validated on read: a record that is not a valid summary is not guessed at
            summary = summary_parse(cs.summary)
        except InputError:
            continue
        o = by_number.get(cs.number)
        rows.append(
            CourseSession(
                number=cs.number,
                on=service_day(load(session, TreatmentSession, cs.id, "session"), zone),
                peak_force_n=summary.peak_force_n,
                time_at_force_s=summary.hold_time_s,
                guarding_count=summary.guarding_detected,
                pain_before=None if o is None else o.nrs_before,
                pain_after=None if o is None else o.nrs_after,
            )
        )
        if o is not None and o.odi_sections is not None:
            percent = odi_score(o.odi_sections).percent
            if percent is not None:
                odi.append(OdiScore(session=cs.number, score=percent))
    last = rows[-1].number if rows else 0
    for i, q in enumerate(outcomes.course_odi):
        odi.append(OdiScore(session=0 if i == 0 else last, score=float(q.value)))
    return CourseReportData(
        patient_name=patient.name,
        patient_ref=str(patient.id),
        region=course.region.value,
        target_segment=course.segment,
        planned_sessions=dose_sessions(course),
        sessions=tuple(rows),
        odi=tuple(sorted(odi, key=lambda x: x.session)),
        birth_date=patient.birth_date,
    )
