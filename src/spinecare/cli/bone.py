"""`spinecare bone classify`: T/Z-score, WHO class, %YAM and bone loss for one DXA site."""

from __future__ import annotations

from typing import Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION
from spinecare.cli.output import echo, number_option, print_json
from spinecare.clinical.bone import check_bmd, classify, site_of
from spinecare.clinical.vocab import Sex
from spinecare.errors import InputError
from spinecare.settings import clinic_today

bone_app = typer.Typer(help="Bone density assessment (DXA).", no_args_is_help=True)
app.add_typer(bone_app, name="bone")


def _sex(value: str) -> Sex:
    try:
        return Sex(value.strip().upper())
    except ValueError:
        raise InputError("sex", "must be F or M", value) from None


def _from_record(patient_id: int, as_user: str | None) -> tuple[str, int, float, str | None]:
    """Sex, age today, weight and menopausal status of a stored patient."""

    from spinecare.cli.db import run_read
    from spinecare.services.patients import get_patient

    p = run_read(as_user, lambda db, actor, _: get_patient(db, actor, patient_id))
    today = clinic_today()
    b = p.birth_date
    age = today.year - b.year - ((today.month, today.day) < (b.month, b.day))
    status = p.menopausal_status.value if p.menopausal_status else None
    return p.sex.value, age, float(p.weight_kg), status


@bone_app.command("classify")
def classify_cmd(
    site: str = typer.Option(..., "--site", help="femoral_neck | total_hip | lumbar_spine"),
    patient: int | None = typer.Option(
        None, "--patient", help="patient id: sex, age, weight and menopausal status from the record"
    ),
    sex: str | None = typer.Option(None, "--sex", help="F or M (or --patient)"),
    age: int | None = typer.Option(None, "--age", help="age in years, 20-110 (or --patient)"),
    bmd: float | None = number_option(None, "--bmd", help="BMD in g/cm2"),
    t_score: float | None = number_option(None, "--t-score", help="T-score from the report"),
    z_score: float | None = number_option(None, "--z-score", help="Z-score from the report"),
    premenopausal: bool | None = typer.Option(
        None,
        "--premenopausal/--postmenopausal",
        help="a woman's status; not given: under 50 premenopausal (Z-score, no WHO class), "
        "from 50 postmenopausal (docs/bone.md)",
    ),
    fragility_fracture: bool = typer.Option(
        False, "--fragility-fracture", help="a fragility fracture is known"
    ),
    weight: float | None = number_option(None, "--weight", help="body weight in kg (for OST)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    as_user: str | None = AS_OPTION,
) -> None:
    """Classify one DXA measurement (WHO / ISCD) and relate it to the seed's 45% threshold."""
    s = site_of(site)
    if patient is not None:
        if sex is not None or age is not None:
            raise InputError("--patient", "takes sex and age from the record: drop --sex/--age")
        sex, age, rec_weight, status = _from_record(patient, as_user)
        weight = weight if weight is not None else rec_weight
        if premenopausal is None and status is not None:
            premenopausal = status == "pre"
    if sex is None or age is None:
        raise InputError("--sex", "give --sex and --age, or --patient ID")
    sx = _sex(sex)
    if premenopausal is not None and sx is not Sex.FEMALE:
        raise InputError("--premenopausal", "applies to women only (--sex F)")
    if bmd is not None:
        check_bmd(bmd)
    if bmd is None and t_score is None:
        raise InputError(
            "bmd",
            "give --bmd or --t-score from the DXA report (and --z-score where the Z-score"
            " decides: a premenopausal woman, a man under 50)",
        )
    if bmd is not None and t_score is not None:
        raise InputError("t_score", "give either --bmd or --t-score, not both")
    result = classify(
        s,
        sex=sx,
        age=age,
        bmd=bmd,
        t_score=t_score,
        z_score=z_score,
        premenopausal=premenopausal,
        fragility_fracture=fragility_fracture,
        weight_kg=weight,
    )
    out: dict[str, Any] = {
        "site": s.value,
        "sex": sx.value,
        "age": age,
        "bmd_g_cm2": bmd,
        "t_score": result.t_score,
        "z_score": result.z_score,
        "score_used": result.score_used,
        "who_class": None if result.who_class is None else result.who_class.value,
        "percent_young_adult_mean": result.percent_young_adult_mean,
        "bone_loss_percent": result.bone_loss_percent,
        "exceeds_seed_bone_loss_threshold": result.exceeds_seed_bone_loss_threshold,
        "seed_threshold_t": result.seed_threshold_t,
        "dvo2017_treatment_threshold_t": result.dvo2017_treatment_threshold_t,
        "dvo2017_drug_treatment_suggested": result.dvo2017_drug_treatment_suggested,
        "ost": result.ost,
        "ost_risk": result.ost_risk,
        "calcium_mg_per_day": list(result.nutrition.calcium_mg_per_day),
        "vitamin_d_iu_per_day": (
            None
            if result.nutrition.vitamin_d_iu_per_day is None
            else list(result.nutrition.vitamin_d_iu_per_day)
        ),
        "reference": result.sites[0].reference_source,
        "notes": result.notes,
    }
    if as_json:
        print_json(out)
        return
    for key, value in out.items():
        if key == "notes":
            for note in result.notes:
                echo(f"note: {note}")
            continue
        shown = "-" if value is None else value
        echo(f"{key}: {shown}")
