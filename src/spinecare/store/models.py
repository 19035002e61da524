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
    false,
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
# Bookkeeping of failed logins: a change to these alone is not an audit entry (a password
# guesser would otherwise fill the log); the lock itself shows in the failed logins' effect.
UNAUDITED_COLUMNS = frozenset({"failed_logins", "locked_until"})
TOKEN_KINDS = ("cli", "web")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({sql_in(Role)})", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A one-time password (first admin, reset) must be replaced before anything else.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Consecutive failed logins, and the end of the lock they caused (services/users.py).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class AuthToken(Base):
    """A login: the SHA-256 of a random bearer token (never the token), until it expires or is
    revoked. The CLI keeps the token in a 0600 file; the web app in a session cookie."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in TOKEN_KINDS)})", name="kind"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index("ix_auth_tokens_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


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
        Index("ix_patients_name_folded", "name_folded"),
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
    # Master data for letters and invoices (migration 0007); validated by services/patients.py.
    street: Mapped[str | None] = mapped_column(String(200), default=None)
    postcode: Mapped[str | None] = mapped_column(String(10), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)  # ISO 3166-1 alpha-2
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    # The private health insurer's name (None for a self-payer or when not known).
    insurer: Mapped[str | None] = mapped_column(String(200), default=None)
    insurance_number: Mapped[str | None] = mapped_column(String(40), default=None)
    # The treating (referring) physician as printed on documents.
    physician: Mapped[str | None] = mapped_column(String(200), default=None)
    # The name in lower case without accents, for searching ('MÜLLER' finds Müller).
    name_folded: Mapped[str | None] = mapped_column(String(200), default=None)
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
        # One output directory records one session: attaching it twice would give two sessions
        # the same telemetry.
        Index("uq_sessions_telemetry_dir", "telemetry_dir", unique=True),
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
    # When the session actually started (migration 0007): its day is the date of service on
    # the invoice (§12(2) Nr. 1 GOÄ [goae]), whatever day it was booked for.
    started_at: Mapped[datetime | None] = mapped_column(default=None)
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
    """Append-only record of a change. No update or delete API; triggers refuse both, and each
    entry carries the SHA-256 of its content and of the entry before it (``store/audit.py``),
    so an entry changed, removed or slipped in afterwards breaks the chain."""

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
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The newest entry of the audit chain (one row, id 1): writers lock it to append in turn,
    and ``audit verify`` compares it with the log's end (entries cut off at the end)."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    last_at: Mapped[datetime | None] = mapped_column(default=None)


# --- The orthosis pathway (migration 0005_orthosis): prescription, follow-ups, the osteoporosis
# follow-up beside it, and posture recordings. Appended here, imports included, so the tables
# of the pathway stay together.
from spinecare.clinical.orthosis import FollowUpVisit, OrthosisDevice  # noqa: E402
from spinecare.clinical.osteoporosis_followup import (  # noqa: E402
    RISK_FACTOR_CODES,
    DrugClass,
)

POSTURE_SOURCES = ("simulated", "csv", "serial")
HEIGHT_KINDS = ("measured", "recalled_adult")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class OrthosisPrescription(Base):
    """A prescribed Spinomed-type orthosis: device, size, the fitting, the wearing plan
    (``clinical.orthosis.WearingPlan`` as JSON) and the prescribing physician."""

    __tablename__ = "orthosis_prescriptions"
    __table_args__ = (
        CheckConstraint(f"device IN ({sql_in(OrthosisDevice)})", name="device"),
        CheckConstraint("fitted_on IS NULL OR fitted_on >= prescribed_on", name="fitted_after"),
        CheckConstraint("ended_on IS NULL OR ended_on >= prescribed_on", name="ended_after"),
        Index("ix_orthosis_prescriptions_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    device: Mapped[str] = mapped_column(String(16))
    device_name: Mapped[str | None] = mapped_column(String(120), default=None)
    size: Mapped[str | None] = mapped_column(String(8), default=None)
    prescribed_on: Mapped[date]
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    fitted_on: Mapped[date | None] = mapped_column(default=None)
    fitted_by: Mapped[str | None] = mapped_column(String(64), default=None)
    plan: Mapped[dict[str, Any]] = mapped_column()
    ended_on: Mapped[date | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    followups: Mapped[list[OrthosisFollowUp]] = relationship(
        back_populates="prescription", order_by="OrthosisFollowUp.due_on"
    )


class OrthosisFollowUp(Base):
    """A visit (baseline, 3 or 6 months) with the trials' outcome measures, in the units of
    ``clinical.orthosis.OUTCOME_MEASURES`` (N, N, deg, mm, NRS, score, score)."""

    __tablename__ = "orthosis_followups"
    __table_args__ = (
        CheckConstraint(f"visit IN ({sql_in(FollowUpVisit)})", name="visit"),
        UniqueConstraint(
            "prescription_id", "visit", name="uq_orthosis_followups_prescription_id_visit"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("orthosis_prescriptions.id"))
    visit: Mapped[str] = mapped_column(String(16))
    due_on: Mapped[date]
    done_on: Mapped[date | None] = mapped_column(default=None)
    back_extensor_strength: Mapped[Decimal | None] = mapped_column(Numeric(6, 1), default=None)
    abdominal_flexor_strength: Mapped[Decimal | None] = mapped_column(Numeric(6, 1), default=None)
    kyphosis_angle: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), default=None)
    body_sway: Mapped[Decimal | None] = mapped_column(Numeric(6, 1), default=None)
    pain: Mapped[Decimal | None] = mapped_column(Numeric(3, 1), default=None)
    well_being: Mapped[Decimal | None] = mapped_column(Numeric(4, 1), default=None)
    limitations_of_daily_living: Mapped[Decimal | None] = mapped_column(Numeric(4, 1), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    prescription: Mapped[OrthosisPrescription] = relationship(back_populates="followups")


class OsteoporosisRiskFactor(Base):
    """One answer about a risk factor of the osteoporosis seed; the newest per code counts."""

    __tablename__ = "osteoporosis_risk_factors"
    __table_args__ = (
        CheckConstraint(f"code IN ({_in(RISK_FACTOR_CODES)})", name="code"),
        Index("ix_osteoporosis_risk_factors_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    code: Mapped[str] = mapped_column(String(32))
    present: Mapped[bool | None] = mapped_column(Boolean, default=None)
    recorded_on: Mapped[date]
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class DrugTherapyRecord(Base):
    """Drug therapy as the treating physician prescribed it (recorded, never prescribed here)."""

    __tablename__ = "drug_therapies"
    __table_args__ = (
        CheckConstraint(f"drug_class IN ({sql_in(DrugClass)})", name="drug_class"),
        CheckConstraint("stopped_on IS NULL OR stopped_on >= started_on", name="stopped_after"),
        Index("ix_drug_therapies_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    drug_class: Mapped[str] = mapped_column(String(24))
    substance: Mapped[str] = mapped_column(String(120))
    dose: Mapped[str | None] = mapped_column(String(120), default=None)
    started_on: Mapped[date]
    stopped_on: Mapped[date | None] = mapped_column(default=None)
    prescriber: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class HeightMeasurement(Base):
    """Body height over time (measured at a visit, or the tallest adult height recalled)."""

    __tablename__ = "height_measurements"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(HEIGHT_KINDS)})", name="kind"),
        CheckConstraint("height_cm > 0", name="height_positive"),
        Index("ix_height_measurements_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    measured_on: Mapped[date]
    height_cm: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class PostureRecording(Base):
    """One posture-sensor recording analysed (``signals.posture.PostureAnalysis`` as JSON; the
    raw samples stay in the file they came from)."""

    __tablename__ = "posture_recordings"
    __table_args__ = (
        CheckConstraint(f"source IN ({_in(POSTURE_SOURCES)})", name="source"),
        CheckConstraint("wear_time_s >= 0 AND upright_time_s >= 0", name="times"),
        Index("ix_posture_recordings_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    prescription_id: Mapped[int | None] = mapped_column(
        ForeignKey("orthosis_prescriptions.id"), default=None
    )
    started_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(255), default=None)
    duration_s: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    wear_time_s: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    upright_time_s: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    reminders: Mapped[int] = mapped_column(Integer)
    analysis: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


# Every change to the pathway's tables is audited like the clinical tables above.
AUDITED_TABLES = AUDITED_TABLES | frozenset(
    {
        "orthosis_prescriptions",
        "orthosis_followups",
        "osteoporosis_risk_factors",
        "drug_therapies",
        "height_measurements",
        "posture_recordings",
    }
)
