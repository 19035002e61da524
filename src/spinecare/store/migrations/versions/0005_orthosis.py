"""The orthosis pathway: prescriptions and their follow-ups, the osteoporosis follow-up (risk
factors, drug therapy as recorded, heights) and posture-sensor recordings.

Written out by hand (like ``0001_clinical``) so it keeps describing this revision; the value
lists of the checks are spelled out for the same reason.

Revision ID: 0005_orthosis
Revises: 0004_auth_audit_chain
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_orthosis"
down_revision: str | None = "0004_auth_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
RISK_CODES = (
    "'family_history', 'hormone_deficiency', 'medication', 'low_calcium_vitamin_d', "
    "'low_sunlight', 'immobilisation', 'sedentary', 'smoking', 'alcohol', "
    "'rheumatic_endocrine_liver'"
)
DRUG_CLASSES = (
    "'bisphosphonate', 'denosumab', 'teriparatide', 'romosozumab', 'serm', 'hormone_therapy', "
    "'calcium_vitamin_d', 'other'"
)


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _patient() -> sa.Column[int]:
    return sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "orthosis_prescriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient(),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("device_name", sa.String(120), nullable=True),
        sa.Column("size", sa.String(8), nullable=True),
        sa.Column("prescribed_on", sa.Date, nullable=False),
        sa.Column("prescriber_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("fitted_on", sa.Date, nullable=True),
        sa.Column("fitted_by", sa.String(64), nullable=True),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("ended_on", sa.Date, nullable=True),
        *_stamps(),
        sa.CheckConstraint("device IN ('spinomed', 'spinomed_active', 'other_tlo')", name="device"),
        sa.CheckConstraint("fitted_on IS NULL OR fitted_on >= prescribed_on", name="fitted_after"),
        sa.CheckConstraint("ended_on IS NULL OR ended_on >= prescribed_on", name="ended_after"),
    )
    op.create_index(
        "ix_orthosis_prescriptions_patient_id", "orthosis_prescriptions", ["patient_id"]
    )
    op.create_table(
        "orthosis_followups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "prescription_id",
            sa.Integer,
            sa.ForeignKey("orthosis_prescriptions.id"),
            nullable=False,
        ),
        sa.Column("visit", sa.String(16), nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("done_on", sa.Date, nullable=True),
        sa.Column("back_extensor_strength", sa.Numeric(6, 1), nullable=True),
        sa.Column("abdominal_flexor_strength", sa.Numeric(6, 1), nullable=True),
        sa.Column("kyphosis_angle", sa.Numeric(5, 1), nullable=True),
        sa.Column("body_sway", sa.Numeric(6, 1), nullable=True),
        sa.Column("pain", sa.Numeric(3, 1), nullable=True),
        sa.Column("well_being", sa.Numeric(4, 1), nullable=True),
        sa.Column("limitations_of_daily_living", sa.Numeric(4, 1), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        *_stamps(),
        sa.CheckConstraint("visit IN ('baseline', 'month_3', 'month_6')", name="visit"),
        sa.UniqueConstraint(
            "prescription_id", "visit", name="uq_orthosis_followups_prescription_id_visit"
        ),
    )
    op.create_table(
        "osteoporosis_risk_factors",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient(),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("present", sa.Boolean, nullable=True),
        sa.Column("recorded_on", sa.Date, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        *_stamps(),
        sa.CheckConstraint(f"code IN ({RISK_CODES})", name="code"),
    )
    op.create_index(
        "ix_osteoporosis_risk_factors_patient_id", "osteoporosis_risk_factors", ["patient_id"]
    )
    op.create_table(
        "drug_therapies",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient(),
        sa.Column("drug_class", sa.String(24), nullable=False),
        sa.Column("substance", sa.String(120), nullable=False),
        sa.Column("dose", sa.String(120), nullable=True),
        sa.Column("started_on", sa.Date, nullable=False),
        sa.Column("stopped_on", sa.Date, nullable=True),
        sa.Column("prescriber", sa.String(200), nullable=False),
        *_stamps(),
        sa.CheckConstraint(f"drug_class IN ({DRUG_CLASSES})", name="drug_class"),
        sa.CheckConstraint("stopped_on IS NULL OR stopped_on >= started_on", name="stopped_after"),
    )
    op.create_index("ix_drug_therapies_patient_id", "drug_therapies", ["patient_id"])
    op.create_table(
        "height_measurements",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient(),
        sa.Column("measured_on", sa.Date, nullable=False),
        sa.Column("height_cm", sa.Numeric(5, 1), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        *_stamps(),
        sa.CheckConstraint("kind IN ('measured', 'recalled_adult')", name="kind"),
        sa.CheckConstraint("height_cm > 0", name="height_positive"),
    )
    op.create_index("ix_height_measurements_patient_id", "height_measurements", ["patient_id"])
    op.create_table(
        "posture_recordings",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient(),
        sa.Column(
            "prescription_id",
            sa.Integer,
            sa.ForeignKey("orthosis_prescriptions.id"),
            nullable=True,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("duration_s", sa.Numeric(10, 2), nullable=False),
        sa.Column("wear_time_s", sa.Numeric(10, 2), nullable=False),
        sa.Column("upright_time_s", sa.Numeric(10, 2), nullable=False),
        sa.Column("reminders", sa.Integer, nullable=False),
        sa.Column("analysis", JSON, nullable=False),
        *_stamps(),
        sa.CheckConstraint("source IN ('simulated', 'csv', 'serial')", name="source"),
        sa.CheckConstraint("wear_time_s >= 0 AND upright_time_s >= 0", name="times"),
    )
    op.create_index("ix_posture_recordings_patient_id", "posture_recordings", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_posture_recordings_patient_id", table_name="posture_recordings")
    op.drop_table("posture_recordings")
    op.drop_index("ix_height_measurements_patient_id", table_name="height_measurements")
    op.drop_table("height_measurements")
    op.drop_index("ix_drug_therapies_patient_id", table_name="drug_therapies")
    op.drop_table("drug_therapies")
    op.drop_index("ix_osteoporosis_risk_factors_patient_id", table_name="osteoporosis_risk_factors")
    op.drop_table("osteoporosis_risk_factors")
    op.drop_table("orthosis_followups")
    op.drop_index("ix_orthosis_prescriptions_patient_id", table_name="orthosis_prescriptions")
    op.drop_table("orthosis_prescriptions")
