"""Everything a course's paperwork needs, read in one go: the patient, the course's invoices
(and credit notes), each session that ran with its report data, and the course report data.

``cli/documents.py`` (``documents course``) renders it into one directory, the web app into
one zip: both from ``course_files``, so the set and its file names are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
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


# Renders one document: (target file, clinic letterhead, template directory or None).
Render = Callable[[Path, Any, Path | None], None]


def course_files(docs: CourseDocuments, lang: str) -> list[tuple[str, Render]]:
    """(file name, renderer) for each document of the course, in the order they are listed:
    consent, cost estimate, issued invoices and credit notes, a report per session that ran,
    the course report."""
    from spinecare.reports.course_report import render_course_report
    from spinecare.reports.documents import (
        CostEstimate,
        render_consent,
        render_estimate,
        render_invoice,
    )
    from spinecare.reports.session_report import render_session_report
    from spinecare.services.patients import postal_address

    p, c = docs.patient, docs.course
    address = postal_address(p)
    region = c.region.value

    def consent(tmp: Path, clinic: Any, tdir: Path | None) -> None:
        render_consent(region, tmp, clinic=clinic, patient_name=p.name, birth_date=p.birth_date,
                       patient_address=address, lang=lang, template_dir=tdir)  # fmt: skip

    def estimate(tmp: Path, clinic: Any, tdir: Path | None) -> None:
        est = CostEstimate(region=region, sessions=c.planned_sessions,
                           insurance=billing.Insurance(p.insurance.value), issued_on=c.start_date,
                           patient_name=p.name, patient_address=address,
                           birth_date=p.birth_date)  # fmt: skip
        render_estimate(est, tmp, clinic=clinic, lang=lang, template_dir=tdir)

    def one(render: Callable[..., Any], item: Any) -> Render:
        def run(tmp: Path, clinic: Any, tdir: Path | None) -> None:
            render(item, tmp, clinic=clinic, lang=lang, template_dir=tdir)

        return run

    files: list[tuple[str, Render]] = [("consent.pdf", consent), ("estimate.pdf", estimate)]
    for inv in docs.invoices:
        kind = "credit-note" if inv.kind.value == "credit_note" else "invoice"
        files.append((f"{kind}-{inv.number}.pdf", one(render_invoice, inv)))
    for s in docs.sessions:
        files.append((f"session-{s.session_number:02d}.pdf", one(render_session_report, s)))
    if docs.course_report is not None:
        files.append(("course-report.pdf", one(render_course_report, docs.course_report)))
    return files
