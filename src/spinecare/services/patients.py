"""Patients: register, find, show, edit, soft-delete.

Edits re-validate the whole record (so e.g. a menopausal status cannot be set on a male
patient, or a weight no child of that age has); the audit log keeps the values before and after
every change. A name holds no control or formatting characters; a birth date is not moved after
anything already recorded for the patient.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spinecare.clinical.growth import implausible_for_age
from spinecare.clinical.vocab import Menopause, Sex
from spinecare.errors import InputError
from spinecare.services._common import act_as, utcnow
from spinecare.services.auth import (
    Actor,
    require_clinical_writer,
    require_physician,
    require_reader,
)
from spinecare.services.errors import NotFoundError
from spinecare.store.enums import Insurance
from spinecare.store.models import (
    BmdMeasurement,
    Course,
    Diagnosis,
    Patient,
    ScreeningFinding,
    VertebralFracture,
)
from spinecare.store.text import refuse_reason

# Plausible adult ranges, an input check only: weight as clinical/findings.py accepts it
# (30-250 kg); height 100-250 cm (engineering bounds around adult stature).
WEIGHT_MIN_KG, WEIGHT_MAX_KG = Decimal(30), Decimal(250)
HEIGHT_MIN_CM, HEIGHT_MAX_CM = Decimal(100), Decimal(250)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Decimals leave the service as JSON numbers, not strings.
Num = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def _check_birth_date(v: date | None) -> date | None:
    if v is None:
        return v
    if v > date.today():
        raise ValueError("must not be in the future")
    if v < EARLIEST_BIRTH_DATE:
        raise ValueError(f"must be after {EARLIEST_BIRTH_DATE.isoformat()}")
    return v


class _PatientFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("weight_kg", "height_cm", check_fields=False)
    @classmethod
    def _one_decimal(cls, v: Decimal | None) -> Decimal | None:
        return None if v is None else v.quantize(Decimal("0.1"))

    @field_validator("birth_date", check_fields=False)
    @classmethod
    def _birth_date(cls, v: date | None) -> date | None:
        return _check_birth_date(v)

    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and (reason := refuse_reason(v)) is not None:
            raise ValueError(reason)
        return v


def _age_months(birth: date, on: date) -> float:
    months = (on.year - birth.year) * 12 + (on.month - birth.month)
    if on.day < birth.day:
        months -= 1
    return float(months) + 0.5  # within the month: the reference's mid-month convention


class PatientCreate(_PatientFields):
    name: str = Field(min_length=1, max_length=200)
    birth_date: date
    sex: Sex
    weight_kg: Decimal = Field(ge=WEIGHT_MIN_KG, le=WEIGHT_MAX_KG, decimal_places=1)
    height_cm: Decimal = Field(ge=HEIGHT_MIN_CM, le=HEIGHT_MAX_CM, decimal_places=1)
    insurance: Insurance
    menopausal_status: Menopause | None = None
    icd_consent: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.sex is Sex.MALE and self.menopausal_status is not None:
            raise ValueError("menopausal_status: only for female patients")
        # Children: weight and height within what children of that age and sex have.
        months = _age_months(self.birth_date, date.today())
        for problem in implausible_for_age(
            self.sex, months, weight_kg=float(self.weight_kg), height_cm=float(self.height_cm)
        ):
            raise ValueError(f"{problem.field}: {problem.reason}")
        return self


class PatientUpdate(_PatientFields):
    """Only the fields given change; ``menopausal_status`` may be set back to None."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_date: date | None = None
    sex: Sex | None = None
    weight_kg: Decimal | None = Field(
        default=None, ge=WEIGHT_MIN_KG, le=WEIGHT_MAX_KG, decimal_places=1
    )
    height_cm: Decimal | None = Field(
        default=None, ge=HEIGHT_MIN_CM, le=HEIGHT_MAX_CM, decimal_places=1
    )
    insurance: Insurance | None = None
    menopausal_status: Menopause | None = None
    icd_consent: bool | None = None


class PatientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    birth_date: date
    sex: Sex
    weight_kg: Num
    height_cm: Num
    insurance: Insurance
    menopausal_status: Menopause | None
    icd_consent: bool
    created_at: datetime
    updated_at: datetime | None
    deleted_at: datetime | None


def _fields(p: Patient) -> dict[str, Any]:
    return {k: getattr(p, k) for k in PatientCreate.model_fields}


def load_patient(session: Session, patient_id: int, *, include_deleted: bool = False) -> Patient:
    """The patient row (for other services); soft-deleted patients count as not found."""
    p = session.get(Patient, patient_id)
    if p is None or (p.deleted_at is not None and not include_deleted):
        raise NotFoundError("patient", patient_id)
    return p


def add_patient(
    session: Session, actor: Actor, data: PatientCreate, *, now: datetime | None = None
) -> PatientPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    values = data.model_dump()
    p = Patient(
        **{
            **values,
            "sex": data.sex.value,
            "insurance": data.insurance.value,
            "menopausal_status": data.menopausal_status.value if data.menopausal_status else None,
        },
        created_at=utcnow(now),
    )
    session.add(p)
    session.flush()
    return PatientPublic.model_validate(p)


def get_patient(
    session: Session, actor: Actor, patient_id: int, *, include_deleted: bool = False
) -> PatientPublic:
    require_reader(actor)
    return PatientPublic.model_validate(
        load_patient(session, patient_id, include_deleted=include_deleted)
    )


def list_patients(
    session: Session,
    actor: Actor,
    search: str | None = None,
    *,
    include_deleted: bool = False,
    limit: int = 200,
) -> list[PatientPublic]:
    """Patients by name (case-insensitive substring) or exact id, ordered by name."""
    require_reader(actor)
    stmt = select(Patient).order_by(Patient.name, Patient.id).limit(limit)
    if not include_deleted:
        stmt = stmt.where(Patient.deleted_at.is_(None))
    term = (search or "").strip()
    if term:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        by_name = Patient.name.ilike(f"%{escaped}%", escape="\\")
        stmt = stmt.where(by_name | (Patient.id == int(term)) if term.isdecimal() else by_name)
    return [PatientPublic.model_validate(p) for p in session.scalars(stmt)]


def edit_patient(
    session: Session,
    actor: Actor,
    patient_id: int,
    changes: PatientUpdate,
    *,
    now: datetime | None = None,
) -> PatientPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    p = load_patient(session, patient_id)
    given = changes.model_dump(exclude_unset=True)
    merged = PatientCreate.model_validate({**_fields(p), **given})  # whole-record consistency
    if "birth_date" in given:
        earliest = earliest_record_date(session, p)
        if earliest is not None and merged.birth_date > earliest:
            raise InputError(
                "birth_date",
                f"must not be after the patient's records (the earliest is of "
                f"{earliest.isoformat()})",
                merged.birth_date.isoformat(),
            )
    changed = False
    for key in given:
        new = getattr(merged, key)
        new = new.value if hasattr(new, "value") else new
        if getattr(p, key) != new:
            setattr(p, key, new)
            changed = True
    if changed:
        p.updated_at = utcnow(now)
        session.flush()
    return PatientPublic.model_validate(p)


def earliest_record_date(session: Session, p: Patient) -> date | None:
    """The earliest calendar date recorded for the patient (diagnoses, findings, DXA,
    fractures, fracture history, courses): a birth date may not come after it."""
    candidates: list[date] = []
    if p.fracture_history_on is not None:
        candidates.append(p.fracture_history_on)
    for column, owner in (
        (Diagnosis.diagnosed_on, Diagnosis.patient_id),
        (ScreeningFinding.event_date, ScreeningFinding.patient_id),
        (BmdMeasurement.measured_on, BmdMeasurement.patient_id),
        (VertebralFracture.occurred_on, VertebralFracture.patient_id),
        (Course.start_date, Course.patient_id),
    ):
        d = session.scalar(select(func.min(column)).where(owner == p.id))
        if d is not None:
            candidates.append(d)
    return min(candidates, default=None)


def delete_patient(
    session: Session, actor: Actor, patient_id: int, *, now: datetime | None = None
) -> PatientPublic:
    """Soft delete: the record and its history stay; lists and lookups stop showing it."""
    require_physician(actor, "delete a patient")
    act_as(session, actor)
    p = load_patient(session, patient_id)
    p.deleted_at = utcnow(now)
    session.flush()
    return PatientPublic.model_validate(p)
