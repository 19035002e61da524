"""`spinecare orthosis ...`: the orthosis pathway and the osteoporosis follow-up beside it.

prescribe, fit, followup, list, show (change from baseline beside the trials), report (PDF),
evidence (the trials, with who paid for them), and the osteoporosis follow-up: osteo (summary),
risk, drug, drug-stop, height. Write commands act as a user (``--as`` or ``SPINECARE_USER``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, print_json, run_read, run_write
from spinecare.cli.output import day_parse, number_option
from spinecare.errors import InputError
from spinecare.settings import clinic_today

orthosis_app = typer.Typer(
    help="Orthosis pathway: prescribe, fit, follow-ups against the trials, osteoporosis follow-up.",
    no_args_is_help=True,
)
app.add_typer(orthosis_app, name="orthosis")

PRESCRIPTION = typer.Option(..., "--prescription", help="prescription id")
PATIENT = typer.Option(..., "--patient", help="patient id")


def _day(text: str | None, field: str) -> date:
    if text is None:
        return clinic_today()
    return day_parse(text, field)


def _show_prescription(p: Any) -> None:
    fitted = p.fitted_on.isoformat() if p.fitted_on else "not yet fitted"
    typer.echo(
        f"prescription {p.id}: {p.device.value}{f' ({p.device_name})' if p.device_name else ''}, "
        f"size {p.size or '-'}; prescribed {p.prescribed_on} by {p.prescriber}; fitted {fitted}"
    )
    pl = p.plan
    typer.echo(
        f"  wearing plan: {pl.start_hours:g} h a day, +{pl.step_hours:g} h every "
        f"{pl.step_days} days, up to {pl.target_hours:g} h"
    )
    for f in p.followups:
        done = f"done {f.done_on}" if f.done_on else f"due {f.due_on}"
        vals = ", ".join(f"{k} {v:g}" for k, v in f.measures.values().items())
        typer.echo(f"  {f.visit.value:<9} {done}{'  ' + vals if vals else ''}")


@orthosis_app.command("prescribe")
def prescribe_cmd(
    patient: int = PATIENT,
    device: str = typer.Option(..., "--device", help="spinomed, spinomed_active or other_tlo"),
    device_name: str | None = typer.Option(None, "--device-name", help="product (other_tlo)"),
    size: str | None = typer.Option(None, "--size", help="XS, S, M, L, XL, XXL or custom"),
    on: str | None = typer.Option(None, "--date", "--on", help="prescription date (default today)"),
    fitted: str | None = typer.Option(None, "--fitted", help="fitting date, if fitted already"),
    start_hours: float = number_option(1.0, "--start-hours", help="hours a day at first"),
    target_hours: float = number_option(2.0, "--target-hours", help="hours a day to build up to"),
    step_hours: float = number_option(0.5, "--step-hours", help="added every --step-days"),
    step_days: int = typer.Option(7, "--step-days", help="days between steps"),
    reason: str | None = typer.Option(None, "--reason", help="indication (free text)"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Prescribe an orthosis (physicians); follow-ups at baseline, 3 and 6 months."""
    from spinecare.clinical.orthosis import WearingPlan
    from spinecare.services import orthosis as svc

    data = svc.PrescriptionCreate.model_validate(
        {
            "device": device,
            "device_name": device_name,
            "size": size,
            "prescribed_on": _day(on, "--date"),
            "fitted_on": None if fitted is None else _day(fitted, "fitted"),
            "reason": reason,
            "plan": WearingPlan(
                start_hours=start_hours,
                target_hours=target_hours,
                step_hours=step_hours,
                step_days=step_days,
            ),
        }
    )
    p = run_write(as_user, lambda s, actor, _: svc.prescribe_orthosis(s, actor, patient, data))
    print_json(p) if as_json else _show_prescription(p)


@orthosis_app.command("fit")
def fit_cmd(
    prescription: int = PRESCRIPTION,
    on: str | None = typer.Option(None, "--date", "--on", help="fitting date (default today)"),
    size: str | None = typer.Option(None, "--size", help="size fitted"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the fitting; the follow-ups not yet done are re-planned from it."""
    from spinecare.services import orthosis as svc

    data = svc.FitData(fitted_on=_day(on, "--date"), size=size)
    p = run_write(as_user, lambda s, actor, _: svc.fit_orthosis(s, actor, prescription, data))
    print_json(p) if as_json else _show_prescription(p)


@orthosis_app.command("followup")
def followup_cmd(
    prescription: int = PRESCRIPTION,
    visit: str = typer.Option(..., "--visit", help="baseline, month_3 or month_6"),
    on: str | None = typer.Option(
        None, "--date", "--on", help="date of the visit (default today; a correction keeps it)"
    ),
    back_extensor: float | None = number_option(None, "--back-extensor", help="N"),
    abdominal_flexor: float | None = number_option(None, "--abdominal-flexor", help="N"),
    kyphosis: float | None = number_option(None, "--kyphosis", help="deg (kyphometer)"),
    sway: float | None = number_option(None, "--sway", help="body sway, mm"),
    pain: float | None = number_option(None, "--pain", help="NRS 0-10"),
    well_being: float | None = number_option(None, "--well-being", help="score 0-100"),
    limitations: float | None = number_option(None, "--limitations", help="score 0-100"),
    note: str | None = typer.Option(None, "--note", help="free text"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the trials' outcome measures at a visit; recording it again corrects the
    measures given and keeps the others. A 3- or 6-month visit is accepted from two weeks before
    its due date after the fitting."""
    from spinecare.clinical.orthosis import FollowUpMeasures, FollowUpVisit
    from spinecare.services import orthosis as svc

    try:
        v = FollowUpVisit(visit)
    except ValueError:
        raise InputError("visit", "baseline, month_3 or month_6", visit) from None
    data = svc.FollowUpRecord(
        done_on=None if on is None else day_parse(on, "--date"),
        measures=FollowUpMeasures(
            back_extensor_strength=back_extensor,
            abdominal_flexor_strength=abdominal_flexor,
            kyphosis_angle=kyphosis,
            body_sway=sway,
            pain=pain,
            well_being=well_being,
            limitations_of_daily_living=limitations,
        ),
        note=note,
    )
    f = run_write(as_user, lambda s, actor, _: svc.record_followup(s, actor, prescription, v, data))
    if as_json:
        print_json(f)
    else:
        vals = ", ".join(f"{k} {x:g}" for k, x in f.measures.values().items())
        typer.echo(f"{f.visit.value} on {f.done_on}: {vals}")


@orthosis_app.command("list")
def list_cmd(
    patient: int = PATIENT, as_user: str | None = AS_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """The patient's orthosis prescriptions."""
    from spinecare.services import orthosis as svc

    ps = run_read(as_user, lambda s, actor, _: svc.list_prescriptions(s, actor, patient))
    if as_json:
        print_json(ps)
        return
    for p in ps:
        _show_prescription(p)


@orthosis_app.command("show")
def show_cmd(
    prescription: int = PRESCRIPTION,
    chart: Path | None = typer.Option(None, "--chart", help="also draw the comparison (PNG)"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Follow-ups, change from baseline, and what the trials published beside it."""
    if chart is not None and chart.suffix.lower() != ".png":
        raise InputError("chart", "needs a .png file name", str(chart))
    from spinecare.services import orthosis as svc

    prog = run_read(as_user, lambda s, actor, _: svc.orthosis_progress(s, actor, prescription))
    if chart is not None:
        from spinecare.reports.charts import to_png
        from spinecare.reports.orthosis_report import evidence_figure
        from spinecare.store.files import write_private

        write_private(chart, to_png(evidence_figure(prog.evidence)))  # fault: exit 10
    if as_json:
        print_json(prog)
        return
    _show_prescription(prog.prescription)
    typer.echo(f"planned today: {prog.planned_hours_today:g} h")
    for v in prog.changes:
        typer.echo(f"change from baseline at {v.visit.value} ({v.done_on}):")
        for c in v.changes:
            pct = "-" if c.percent is None else f"{c.percent:+.1f}%"
            verdict = {True: "better", False: "worse", None: "same"}[c.improved]
            typer.echo(f"  {c.name:<30} {c.baseline:g} -> {c.value:g} {c.unit} ({pct}, {verdict})")
    typer.echo("published changes after 6 months (percent within group):")
    for r in prog.evidence:
        mine = "-" if r.patient_percent is None else f"{r.patient_percent:+.1f}%"
        pubs = "; ".join(
            f"{p.label} {p.percent:+g}%{' (maker-funded)' if p.maker_funded else ''}"
            for p in r.published
        )
        typer.echo(f"  {r.name:<30} patient {mine:>7} | {pubs}")
    typer.echo(
        "Kaijser Alin 2019 (independent, n=113): no difference between orthosis, training "
        "and control groups."
    )


@orthosis_app.command("evidence")
def evidence_cmd(as_json: bool = JSON_OPTION) -> None:
    """The trials behind the orthosis, with their funding and the trial that found no
    difference."""
    from spinecare.clinical.orthosis import DVO2017_ORTHOSIS_QUOTE, EVIDENCE, EVIDENCE_SUMMARY

    if as_json:
        print_json({"trials": [e.model_dump() for e in EVIDENCE], "summary": EVIDENCE_SUMMARY})
        return
    for e in EVIDENCE:
        res = ", ".join(f"{k} {v:+g}%" for k, v in e.results.items())
        typer.echo(f"{e.citation} [{e.arm}]: {e.design}; n={e.n or '?'}; {e.funding}")
        typer.echo(f"  {res}")
        typer.echo(f"  {e.summary}")
    typer.echo(EVIDENCE_SUMMARY)
    typer.echo(f"DVO 2017: {DVO2017_ORTHOSIS_QUOTE}")


@orthosis_app.command("report")
def report_cmd(
    prescription: int = PRESCRIPTION,
    out: Path = typer.Option(..., "--out", help="PDF to write"),
    lang: str = typer.Option("de", "--lang", help="de or en"),
    as_user: str | None = AS_OPTION,
) -> None:
    """The follow-up report as PDF."""
    if out.suffix.lower() != ".pdf":
        raise InputError("out", "needs a .pdf file name", str(out))
    from spinecare.reports.orthosis_report import render_orthosis_report
    from spinecare.reports.render import ClinicInfo
    from spinecare.services import orthosis as svc

    def work(s: Any, actor: Any, settings: Any) -> Any:
        return svc.orthosis_report_data(s, actor, prescription, zone=settings.clinic.zone), (
            settings.clinic.name
        )

    data, clinic = run_read(as_user, work)
    path = render_orthosis_report(data, out, clinic=ClinicInfo(name=clinic), lang=lang)
    typer.echo(f"{path}")


# --- osteoporosis follow-up ----------------------------------------------------------------------
@orthosis_app.command("osteo")
def osteo_cmd(
    patient: int = PATIENT, as_user: str | None = AS_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """DVO work-up, calcium and vitamin D, risk factors, drug therapy (as recorded), fractures,
    height loss."""
    from spinecare.services import orthosis as svc

    data = run_read(as_user, lambda s, actor, _: svc.osteoporosis_summary(s, actor, patient))
    if as_json:
        print_json(data)
        return
    f = data.followup
    typer.echo("DVO basic work-up:")
    for w in f.workup:
        typer.echo(f"  {w.status:<14} {w.text} ({w.detail})")
    n = f.nutrition
    vit = (
        f"vitamin D {n.vitamin_d_iu_per_day[0]}-{n.vitamin_d_iu_per_day[1]} IU/day"
        if n.vitamin_d_iu_per_day
        else n.vitamin_d_note
    )
    typer.echo(
        f"calcium {n.calcium_mg_per_day[0]}-{n.calcium_mg_per_day[1]} mg/day "
        f"({n.calcium_note}); {vit}"
    )
    known = [r for r in f.risk_factors if r.present is not None]
    typer.echo(
        f"risk factors answered {len(known)}/{len(f.risk_factors)}; present: "
        + (", ".join(r.code for r in f.risk_factors if r.present) or "none")
    )
    typer.echo("drug therapy (recorded as prescribed by the treating physician):")
    for i, t in zip(data.drug_therapy_ids, f.drug_therapy, strict=True):
        until = f" until {t.stopped_on}" if t.stopped_on else ""
        typer.echo(
            f"  #{i} {t.substance} ({t.drug_class.value}) {t.dose or ''} since "
            f"{t.started_on}{until}, {t.prescriber}"
        )
    if not f.drug_therapy:
        typer.echo("  none recorded")
    if data.dvo_threshold_note:
        typer.echo(data.dvo_threshold_note)
    typer.echo("fractures: " + (", ".join(f"{x.level} {x.date}" for x in f.fractures) or "none"))
    hl = f.height_loss
    typer.echo(
        "heights: "
        + (", ".join(f"{h.measured_on} {h.height_cm:g} cm" for h in f.heights) or "none")
    )
    for r in hl.reasons:
        typer.echo(f"  {r}: spine imaging indicated")


@orthosis_app.command("risk")
def risk_cmd(
    patient: int = PATIENT,
    code: str = typer.Option(..., "--code", help="a risk factor of the seed (see osteo --json)"),
    present: bool | None = typer.Option(None, "--present/--absent", help="the answer"),
    on: str | None = typer.Option(None, "--date", "--on", help="date (default today)"),
    note: str | None = typer.Option(None, "--note", help="free text"),
    as_user: str | None = AS_OPTION,
) -> None:
    """Record a risk factor answer (neither flag: asked, not known)."""
    from spinecare.clinical.osteoporosis_followup import RiskFactorAnswer
    from spinecare.services import orthosis as svc

    ans = RiskFactorAnswer(code=code, present=present, recorded_on=_day(on, "--date"), note=note)
    r = run_write(as_user, lambda s, actor, _: svc.record_risk_factor(s, actor, patient, ans))
    typer.echo(f"risk factor {r.code}: {r.present}")


@orthosis_app.command("drug")
def drug_cmd(
    patient: int = PATIENT,
    drug_class: str = typer.Option(..., "--class", help="bisphosphonate, denosumab, ..."),
    substance: str = typer.Option(..., "--substance", help="active substance"),
    dose: str | None = typer.Option(None, "--dose", help="as prescribed"),
    since: str | None = typer.Option(None, "--since", help="start (default today)"),
    prescriber: str = typer.Option(..., "--prescriber", help="the treating physician"),
    as_user: str | None = AS_OPTION,
) -> None:
    """Record the treating physician's drug therapy (spinecare prescribes nothing)."""
    from spinecare.clinical.osteoporosis_followup import DrugTherapy
    from spinecare.services import orthosis as svc

    t = DrugTherapy.model_validate(
        {
            "drug_class": drug_class,
            "substance": substance,
            "dose": dose,
            "started_on": _day(since, "since"),
            "prescriber": prescriber,
        }
    )
    r = run_write(as_user, lambda s, actor, _: svc.record_drug_therapy(s, actor, patient, t))
    typer.echo(f"drug therapy {r.id}: {r.substance} since {r.started_on} ({r.prescriber})")


@orthosis_app.command("drug-stop")
def drug_stop_cmd(
    therapy: int = typer.Option(..., "--therapy", help="drug therapy id"),
    on: str | None = typer.Option(None, "--date", "--on", help="last day (default today)"),
    as_user: str | None = AS_OPTION,
) -> None:
    """Record that a drug therapy was stopped."""
    from spinecare.services import orthosis as svc

    day = _day(on, "--date")
    r = run_write(as_user, lambda s, actor, _: svc.stop_drug_therapy(s, actor, therapy, day))
    typer.echo(f"drug therapy {r.id}: stopped {r.stopped_on}")


@orthosis_app.command("height")
def height_cmd(
    patient: int = PATIENT,
    cm: float = number_option(..., "--cm", help="height in cm"),
    on: str | None = typer.Option(None, "--date", "--on", help="date (default today)"),
    recalled: bool = typer.Option(False, "--recalled", help="the tallest adult height recalled"),
    as_user: str | None = AS_OPTION,
) -> None:
    """Record a height (measured at a visit, or the tallest adult height recalled)."""
    from spinecare.clinical.osteoporosis_followup import HeightRecord
    from spinecare.services import orthosis as svc

    rec = HeightRecord(
        measured_on=_day(on, "--date"),
        height_cm=cm,
        kind="recalled_adult" if recalled else "measured",
    )
    r = run_write(as_user, lambda s, actor, _: svc.record_height(s, actor, patient, rec))
    typer.echo(f"height {r.height_cm:g} cm on {r.measured_on} ({r.kind})")
