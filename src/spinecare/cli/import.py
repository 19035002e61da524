"""`spinecare import dxa FILE --patient ID`: DXA results into the bone assessment.

The file is FHIR R4B JSON (a Bundle, an Observation, or a list of Observations; LOINC-coded or
exported by spinecare) or the DXA CSV of docs/interop.md. Each result is recorded exactly as
``spinecare findings bmd`` records a typed one, so screening and ``bone classify`` give the same
answers; what the file held that is not a DXA result is listed, never dropped silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, run_write
from spinecare.cli.textfile import MAX_CLINICAL_FILE_BYTES, text_read
from spinecare.errors import InputError

import_app = typer.Typer(help="Import data: DXA results (FHIR or CSV).", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("dxa")
def dxa_cmd(
    file: Annotated[Path, typer.Argument(help="FHIR JSON or DXA CSV file")],
    patient: Annotated[int, typer.Option("--patient", help="patient id")],
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record DXA results from a file (FHIR Observations or the documented CSV)."""
    from spinecare.services import dxa as svc

    text = text_read(file, limit_bytes=MAX_CLINICAL_FILE_BYTES)
    parsed = svc.dxa_parse(text, name=file.name)
    if not parsed.measurements:
        why = "; ".join(parsed.skipped[:5]) or "it holds no Observation"
        raise InputError("file", f"no DXA result in it: {why}")

    def work(db: Any, actor: Any, _: Any) -> Any:
        return svc.import_dxa(db, actor, patient, parsed)

    done = run_write(as_user, work)
    rated = {row.id: a for row, a in done.assessments}
    report: dict[str, Any] = {
        "patient": patient,
        "stored": [
            {
                **row.model_dump(mode="json"),
                "assessment": _assessment(rated[row.id]) if row.id in rated else None,
            }
            for row in done.stored
        ],
        "already_recorded": [b.model_dump(mode="json") for b in done.already],
        "skipped": done.skipped,
        "notes": done.notes,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for item in report["stored"]:
        a = item["assessment"]
        rating = (
            f": T {a['t_score']}, {a['who_class'] or 'no WHO class'}, bone loss "
            f"{a['bone_loss_percent']}%"
            if a
            else ""
        )
        typer.echo(f"bmd {item['id']}: {item['site']} on {item['measured_on']}{rating}")
    for b in done.already:
        typer.echo(f"already recorded: {b.site.value} on {b.measured_on}")
    for s in done.skipped:
        typer.echo(f"skipped: {s}")
    for n in done.notes:
        typer.echo(f"note: {n}")


def _assessment(a: Any) -> dict[str, Any]:
    """The fields ``spinecare bone classify --json`` prints for the same values."""
    return {
        "t_score": a.t_score,
        "z_score": a.z_score,
        "score_used": a.score_used,
        "who_class": None if a.who_class is None else a.who_class.value,
        "percent_young_adult_mean": a.percent_young_adult_mean,
        "bone_loss_percent": a.bone_loss_percent,
        "exceeds_seed_bone_loss_threshold": a.exceeds_seed_bone_loss_threshold,
        "seed_threshold_t": a.seed_threshold_t,
        "dvo2017_treatment_threshold_t": a.dvo2017_treatment_threshold_t,
        "dvo2017_drug_treatment_suggested": a.dvo2017_drug_treatment_suggested,
        "ost": a.ost,
        "ost_risk": a.ost_risk,
    }
