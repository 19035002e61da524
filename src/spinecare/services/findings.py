"""Recording what screening reads: contraindication findings, DXA results, fracture history.

Inputs reuse the clinical layer's validated models (``clinical/findings.py``), so the store
holds exactly what the rules accept. Rows are only added or corrected, never removed: the
screening reads the newest answer per code, and the audit log keeps every earlier one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.findings import BMD_MAX_G_CM2, Finding, Fracture
from spinecare.clinical.vocab import BmdSite, FractureKind
from spinecare.errors import InputError
from spinecare.services._common import act_as, utcnow
from spinecare.services.auth import Actor, require_clinical_writer, require_reader
from spinecare.services.patients import load_patient
from spinecare.settings import clinic_today
from spinecare.store.models import BmdMeasurement, ScreeningFinding, VertebralFracture

OptNum = Annotated[
    Decimal | None,
    PlainSerializer(lambda v: None if v is None else float(v), when_used="json"),
]
_FINDING_COLUMNS = {"code", "present", "date", "region"}


def _not_future(v: date | None, field: str) -> date | None:
    if v is not None and v > clinic_today():
        raise InputError(field, "must not be in the future", v.isoformat())
    return v


# --- contraindication findings ---------------------------------------------------------------
class FindingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    code: str
    present: bool | None
    event_date: date | None
    region: str | None
    detail: dict[str, Any] | None
    created_at: datetime

    def to_clinical(self) -> Finding:
        return finding_from_row(self.code, self.present, self.event_date, self.region, self.detail)


def finding_from_row(
    code: str,
    present: bool | None,
    event_date: date | None,
    region: str | None,
    detail: dict[str, Any] | None,
) -> Finding:
    return Finding.model_validate(
        {"code": code, "present": present, "date": event_date, "region": region, **(detail or {})}
    )


def record_finding(
    session: Session,
    actor: Actor,
    patient_id: int,
    finding: Finding,
    *,
    now: datetime | None = None,
) -> FindingPublic:
    """Store one answered screening item (the newest answer per code is the one screened)."""
    require_clinical_writer(actor)
    act_as(session, actor)
    load_patient(session, patient_id)
    _not_future(finding.date, "date")
    detail = finding.model_dump(mode="json", exclude=_FINDING_COLUMNS, exclude_none=True)
    row = ScreeningFinding(
        patient_id=patient_id,
        code=finding.code,
        present=finding.present,
        event_date=finding.date,
        region=finding.region.value if finding.region else None,
        detail=detail or None,
        created_at=utcnow(now),
    )
    session.add(row)
    session.flush()
    return FindingPublic.model_validate(row)


def list_findings(
    session: Session, actor: Actor, patient_id: int, *, latest_only: bool = False
) -> list[FindingPublic]:
    """All answers oldest first, or only the newest per code."""
    require_reader(actor)
    load_patient(session, patient_id)
    rows = session.scalars(
        select(ScreeningFinding)
        .where(ScreeningFinding.patient_id == patient_id)
        .order_by(ScreeningFinding.created_at, ScreeningFinding.id)
    ).all()
    out = [FindingPublic.model_validate(r) for r in rows]
    if latest_only:
        newest: dict[str, FindingPublic] = {f.code: f for f in out}
        out = sorted(newest.values(), key=lambda f: f.code)
    return out


# --- bone density -----------------------------------------------------------------------------
class BmdCreate(BaseModel):
    """A DXA result as printed on the report (``bmd_g_cm2`` and/or the device's T-score)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    measured_on: date
    site: BmdSite
    # Ranges as clinical/findings.py BmdMeasurement accepts them.
    bmd_g_cm2: Decimal | None = Field(default=None, gt=0, lt=BMD_MAX_G_CM2, decimal_places=3)
    t_score: Decimal | None = Field(default=None, ge=-10, le=10, decimal_places=1)
    z_score: Decimal | None = Field(default=None, ge=-10, le=10, decimal_places=1)
    device: str | None = Field(default=None, max_length=100)
    manufacturer: str | None = Field(default=None, max_length=100)
    valid: bool = True

    @field_validator("measured_on")
    @classmethod
    def _measured_on(cls, v: date) -> date:
        if v > clinic_today():
            raise ValueError("must not be in the future")
        return v

    @model_validator(mode="after")
    def _has_a_value(self) -> Self:
        if self.bmd_g_cm2 is None and self.t_score is None:
            raise ValueError("bmd_g_cm2: a BMD measurement needs bmd_g_cm2 or t_score")
        return self


class BmdPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    measured_on: date
    site: BmdSite
    bmd_g_cm2: OptNum
    t_score: OptNum
    z_score: OptNum
    device: str | None
    manufacturer: str | None
    valid: bool
    created_at: datetime


def record_bmd(
    session: Session,
    actor: Actor,
    patient_id: int,
    data: BmdCreate,
    *,
    now: datetime | None = None,
) -> BmdPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    load_patient(session, patient_id)
    row = BmdMeasurement(
        patient_id=patient_id,
        **{**data.model_dump(), "site": data.site.value},
        created_at=utcnow(now),
    )
    session.add(row)
    session.flush()
    return BmdPublic.model_validate(row)


def list_bmd(session: Session, actor: Actor, patient_id: int) -> list[BmdPublic]:
    require_reader(actor)
    load_patient(session, patient_id)
    rows = session.scalars(
        select(BmdMeasurement)
        .where(BmdMeasurement.patient_id == patient_id)
        .order_by(BmdMeasurement.measured_on, BmdMeasurement.id)
    )
    return [BmdPublic.model_validate(r) for r in rows]


# --- fractures --------------------------------------------------------------------------------
class FracturePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    level: str
    occurred_on: date
    kind: FractureKind
    compression: bool
    created_at: datetime


def record_fracture(
    session: Session,
    actor: Actor,
    patient_id: int,
    fracture: Fracture,
    *,
    now: datetime | None = None,
) -> FracturePublic:
    """Add a fracture to the history (also marks the history as taken today if it was not)."""
    require_clinical_writer(actor)
    act_as(session, actor)
    patient = load_patient(session, patient_id)
    _not_future(fracture.date, "date")
    row = VertebralFracture(
        patient_id=patient_id,
        level=fracture.level,
        occurred_on=fracture.date,
        kind=fracture.kind.value,
        compression=fracture.compression,
        created_at=utcnow(now),
    )
    session.add(row)
    if patient.fracture_history_on is None:
        patient.fracture_history_on = utcnow(now).date()
    session.flush()
    return FracturePublic.model_validate(row)


def record_fracture_history(
    session: Session,
    actor: Actor,
    patient_id: int,
    taken_on: date,
) -> None:
    """Record that the fracture history was taken on ``taken_on`` (no rows = no fractures)."""
    require_clinical_writer(actor)
    act_as(session, actor)
    patient = load_patient(session, patient_id)
    patient.fracture_history_on = _not_future(taken_on, "taken_on")
    session.flush()


def list_fractures(session: Session, actor: Actor, patient_id: int) -> list[FracturePublic]:
    require_reader(actor)
    load_patient(session, patient_id)
    rows = session.scalars(
        select(VertebralFracture)
        .where(VertebralFracture.patient_id == patient_id)
        .order_by(VertebralFracture.occurred_on, VertebralFracture.id)
    )
    return [FracturePublic.model_validate(r) for r in rows]
