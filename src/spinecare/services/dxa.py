"""Import DXA results (FHIR Observations or the documented CSV) into the bone assessment.

Every imported measurement goes through exactly the path of a typed one (``BmdCreate`` and
``record_bmd`` in ``services/findings.py``): the same checks, the same row, so screening and
the bone assessment give the same answers whichever way a result arrived. The whole file is
checked before anything is stored (one bad row stores nothing); a measurement already stored
with the same values is not stored twice, and each such one is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.bone import BoneAssessment, classify
from spinecare.clinical.vocab import Menopause, Sex
from spinecare.errors import InputError, describe_validation_error
from spinecare.interop.dxa_csv import dxa_from_csv
from spinecare.interop.fhir import DxaImport, dxa_from_fhir
from spinecare.interop.records import BmdData
from spinecare.services.auth import Actor, require_clinical_writer
from spinecare.services.findings import BmdCreate, BmdPublic, record_bmd
from spinecare.services.patients import load_patient
from spinecare.settings import get_settings
from spinecare.store.models import BmdMeasurement


def dxa_parse(text: str, *, name: str = "", zone: ZoneInfo | None = None) -> DxaImport:
    """FHIR JSON (a Bundle, an Observation or a list) or the DXA CSV, by content. A FHIR
    instant is counted on the day it is in ``zone`` (the clinic's; default: its settings)."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("{", "["):
        return dxa_from_fhir(text, zone=zone if zone is not None else get_settings().clinic.zone)
    if name.lower().endswith(".json"):
        raise InputError("file", "a .json file that is not JSON")
    return dxa_from_csv(text)


@dataclass(slots=True)
class DxaImported:
    stored: list[BmdPublic] = field(default_factory=list)
    already: list[BmdData] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # The bone assessment of each stored site (as ``spinecare bone classify`` gives it).
    assessments: list[tuple[BmdPublic, BoneAssessment]] = field(default_factory=list)


def _create(b: BmdData) -> BmdCreate:
    data: dict[str, Any] = {
        "measured_on": b.measured_on,
        "site": b.site,
        "bmd_g_cm2": b.bmd_g_cm2,
        "t_score": b.t_score,
        "z_score": b.z_score,
        "device": b.device,
        "manufacturer": b.manufacturer,
        "valid": b.valid,
    }
    try:
        return BmdCreate.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        where = f"{b.site.value} on {b.measured_on.isoformat()}"
        raise InputError("file", f"{where}: {describe_validation_error(exc)}") from None


def _same(row: BmdMeasurement, c: BmdCreate) -> bool:
    return (
        row.measured_on == c.measured_on
        and row.site == c.site.value
        and row.bmd_g_cm2 == c.bmd_g_cm2
        and row.t_score == c.t_score
        and row.z_score == c.z_score
        and row.valid == c.valid
    )


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def assess(bmd: BmdPublic, *, sex: Sex, age: int, premenopausal: bool | None,
           weight_kg: float | None) -> BoneAssessment:  # fmt: skip
    """One stored site as ``bone classify --bmd X --t-score Y`` assesses it: the T-score
    printed on the report wins over one computed from the BMD (docs/interop.md), as screening
    decides with it; the BMD still gives the bone loss."""
    value = None if bmd.bmd_g_cm2 is None else float(bmd.bmd_g_cm2)
    return classify(
        bmd.site,
        sex=sex,
        age=age,
        bmd=value,
        t_score=None if bmd.t_score is None else float(bmd.t_score),
        z_score=None if bmd.z_score is None else float(bmd.z_score),
        premenopausal=premenopausal if sex is Sex.FEMALE else None,
        weight_kg=weight_kg,
    )


def import_dxa(
    db: Session,
    actor: Actor,
    patient_id: int,
    data: DxaImport,
    *,
    now: datetime | None = None,
) -> DxaImported:
    """Store the measurements of ``data`` for the patient (all checked first)."""
    require_clinical_writer(actor)
    patient = load_patient(db, patient_id)
    creates = [_create(b) for b in data.measurements]  # every row valid, or nothing stored
    existing = db.scalars(
        select(BmdMeasurement).where(BmdMeasurement.patient_id == patient_id)
    ).all()
    out = DxaImported(skipped=list(data.skipped))
    sex = Sex(patient.sex)
    pre = None if patient.menopausal_status is None else patient.menopausal_status == Menopause.PRE
    for b, c in zip(data.measurements, creates, strict=True):
        if any(_same(r, c) for r in existing):
            out.already.append(b)
            continue
        row = record_bmd(db, actor, patient_id, c, now=now)
        out.stored.append(row)
        if not row.valid:
            continue
        age = _age(patient.birth_date, row.measured_on)
        try:
            result = assess(
                row, sex=sex, age=age, premenopausal=pre, weight_kg=float(patient.weight_kg)
            )
        except InputError as exc:  # e.g. an age the references do not cover: stored, not rated
            out.skipped.append(f"{row.site.value} on {row.measured_on}: not assessed ({exc})")
            continue
        out.assessments.append((row, result))
    return out
