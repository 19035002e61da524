"""Everything a course's paperwork needs, read in one go: the patient, the course's invoices
(and credit notes), each session that ran with its report data, and the course report data.

``cli/documents.py`` (``documents course``) renders it into one directory; the web app can
render the same set.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from spinecare import billing
from spinecare.errors import InputError
from spinecare.reports.course_report import CourseReportData
from spinecare.reports.session_report import SessionReportData
from spinecare.services.auth import Actor, require_reader
from spinecare.services.courses import CoursePublic, get_course
from spinecare.services.invoices import to_domain
from spinecare.services.patients import PatientPublic, get_patient
from spinecare.services.reports import (
    DEFAULT_ZONE,
    RAN,
    course_report_data,
    session_report_data,
)
from spinecare.store.billing_models import Invoice, InvoiceLine
from spinecare.store.models import TreatmentSession


@dataclass(frozen=True)
class CourseDocuments:
    patient: PatientPublic
    course: CoursePublic
    invoices: tuple[billing.Invoice, ...]
    drafts: tuple[int, ...]  # draft invoices' ids: not sent until issued
    sessions: tuple[SessionReportData, ...]
    missing_recordings: tuple[int, ...]  # sessions that ran but whose recording is gone
    course_report: CourseReportData | None


def course_invoices(db: Session, course_id: int) -> list[Invoice]:
    """Invoices of the course (by course or by a line billing one of its sessions) and the
    credit notes cancelling them, oldest first."""
    session_ids = select(TreatmentSession.id).where(TreatmentSession.course_id == course_id)
    by_line = select(InvoiceLine.invoice_id).where(InvoiceLine.session_id.in_(session_ids))
    own = db.scalars(
        select(Invoice)
        .where(or_(Invoice.course_id == course_id, Invoice.id.in_(by_line)))
        .order_by(Invoice.id)
    ).all()
    ids = [i.id for i in own]
    notes = db.scalars(select(Invoice).where(Invoice.refers_to_id.in_(ids))).all() if ids else []
    return sorted({*own, *notes}, key=lambda i: i.id)


def course_documents(
    db: Session, actor: Actor, course_id: int, *, zone: ZoneInfo = DEFAULT_ZONE
) -> CourseDocuments:
    require_reader(actor)
    course = get_course(db, actor, course_id)
    patient = get_patient(db, actor, course.patient_id)
    invoices: list[billing.Invoice] = []
    drafts: list[int] = []
    for inv in course_invoices(db, course_id):
        if inv.number is None:  # a draft (or a discarded one) is not sent
            if inv.status == billing.InvoiceStatus.DRAFT.value:
                drafts.append(inv.id)
            continue
        invoices.append(to_domain(db, inv))
    reports: list[SessionReportData] = []
    missing: list[int] = []
    for s in course.sessions:
        if s.status.value not in RAN or not s.telemetry_dir:
            continue
        try:
            reports.append(session_report_data(db, actor, s.id, zone=zone))
        except InputError:
            missing.append(s.id)  # its recording is gone: named, not guessed at
    report = course_report_data(db, actor, course_id, zone=zone) if reports else None
    return CourseDocuments(
        patient=patient,
        course=course,
        invoices=tuple(invoices),
        drafts=tuple(drafts),
        sessions=tuple(reports),
        missing_recordings=tuple(missing),
        course_report=report,
    )
