"""Clinical pathway: users, patients and their findings, courses, sessions, outcomes, audit log.

This is the single migration of the clinical store (edited in place while the project is young;
billing builds on it as ``0002_billing``). It is written out by hand rather than importing the
models, so it keeps describing this revision when the models move on.

Revision ID: 0001_clinical
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_clinical"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _stamps() -> list[sa.Column[object]]:
    return [_ts("created_at"), _ts("updated_at", nullable=True)]


def _patient_fk() -> sa.Column[object]:
    return sa.Column(
        "patient_id",
        sa.Integer,
        sa.ForeignKey("patients.id", name=None),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        *_stamps(),
        sa.CheckConstraint("role IN ('physician', 'therapist', 'billing', 'admin')", name="role"),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("weight_kg", sa.Numeric(5, 1), nullable=False),
        sa.Column("height_cm", sa.Numeric(5, 1), nullable=False),
        sa.Column("menopausal_status", sa.String(8), nullable=True),
        sa.Column("insurance", sa.String(16), nullable=False),
        sa.Column("icd_consent", sa.Boolean, nullable=False),
        sa.Column("fracture_history_on", sa.Date, nullable=True),
        *_stamps(),
        _ts("deleted_at", nullable=True),
        sa.CheckConstraint("sex IN ('F', 'M')", name="sex"),
        sa.CheckConstraint("insurance IN ('statutory', 'private', 'self_payer')", name="insurance"),
        sa.CheckConstraint(
            "menopausal_status IS NULL OR menopausal_status IN ('pre', 'peri', 'post')",
            name="menopausal_status",
        ),
        sa.CheckConstraint("weight_kg > 0", name="weight_positive"),
        sa.CheckConstraint("height_cm > 0", name="height_positive"),
    )
    op.create_index("ix_patients_name", "patients", ["name"])

    op.create_table(
        "diagnoses",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient_fk(),
        sa.Column("icd10", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("diagnosed_on", sa.Date, nullable=False),
        *_stamps(),
    )
    op.create_index("ix_diagnoses_patient_id", "diagnoses", ["patient_id"])

    op.create_table(
        "screening_findings",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient_fk(),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("present", sa.Boolean, nullable=True),
        sa.Column("event_date", sa.Date, nullable=True),
        sa.Column("region", sa.String(16), nullable=True),
        sa.Column("detail", JSON, nullable=True),
        *_stamps(),
    )
    op.create_index("ix_screening_findings_patient_id", "screening_findings", ["patient_id"])

    op.create_table(
        "bmd_measurements",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient_fk(),
        sa.Column("measured_on", sa.Date, nullable=False),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("bmd_g_cm2", sa.Numeric(5, 3), nullable=True),
        sa.Column("t_score", sa.Numeric(3, 1), nullable=True),
        sa.Column("z_score", sa.Numeric(3, 1), nullable=True),
        sa.Column("device", sa.String(100), nullable=True),
        sa.Column("manufacturer", sa.String(100), nullable=True),
        sa.Column("valid", sa.Boolean, nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "site IN ('lumbar_spine', 'femoral_neck', 'total_hip', 'radius_33')", name="site"
        ),
        sa.CheckConstraint("bmd_g_cm2 IS NULL OR bmd_g_cm2 > 0", name="bmd_positive"),
        sa.CheckConstraint("bmd_g_cm2 IS NOT NULL OR t_score IS NOT NULL", name="bmd_or_t"),
    )
    op.create_index("ix_bmd_measurements_patient_id", "bmd_measurements", ["patient_id"])

    op.create_table(
        "vertebral_fractures",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient_fk(),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("compression", sa.Boolean, nullable=False),
        *_stamps(),
        sa.CheckConstraint("kind IN ('osteoporotic', 'traumatic', 'pathologic')", name="kind"),
    )
    op.create_index("ix_vertebral_fractures_patient_id", "vertebral_fractures", ["patient_id"])

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer, primary_key=True),
        _patient_fk(),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("segment", sa.String(8), nullable=False),
        sa.Column("planned_sessions", sa.Integer, nullable=False),
        sa.Column("sessions_per_week", sa.Integer, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("review_after_session", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "status IN ('planned', 'active', 'completed', 'cancelled')", name="status"
        ),
        sa.CheckConstraint("region IN ('lumbar', 'cervical')", name="region"),
        # Courses of 15-20 sessions [seed-spinemed].
        sa.CheckConstraint("planned_sessions BETWEEN 15 AND 20", name="planned_sessions"),
        sa.CheckConstraint("sessions_per_week BETWEEN 1 AND 5", name="sessions_per_week"),
    )
    op.create_index("ix_courses_patient_id", "courses", ["patient_id"])

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("course_id", sa.Integer, sa.ForeignKey("courses.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        _ts("scheduled_start"),
        _ts("scheduled_end"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("protocol", JSON, nullable=False),
        sa.Column("telemetry_dir", sa.String(1000), nullable=True),
        sa.Column("summary", JSON, nullable=True),
        *_stamps(),
        sa.CheckConstraint("status IN ('planned', 'done', 'aborted', 'cancelled')", name="status"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("scheduled_end > scheduled_start", name="end_after_start"),
        sa.UniqueConstraint("course_id", "number", name="uq_sessions_course_id_number"),
    )

    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=True),
        sa.Column("course_id", sa.Integer, sa.ForeignKey("courses.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Numeric(5, 2), nullable=False),
        sa.Column("odi_answers", JSON, nullable=True),
        _ts("recorded_at"),
        *_stamps(),
        sa.CheckConstraint("kind IN ('nrs_before', 'nrs_after', 'odi')", name="kind"),
        sa.CheckConstraint(
            "session_id IS NOT NULL OR course_id IS NOT NULL", name="session_or_course"
        ),
    )
    op.create_index("ix_outcomes_course_id", "outcomes", ["course_id"])
    op.create_index("ix_outcomes_session_id", "outcomes", ["session_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        _ts("at"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} refused'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("audit_log")
    op.drop_table("outcomes")
    op.drop_table("sessions")
    op.drop_table("courses")
    op.drop_table("vertebral_fractures")
    op.drop_table("bmd_measurements")
    op.drop_table("screening_findings")
    op.drop_table("diagnoses")
    op.drop_table("patients")
    op.drop_table("users")
