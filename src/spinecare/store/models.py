"""Tables of the clinical pathway (migration ``0001_clinical`` creates exactly these).

Conventions: integer surrogate keys; ``Date`` for calendar dates, timezone-aware UTC timestamps
for instants; ``Numeric`` for measured quantities so what was entered is what is stored; JSON for
structured payloads (protocol, session summary, ODI answers, audit snapshots). Clinical rows are
never hard-deleted by the services: patients are soft-deleted and every change is mirrored into
the append-only ``audit_log`` (see ``store/audit.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
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
from spinecare.store.enums import (
    BmdSite,
    CourseStatus,
    FractureKind,
    Insurance,
    Menopause,
    OutcomeKind,
    Role,
    SessionStatus,
    Sex,
    sql_in,
)

# Entity names as they appear in audit_log.entity.
AUDITED_TABLES = frozenset(
    {
        "patients",
        "diagnoses",
        "screening_findings",
        "bmd_measurements",
        "vertebral_fractures",
        "courses",
        "sessions",
        "outcomes",
        "users",
    }
)
# Never copied into audit snapshots.
SECRET_COLUMNS = frozenset({"password_hash"})


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({sql_in(Role)})", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(f"sex IN ({sql_in(Sex)})", name="sex"),
        CheckConstraint(f"insurance IN ({sql_in(Insurance)})", name="insurance"),
        CheckConstraint(
            f"menopausal_status IS NULL OR menopausal_status IN ({sql_in(Menopause)})",
            name="menopausal_status",
        ),
        CheckConstraint("weight_kg > 0", name="weight_positive"),
        CheckConstraint("height_cm > 0", name="height_positive"),
        Index("ix_patients_name", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date]
    sex: Mapped[str] = mapped_column(String(1))
    weight_kg: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    height_cm: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    menopausal_status: Mapped[str | None] = mapped_column(String(8), default=None)
    insurance: Mapped[str] = mapped_column(String(16))
    # Patient's consent to print ICD codes on invoices (§12(2) GOÄ [goae] requires the diagnosis;
    # data protection asks for consent before passing it to a private insurer via the invoice).
    icd_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the fracture history was taken: None = never asked (screening then reports it as
    # missing); a date with no fracture rows means "no fractures".
    fracture_history_on: Mapped[date | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    diagnoses: Mapped[list[Diagnosis]] = relationship(
        back_populates="patient", order_by="Diagnosis.id"
    )
    courses: Mapped[list[Course]] = relationship(back_populates="patient", order_by="Course.id")


class Diagnosis(Base):
    __tablename__ = "diagnoses"
    __table_args__ = (Index("ix_diagnoses_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    icd10: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    diagnosed_on: Mapped[date]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    patient: Mapped[Patient] = relationship(back_populates="diagnoses")


class ScreeningFinding(Base):
    """One answer of the contraindication screening (code ``CI-xx``).

    ``present`` None = asked, not yet known. ``event_date`` is the date of the event the item
    asks about (surgery, fracture); ``detail`` holds the free text and the structured measures
    the rules read (Cobb angle, Meyerding grade, ...; clinical/findings.py ``Finding``).
    Several rows per code may exist over time; screening reads the newest.
    """

    __tablename__ = "screening_findings"
    __table_args__ = (Index("ix_screening_findings_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    code: Mapped[str] = mapped_column(String(8))
    present: Mapped[bool | None] = mapped_column(Boolean, default=None)
    event_date: Mapped[date | None] = mapped_column(default=None)
    region: Mapped[str | None] = mapped_column(String(16), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class BmdMeasurement(Base):
    """A DXA result as reported by the device (T and Z kept as printed on the report)."""

    __tablename__ = "bmd_measurements"
    __table_args__ = (
        CheckConstraint(f"site IN ({sql_in(BmdSite)})", name="site"),
        CheckConstraint("bmd_g_cm2 IS NULL OR bmd_g_cm2 > 0", name="bmd_positive"),
        CheckConstraint("bmd_g_cm2 IS NOT NULL OR t_score IS NOT NULL", name="bmd_or_t"),
        Index("ix_bmd_measurements_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    measured_on: Mapped[date]
    site: Mapped[str] = mapped_column(String(16))
    bmd_g_cm2: Mapped[Decimal | None] = mapped_column(Numeric(5, 3), default=None)
    t_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 1), default=None)
    z_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 1), default=None)
    device: Mapped[str | None] = mapped_column(String(100), default=None)
    manufacturer: Mapped[str | None] = mapped_column(String(100), default=None)
    # False when the site was excluded (artefact); kept so the record stays complete.
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class VertebralFracture(Base):
    """A fracture in the history: a vertebra (C1..S5) or a major non-vertebral site (hip, ...)."""

    __tablename__ = "vertebral_fractures"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(FractureKind)})", name="kind"),
        Index("ix_vertebral_fractures_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    level: Mapped[str] = mapped_column(String(16))  # e.g. "L1", "T12", "hip"
    occurred_on: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))
    compression: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class Course(Base):
    """A prescribed series of decompression sessions (15-20 [seed-spinemed])."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(CourseStatus)})", name="status"),
        CheckConstraint("region IN ('lumbar', 'cervical')", name="region"),
        # Courses of 15-20 sessions [seed-spinemed].
        CheckConstraint("planned_sessions BETWEEN 15 AND 20", name="planned_sessions"),
        CheckConstraint("sessions_per_week BETWEEN 1 AND 5", name="sessions_per_week"),
        Index("ix_courses_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    region: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str] = mapped_column(String(8))
    planned_sessions: Mapped[int] = mapped_column(Integer)
    sessions_per_week: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date]
    # Session number after which the physician reviews progress (from clinical/course.py).
    review_after_session: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(16), default=CourseStatus.PLANNED.value)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    patient: Mapped[Patient] = relationship(back_populates="courses")
    sessions: Mapped[list[TreatmentSession]] = relationship(
        back_populates="course", order_by="TreatmentSession.number"
    )


class TreatmentSession(Base):
    """One scheduled or recorded decompression session (table ``sessions``)."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(SessionStatus)})", name="status"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("scheduled_end > scheduled_start", name="end_after_start"),
        UniqueConstraint("course_id", "number", name="uq_sessions_course_id_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    number: Mapped[int] = mapped_column(Integer)
    scheduled_start: Mapped[datetime]
    scheduled_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.PLANNED.value)
    # therapy.protocol.Protocol as JSON (what the controller will run).
    protocol: Mapped[dict[str, Any]] = mapped_column()
    # Directory with telemetry.csv, events.jsonl, summary.json written by the runtime.
    telemetry_dir: Mapped[str | None] = mapped_column(String(1000), default=None)
    summary: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    course: Mapped[Course] = relationship(back_populates="sessions")


class Outcome(Base):
    """A patient-reported outcome: pain NRS before/after a session, or an ODI for the course."""

    __tablename__ = "outcomes"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(OutcomeKind)})", name="kind"),
        CheckConstraint(
            "session_id IS NOT NULL OR course_id IS NOT NULL", name="session_or_course"
        ),
        Index("ix_outcomes_course_id", "course_id"),
        Index("ix_outcomes_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"), default=None)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    # NRS 0-10 or ODI percent 0-100 (two decimals: ODI with unanswered items is not integral).
    value: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    odi_answers: Mapped[list[Any] | None] = mapped_column(default=None)
    recorded_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """Append-only record of a change. No update or delete API; triggers refuse both."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
