"""The store's floor: whatever path a record comes by, these states are refused with the column
and the reason, and nothing of the unit of work is stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.errors import InputError
from spinecare.store import Store
from spinecare.store.models import (
    Course,
    Diagnosis,
    Outcome,
    Patient,
    PostureRecording,
    ScreeningFinding,
    TreatmentSession,
)
from spinecare.store.text import printable, refuse_reason, unsafe_character

NOW = datetime.now(UTC)
TODAY = NOW.date()


def _patient(**over: Any) -> Patient:
    values: dict[str, Any] = {
        "name": "Erika Muster", "birth_date": date(1960, 4, 1), "sex": "F",
        "weight_kg": Decimal("70.0"), "height_cm": Decimal("165.0"), "insurance": "private",
        "icd_consent": False, "created_at": NOW,
    }  # fmt: skip
    values.update(over)
    return Patient(**values)


def _count(store: Store, model: type[Any]) -> int:
    with store.session() as s:
        return s.query(model).count()


def _stored_patient(store: Store) -> int:
    with store.unit_of_work("dr.a") as s:
        p = _patient()
        s.add(p)
        s.flush()
        return p.id


def _refused(store: Store, field: str, *objs: Any) -> InputError:
    with pytest.raises(InputError) as err, store.unit_of_work("dr.a") as s:
        for obj in objs:
            s.add(obj)
        s.flush()
    assert err.value.field == field, str(err.value)
    return err.value


@pytest.mark.parametrize(
    "name",
    [
        "Erika\x1b[2J",
        "Erika\x00",
        "Eri\nka",
        "\u202eakirE",
        "Erika\x9b31m",
        "Er\u2028ika",
        "\x7f",
        "Erika\x07",
        "\x85Erika",
        "Erika\u200f",
        "\u061cErika",
        "\u200eErika",
    ],
)
def test_control_characters_are_refused_in_any_text(store: Store, name: str) -> None:
    err = _refused(store, "name", _patient(name=name))
    assert name not in str(err)  # the value is not repeated
    assert _count(store, Patient) == 0


def test_control_characters_inside_json_are_refused(store: Store) -> None:
    with store.unit_of_work("dr.a") as s:
        p = _patient()
        s.add(p)
        s.flush()
        pid = p.id
    finding = ScreeningFinding(
        patient_id=pid, code="CI-01", detail={"text": "ok", "nested": ["\x1b]0;pwned\x07"]},
        created_at=NOW,
    )  # fmt: skip
    _refused(store, "detail", finding)
    assert _count(store, ScreeningFinding) == 0


@pytest.mark.parametrize(
    ("over", "field", "reason"),
    [
        ({"birth_date": date(1899, 12, 31)}, "birth_date", "1900"),
        ({"birth_date": TODAY + timedelta(days=3)}, "birth_date", "future"),
        ({"fracture_history_on": date(1959, 1, 1)}, "fracture_history_on", "birth"),
        ({"fracture_history_on": date(2099, 1, 1)}, "fracture_history_on", "future"),
    ],
)
def test_impossible_patient_dates(
    store: Store, over: dict[str, Any], field: str, reason: str
) -> None:
    err = _refused(store, field, _patient(**over))
    assert reason in err.reason


def test_dates_of_a_patients_records(store: Store) -> None:
    pid = _stored_patient(store)

    def dx(on: date) -> Diagnosis:
        return Diagnosis(patient_id=pid, icd10="M51.2", text="x", diagnosed_on=on, created_at=NOW)

    assert "birth" in _refused(store, "diagnosed_on", dx(date(1950, 1, 1))).reason
    assert "future" in _refused(store, "diagnosed_on", dx(date(2099, 1, 1))).reason
    assert "1900" in _refused(store, "diagnosed_on", dx(date(1, 1, 1))).reason
    course = Course(
        patient_id=pid, region="lumbar", segment="L4/5", planned_sessions=15,
        sessions_per_week=3, start_date=TODAY + timedelta(days=3 * 365), status="planned",
        created_at=NOW,
    )  # fmt: skip
    assert "two years" in _refused(store, "start_date", course).reason
    assert _count(store, Diagnosis) == 0 and _count(store, Course) == 0


def test_moments_of_a_patients_records(store: Store) -> None:
    """Timestamps of what happened (a posture recording's start) are held to the same floor as
    dates: not before 1900, not before birth, not in the future."""
    pid = _stored_patient(store)

    def rec(at: datetime) -> PostureRecording:
        return PostureRecording(
            patient_id=pid, started_at=at, source="csv", duration_s=Decimal(60),
            wear_time_s=Decimal(0), upright_time_s=Decimal(0), reminders=0, analysis={},
            created_at=NOW,
        )  # fmt: skip

    assert "1900" in _refused(store, "started_at", rec(datetime(1, 1, 1, tzinfo=UTC))).reason
    assert "birth" in _refused(store, "started_at", rec(datetime(1955, 1, 1, tzinfo=UTC))).reason
    assert "future" in _refused(store, "started_at", rec(NOW + timedelta(days=400))).reason
    assert _count(store, PostureRecording) == 0


def test_nothing_new_for_a_deleted_patient(store: Store) -> None:
    with store.unit_of_work("dr.a") as s:
        p = _patient()
        s.add(p)
        s.flush()
        pid = p.id
        course = Course(
            patient_id=pid, region="lumbar", segment="L4/5", planned_sessions=15,
            sessions_per_week=3, start_date=TODAY, status="active", created_at=NOW,
        )  # fmt: skip
        s.add(course)
        s.flush()
        sess = TreatmentSession(
            course_id=course.id, number=1, scheduled_start=NOW,
            scheduled_end=NOW + timedelta(minutes=45), status="planned", protocol={},
            created_at=NOW,
        )  # fmt: skip
        s.add(sess)
        s.flush()
        sid, cid = sess.id, course.id
    with store.unit_of_work("dr.a") as s:
        s.get_one(Patient, pid).deleted_at = NOW
    _refused(
        store, "patient",
        Diagnosis(patient_id=pid, icd10="M51.2", text="x", diagnosed_on=TODAY, created_at=NOW),
    )  # fmt: skip
    _refused(
        store, "patient",
        Outcome(session_id=sid, course_id=cid, kind="nrs_before", value=Decimal(5),
                recorded_at=NOW, created_at=NOW),
    )  # fmt: skip
    with pytest.raises(InputError, match="deleted") as err, store.unit_of_work("dr.a") as s:
        s.get_one(TreatmentSession, sid).status = "done"
    assert err.value.field == "session"
    with store.session() as s:
        assert s.get_one(TreatmentSession, sid).status == "planned"
    # closing a session as aborted (a killed process) stays possible: it records what happened
    with store.unit_of_work("dr.a") as s:
        row = s.get_one(TreatmentSession, sid)
        row.status = "running"
    with store.unit_of_work("dr.a") as s:
        s.get_one(TreatmentSession, sid).status = "aborted"


@given(st.text(max_size=40))
@settings(max_examples=60, deadline=None)
def test_printable_shows_every_unsafe_character_escaped(text: str) -> None:
    shown = printable(text, keep_newlines=False)
    assert unsafe_character(shown) is None
    assert (refuse_reason(text) is None) == (shown == text)
