"""Contraindication screening: stored data -> clinical rules -> a recorded decision.

The rules (``clinical/contraindications.py``) are pure; this module gathers their input from the
store and records each decision in the audit log (entity ``screening``, action ``screen``, the
full result as ``after``), attributed to the physician who made it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.contraindications import ScreeningResult, ScreeningSettings, screen
from spinecare.clinical.findings import BmdMeasurement as ClinicalBmd
from spinecare.clinical.findings import Fracture, PatientFindings
from spinecare.clinical.vocab import Menopause
from spinecare.errors import InputError
from spinecare.services._common import act_as
from spinecare.services.auth import Actor, require_physician, require_reader
from spinecare.services.findings import finding_from_row
from spinecare.services.patients import load_patient
from spinecare.settings import clinic_today
from spinecare.store.audit import audit_entries, record_event
from spinecare.store.enums import AuditAction
from spinecare.store.models import (
    BmdMeasurement,
    Patient,
    ScreeningFinding,
    VertebralFracture,
)
from spinecare.vocab import Region

AUDIT_ENTITY = "screening"


def _premenopausal(p: Patient) -> bool | None:
    """Z-scores for premenopausal women; perimenopause may use T [iscd2019], so only 'pre'
    counts. None lets the bone rules infer it from age."""
    if p.menopausal_status is None:
        return None
    return p.menopausal_status == Menopause.PRE.value


def assemble_findings(session: Session, patient_id: int) -> PatientFindings:
    """The patient's stored data as the clinical screening input (newest answer per code)."""
    p = load_patient(session, patient_id)
    rows = session.scalars(
        select(ScreeningFinding)
        .where(ScreeningFinding.patient_id == patient_id)
        .order_by(ScreeningFinding.created_at, ScreeningFinding.id)
    ).all()
    newest = {r.code: r for r in rows}
    findings = [
        finding_from_row(r.code, r.present, r.event_date, r.region, r.detail)
        for r in sorted(newest.values(), key=lambda r: r.code)
    ]
    bmd_rows = session.scalars(
        select(BmdMeasurement).where(BmdMeasurement.patient_id == patient_id)
    ).all()
    bmd = [
        ClinicalBmd(
            site=b.site,
            bmd_g_cm2=None if b.bmd_g_cm2 is None else float(b.bmd_g_cm2),
            t_score=None if b.t_score is None else float(b.t_score),
            z_score=None if b.z_score is None else float(b.z_score),
            date=b.measured_on,
            device=b.device,
            valid=b.valid,
        )
        for b in bmd_rows
    ]
    fracture_rows = session.scalars(
        select(VertebralFracture).where(VertebralFracture.patient_id == patient_id)
    ).all()
    fractures = [
        Fracture(level=f.level, date=f.occurred_on, kind=f.kind, compression=f.compression)
        for f in fracture_rows
    ]
    history_taken = p.fracture_history_on is not None or bool(fractures)
    return PatientFindings(
        birth_date=p.birth_date,
        sex=p.sex,
        weight_kg=float(p.weight_kg),
        premenopausal=_premenopausal(p),
        findings=findings,
        bmd=bmd or None,
        fractures=fractures if history_taken else None,
    )


def evaluate_screening(
    session: Session,
    actor: Actor,
    patient_id: int,
    region: Region | str,
    on: date | None = None,
    *,
    settings: ScreeningSettings | None = None,
) -> ScreeningResult:
    """Run the rules without recording a decision (a preview any team member may see)."""
    require_reader(actor)
    try:
        return screen(
            assemble_findings(session, patient_id),
            Region(region),
            on or clinic_today(),
            settings,
        )
    except InputError as exc:
        # The rules name the stored value a day is compared with (the birth date, a finding's
        # date): a stored patient's data stays out of the message; the day asked for is at fault.
        if exc.field == "birth_date":
            raise InputError("date", "must not be before the patient's birth date") from None
        if exc.reason.startswith("is after the session date"):
            raise InputError(
                "date", f"is before the {exc.field} on record: screen for a later day"
            ) from None
        raise


def screen_patient(
    session: Session,
    actor: Actor,
    patient_id: int,
    region: Region | str,
    on: date | None = None,
    *,
    settings: ScreeningSettings | None = None,
) -> ScreeningResult:
    """Screen and record the decision (physicians and admins only)."""
    require_physician(actor, "record a screening decision")
    act_as(session, actor)
    result = evaluate_screening(session, actor, patient_id, region, on, settings=settings)
    record_event(
        session,
        AUDIT_ENTITY,
        patient_id,
        AuditAction.SCREEN,
        after={
            "decision": result.decision.value,
            "region": result.region.value,
            "on": result.on.isoformat(),
            "contraindications": [c.code for c in result.contraindications],
            "missing": [f"{m.code}:{m.field}" for m in result.missing],
            "result": result.model_dump(mode="json"),
        },
    )
    return result


def screening_history(session: Session, actor: Actor, patient_id: int) -> list[dict[str, Any]]:
    """Recorded screening decisions, oldest first: who, when, and the decision summary."""
    require_reader(actor)
    load_patient(session, patient_id, include_deleted=True)
    out: list[dict[str, Any]] = []
    for e in audit_entries(session, AUDIT_ENTITY, patient_id):
        after = dict(e.after or {})
        after.pop("result", None)
        out.append({"at": e.at.isoformat(), "actor": e.actor, **after})
    return out
