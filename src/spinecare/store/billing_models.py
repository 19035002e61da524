"""Tables of billing: invoices (and credit notes), their lines, and a gapless number counter.

Migration ``0002_billing`` creates exactly these. Amounts are ``Numeric`` (exact decimals);
an issued invoice's row is never changed except for its status (paid / cancelled), and its lines
never: a cancellation is a new credit-note invoice referring to it. Changes are written to the
audit log by ``services/invoices.py`` (``store.audit.record_event``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spinecare.store.base import Base

INVOICE_KINDS = ("invoice", "credit_note")
INVOICE_STATUSES = ("draft", "issued", "paid", "cancelled")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(INVOICE_KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({_in(INVOICE_STATUSES)})", name="status"),
        # Issued invoices carry a number; drafts do not (numbers are assigned at issue time); a
        # cancelled invoice has one, a discarded draft none (migration 0004).
        CheckConstraint(
            "(status = 'draft' AND number IS NULL) OR (status IN ('issued', 'paid') AND number "
            "IS NOT NULL) OR status = 'cancelled'",
            name="number_iff_issued",
        ),
        UniqueConstraint("number", name="uq_invoices_number"),
        UniqueConstraint("year", "sequence", name="uq_invoices_year_sequence"),
        Index("ix_invoices_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16), default="invoice")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    number: Mapped[str | None] = mapped_column(String(16), default=None)
    year: Mapped[int | None] = mapped_column(Integer, default=None)
    sequence: Mapped[int | None] = mapped_column(Integer, default=None)
    scale: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(2), default="de")
    # Name, address lines, patient reference and birth date as printed (frozen at drafting).
    recipient: Mapped[dict[str, Any]] = mapped_column()
    diagnosis_icd10: Mapped[str | None] = mapped_column(String(8), default=None)
    diagnosis_text: Mapped[str | None] = mapped_column(Text, default=None)
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    issued_on: Mapped[date | None] = mapped_column(default=None)
    paid_on: Mapped[date | None] = mapped_column(default=None)
    cancelled_on: Mapped[date | None] = mapped_column(default=None)
    # A credit note refers to the invoice it cancels.
    refers_to_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_invoice_id_position"),
        Index("ix_invoice_lines_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    position: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"), default=None)
    service_date: Mapped[date]
    number: Mapped[str] = mapped_column(String(8))
    analog_of: Mapped[str | None] = mapped_column(String(8), default=None)
    description: Mapped[str] = mapped_column(Text)
    equivalent: Mapped[str | None] = mapped_column(Text, default=None)
    points: Mapped[int] = mapped_column(Integer)
    factor: Mapped[Decimal] = mapped_column(Numeric(5, 3))
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    justification: Mapped[str | None] = mapped_column(Text, default=None)
    min_duration: Mapped[str | None] = mapped_column(String(64), default=None)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceCounter(Base):
    """The last invoice number used per calendar year. Issuing locks this row (SELECT ... FOR
    UPDATE on PostgreSQL; SQLite serialises writers), so numbers have no gaps and no repeats."""

    __tablename__ = "invoice_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
