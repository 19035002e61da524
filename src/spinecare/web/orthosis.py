"""The orthosis pathway on the patient page: prescription and fitting, the follow-ups with the
trials' outcome measures and their change against what the trials published (with who paid for
them), the osteoporosis follow-up beside it (work-up, calcium and vitamin D, risk factors, the
treating physician's drug therapy, fractures, heights), and the follow-up PDF.

Every rule is the services' (``services/orthosis.py``); forms are turned into its schemas here,
and a refusal comes back on the patient page with the service's reason.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from spinecare.clinical.bone import SEED_RISK_FACTORS
from spinecare.clinical.orthosis import (
    EVIDENCE,
    EVIDENCE_SUMMARY,
    ORTHOSIS_SIZES,
    OUTCOME_MEASURES,
    FollowUpMeasures,
    FollowUpVisit,
    OrthosisDevice,
    WearingPlan,
    trial_label,
)
from spinecare.clinical.osteoporosis_followup import DrugClass, DrugTherapy, HeightRecord
from spinecare.clinical.osteoporosis_followup import RiskFactorAnswer as RiskAnswer
from spinecare.errors import InputError, describe_validation_error
from spinecare.services import orthosis as svc
from spinecare.services.auth import PHYSICIAN_ROLES, Actor
from spinecare.services.patients import day_field
from spinecare.settings import clinic_today
from spinecare.web import forms
from spinecare.web.deps import CtxDep, CurrentUser, DbDep, csrf_protect, lang_of
from spinecare.web.render import flash, redirect
from spinecare.web.roles import DECIDE, READ, WRITE

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Text = Annotated[str, Form(max_length=2000)]
# The follow-up visit's note (longer is refused, never cut).
FOLLOWUP_NOTE_MAX = 2000


def patient_orthosis(db: Any, user: Actor, patient_id: int, lang: str) -> dict[str, Any]:
    """What the patient page's orthosis and osteoporosis section shows."""
    from spinecare.reports.orthosis_report import (
        measure_change_unit,
        measure_how,
        measure_name,
        measure_unit,
    )

    prescriptions = svc.list_prescriptions(db, user, patient_id)
    progress = [svc.orthosis_progress(db, user, p.id) for p in reversed(prescriptions)]
    osteo = svc.osteoporosis_summary(db, user, patient_id)
    return {
        "progress": progress,
        "osteo": osteo,
        "devices": list(OrthosisDevice),
        "device_names": svc.DEVICE_NAMES,
        "sizes": ORTHOSIS_SIZES,
        "visits": list(FollowUpVisit),
        "measures": [
            (m, measure_name(m.key, lang), measure_unit(m.key, lang), measure_how(m.key, lang))
            for m in OUTCOME_MEASURES
        ],
        "change_units": {m.key: measure_change_unit(m.key, lang) for m in OUTCOME_MEASURES},
        "risk_factors": SEED_RISK_FACTORS,
        "drug_classes": list(DrugClass),
        "trials": [(trial_label(e), e) for e in EVIDENCE],
        "evidence_summary": EVIDENCE_SUMMARY,
        "plan_default": WearingPlan(),
        "can_prescribe": user.role in PHYSICIAN_ROLES,
    }


def _day(value: str, field: str) -> date | None:
    return day_field(value, field)


def _answer(value: str) -> bool | None:
    """A risk factor's answer: yes, no, or left open (empty); nothing else."""
    answers = {"yes": True, "no": False, "": None}
    if value not in answers:
        raise InputError("present", "expected yes, no or nothing", value)
    return answers[value]


def _change(request: Request, db: Any, patient_id: int, work: Any, note: str) -> Response:
    """Do one change, commit it and say so, or say why it was refused; back to the section."""
    from spinecare.web.i18n import translator

    _ = translator(lang_of(request))
    try:
        work()
        db.commit()
        flash(request, _(note))
    except (InputError, ValidationError) as exc:
        db.rollback()
        text = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        flash(request, f"{_('not_done')}: {text}", "error")
    return redirect(f"/patients/{patient_id}#orthosis")


def _patient_of(db: Any, user: Actor, prescription_id: int) -> int:
    return svc.get_prescription(db, user, prescription_id).patient_id


@router.post("/patients/{patient_id}/orthosis", dependencies=[DECIDE])
def prescribe(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    device: Annotated[str, Form(max_length=20)],
    prescribed_on: Annotated[str, Form(max_length=20)],
    size: Annotated[str, Form(max_length=10)] = "",
    device_name: Annotated[str, Form(max_length=120)] = "",
    fitted_on: Annotated[str, Form(max_length=20)] = "",
    start_hours: Annotated[str, Form(max_length=10)] = "",
    target_hours: Annotated[str, Form(max_length=10)] = "",
    step_hours: Annotated[str, Form(max_length=10)] = "",
    step_days: Annotated[str, Form(max_length=10)] = "",
    reason: Text = "",
) -> Response:
    def work() -> None:
        plan = {
            k: v
            for k, v in {
                "start_hours": forms.real(start_hours, "start_hours"),
                "target_hours": forms.real(target_hours, "target_hours"),
                "step_hours": forms.real(step_hours, "step_hours"),
                "step_days": forms.whole(step_days, "step_days"),
            }.items()
            if v is not None
        }
        data = svc.PrescriptionCreate.model_validate(
            {
                "device": device,
                "device_name": device_name or None,
                "size": size or None,
                "prescribed_on": _day(prescribed_on, "prescribed_on"),
                "fitted_on": _day(fitted_on, "fitted_on"),
                "reason": reason or None,
                "plan": WearingPlan.model_validate(plan),
            }
        )
        svc.prescribe_orthosis(db, user, patient_id, data)

    return _change(request, db, patient_id, work, "orthosis_prescribed")


@router.post("/orthosis/{prescription_id}/fit", dependencies=[WRITE])
def fit(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    prescription_id: Id,
    fitted_on: Annotated[str, Form(max_length=20)],
    size: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    pid = _patient_of(db, user, prescription_id)

    def work() -> None:
        day = _day(fitted_on, "fitted_on")
        if day is None:
            raise InputError("fitted_on", "give the day of the fitting")
        svc.fit_orthosis(db, user, prescription_id, svc.FitData(fitted_on=day, size=size or None))

    return _change(request, db, pid, work, "orthosis_fitted")


@router.post("/orthosis/{prescription_id}/followup", dependencies=[WRITE])
async def followup(request: Request, db: DbDep, user: CurrentUser, prescription_id: Id) -> Response:
    """The trials' measures at one visit (any may be left empty; at least one is needed)."""
    form = await request.form()

    def text(name: str, limit: int = 40) -> str:
        return forms.text(form, name, limit)

    pid = _patient_of(db, user, prescription_id)

    def work() -> None:
        try:
            visit = FollowUpVisit(text("visit"))
        except ValueError:
            raise InputError("visit", "baseline, month_3 or month_6", text("visit")) from None
        day = _day(text("done_on"), "done_on")
        if day is None:
            raise InputError("done_on", "give the day of the visit")
        measures = FollowUpMeasures.model_validate(
            {m.key: forms.real(text(m.key), m.key) for m in OUTCOME_MEASURES}
        )
        note = text("note", FOLLOWUP_NOTE_MAX).strip() or None
        record = svc.FollowUpRecord(done_on=day, measures=measures, note=note)
        svc.record_followup(db, user, prescription_id, visit, record)

    return _change(request, db, pid, work, "followup_recorded")


@router.get("/orthosis/{prescription_id}/report.pdf", dependencies=[READ])
def report_pdf(
    request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser, prescription_id: Id
) -> Response:
    from spinecare.reports.orthosis_report import render_orthosis_report
    from spinecare.reports.render import ClinicInfo
    from spinecare.web.pages import _pdf, _tmp_pdf

    data = svc.orthosis_report_data(db, user, prescription_id, zone=ctx.settings.clinic.zone)
    out = _tmp_pdf()
    render_orthosis_report(
        data, out, clinic=ClinicInfo(name=ctx.settings.clinic.name), lang=lang_of(request)
    )
    return _pdf(out, f"orthosis-{prescription_id}.pdf")


@router.get("/orthosis/{prescription_id}/evidence.png", dependencies=[READ])
def evidence_png(request: Request, db: DbDep, user: CurrentUser, prescription_id: Id) -> Response:
    """The latest visit's change from baseline beside the trials' published changes."""
    from spinecare.reports.charts import to_png
    from spinecare.reports.orthosis_report import evidence_figure

    prog = svc.orthosis_progress(db, user, prescription_id)
    months = prog.compared_visit.months if prog.compared_visit else None
    png = to_png(evidence_figure(prog.evidence, lang=lang_of(request), patient_months=months))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


# -- osteoporosis follow-up -------------------------------------------------------------------
@router.post("/patients/{patient_id}/osteo/risk", dependencies=[WRITE])
def risk_factor(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    code: Annotated[str, Form(max_length=40)],
    present: Annotated[str, Form(max_length=10)] = "",
    recorded_on: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def work() -> None:
        answer = RiskAnswer(
            code=code,
            present=_answer(present),
            recorded_on=_day(recorded_on, "recorded_on") or clinic_today(),
            note=note.strip() or None,
        )
        svc.record_risk_factor(db, user, patient_id, answer)

    return _change(request, db, patient_id, work, "saved")


@router.post("/patients/{patient_id}/osteo/drug", dependencies=[WRITE])
def drug_therapy(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    drug_class: Annotated[str, Form(max_length=40)],
    substance: Annotated[str, Form(max_length=120)],
    prescriber: Annotated[str, Form(max_length=200)],
    started_on: Annotated[str, Form(max_length=20)] = "",
    dose: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    def work() -> None:
        therapy = DrugTherapy.model_validate(
            {
                "drug_class": drug_class,
                "substance": substance.strip(),
                "dose": dose.strip() or None,
                "started_on": _day(started_on, "started_on") or clinic_today(),
                "prescriber": prescriber.strip(),
            }
        )
        svc.record_drug_therapy(db, user, patient_id, therapy)

    return _change(request, db, patient_id, work, "saved")


@router.post("/osteo/drug/{therapy_id}/stop", dependencies=[WRITE])
def drug_stop(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    therapy_id: Id,
    patient_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    stopped_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    def work() -> None:
        if therapy_id not in svc.osteoporosis_summary(db, user, patient_id).drug_therapy_ids:
            raise InputError("therapy", "is not this patient's", therapy_id)
        day = _day(stopped_on, "stopped_on") or clinic_today()
        svc.stop_drug_therapy(db, user, therapy_id, day)

    return _change(request, db, patient_id, work, "saved")


@router.post("/patients/{patient_id}/osteo/height", dependencies=[WRITE])
def height(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    height_cm: Annotated[str, Form(max_length=10)],
    measured_on: Annotated[str, Form(max_length=20)] = "",
    recalled: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    def work() -> None:
        record = HeightRecord.model_validate(
            {
                "measured_on": _day(measured_on, "measured_on") or clinic_today(),
                "height_cm": forms.real(height_cm, "height_cm"),
                "kind": "recalled_adult" if forms.checkbox(recalled, "recalled") else "measured",
            }
        )
        svc.record_height(db, user, patient_id, record)

    return _change(request, db, patient_id, work, "saved")
