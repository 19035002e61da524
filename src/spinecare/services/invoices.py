"""Invoices: draft from treated sessions, issue under a gapless number, mark paid, cancel by a
credit note, show, list. Every change goes to the audit log.

The fee arithmetic and the state rules live in the pure ``billing`` package; this module loads
the patient's sessions, picks the fee scale from the patient's insurance, persists the result
and assigns numbers. Numbering: a per-year counter row is created if missing and then locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the first statement of the transaction is a
write, so the whole issue runs under SQLite's single writer lock). The counter and the invoice
change commit together, so a failed issue leaves no gap and two concurrent issues never get the
same number.

Dates: an invoice is issued, paid or cancelled today or on a past day, never in the future (an
invoice dated 2099 would be the year's last number and block every payment before it), never
before the services it bills or the date it was issued, and never before the newest number of
its year (numbers follow dates).

Diagnosis: a draft is not final until it is issued, so ``issue_invoice`` takes the diagnosis
from the patient's wish (``icd_consent``) and diagnoses as they are at that moment, as
``create_invoice`` would (clinic choice: the wish that counts is the one of the day the invoice
leaves the clinic; docs/billing.md). From then on the stored invoice never changes (§12 GOÄ
[goae]: the issued contents stay as the patient received them).

Printing: a discarded draft (cancelled, never numbered) is no invoice and is refused by
``load_invoice``, which both the CLI and the web app print from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from spinecare import billing
from spinecare.errors import InputError
from spinecare.services._common import act_as, as_utc, load, utcnow
from spinecare.services.auth import BILLING_ROLES, Actor, require_reader, require_role
from spinecare.services.errors import NotFoundError
from spinecare.services.patients import load_patient, postal_address
from spinecare.store.audit import jsonable, record_event
from spinecare.store.billing_models import Invoice, InvoiceCounter, InvoiceLine
from spinecare.store.enums import AuditAction, Insurance, SessionStatus
from spinecare.store.models import Course, Diagnosis, Patient, TreatmentSession

ENTITY = "invoices"
DEFAULT_ZONE = ZoneInfo("Europe/Berlin")


# --- public schemas --------------------------------------------------------------------------


class InvoiceLinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    session_id: int | None
    service_date: date
    number: str
    analog_of: str | None
    description: str
    equivalent: str | None
    points: int
    factor: Decimal
    amount: Decimal
    justification: str | None


class InvoicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    course_id: int | None
    kind: str
    status: str
    number: str | None
    scale: str
    lang: str
    recipient: dict[str, Any]
    diagnosis_icd10: str | None
    diagnosis_text: str | None
    total: Decimal
    issued_on: date | None
    paid_on: date | None
    cancelled_on: date | None
    refers_to: str | None = None
    cancelled_by: str | None = None
    lines: list[InvoiceLinePublic]


def _public(session: Session, inv: Invoice) -> InvoicePublic:
    out = InvoicePublic.model_validate(inv)
    if inv.refers_to_id is not None:
        ref = session.get(Invoice, inv.refers_to_id)
        out.refers_to = ref.number if ref else None
    out.cancelled_by = session.scalar(
        select(Invoice.number).where(Invoice.refers_to_id == inv.id, Invoice.number.is_not(None))
    )
    return out


def _snapshot(inv: Invoice) -> dict[str, Any]:
    # The ICD code is in the trail so that a diagnosis dropped or added at issue shows in it.
    keys = ("patient_id", "course_id", "kind", "status", "number", "scale", "total",
            "diagnosis_icd10", "issued_on", "paid_on", "cancelled_on", "refers_to_id")  # fmt: skip
    return {k: jsonable(getattr(inv, k)) for k in keys}


def _audit(
    session: Session, inv: Invoice, action: AuditAction, before: dict[str, Any] | None
) -> None:
    session.flush()
    record_event(session, ENTITY, inv.id, action, before=before, after=_snapshot(inv))


def _require_biller(actor: Actor) -> Actor:
    return require_role(actor, BILLING_ROLES, "bill")


def _check_day(
    field: str,
    day: date,
    today: date,
    *,
    not_before: date | None = None,
    what: str = "",
) -> date:
    """A date of an invoice event: not in the future, not before ``not_before`` (``what``)."""
    if day > today:
        raise InputError(field, f"must not be in the future (today is {today.isoformat()})",
                         day.isoformat())  # fmt: skip
    if not_before is not None and day < not_before:
        raise InputError(field, f"must not be before {what} ({not_before.isoformat()})",
                         day.isoformat())  # fmt: skip
    return day


def _newest_issue_of_year(session: Session, year: int) -> date | None:
    return session.scalar(
        select(func.max(Invoice.issued_on)).where(Invoice.year == year, Invoice.number.is_not(None))
    )


def _check_number_day(session: Session, field: str, day: date, today: date) -> None:
    """A day that takes the year's next number: not before the newest one already taken."""
    newest = _newest_issue_of_year(session, day.year)
    _check_day(field, day, today, not_before=newest, what="the newest invoice number of its year")


# --- domain <-> rows -------------------------------------------------------------------------


def to_domain(session: Session, inv: Invoice) -> billing.Invoice:
    """The stored invoice as the pure domain object (for PDFs)."""
    r = inv.recipient
    birth = r.get("birth_date")
    recipient = billing.Recipient(
        name=str(r.get("name", "")) or "?",
        address=tuple(r.get("address") or ()),
        patient_ref=r.get("patient_ref"),
        birth_date=date.fromisoformat(birth) if birth else None,
        insurer=r.get("insurer"),
        insurance_number=r.get("insurance_number"),
    )
    pub = _public(session, inv)
    lines = tuple(
        billing.InvoiceLine(
            service_date=ln.service_date,
            number=ln.number,
            analog_of=ln.analog_of,
            description=ln.description,
            points=ln.points,
            factor=Decimal(ln.factor).normalize(),
            amount=Decimal(ln.amount),
            justification=ln.justification,
            min_duration=ln.min_duration,
            equivalent=ln.equivalent,
        )
        for ln in inv.lines
    )
    dx = (
        billing.Diagnosis(inv.diagnosis_icd10, inv.diagnosis_text or "")
        if inv.diagnosis_icd10
        else None
    )
    return billing.Invoice(
        recipient=recipient,
        lines=lines,
        scale=inv.scale,
        kind=billing.InvoiceKind(inv.kind),
        status=billing.InvoiceStatus(inv.status),
        diagnosis=dx,
        number=inv.number,
        issued_on=inv.issued_on,
        paid_on=inv.paid_on,
        cancelled_on=inv.cancelled_on,
        refers_to=pub.refers_to,
        cancelled_by=pub.cancelled_by,
        lang=inv.lang,
    )


def _rows_from_lines(
    lines: Sequence[billing.InvoiceLine], session_ids: Sequence[int | None]
) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            position=i,
            session_id=sid,
            service_date=ln.service_date,
            number=ln.number,
            analog_of=ln.analog_of,
            description=ln.description,
            equivalent=ln.equivalent,
            points=ln.points,
            factor=ln.factor,
            amount=ln.amount,
            justification=ln.justification,
            min_duration=ln.min_duration,
        )
        for i, (ln, sid) in enumerate(zip(lines, session_ids, strict=True), start=1)
    ]


# --- use cases -------------------------------------------------------------------------------


def _billed_session_ids(session: Session, ids: Sequence[int]) -> set[int]:
    """Sessions already on a live invoice (draft, issued or paid; cancelled ones are free)."""
    rows = session.scalars(
        select(InvoiceLine.session_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            InvoiceLine.session_id.in_(list(ids)),
            Invoice.kind == billing.InvoiceKind.INVOICE.value,
            Invoice.status.in_(sorted(s.value for s in billing.LIVE_STATUSES)),
        )
    ).all()
    return {r for r in rows if r is not None}


def service_start(s: TreatmentSession) -> datetime:
    """When a session that ran started: recorded at its start; for a session recorded before
    that was kept (migration 0007 fills it), the time its result was stored."""
    started = s.started_at or s.updated_at
    if started is None:  # pragma: no cover - a run session always has one of the two
        raise InputError("session", "has no record of when it ran", s.id)
    return started


def _printed_diagnosis(session: Session, patient: Patient) -> billing.Diagnosis | None:
    """The diagnosis an invoice of the patient carries now: the latest one, unless the patient
    asked to keep it off. Asked at drafting and again at issue, so the issued invoice follows
    the patient's wish of the day it is sent, not of the day it was drafted."""
    if not patient.icd_consent:
        return None
    latest = session.scalars(
        select(Diagnosis)
        .where(Diagnosis.patient_id == patient.id)
        .order_by(Diagnosis.diagnosed_on.desc(), Diagnosis.id.desc())
    ).first()
    return billing.Diagnosis(latest.icd10, latest.text) if latest is not None else None


def create_invoice(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    session_ids: Sequence[int] | None = None,
    course_id: int | None = None,
    factors: Mapping[str, object] | None = None,
    justifications: Mapping[str, str] | None = None,
    lang: str = "de",
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> InvoicePublic:
    """Draft an invoice for treated sessions of the patient: the given sessions, or every
    treated and not yet billed session of ``course_id``. Only sessions that ran are billed
    (planned, cancelled, no-show, running or aborted ones are refused), each on the day it ran.
    The fee scale follows the patient's insurance; the diagnosis is printed unless the patient
    asked to keep it off."""
    _require_biller(actor)
    act_as(session, actor)
    if lang not in ("de", "en"):
        raise InputError("lang", "one of de, en", lang)
    if (session_ids is None) == (course_id is None):
        raise InputError("invoice", "name either sessions or a course")
    patient = load_patient(session, patient_id)
    if course_id is not None:
        course = load(session, Course, course_id, "course")
        if course.patient_id != patient.id:
            raise InputError("course", f"belongs to another patient than {patient_id}", course_id)
        candidates = [s for s in course.sessions if s.status == SessionStatus.DONE.value]
        billed = _billed_session_ids(session, [s.id for s in candidates])
        treated = [s for s in candidates if s.id not in billed]
        if not treated:
            raise InputError(
                "course",
                "no treated, unbilled sessions: bill sessions once they have run "
                "(spinecare course show ID; spinecare invoice list --patient ID)",
                course_id,
            )
    else:
        assert session_ids is not None
        if not session_ids:
            raise InputError("sessions", "name at least one session")
        treated = []
        for sid in dict.fromkeys(session_ids):
            s = load(session, TreatmentSession, sid, "session")
            if s.course.patient_id != patient.id:
                raise InputError("session", f"belongs to another patient than {patient_id}", sid)
            if s.status != SessionStatus.DONE.value:
                raise InputError(
                    "session",
                    f"is {s.status.replace('_', '-')}: only a session that ran is billed "
                    "(GOÄ §12: the date of the service is the day it was rendered)",
                    sid,
                )
            treated.append(s)
        billed = _billed_session_ids(session, [s.id for s in treated])
        if billed:
            raise InputError("session", "already on an invoice", sorted(billed)[0])
        course_ids = {s.course_id for s in treated}
        course_id = course_ids.pop() if len(course_ids) == 1 else None
    treated.sort(key=lambda s: (service_start(s), s.id))

    scale = billing.scale_for(patient.insurance)
    lines: list[billing.InvoiceLine] = []
    line_sessions: list[int | None] = []
    for s in treated:
        # The date of the service is the day the session ran (§12(2) Nr. 1 GOÄ [goae]).
        day = as_utc(service_start(s)).astimezone(zone).date()
        svc = billing.SessionService(day, s.course.region)
        new = billing.invoice.session_lines(
            [svc], scale, factors=factors, justifications=justifications, lang=lang
        )
        lines.extend(new)
        line_sessions.extend([s.id] * len(new))
    dx = _printed_diagnosis(session, patient)
    stamp = utcnow(now)
    # The pure draft decides kind, status and total; the row stores what it says.
    insurer = patient.insurer if patient.insurance == Insurance.PRIVATE.value else None
    draft = billing.Invoice(
        recipient=billing.Recipient(
            patient.name,
            address=postal_address(patient),
            patient_ref=f"P-{patient.id}",
            birth_date=patient.birth_date,
            insurer=insurer,
            insurance_number=patient.insurance_number if insurer else None,
        ),
        lines=tuple(lines),
        scale=scale.name,
        diagnosis=dx,
    )
    inv = Invoice(
        patient_id=patient.id,
        course_id=course_id,
        kind=draft.kind.value,
        status=draft.status.value,
        scale=draft.scale,
        lang=lang,
        recipient={
            "name": draft.recipient.name,
            "address": list(draft.recipient.address),
            "patient_ref": draft.recipient.patient_ref,
            "birth_date": patient.birth_date.isoformat(),
            "insurer": draft.recipient.insurer,
            "insurance_number": draft.recipient.insurance_number,
        },
        diagnosis_icd10=dx.icd10 if dx else None,
        diagnosis_text=dx.text if dx else None,
        total=draft.total,
        created_at=stamp,
    )
    inv.lines = _rows_from_lines(lines, line_sessions)
    session.add(inv)
    _audit(session, inv, AuditAction.CREATE, None)
    return _public(session, inv)


def _next_number(session: Session, year: int) -> int:
    """Take the next number of ``year``: ensure the counter row, lock it, bump it."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            pg_insert(InvoiceCounter)
            .values(year=year, last_number=0)
            .on_conflict_do_nothing(index_elements=["year"])
        )
    elif dialect == "sqlite":
        session.execute(
            sqlite_insert(InvoiceCounter)
            .values(year=year, last_number=0)
            .on_conflict_do_nothing(index_elements=["year"])
        )
    else:  # pragma: no cover - other databases are not supported
        if session.get(InvoiceCounter, year) is None:
            session.execute(insert(InvoiceCounter).values(year=year, last_number=0))
    last = session.execute(
        select(InvoiceCounter.last_number).where(InvoiceCounter.year == year).with_for_update()
    ).scalar_one()
    nxt = int(last) + 1
    session.execute(
        update(InvoiceCounter).where(InvoiceCounter.year == year).values(last_number=nxt)
    )
    return nxt


def issue_invoice(
    session: Session,
    actor: Actor,
    invoice_id: int,
    *,
    on: date | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> InvoicePublic:
    """Give a draft the next number of its issue year and freeze it, with the diagnosis as the
    patient wants it today (a consent withdrawn or given since drafting counts)."""
    _require_biller(actor)
    act_as(session, actor)
    stamp = utcnow(now)
    today = stamp.astimezone(zone).date()
    day = on or today
    _check_day("date", day, today)
    # The counter first: on SQLite this write takes the writer lock before anything is read.
    seq = _next_number(session, day.year)
    inv = load(session, Invoice, invoice_id, "invoice")
    served = max((ln.service_date for ln in inv.lines), default=None)
    _check_day("date", day, today, not_before=served, what="the last service it bills")
    _check_number_day(session, "date", day, today)
    before = _snapshot(inv)
    number = billing.format_invoice_number(day.year, seq)
    issued = billing.issue(to_domain(session, inv), number, day)  # raises when not allowed
    if inv.kind == billing.InvoiceKind.INVOICE.value:  # a credit note mirrors its original
        # The patient may be archived since drafting; the invoice is still theirs.
        patient = load_patient(session, inv.patient_id, include_deleted=True)
        dx = _printed_diagnosis(session, patient)
        inv.diagnosis_icd10 = dx.icd10 if dx else None
        inv.diagnosis_text = dx.text if dx else None
    inv.status, inv.number, inv.year, inv.sequence = issued.status.value, number, day.year, seq
    inv.issued_on = day
    inv.updated_at = stamp
    _audit(session, inv, AuditAction.UPDATE, before)
    return _public(session, inv)


def mark_paid(
    session: Session,
    actor: Actor,
    invoice_id: int,
    *,
    on: date | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> InvoicePublic:
    _require_biller(actor)
    act_as(session, actor)
    stamp = utcnow(now)
    today = stamp.astimezone(zone).date()
    inv = load(session, Invoice, invoice_id, "invoice")
    day = _check_day("date", on or today, today, not_before=inv.issued_on, what="its issue date")
    before = _snapshot(inv)
    paid = billing.mark_paid(to_domain(session, inv), day)
    inv.status, inv.paid_on, inv.updated_at = paid.status.value, paid.paid_on, stamp
    _audit(session, inv, AuditAction.UPDATE, before)
    return _public(session, inv)


def cancel_invoice(
    session: Session,
    actor: Actor,
    invoice_id: int,
    *,
    on: date | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> InvoicePublic:
    """Cancel an issued or paid invoice by an issued credit note (returned); a draft is simply
    marked cancelled (it never had a number)."""
    _require_biller(actor)
    act_as(session, actor)
    stamp = utcnow(now)
    today = stamp.astimezone(zone).date()
    day = on or today
    probe = load(session, Invoice, invoice_id, "invoice")
    drafted = probe.created_at.astimezone(zone).date()
    _check_day("date", day, today, not_before=probe.issued_on or drafted,
               what="its issue date" if probe.issued_on else "the day it was drafted")  # fmt: skip
    action = billing.cancel_action(probe.status)
    # Refused before a number is taken (raises InvoiceStateError with the reason).
    billing.invoice_transition(probe.status, action, probe.kind)
    if action is billing.InvoiceAction.DISCARD:
        before = _snapshot(probe)
        discarded = billing.discard(to_domain(session, probe))
        probe.status, probe.cancelled_on, probe.updated_at = discarded.status.value, day, stamp
        _audit(session, probe, AuditAction.UPDATE, before)
        return _public(session, probe)
    seq = _next_number(session, day.year)
    _check_number_day(session, "date", day, today)
    inv = load(session, Invoice, invoice_id, "invoice")
    before = _snapshot(inv)
    number = billing.format_invoice_number(day.year, seq)
    cancelled, note = billing.cancel(to_domain(session, inv), number, day)  # raises if refused
    credit = Invoice(
        patient_id=inv.patient_id,
        course_id=inv.course_id,
        kind=note.kind.value,
        status=note.status.value,
        number=number,
        year=day.year,
        sequence=seq,
        scale=inv.scale,
        lang=inv.lang,
        recipient=dict(inv.recipient),
        diagnosis_icd10=inv.diagnosis_icd10,
        diagnosis_text=inv.diagnosis_text,
        total=note.total,
        issued_on=day,
        refers_to_id=inv.id,
        created_at=stamp,
    )
    credit.lines = _rows_from_lines(note.lines, [ln.session_id for ln in inv.lines])
    session.add(credit)
    inv.status, inv.cancelled_on, inv.updated_at = cancelled.status.value, day, stamp
    _audit(session, inv, AuditAction.UPDATE, before)
    _audit(session, credit, AuditAction.CREATE, None)
    return _public(session, credit)


def get_invoice(session: Session, actor: Actor, invoice_id: int) -> InvoicePublic:
    require_reader(actor)
    return _public(session, load(session, Invoice, invoice_id, "invoice"))


def load_invoice(session: Session, actor: Actor, invoice_id: int) -> billing.Invoice:
    """The invoice as a domain object, for printing: the one place the CLI and the web app
    load it from, so both refuse a discarded draft alike. Such a draft never had a number and
    was never sent; printed, it would look like a valid invoice with amounts. A draft still
    prints (marked ENTWURF), and an issued invoice cancelled by a credit note prints with the
    note's number (it was sent, so its copy must be reproducible)."""
    require_reader(actor)
    inv = load(session, Invoice, invoice_id, "invoice")
    if inv.number is None and inv.status == billing.InvoiceStatus.CANCELLED.value:
        raise InputError("invoice", billing.DISCARDED_DRAFT, invoice_id)
    return to_domain(session, inv)


def list_invoices(
    session: Session,
    actor: Actor,
    *,
    patient_id: int | None = None,
    status: str | None = None,
) -> list[InvoicePublic]:
    require_reader(actor)
    stmt = select(Invoice).order_by(Invoice.id)
    if patient_id is not None:
        stmt = stmt.where(Invoice.patient_id == patient_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == billing.parse_status(status).value)
    return [_public(session, inv) for inv in session.scalars(stmt).all()]


__all__ = [
    "InvoiceLinePublic",
    "InvoicePublic",
    "NotFoundError",
    "cancel_invoice",
    "create_invoice",
    "get_invoice",
    "issue_invoice",
    "list_invoices",
    "load_invoice",
    "mark_paid",
    "to_domain",
]
