"""`spinecare findings`: record what screening reads (contraindication items, diagnoses, DXA
results, vertebral fractures) for a stored patient, and list it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, print_json, run_read, run_write
from spinecare.cli.output import day_parse, echo, number_option
from spinecare.clinical.findings import Finding, Fracture
from spinecare.services import diagnoses as dx_svc
from spinecare.services import findings as svc

findings_app = typer.Typer(
    help="Findings screening reads: contraindication items, diagnoses, DXA, fractures.",
    no_args_is_help=True,
)
app.add_typer(findings_app, name="findings")

PATIENT = typer.Option(..., "--patient", help="patient id")


def _date(field: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    return day_parse(value, field)


def _required_date(field: str, value: str) -> dt.date:
    day = _date(field, value)
    assert day is not None
    return day


@findings_app.command("add")
def add(
    patient: int = PATIENT,
    code: str = typer.Option(..., "--code", help="CI-01 .. CI-13"),
    present: bool | None = typer.Option(
        None, "--present/--absent", help="the examiner's answer (omit: asked, not yet known)"
    ),
    date: str | None = typer.Option(None, "--date", help="date of the event, YYYY-MM-DD"),
    region: str | None = typer.Option(None, "--region", help="lumbar | cervical, if localised"),
    cobb: float | None = number_option(None, "--cobb", help="scoliosis Cobb angle, deg"),
    meyerding: int | None = typer.Option(None, "--meyerding", help="spondylolisthesis grade"),
    translation: float | None = number_option(None, "--translation", help="instability, mm"),
    canal: float | None = number_option(None, "--canal", help="canal AP diameter, mm"),
    detail: str | None = typer.Option(None, "--detail", help="free text"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record one contraindication item (the newest answer per code is the one screened)."""
    item: dict[str, Any] = {
        "code": code,
        "present": present,
        "date": _date("date", date),
        "region": region,
        "cobb_angle_deg": cobb,
        "meyerding_grade": meyerding,
        "translation_mm": translation,
        "canal_ap_diameter_mm": canal,
        "detail": detail,
    }
    finding = Finding.model_validate(
        {k: v for k, v in item.items() if v is not None or k == "present"}
    )
    row = run_write(as_user, lambda db, actor, _: svc.record_finding(db, actor, patient, finding))
    if as_json:
        print_json(row)
    else:
        answer = {True: "present", False: "absent", None: "unknown"}[row.present]
        echo(f"finding {row.id}: {row.code} {answer}")


@findings_app.command("diagnosis")
def diagnosis(
    patient: int = PATIENT,
    icd10: str = typer.Option(..., "--icd10", help="ICD-10 code, e.g. M51.2"),
    text: str = typer.Option(..., "--text", help="diagnosis in words"),
    date: str = typer.Option(..., "--date", help="diagnosed on, YYYY-MM-DD"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a diagnosis (physicians)."""
    create = dx_svc.DiagnosisCreate(
        icd10=icd10, text=text, diagnosed_on=_required_date("date", date)
    )
    row = run_write(as_user, lambda db, actor, _: dx_svc.add_diagnosis(db, actor, patient, create))
    if as_json:
        print_json(row)
    else:
        echo(f"diagnosis {row.id}: {row.icd10} {row.text}")


@findings_app.command("bmd")
def bmd(
    patient: int = PATIENT,
    site: str = typer.Option(
        ..., "--site", help="lumbar_spine | femoral_neck | total_hip | radius_33"
    ),
    date: str = typer.Option(..., "--date", help="measured on, YYYY-MM-DD"),
    bmd_g_cm2: float | None = number_option(None, "--bmd", help="BMD, g/cm2"),
    t_score: float | None = number_option(None, "--t-score", help="T-score as reported"),
    z_score: float | None = number_option(None, "--z-score", help="Z-score as reported"),
    device: str | None = typer.Option(None, "--device", help="DXA device"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a DXA result as printed on the report."""
    values: dict[str, Any] = {
        "measured_on": _required_date("date", date),
        "site": site,
        "bmd_g_cm2": None if bmd_g_cm2 is None else str(bmd_g_cm2),
        "t_score": None if t_score is None else str(t_score),
        "z_score": None if z_score is None else str(z_score),
        "device": device,
    }
    create = svc.BmdCreate.model_validate({k: v for k, v in values.items() if v is not None})
    row = run_write(as_user, lambda db, actor, _: svc.record_bmd(db, actor, patient, create))
    if as_json:
        print_json(row)
    else:
        echo(f"bmd {row.id}: {row.site.value} on {row.measured_on}")


@findings_app.command("fracture")
def fracture(
    patient: int = PATIENT,
    level: str = typer.Option(..., "--level", help="vertebra, e.g. L1 or T12"),
    date: str = typer.Option(..., "--date", help="date of the fracture, YYYY-MM-DD"),
    kind: str = typer.Option(..., "--kind", help="osteoporotic | traumatic | pathologic"),
    compression: bool = typer.Option(False, "--compression", help="a compression fracture"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a vertebral fracture to the history."""
    frac = Fracture.model_validate(
        {"level": level, "date": _required_date("date", date), "kind": kind,
         "compression": compression}
    )  # fmt: skip
    row = run_write(as_user, lambda db, actor, _: svc.record_fracture(db, actor, patient, frac))
    if as_json:
        print_json(row)
    else:
        echo(f"fracture {row.id}: {row.level} on {row.occurred_on} ({row.kind.value})")


@findings_app.command("no-fractures")
def no_fractures(
    patient: int = PATIENT,
    on: str = typer.Option(..., "--date", "--on", help="history taken on, YYYY-MM-DD"),
    as_user: str | None = AS_OPTION,
) -> None:
    """Record that the fracture history was taken (no rows then means: no fractures)."""
    day = _required_date("--date", on)
    run_write(as_user, lambda db, actor, _: svc.record_fracture_history(db, actor, patient, day))
    echo(f"fracture history of patient {patient} taken on {day.isoformat()}")


@findings_app.command("list")
def list_cmd(
    patient: int = PATIENT,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Everything screening will read for this patient (newest answer per item)."""

    def work(db: Any, actor: Any, _: Any) -> dict[str, Any]:
        return {
            "findings": svc.list_findings(db, actor, patient, latest_only=True),
            "diagnoses": dx_svc.list_diagnoses(db, actor, patient),
            "bmd": svc.list_bmd(db, actor, patient),
            "fractures": svc.list_fractures(db, actor, patient),
        }

    data = run_read(as_user, work)
    if as_json:
        print_json({k: [r.model_dump(mode="json") for r in v] for k, v in data.items()})
        return
    for f in data["findings"]:
        answer = {True: "present", False: "absent", None: "unknown"}[f.present]
        echo(f"{f.code}: {answer}" + (f" ({f.event_date})" if f.event_date else ""))
    for d in data["diagnoses"]:
        echo(f"diagnosis {d.icd10}: {d.text}")
    for b in data["bmd"]:
        echo(f"bmd {b.site.value} {b.measured_on}: BMD {b.bmd_g_cm2} T {b.t_score}")
    for fr in data["fractures"]:
        echo(f"fracture {fr.level} {fr.occurred_on} ({fr.kind.value})")
