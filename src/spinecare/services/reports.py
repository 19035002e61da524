"""Report data assembled from the records (the PDF layer only renders plain data)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from spinecare.clinical.outcomes import odi_score
from spinecare.errors import InputError
from spinecare.reports.course_report import CourseReportData, CourseSession, OdiScore
from spinecare.runtime.summary import summary_parse
from spinecare.services.auth import Actor
from spinecare.services.courses import get_course
from spinecare.services.outcomes import course_outcomes
from spinecare.services.patients import get_patient


def course_report_data(session: Session, actor: Actor, course_id: int) -> CourseReportData:
    """A course's recorded sessions (force dose, counter-tension) with its pain and ODI series.

    Course-level ODI questionnaires count as the baseline (the first) and after the last
    recorded session (later ones).
    """
    course = get_course(session, actor, course_id)
    patient = get_patient(session, actor, course.patient_id)
    outcomes = course_outcomes(session, actor, course_id)
    by_number = {o.session_number: o for o in outcomes.sessions}
    rows: list[CourseSession] = []
    odi: list[OdiScore] = []
    for s in course.sessions:
        if s.summary is None:
            continue
        try:  # validated on read: a record that is not a valid summary is not guessed at
            summary = summary_parse(s.summary)
        except InputError:
            continue
        o = by_number.get(s.number)
        rows.append(
            CourseSession(
                number=s.number,
                on=s.scheduled_start.date(),
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
                odi.append(OdiScore(session=s.number, score=percent))
    last = rows[-1].number if rows else 0
    for i, q in enumerate(outcomes.course_odi):
        odi.append(OdiScore(session=0 if i == 0 else last, score=float(q.value)))
    return CourseReportData(
        patient_name=patient.name,
        patient_ref=f"patient {patient.id}",
        region=course.region.value,
        target_segment=course.segment,
        planned_sessions=len(course.sessions),
        sessions=tuple(rows),
        odi=tuple(sorted(odi, key=lambda x: x.session)),
    )
