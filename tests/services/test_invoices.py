"""Invoices in the database: drafting from treated sessions, gapless numbers under concurrent
issue (SQLite and PostgreSQL), payment, cancellation by credit note, audit trail."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from spinecare.errors import InputError
from spinecare.services import invoices as svc
from spinecare.services.auth import Actor
from spinecare.services.errors import PermissionDeniedError
from spinecare.services.patients import PatientUpdate, add_patient, edit_patient
from spinecare.store import Store
from spinecare.store.audit import AuditedSession, audit_entries, set_actor
from spinecare.store.enums import Insurance, Role
from spinecare.store.models import Course, Diagnosis, TreatmentSession

from .conftest import patient_data

ISSUE_DAY = date(2025, 4, 1)


def _course(
    db: AuditedSession, patient_id: int, region: str = "lumbar", done: int = 3, planned: int = 1
) -> Course:
    """A course with ``done`` treated and ``planned`` future sessions (rows written directly)."""
    set_actor(db, "admin")
    now = datetime.now(UTC)
    course = Course(
        patient_id=patient_id, region=region, segment="L4/5" if region == "lumbar" else "C5/6",
        planned_sessions=15, sessions_per_week=3, start_date=date(2025, 3, 3),
        status="active", created_at=now,
    )  # fmt: skip
    db.add(course)
    db.flush()
    for k in range(done + planned):
        start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC) + timedelta(days=2 * k)
        db.add(
            TreatmentSession(
                course_id=course.id, number=k + 1, scheduled_start=start,
                scheduled_end=start + timedelta(minutes=45),
                status="done" if k < done else "planned", protocol={}, created_at=now,
                started_at=start if k < done else None,
            )
        )  # fmt: skip
    db.commit()
    return course


def test_course_invoice_standard_scale(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    course = _course(db, patient_id)
    inv = svc.create_invoice(db, actors[Role.BILLING], patient_id, course_id=course.id)
    db.commit()
    assert inv.status == "draft" and inv.number is None and inv.scale == "standard"
    assert inv.total == Decimal("212.04")  # 3 treated sessions x 70.68; the planned one not
    assert len(inv.lines) == 9
    assert [ln.service_date for ln in inv.lines[::3]] == [
        date(2025, 3, 3), date(2025, 3, 5), date(2025, 3, 7)
    ]  # fmt: skip
    assert {ln.analog_of for ln in inv.lines} == {None, "516", "652"}
    assert inv.diagnosis_icd10 is None  # no diagnosis recorded
    # the same sessions cannot be billed twice
    with pytest.raises(InputError, match="no treated, unbilled"):
        svc.create_invoice(db, actors[Role.BILLING], patient_id, course_id=course.id)


def test_self_payer_scale_and_diagnosis_with_consent(
    db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    pid = add_patient(
        db, actors[Role.THERAPIST], patient_data(insurance=Insurance.STATUTORY, icd_consent=True)
    ).id
    set_actor(db, "admin")
    db.add(
        Diagnosis(patient_id=pid, icd10="M50.1", text="Zervikaler Bandscheibenschaden",
                  diagnosed_on=date(2025, 2, 1), created_at=datetime.now(UTC))
    )  # fmt: skip
    db.commit()
    course = _course(db, pid, region="cervical", done=2)
    ids = [s.id for s in course.sessions if s.status == "done"]
    inv = svc.create_invoice(db, actors[Role.PHYSICIAN], pid, session_ids=ids)
    assert inv.scale == "self_payer" and inv.total == Decimal("106.58")  # 2 x 53.29
    assert inv.diagnosis_icd10 == "M50.1"
    planned = next(s.id for s in course.sessions if s.status == "planned")
    with pytest.raises(InputError, match="only a session that ran"):
        svc.create_invoice(db, actors[Role.PHYSICIAN], pid, session_ids=[planned])


def test_issue_pay_cancel_and_audit(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    biller = actors[Role.BILLING]
    course = _course(db, patient_id, done=2)
    draft = svc.create_invoice(db, biller, patient_id, course_id=course.id)
    issued = svc.issue_invoice(db, biller, draft.id, on=ISSUE_DAY)
    db.commit()
    assert issued.number == "2025-00001" and issued.issued_on == ISSUE_DAY
    with pytest.raises(InputError, match="only a draft"):
        svc.issue_invoice(db, biller, draft.id, on=ISSUE_DAY)
    db.rollback()
    paid = svc.mark_paid(db, biller, draft.id, on=date(2025, 4, 10))
    assert paid.status == "paid"
    note = svc.cancel_invoice(db, biller, draft.id, on=date(2025, 4, 12))
    db.commit()
    assert note.kind == "credit_note" and note.number == "2025-00002"
    assert note.refers_to == "2025-00001" and note.total == -issued.total
    original = svc.get_invoice(db, biller, draft.id)
    assert original.status == "cancelled" and original.cancelled_by == "2025-00002"
    assert [ln.amount for ln in original.lines] == [ln.amount for ln in issued.lines]
    # the cancelled sessions may be billed again
    again = svc.create_invoice(db, biller, patient_id, course_id=course.id)
    assert again.total == issued.total
    actions = [(e.action, e.actor) for e in audit_entries(db, "invoices", draft.id)]
    assert actions == [("create", "billing"), ("update", "billing"), ("update", "billing"),
                       ("update", "billing")]  # fmt: skip
    domain = svc.load_invoice(db, biller, note.id)
    assert domain.is_credit_note and domain.refers_to == "2025-00001"
    listed = svc.list_invoices(db, biller, patient_id=patient_id, status="cancelled")
    assert [i.id for i in listed] == [draft.id]


def test_therapists_may_not_bill(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    course = _course(db, patient_id, done=1)
    with pytest.raises(PermissionDeniedError):
        svc.create_invoice(db, actors[Role.THERAPIST], patient_id, course_id=course.id)


def test_a_failed_issue_leaves_no_gap(
    store: Store, db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    biller = actors[Role.BILLING]
    course = _course(db, patient_id, done=2)
    first, second = (s.id for s in course.sessions[:2])
    a = svc.create_invoice(db, biller, patient_id, session_ids=[first]).id
    b = svc.create_invoice(db, biller, patient_id, session_ids=[second]).id
    db.commit()
    with store.unit_of_work() as s:
        svc.issue_invoice(s, biller, a, on=ISSUE_DAY)
    with pytest.raises(InputError), store.unit_of_work() as s:
        svc.issue_invoice(s, biller, a, on=ISSUE_DAY)  # already issued: rolled back
    with store.unit_of_work() as s:
        assert svc.issue_invoice(s, biller, b, on=ISSUE_DAY).number == "2025-00002"


@pytest.mark.slow
def test_gapless_numbers_under_concurrent_issue(
    store: Store, db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    biller = actors[Role.BILLING]
    drafts: list[int] = []
    for k in range(4):
        pid = add_patient(db, actors[Role.THERAPIST], patient_data(name=f"Patient {k}")).id
        db.commit()
        course = _course(db, pid, done=3, planned=0)
        for s in course.sessions:
            drafts.append(svc.create_invoice(db, biller, pid, session_ids=[s.id]).id)
    db.commit()

    def issue(invoice_id: int) -> str:
        with store.unit_of_work() as s:
            number = svc.issue_invoice(s, biller, invoice_id, on=ISSUE_DAY).number
            assert number is not None
            return number

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = list(pool.map(issue, drafts))
    assert sorted(numbers) == [f"2025-{n:05d}" for n in range(1, len(drafts) + 1)]


def test_refused_changes_take_no_number(
    store: Store, db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    """The service asks billing's state machine: a cancelled invoice cannot be cancelled, paid
    or issued again, a credit note is never paid nor cancelled, and no refusal takes a number
    from the gapless sequence."""
    biller = actors[Role.BILLING]
    course = _course(db, patient_id, done=2)
    first, second = (s.id for s in course.sessions[:2])
    a = svc.create_invoice(db, biller, patient_id, session_ids=[first]).id
    b = svc.create_invoice(db, biller, patient_id, session_ids=[second]).id
    db.commit()
    with store.unit_of_work() as s:
        svc.issue_invoice(s, biller, a, on=ISSUE_DAY)  # 2025-00001
    with store.unit_of_work() as s:
        note = svc.cancel_invoice(s, biller, a, on=ISSUE_DAY)  # 2025-00002
    for refused in (svc.cancel_invoice, svc.mark_paid, svc.issue_invoice):
        with pytest.raises(InputError) as err, store.unit_of_work() as s:
            refused(s, biller, a, on=ISSUE_DAY)
        assert err.value.field == "invoice" and "cancelled" in err.value.reason
    with pytest.raises(InputError, match="credit note"), store.unit_of_work() as s:
        svc.mark_paid(s, biller, note.id, on=ISSUE_DAY)
    with pytest.raises(InputError, match="credit note cannot"), store.unit_of_work() as s:
        svc.cancel_invoice(s, biller, note.id, on=ISSUE_DAY)
    with store.unit_of_work() as s:
        assert svc.issue_invoice(s, biller, b, on=ISSUE_DAY).number == "2025-00003"
    with pytest.raises(InputError) as err:
        svc.list_invoices(db, biller, status="sent")
    assert err.value.field == "status"


def test_a_draft_is_discarded_without_a_number(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    biller = actors[Role.BILLING]
    course = _course(db, patient_id, done=1)
    draft = svc.create_invoice(db, biller, patient_id, course_id=course.id).id
    # not before the day it was drafted
    with pytest.raises(InputError, match="drafted"):
        svc.cancel_invoice(db, biller, draft, on=ISSUE_DAY)
    discarded = svc.cancel_invoice(db, biller, draft)
    db.commit()
    assert discarded.status == "cancelled" and discarded.number is None
    # and the numbering goes on without it
    assert svc.list_invoices(db, biller, status="cancelled")[0].number is None


def test_invoice_dates_are_neither_future_nor_before_what_they_follow(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    biller = actors[Role.BILLING]
    course = _course(db, patient_id, done=2)
    inv = svc.create_invoice(db, biller, patient_id, course_id=course.id).id
    db.commit()
    today = date.today()
    for bad, reason in (
        (date(2099, 1, 2), "future"),
        (today + timedelta(days=1), "future"),
        (date(2025, 3, 4), "last service"),  # the second session was on 2025-03-05
    ):
        with pytest.raises(InputError, match=reason) as err:
            svc.issue_invoice(db, biller, inv, on=bad)
        assert err.value.field == "date"
        db.rollback()
    issued = svc.issue_invoice(db, biller, inv, on=ISSUE_DAY)
    db.commit()
    assert issued.number == "2025-00001"
    with pytest.raises(InputError, match="issue date"):
        svc.mark_paid(db, biller, inv, on=ISSUE_DAY - timedelta(days=1))
    db.rollback()
    with pytest.raises(InputError, match="future"):
        svc.mark_paid(db, biller, inv, on=date(2099, 12, 31))
    db.rollback()
    # a later number is not dated before an earlier one of the same year
    second = svc.create_invoice(
        db, biller, patient_id, session_ids=[_course(db, patient_id, done=1).sessions[0].id]
    ).id
    db.commit()
    with pytest.raises(InputError, match="newest invoice number"):
        svc.issue_invoice(db, biller, second, on=ISSUE_DAY - timedelta(days=1))
    db.rollback()
    assert svc.get_invoice(db, biller, second).number is None
    paid = svc.mark_paid(db, biller, inv, on=ISSUE_DAY + timedelta(days=3))
    assert paid.status == "paid"


def test_the_date_of_service_is_the_day_the_session_ran(
    db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    """GOÄ §12(2) Nr. 1: the date the service was rendered, not the day it was booked; a
    session that did not run is never billed; the patient's address and insurer are printed."""
    pid = add_patient(
        db, actors[Role.THERAPIST],
        patient_data(street="Hauptstraße 5", postcode="93047", city="Regensburg",
                     insurer="Debeka", insurance_number="K-778"),
    ).id  # fmt: skip
    course = _course(db, pid, done=2, planned=3)
    s1, s2, s3, s4, s5 = course.sessions
    s1.started_at = s1.scheduled_start + timedelta(days=6)  # booked 3 March, ran 9 March
    s3.status, s4.status = "no_show", "cancelled"
    db.commit()
    biller = actors[Role.BILLING]
    for sid, state in ((s3.id, "no-show"), (s4.id, "cancelled"), (s5.id, "planned")):
        with pytest.raises(InputError, match=f"is {state}: only a session that ran"):
            svc.create_invoice(db, biller, pid, session_ids=[sid])
    inv = svc.create_invoice(db, biller, pid, session_ids=[s1.id, s2.id])
    assert sorted({ln.service_date for ln in inv.lines}) == [date(2025, 3, 5), date(2025, 3, 9)]
    assert inv.recipient["address"] == ["Hauptstraße 5", "93047 Regensburg"]
    assert (inv.recipient["insurer"], inv.recipient["insurance_number"]) == ("Debeka", "K-778")


def _diagnose(db: AuditedSession, pid: int, icd10: str, on: date) -> None:
    set_actor(db, "admin")
    db.add(
        Diagnosis(patient_id=pid, icd10=icd10, text="Kreuzschmerz", diagnosed_on=on,
                  created_at=datetime.now(UTC))
    )  # fmt: skip
    db.commit()


def test_issue_follows_the_patients_wish_on_the_day_of_issue(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    """A consent withdrawn after drafting keeps the diagnosis off the issued invoice (and its
    PDF); the issued invoice then never changes, even when the consent is given again."""
    biller, doctor = actors[Role.BILLING], actors[Role.PHYSICIAN]
    _diagnose(db, patient_id, "M54.5", date(2025, 2, 1))
    course = _course(db, patient_id, done=2)
    draft = svc.create_invoice(db, biller, patient_id, course_id=course.id)
    assert draft.diagnosis_icd10 == "M54.5"  # the patient allowed it when it was drafted
    edit_patient(db, doctor, patient_id, PatientUpdate(icd_consent=False))
    db.commit()
    issued = svc.issue_invoice(db, biller, draft.id, on=ISSUE_DAY)
    db.commit()
    assert (issued.diagnosis_icd10, issued.diagnosis_text) == (None, None)
    assert svc.load_invoice(db, biller, draft.id).diagnosis is None  # what the PDF prints
    issue_entry = audit_entries(db, "invoices", draft.id)[-1]
    assert issue_entry.before is not None and issue_entry.after is not None
    assert (issue_entry.before["diagnosis_icd10"], issue_entry.after["diagnosis_icd10"]) == (
        "M54.5", None
    )  # fmt: skip
    # frozen at issue: a later change of mind does not reach the issued invoice
    edit_patient(db, doctor, patient_id, PatientUpdate(icd_consent=True))
    db.commit()
    assert svc.get_invoice(db, biller, draft.id).diagnosis_icd10 is None
    assert svc.load_invoice(db, biller, draft.id).diagnosis is None
    # and its credit note mirrors it as issued
    note = svc.cancel_invoice(db, biller, draft.id, on=ISSUE_DAY + timedelta(days=1))
    assert note.diagnosis_icd10 is None


def test_consent_given_after_drafting_prints_the_current_diagnosis(
    db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    biller, doctor = actors[Role.BILLING], actors[Role.PHYSICIAN]
    pid = add_patient(db, actors[Role.THERAPIST], patient_data(icd_consent=False)).id
    _diagnose(db, pid, "M51.2", date(2025, 2, 1))
    course = _course(db, pid, done=1)
    draft = svc.create_invoice(db, biller, pid, course_id=course.id)
    assert draft.diagnosis_icd10 is None
    edit_patient(db, doctor, pid, PatientUpdate(icd_consent=True))
    _diagnose(db, pid, "M54.5", date(2025, 3, 1))  # diagnosed since drafting: the latest counts
    issued = svc.issue_invoice(db, biller, draft.id, on=ISSUE_DAY)
    db.commit()
    assert (issued.diagnosis_icd10, issued.diagnosis_text) == ("M54.5", "Kreuzschmerz")
    domain = svc.load_invoice(db, biller, draft.id)
    assert domain.diagnosis is not None and domain.diagnosis.icd10 == "M54.5"


def test_a_discarded_draft_is_not_printed_a_draft_is(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    biller = actors[Role.BILLING]
    course = _course(db, patient_id, done=2)
    draft = svc.create_invoice(db, biller, patient_id, course_id=course.id)
    db.commit()
    assert svc.load_invoice(db, biller, draft.id).status.value == "draft"  # printed as ENTWURF
    svc.cancel_invoice(db, biller, draft.id)
    db.commit()
    with pytest.raises(InputError, match="discarded draft is no invoice") as err:
        svc.load_invoice(db, biller, draft.id)
    assert err.value.field == "invoice"
    # an issued invoice cancelled by a credit note was sent: it still prints, saying so
    issued = svc.create_invoice(db, biller, patient_id, course_id=course.id)
    svc.issue_invoice(db, biller, issued.id, on=ISSUE_DAY)
    svc.cancel_invoice(db, biller, issued.id, on=ISSUE_DAY)
    db.commit()
    assert svc.load_invoice(db, biller, issued.id).cancelled_by == "2025-00002"
