"""Billing: invoices and credit notes, their lines, the per-year gapless number counter.

Written out by hand (like ``0001_clinical``) so it keeps describing this revision.

Revision ID: 0002_billing
Revises: 0001_clinical
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Registers the billing tables on Base.metadata wherever the migrations are loaded (open_store
# reads this directory), so schema comparisons against the models see them.
import spinecare.store.billing_models  # noqa: F401

revision: str = "0002_billing"
down_revision: str | None = "0001_clinical"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("course_id", sa.Integer, sa.ForeignKey("courses.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("number", sa.String(16), nullable=True),
        sa.Column("year", sa.Integer, nullable=True),
        sa.Column("sequence", sa.Integer, nullable=True),
        sa.Column("scale", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("recipient", JSON, nullable=False),
        sa.Column("diagnosis_icd10", sa.String(8), nullable=True),
        sa.Column("diagnosis_text", sa.Text, nullable=True),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=True),
        sa.Column("paid_on", sa.Date, nullable=True),
        sa.Column("cancelled_on", sa.Date, nullable=True),
        sa.Column("refers_to_id", sa.Integer, sa.ForeignKey("invoices.id"), nullable=True),
        _ts("created_at"),
        _ts("updated_at", nullable=True),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
        sa.CheckConstraint("status IN ('draft', 'issued', 'paid', 'cancelled')", name="status"),
        sa.CheckConstraint("(status = 'draft') = (number IS NULL)", name="number_iff_issued"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        sa.UniqueConstraint("year", "sequence", name="uq_invoices_year_sequence"),
    )
    op.create_index("ix_invoices_patient_id", "invoices", ["patient_id"])
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("invoice_id", sa.Integer, sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=True),
        sa.Column("service_date", sa.Date, nullable=False),
        sa.Column("number", sa.String(8), nullable=False),
        sa.Column("analog_of", sa.String(8), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("equivalent", sa.Text, nullable=True),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("factor", sa.Numeric(5, 3), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.Column("justification", sa.Text, nullable=True),
        sa.Column("min_duration", sa.String(64), nullable=True),
        sa.UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_invoice_id_position"),
    )
    op.create_index("ix_invoice_lines_session_id", "invoice_lines", ["session_id"])
    op.create_table(
        "invoice_counters",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    # Invoice numbers once issued are never given out again: dropping the invoices and the
    # counters would start the numbering afresh. Refuse while any number has been taken.
    from spinecare.store.faults import MigrationRefused

    bind = op.get_bind()
    issued = bind.execute(
        sa.text("SELECT COUNT(*) FROM invoices WHERE number IS NOT NULL")
    ).scalar_one()
    taken = bind.execute(
        sa.text("SELECT COUNT(*) FROM invoice_counters WHERE last_number > 0")
    ).scalar_one()
    if issued or taken:
        raise MigrationRefused(
            f"{issued} issued invoice(s) and numbers taken in {taken} year(s): below "
            "0002_billing they would be lost and the numbers issued again. Nothing was changed"
        )
    op.drop_table("invoice_counters")
    op.drop_index("ix_invoice_lines_session_id", table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index("ix_invoices_patient_id", table_name="invoices")
    op.drop_table("invoices")
