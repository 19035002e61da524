"""The reading side the web app and the CLI share: the clinic's day, the patient search, the
audit log."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from spinecare.services.audit import audit_log, changed_fields
from spinecare.services.auth import Actor
from spinecare.services.courses import CoursePlan, plan_course
from spinecare.services.errors import PermissionDeniedError
from spinecare.services.patients import PatientUpdate, add_patient, edit_patient
from spinecare.services.search import fold, parse_date, search_patients
from spinecare.services.today import appointments
from spinecare.settings import ClinicSettings
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from tests.services.conftest import next_weekday, patient_data
from tests.services.test_screening_courses import _complete_screening

ZONE = ClinicSettings().zone


def test_search_by_name_without_accents_by_birth_date_and_id(
    db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    ther = actors[Role.THERAPIST]
    zoe = add_patient(db, ther, patient_data(name="Zoë Öztürk")).id
    add_patient(db, ther, patient_data(name="Hans Weiß", birth_date=datetime(1950, 1, 2).date()))
    db.commit()
    assert [p.id for p in search_patients(db, ther, "zoe oz")] == [zoe]
    assert [p.name for p in search_patients(db, ther, "WEISS")] == ["Hans Weiß"]
    assert [p.name for p in search_patients(db, ther, "02.01.1950")] == ["Hans Weiß"]
    assert [p.name for p in search_patients(db, ther, "1950-01-02")] == ["Hans Weiß"]
    assert [p.id for p in search_patients(db, ther, str(zoe))] == [zoe]
    assert len(search_patients(db, ther, "  ")) == 2
    assert search_patients(db, ther, "31.02.1950") == []  # no such day: searched as a name
    assert fold("Łódź Æsir") == "lodz aesir" and parse_date("1.2.2020") is not None


def test_the_day_lists_every_course_in_time_order_with_what_is_due(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    _complete_screening(db, actors[Role.THERAPIST], patient_id)
    start = next_weekday(0)
    plan = CoursePlan(
        patient_id=patient_id,
        region="lumbar",
        segment="L4/5",
        sessions=15,
        start=start,
        preferred_time=time(9, 0),
    )
    course = plan_course(db, actors[Role.PHYSICIAN], plan)
    db.commit()
    day = appointments(db, actors[Role.BILLING], start, 1, ZONE)
    assert [a.session_id for a in day] == [course.sessions[0].id]
    a = day[0]
    assert a.start.hour == 9 and a.start.tzinfo is not None and a.planned and not a.due
    week = appointments(db, actors[Role.THERAPIST], start, 7, ZONE)
    assert [x.number for x in week] == [1, 2, 3] and week == sorted(week, key=lambda x: x.start)
    later = a.start.astimezone(UTC) + timedelta(minutes=5)
    assert appointments(db, actors[Role.THERAPIST], start, 1, ZONE, now=later)[0].due


def test_the_audit_log_newest_first_filtered_and_only_for_admins_and_physicians(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    ther = actors[Role.THERAPIST]
    edit_patient(db, ther, patient_id, PatientUpdate(weight_kg=72))
    db.commit()
    entries = audit_log(db, actors[Role.ADMIN], entity="patients", entity_id=patient_id)
    assert [e.action for e in entries] == ["update", "create"]
    assert "weight_kg: 70.0 → 72.0" in changed_fields(entries[0]) or "weight_kg" in changed_fields(
        entries[0]
    )
    assert all(
        e.actor == "therapist" for e in audit_log(db, actors[Role.PHYSICIAN], by="therapist")
    )
    assert len(audit_log(db, actors[Role.ADMIN], limit=1)) == 1
    for role in (Role.THERAPIST, Role.BILLING):
        with pytest.raises(PermissionDeniedError):
            audit_log(db, actors[role])
