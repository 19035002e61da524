"""The orthosis pathway as use cases: prescribe and fit a Spinomed-type orthosis, record the
follow-ups and the osteoporosis follow-up beside them, keep posture-sensor recordings, and
assemble what a patient page or the follow-up report shows.

Rules live in ``clinical/orthosis.py`` and ``clinical/osteoporosis_followup.py``, signal
processing in ``signals/posture.py``; this module stores, permits and joins. Inputs reuse the
clinical models, outputs are ``*Public`` schemas (nothing internal leaves). Every change is
audited (``store.models.AUDITED_TABLES``).

Who may: prescribing an orthosis is a physician's decision; fitting, follow-ups, heights, risk
factors, the drug therapy record and posture recordings are clinical data (physicians,
therapists); everyone may read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.bone import BoneAssessment, assess_bone
from spinecare.clinical.findings import BmdMeasurement as ClinicalBmd
from spinecare.clinical.findings import Fracture
from spinecare.clinical.orthosis import (
    ORTHOSIS_SIZES,
    EvidenceRow,
    FollowUpMeasures,
    FollowUpVisit,
    MeasureChange,
    OrthosisDevice,
    WearingPlan,
    evidence_comparison,
    followup_schedule,
    outcome_changes,
    visit_earliest,
    wearing_hours,
)
from spinecare.clinical.osteoporosis_followup import (
    DrugTherapy,
    HeightRecord,
    OsteoporosisFollowUp,
    RiskFactorAnswer,
    osteoporosis_followup,
)
from spinecare.clinical.vocab import BmdSite, FractureKind, Menopause, Sex
from spinecare.errors import InputError
from spinecare.services._common import act_as, as_utc, load, utcnow
from spinecare.services.auth import (
    Actor,
    require_clinical_writer,
    require_physician,
    require_reader,
)
from spinecare.services.patients import load_patient
from spinecare.settings import clinic_today
from spinecare.signals.posture import (
    ACCURACY_STATEMENT,
    PostureAnalysis,
    PostureDay,
    PostureWeek,
    posture_daily,
    posture_weekly,
)
from spinecare.store.models import (
    BmdMeasurement,
    DrugTherapyRecord,
    HeightMeasurement,
    OrthosisFollowUp,
    OrthosisPrescription,
    OsteoporosisRiskFactor,
    Patient,
    PostureRecording,
    User,
    VertebralFracture,
)

if TYPE_CHECKING:  # matplotlib and the PDF layer load only when a report is asked for
    from spinecare.reports.orthosis_report import OrthosisReportData

MEASURE_KEYS = tuple(FollowUpMeasures.model_fields)


def _not_future(v: date | None, field: str, today: date) -> None:
    if v is not None and v > today:
        raise InputError(field, "must not be in the future", v.isoformat())


# --- prescription and fitting -------------------------------------------------------------------
class PrescriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    device: OrthosisDevice
    device_name: str | None = Field(default=None, max_length=120)
    size: str | None = None
    prescribed_on: date
    reason: str | None = Field(default=None, max_length=2000)
    plan: WearingPlan = Field(default_factory=WearingPlan)
    fitted_on: date | None = None

    @field_validator("size")
    @classmethod
    def _size(cls, v: str | None) -> str | None:
        if v is not None and v not in ORTHOSIS_SIZES:
            raise ValueError(f"must be one of {', '.join(ORTHOSIS_SIZES)}")
        return v


class FollowUpPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    visit: FollowUpVisit
    due_on: date
    done_on: date | None
    measures: FollowUpMeasures
    note: str | None


class PrescriptionPublic(BaseModel):
    id: int
    patient_id: int
    device: OrthosisDevice
    device_name: str | None
    size: str | None
    prescribed_on: date
    prescriber: str
    reason: str | None
    fitted_on: date | None
    fitted_by: str | None
    plan: WearingPlan
    ended_on: date | None
    followups: list[FollowUpPublic]


def _measures(row: OrthosisFollowUp) -> FollowUpMeasures:
    return FollowUpMeasures.model_validate(
        {k: None if (v := getattr(row, k)) is None else float(v) for k in MEASURE_KEYS}
    )


def _followup_public(row: OrthosisFollowUp) -> FollowUpPublic:
    return FollowUpPublic(
        id=row.id,
        visit=FollowUpVisit(row.visit),
        due_on=row.due_on,
        done_on=row.done_on,
        measures=_measures(row),
        note=row.note,
    )


def _public(session: Session, row: OrthosisPrescription) -> PrescriptionPublic:
    prescriber = session.get(User, row.prescriber_id)
    order = list(FollowUpVisit)
    return PrescriptionPublic(
        id=row.id,
        patient_id=row.patient_id,
        device=OrthosisDevice(row.device),
        device_name=row.device_name,
        size=row.size,
        prescribed_on=row.prescribed_on,
        prescriber=prescriber.username if prescriber else str(row.prescriber_id),
        reason=row.reason,
        fitted_on=row.fitted_on,
        fitted_by=row.fitted_by,
        plan=WearingPlan.model_validate(row.plan),
        ended_on=row.ended_on,
        followups=sorted(
            (_followup_public(f) for f in row.followups), key=lambda f: order.index(f.visit)
        ),
    )


def _schedule(session: Session, row: OrthosisPrescription, start: date, now: datetime) -> None:
    """Create or re-date the follow-ups not yet done (baseline on ``start``, +3, +6 months)."""
    have = {f.visit: f for f in row.followups}
    for visit, due in followup_schedule(start).items():
        f = have.get(visit.value)
        if f is None:
            f = OrthosisFollowUp(visit=visit.value, due_on=due, created_at=now)
            row.followups.append(f)
        elif f.done_on is None and f.due_on != due:
            f.due_on = due
            f.updated_at = now


def prescribe_orthosis(
    session: Session,
    actor: Actor,
    patient_id: int,
    data: PrescriptionCreate,
    *,
    now: datetime | None = None,
) -> PrescriptionPublic:
    """Prescribe the orthosis; follow-ups are planned from the fitting (or, until it is fitted,
    from the prescription date)."""
    require_physician(actor, "prescribe an orthosis")
    act_as(session, actor)
    load_patient(session, patient_id)
    at = utcnow(now)
    _not_future(data.prescribed_on, "prescribed_on", at.date())
    if data.fitted_on is not None and data.fitted_on < data.prescribed_on:
        raise InputError("fitted_on", "before the prescription", data.fitted_on.isoformat())
    if data.device is OrthosisDevice.OTHER_TLO and not data.device_name:
        raise InputError("device_name", "name the orthosis when it is not a Spinomed")
    row = OrthosisPrescription(
        patient_id=patient_id,
        device=data.device.value,
        device_name=data.device_name,
        size=data.size,
        prescribed_on=data.prescribed_on,
        prescriber_id=actor.id,
        reason=data.reason,
        fitted_on=data.fitted_on,
        fitted_by=actor.username if data.fitted_on else None,
        plan=data.plan.model_dump(mode="json"),
        created_at=at,
    )
    session.add(row)
    session.flush()
    _schedule(session, row, data.fitted_on or data.prescribed_on, at)
    session.flush()
    return _public(session, row)


class FitData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fitted_on: date
    size: str | None = None

    @field_validator("size")
    @classmethod
    def _size(cls, v: str | None) -> str | None:
        if v is not None and v not in ORTHOSIS_SIZES:
            raise ValueError(f"must be one of {', '.join(ORTHOSIS_SIZES)}")
        return v


def fit_orthosis(
    session: Session,
    actor: Actor,
    prescription_id: int,
    data: FitData,
    *,
    now: datetime | None = None,
) -> PrescriptionPublic:
    """Record the fitting (and the size fitted); the follow-ups not yet done move with it."""
    require_clinical_writer(actor)
    act_as(session, actor)
    row = load(session, OrthosisPrescription, prescription_id, "orthosis prescription")
    at = utcnow(now)
    _not_future(data.fitted_on, "fitted_on", at.date())
    if data.fitted_on < row.prescribed_on:
        raise InputError("fitted_on", "before the prescription", data.fitted_on.isoformat())
    for f in row.followups:  # a later fitting must not make a recorded visit come too early
        earliest = visit_earliest(FollowUpVisit(f.visit), row.prescribed_on, data.fitted_on)
        if f.done_on is not None and earliest is not None and f.done_on < earliest:
            raise InputError(
                "fitted_on",
                f"{f.visit} was recorded on {f.done_on}, before it is due after a fitting on "
                f"this day (from {earliest})",
                data.fitted_on.isoformat(),
            )
    row.fitted_on = data.fitted_on
    row.fitted_by = actor.username
    if data.size is not None:
        row.size = data.size
    row.updated_at = at
    _schedule(session, row, data.fitted_on, at)
    session.flush()
    return _public(session, row)


def get_prescription(session: Session, actor: Actor, prescription_id: int) -> PrescriptionPublic:
    require_reader(actor)
    row = load(session, OrthosisPrescription, prescription_id, "orthosis prescription")
    load_patient(session, row.patient_id)
    return _public(session, row)


def list_prescriptions(session: Session, actor: Actor, patient_id: int) -> list[PrescriptionPublic]:
    require_reader(actor)
    load_patient(session, patient_id)
    rows = session.scalars(
        select(OrthosisPrescription)
        .where(OrthosisPrescription.patient_id == patient_id)
        .order_by(OrthosisPrescription.prescribed_on, OrthosisPrescription.id)
    )
    return [_public(session, r) for r in rows]


class FollowUpRecord(BaseModel):
    """A visit's measures; ``None`` is "not given", so a correction names only what it
    changes (no date: the day recorded before, or today for a visit not yet recorded)."""

    model_config = ConfigDict(extra="forbid")

    done_on: date | None = None
    measures: FollowUpMeasures = Field(default_factory=FollowUpMeasures)
    note: str | None = Field(default=None, max_length=2000)


def record_followup(
    session: Session,
    actor: Actor,
    prescription_id: int,
    visit: FollowUpVisit,
    data: FollowUpRecord,
    *,
    now: datetime | None = None,
) -> FollowUpPublic:
    """The measures of one visit. Recording a visit again corrects it: the measures given
    replace theirs, the others stay (a correction of the pain score must not erase the strength
    measured that day); the audit log keeps the values before.

    A 3- or 6-month visit is refused before its time (``visit_earliest``): reported as "change
    from baseline at month_6" beside the trials' 6-month results, a visit a few weeks after the
    fitting would mislead."""
    require_clinical_writer(actor)
    act_as(session, actor)
    row = load(session, OrthosisPrescription, prescription_id, "orthosis prescription")
    at = utcnow(now)
    f = next(x for x in row.followups if x.visit == visit.value)
    given = data.measures.values()
    if f.done_on is None and not given:
        raise InputError("measures", "record at least one outcome measure")
    if f.done_on is not None and not given and data.done_on is None and data.note is None:
        raise InputError("measures", "nothing to correct: give a measure, the date or a note")
    day = data.done_on or f.done_on or clinic_today()
    _not_future(day, "done_on", at.date())
    if day < row.prescribed_on:
        raise InputError("done_on", "before the prescription", day.isoformat())
    earliest = visit_earliest(visit, row.prescribed_on, row.fitted_on)
    if earliest is None:
        raise InputError(
            "visit",
            f"{visit.value} is counted from the fitting and the orthosis is not fitted yet: "
            "record the fitting first",
            visit.value,
        )
    if day < earliest:
        raise InputError(
            "visit",
            f"{visit.value} is due from {earliest}: the trials measured it {visit.months} months "
            f"after the fitting (fitted {row.fitted_on}), so a visit on {day} is too early",
        )
    f.done_on = day
    for key, v in given.items():
        setattr(f, key, Decimal(str(v)))
    if data.note is not None:
        f.note = data.note
    f.updated_at = at
    session.flush()
    return _followup_public(f)


# --- progress against the trials ----------------------------------------------------------------
class VisitChanges(BaseModel):
    visit: FollowUpVisit
    done_on: date
    changes: list[MeasureChange]


class OrthosisProgress(BaseModel):
    """What the patient page and the follow-up report show for one prescription."""

    prescription: PrescriptionPublic
    changes: list[VisitChanges]
    # the latest visit's changes beside the trials' 6-month results
    compared_visit: FollowUpVisit | None
    evidence: list[EvidenceRow]
    planned_hours_today: float
    next_due: FollowUpPublic | None


def orthosis_progress(
    session: Session, actor: Actor, prescription_id: int, *, today: date | None = None
) -> OrthosisProgress:
    p = get_prescription(session, actor, prescription_id)
    day = today or clinic_today()
    by_visit = {f.visit: f for f in p.followups}
    base = by_visit.get(FollowUpVisit.BASELINE)
    visits: list[VisitChanges] = []
    if base is not None and base.done_on is not None:
        for v in (FollowUpVisit.MONTH_3, FollowUpVisit.MONTH_6):
            f = by_visit.get(v)
            if f is not None and f.done_on is not None:
                visits.append(
                    VisitChanges(
                        visit=v,
                        done_on=f.done_on,
                        changes=outcome_changes(base.measures, f.measures),
                    )
                )
    latest = visits[-1] if visits else None
    pending = [f for f in p.followups if f.done_on is None]
    return OrthosisProgress(
        prescription=p,
        changes=visits,
        compared_visit=latest.visit if latest else None,
        evidence=evidence_comparison(latest.changes if latest else []),
        planned_hours_today=wearing_hours(p.plan, p.fitted_on, day),
        next_due=pending[0] if pending else None,
    )


# --- osteoporosis follow-up ----------------------------------------------------------------------
class RiskFactorPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    present: bool | None
    recorded_on: date
    note: str | None


def record_risk_factor(
    session: Session,
    actor: Actor,
    patient_id: int,
    answer: RiskFactorAnswer,
    *,
    now: datetime | None = None,
) -> RiskFactorPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    load_patient(session, patient_id)
    at = utcnow(now)
    _not_future(answer.recorded_on, "recorded_on", at.date())
    row = OsteoporosisRiskFactor(patient_id=patient_id, **answer.model_dump(), created_at=at)
    session.add(row)
    session.flush()
    return RiskFactorPublic.model_validate(row)


class DrugTherapyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    drug_class: str
    substance: str
    dose: str | None
    started_on: date
    stopped_on: date | None
    prescriber: str


def record_drug_therapy(
    session: Session,
    actor: Actor,
    patient_id: int,
    therapy: DrugTherapy,
    *,
    now: datetime | None = None,
) -> DrugTherapyPublic:
    """Record the treating physician's prescription (this system prescribes nothing)."""
    require_clinical_writer(actor)
    act_as(session, actor)
    load_patient(session, patient_id)
    at = utcnow(now)
    _not_future(therapy.started_on, "started_on", at.date())
    row = DrugTherapyRecord(
        patient_id=patient_id,
        **{**therapy.model_dump(), "drug_class": therapy.drug_class.value},
        created_at=at,
    )
    session.add(row)
    session.flush()
    return DrugTherapyPublic.model_validate(row)


def stop_drug_therapy(
    session: Session,
    actor: Actor,
    therapy_id: int,
    stopped_on: date,
    *,
    now: datetime | None = None,
) -> DrugTherapyPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    row = load(session, DrugTherapyRecord, therapy_id, "drug therapy")
    at = utcnow(now)
    _not_future(stopped_on, "stopped_on", at.date())
    if stopped_on < row.started_on:
        raise InputError("stopped_on", "before started_on", stopped_on.isoformat())
    row.stopped_on = stopped_on
    row.updated_at = at
    session.flush()
    return DrugTherapyPublic.model_validate(row)


class HeightPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    measured_on: date
    height_cm: float
    kind: Literal["measured", "recalled_adult"]


def record_height(
    session: Session,
    actor: Actor,
    patient_id: int,
    record: HeightRecord,
    *,
    now: datetime | None = None,
) -> HeightPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    load_patient(session, patient_id)
    at = utcnow(now)
    _not_future(record.measured_on, "measured_on", at.date())
    row = HeightMeasurement(
        patient_id=patient_id,
        measured_on=record.measured_on,
        height_cm=Decimal(str(record.height_cm)).quantize(Decimal("0.1")),
        kind=record.kind,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return HeightPublic(
        id=row.id, measured_on=row.measured_on, height_cm=float(row.height_cm), kind=record.kind
    )


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


class OsteoporosisSummary(BaseModel):
    patient_id: int
    followup: OsteoporosisFollowUp
    drug_therapy_ids: list[int]
    bone: BoneAssessment | None  # the latest DXA assessment, when one is recorded
    dvo_threshold_note: str | None


def _bone(
    patient: Patient, rows: list[BmdMeasurement], fragility: bool, on: date
) -> BoneAssessment | None:
    ms = [
        ClinicalBmd(
            site=BmdSite(r.site),
            bmd_g_cm2=None if r.bmd_g_cm2 is None else float(r.bmd_g_cm2),
            t_score=None if r.t_score is None else float(r.t_score),
            z_score=None if r.z_score is None else float(r.z_score),
            date=r.measured_on,
            valid=r.valid,
        )
        for r in rows
    ]
    try:
        return assess_bone(
            ms,
            sex=Sex(patient.sex),
            age=_age(patient.birth_date, on),
            premenopausal=None
            if patient.menopausal_status is None
            else patient.menopausal_status == Menopause.PRE.value,
            fragility_fracture=fragility,
            weight_kg=float(patient.weight_kg),
        )
    except InputError:
        return None  # nothing valid to assess: the work-up shows the DXA as open


def osteoporosis_summary(
    session: Session, actor: Actor, patient_id: int, *, on: date | None = None
) -> OsteoporosisSummary:
    """The DVO work-up, nutrition, risk factors, drug therapy as recorded, fractures and
    heights for one patient."""
    require_reader(actor)
    patient = load_patient(session, patient_id)
    day = on or clinic_today()

    def rows(model: Any, order: Any) -> list[Any]:
        return list(
            session.scalars(
                select(model).where(model.patient_id == patient_id).order_by(order, model.id)
            )
        )

    risk = rows(OsteoporosisRiskFactor, OsteoporosisRiskFactor.recorded_on)
    drugs = rows(DrugTherapyRecord, DrugTherapyRecord.started_on)
    heights = rows(HeightMeasurement, HeightMeasurement.measured_on)
    fractures = rows(VertebralFracture, VertebralFracture.occurred_on)
    bmd = rows(BmdMeasurement, BmdMeasurement.measured_on)
    clinical_fractures = [
        Fracture(
            level=f.level, date=f.occurred_on, kind=FractureKind(f.kind), compression=f.compression
        )
        for f in fractures
    ]
    followup = osteoporosis_followup(
        on=day,
        age=_age(patient.birth_date, day),
        risk_answers=[
            RiskFactorAnswer(code=r.code, present=r.present, recorded_on=r.recorded_on, note=r.note)
            for r in risk
        ],
        therapies=[
            DrugTherapy(
                drug_class=d.drug_class,
                substance=d.substance,
                dose=d.dose,
                started_on=d.started_on,
                stopped_on=d.stopped_on,
                prescriber=d.prescriber,
            )
            for d in drugs
        ],
        fractures=clinical_fractures,
        heights=[
            HeightRecord(measured_on=h.measured_on, height_cm=float(h.height_cm), kind=h.kind)
            for h in heights
        ],
        last_dxa_on=max((b.measured_on for b in bmd if b.valid), default=None),
    )
    fragility = any(f.kind is FractureKind.OSTEOPOROTIC for f in clinical_fractures)
    bone = _bone(patient, bmd, fragility, day) if bmd else None
    note = None
    if bone is not None and bone.dvo2017_drug_treatment_suggested:
        note = (
            f"T-score {bone.t_score:+.1f} at or below the DVO 2017 threshold "
            f"{bone.dvo2017_treatment_threshold_t:+.1f} for age and sex: drug treatment is for "
            "the treating physician to decide"
        )
    return OsteoporosisSummary(
        patient_id=patient_id,
        followup=followup,
        drug_therapy_ids=[d.id for d in drugs],
        bone=bone,
        dvo_threshold_note=note,
    )


# --- posture recordings --------------------------------------------------------------------------
PostureSource = Literal["simulated", "csv", "serial"]


class PostureRecordingPublic(BaseModel):
    id: int
    patient_id: int
    prescription_id: int | None
    started_at: datetime
    source: PostureSource
    file_name: str | None
    duration_s: float
    wear_time_s: float
    upright_time_s: float
    upright_fraction: float | None
    reminders: int


def _recording_public(r: PostureRecording) -> PostureRecordingPublic:
    wear = float(r.wear_time_s)
    return PostureRecordingPublic(
        id=r.id,
        patient_id=r.patient_id,
        prescription_id=r.prescription_id,
        started_at=r.started_at,
        source=r.source,  # checked by the table's constraint
        file_name=r.file_name,
        duration_s=float(r.duration_s),
        wear_time_s=wear,
        upright_time_s=float(r.upright_time_s),
        upright_fraction=round(float(r.upright_time_s) / wear, 4) if wear > 0 else None,
        reminders=r.reminders,
    )


def _active_prescription(session: Session, patient_id: int) -> OrthosisPrescription | None:
    return session.scalars(
        select(OrthosisPrescription)
        .where(OrthosisPrescription.patient_id == patient_id)
        .where(OrthosisPrescription.ended_on.is_(None))
        .order_by(OrthosisPrescription.prescribed_on.desc(), OrthosisPrescription.id.desc())
    ).first()


def _no_overlap(session: Session, patient_id: int, start: datetime, duration_s: float) -> None:
    """Refuse a recording stored already, or one covering hours another recording covers:
    either would count the same wear time and reminders twice in the daily summaries. Spans
    are half-open (from the first sample to the last), so back-to-back files fit."""
    end = start + timedelta(seconds=duration_s)
    stored = Decimal(str(round(duration_s, 2)))
    rows = session.execute(
        select(PostureRecording.id, PostureRecording.started_at, PostureRecording.duration_s)
        .where(PostureRecording.patient_id == patient_id)
        .order_by(PostureRecording.started_at, PostureRecording.id)
    )
    for rid, began, dur in rows:
        r_start = as_utc(began)
        r_end = r_start + timedelta(seconds=float(dur))
        if r_start == start and dur == stored:
            raise InputError("start", f"already recorded as recording {rid}", start.isoformat())
        if r_start < end and start < r_end:
            zone = start.tzinfo
            raise InputError(
                "start",
                f"overlaps recording {rid} ({r_start.astimezone(zone).isoformat()} to "
                f"{r_end.astimezone(zone).isoformat()}): the same hours would count twice",
                start.isoformat(),
            )


def record_posture(
    session: Session,
    actor: Actor,
    patient_id: int,
    started_at: datetime,
    analysis: PostureAnalysis,
    *,
    source: PostureSource,
    file_name: str | None = None,
    now: datetime | None = None,
) -> PostureRecordingPublic:
    """Keep one analysed recording with the patient's current orthosis prescription; the same
    recording again, or one overlapping a stored one in time, is refused (``_no_overlap``)."""
    require_clinical_writer(actor)
    act_as(session, actor)
    load_patient(session, patient_id)
    at = utcnow(now)
    if started_at.tzinfo is None:
        raise InputError("start", "needs a time zone", started_at.isoformat())
    if started_at > at + timedelta(minutes=5):
        raise InputError("start", "must not be in the future", started_at.isoformat())
    _no_overlap(session, patient_id, started_at, analysis.duration_s)
    pres = _active_prescription(session, patient_id)
    row = PostureRecording(
        patient_id=patient_id,
        prescription_id=pres.id if pres else None,
        started_at=started_at,
        source=source,
        file_name=file_name,
        duration_s=Decimal(str(round(analysis.duration_s, 2))),
        wear_time_s=Decimal(str(round(analysis.wear_time_s, 2))),
        upright_time_s=Decimal(str(round(analysis.upright_time_s, 2))),
        reminders=len(analysis.reminders),
        analysis=analysis.model_dump(mode="json"),
        created_at=at,
    )
    session.add(row)
    session.flush()
    return _recording_public(row)


class PostureSummary(BaseModel):
    patient_id: int
    recordings: list[PostureRecordingPublic]
    days: list[PostureDay]
    weeks: list[PostureWeek]
    accuracy: str


def posture_summary(
    session: Session, actor: Actor, patient_id: int, *, zone: Any
) -> PostureSummary:
    """Daily summaries (wear time against the wearing plan, upright time, reminders) and the
    weekly trend, in the clinic's time zone."""
    require_reader(actor)
    load_patient(session, patient_id)
    rows = list(
        session.scalars(
            select(PostureRecording)
            .where(PostureRecording.patient_id == patient_id)
            .order_by(PostureRecording.started_at, PostureRecording.id)
        )
    )
    analyses = [(r.started_at, PostureAnalysis.model_validate(r.analysis)) for r in rows]
    plan: dict[date, float] = {}
    pres = _active_prescription(session, patient_id)
    if pres is not None and pres.fitted_on is not None and rows:
        wp = WearingPlan.model_validate(pres.plan)
        last = max(r.started_at for r in rows).astimezone(zone).date()
        d = pres.fitted_on
        while d <= last:
            plan[d] = wearing_hours(wp, pres.fitted_on, d) * 3600.0
            d += timedelta(days=1)
    days = posture_daily(analyses, zone, plan)
    return PostureSummary(
        patient_id=patient_id,
        recordings=[_recording_public(r) for r in rows],
        days=days,
        weeks=posture_weekly(days),
        accuracy=ACCURACY_STATEMENT,
    )


# --- the follow-up report -----------------------------------------------------------------------
DEVICE_NAMES = {
    OrthosisDevice.SPINOMED: "Spinomed",
    OrthosisDevice.SPINOMED_ACTIVE: "Spinomed active",
    OrthosisDevice.OTHER_TLO: "thoraco-lumbar orthosis",
}


def orthosis_report_data(
    session: Session, actor: Actor, prescription_id: int, *, zone: Any, today: date | None = None
) -> OrthosisReportData:
    """Everything the follow-up PDF shows, from the records."""
    from spinecare.clinical.orthosis import EVIDENCE, EVIDENCE_SUMMARY, trial_label
    from spinecare.reports.orthosis_report import FollowUpRow, OrthosisReportData, TrialNote

    today = today or clinic_today(zone)  # one day for the whole report, the clinic's
    prog = orthosis_progress(session, actor, prescription_id, today=today)
    p = prog.prescription
    patient = load_patient(session, p.patient_id)
    osteo = osteoporosis_summary(session, actor, p.patient_id, on=today)
    posture = posture_summary(session, actor, p.patient_id, zone=zone)
    device = DEVICE_NAMES[p.device] + (f" ({p.device_name})" if p.device_name else "")
    return OrthosisReportData(
        patient_name=patient.name,
        patient_ref=f"patient {patient.id}",
        device=device,
        size=p.size,
        prescribed_on=p.prescribed_on,
        prescriber=p.prescriber,
        fitted_on=p.fitted_on,
        plan=p.plan,
        followups=[FollowUpRow(f.visit, f.due_on, f.done_on, f.measures) for f in p.followups],
        changes=[(v.visit, v.changes) for v in prog.changes],
        evidence=prog.evidence,
        trials=[
            TrialNote(
                label=trial_label(e).rsplit(",", 1)[0] + f" ({e.arm})",
                design=e.design,
                n=e.n,
                funding=e.funding,
                summary=e.summary,
            )
            for e in EVIDENCE
        ],
        evidence_summary=EVIDENCE_SUMMARY,
        weeks=posture.weeks,
        posture_accuracy=posture.accuracy,
        osteoporosis=osteo.followup,
        dvo_note=osteo.dvo_threshold_note,
        issued_on=today,
    )
