"""Diagnoses (ICD-10) of a patient: recorded by a physician, printed on invoices with consent."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.services._common import act_as, load, utcnow
from spinecare.services.auth import Actor, require_physician, require_reader
from spinecare.services.patients import load_patient
from spinecare.settings import clinic_today
from spinecare.store.models import Diagnosis

# ICD-10 (WHO) code: letter, two digits, optional '.' and 1-4 more characters for the
# subcategory and national extensions (ICD-10-GM goes to 5 characters after the letter, e.g.
# M80.08; the BfArM systematic index [icd10gm]).
ICD10_PATTERN = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")


def normalise_icd10(code: str) -> str:
    """'m51.2' -> 'M51.2', 'M512' -> 'M51.2'; raises ValueError if it is not an ICD-10 code."""
    c = code.strip().upper().replace(" ", "")
    if len(c) > 3 and "." not in c:
        c = f"{c[:3]}.{c[3:]}"
    if not ICD10_PATTERN.match(c):
        raise ValueError("not an ICD-10 code (e.g. M51.2)")
    return c


class DiagnosisCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    icd10: str
    text: str = Field(min_length=1, max_length=2000)
    diagnosed_on: date

    @field_validator("icd10")
    @classmethod
    def _icd(cls, v: str) -> str:
        return normalise_icd10(v)

    @field_validator("diagnosed_on")
    @classmethod
    def _not_future(cls, v: date) -> date:
        if v > clinic_today():
            raise ValueError("must not be in the future")
        return v


class DiagnosisPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    icd10: str
    text: str
    diagnosed_on: date
    created_at: datetime


def add_diagnosis(
    session: Session,
    actor: Actor,
    patient_id: int,
    data: DiagnosisCreate,
    *,
    now: datetime | None = None,
) -> DiagnosisPublic:
    require_physician(actor, "record a diagnosis")
    act_as(session, actor)
    load_patient(session, patient_id)
    d = Diagnosis(patient_id=patient_id, **data.model_dump(), created_at=utcnow(now))
    session.add(d)
    session.flush()
    return DiagnosisPublic.model_validate(d)


def list_diagnoses(session: Session, actor: Actor, patient_id: int) -> list[DiagnosisPublic]:
    require_reader(actor)
    load_patient(session, patient_id)
    rows = session.scalars(
        select(Diagnosis).where(Diagnosis.patient_id == patient_id).order_by(Diagnosis.id)
    )
    return [DiagnosisPublic.model_validate(d) for d in rows]


def edit_diagnosis(
    session: Session,
    actor: Actor,
    diagnosis_id: int,
    data: DiagnosisCreate,
    *,
    now: datetime | None = None,
) -> DiagnosisPublic:
    """Correct a diagnosis; the audit log keeps what it said before."""
    require_physician(actor, "change a diagnosis")
    act_as(session, actor)
    d = load(session, Diagnosis, diagnosis_id, "diagnosis")
    for key, value in data.model_dump().items():
        setattr(d, key, value)
    d.updated_at = utcnow(now)
    session.flush()
    return DiagnosisPublic.model_validate(d)
