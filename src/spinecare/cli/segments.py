"""`spinecare segments`: the segment model's estimate of the force at each movement segment.

Always printed with "model estimate, not a measurement" and the model's assumptions, because
no in-vivo measurement of per-segment force exists (docs/segment-model.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.output import echo, number_option, print_json
from spinecare.errors import InputError
from spinecare.therapy.segments import (
    MODEL_ASSUMPTIONS,
    check_segment,
    recommend_angle,
    segment_forces,
    transmission,
)
from spinecare.vocab import Region, TableType

NOT_A_MEASUREMENT = "model estimate, not a measurement"

# Model argument names -> the CLI option a user typed, so the error names what they can fix.
_OPTION_OF_FIELD = {
    "body_weight_kg": "weight",
    "cable_force_n": "force",
    "angle_deg": "angle",
    "segment": "target",
    "region": "region",
    "table": "table",
}


@contextmanager
def _as_options() -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        raise InputError(_OPTION_OF_FIELD.get(exc.field, exc.field), exc.reason, exc.value) from exc


@app.command("segments")
def segments(
    weight: Annotated[float, number_option("--weight", help="body weight, kg (40-200)")],
    force: Annotated[float, number_option("--force", help="cable force, N (0-890)")],
    angle: Annotated[
        float | None,
        number_option("--angle", help="pull angle, deg (lumbar 0-30, cervical 15-35)"),
    ] = None,
    region: Annotated[Region, typer.Option("--region")] = Region.LUMBAR,
    table: Annotated[TableType, typer.Option("--table")] = TableType.SPLIT,
    target: Annotated[
        str | None, typer.Option("--target", help="segment to target, e.g. L4/5")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Estimate the axial (distraction) and shear force at each segment (model, not measured)."""
    recommended: float | None = None
    with _as_options():
        seg = check_segment(region, target) if target is not None else None
        if seg is not None:
            recommended = recommend_angle(seg, region, weight, table, force)
        if angle is None:
            if recommended is None:
                raise InputError("angle", "give --angle, or --target to use the recommended angle")
            angle = recommended
        trans = transmission(force, angle, region, weight, table)
        rows = segment_forces(force, angle, region, weight, table)

    if as_json:
        out: dict[str, Any] = {
            "note": NOT_A_MEASUREMENT,
            "region": region.value,
            "table": table.value,
            "body_weight_kg": weight,
            "cable_force_n": force,
            "angle_deg": angle,
            "transmitted_n": round(trans.transmitted_n, 2),
            "friction_n": round(trans.friction_n, 2),
            "segments": [
                {
                    "segment": r.segment,
                    "axial_n": round(r.axial_n, 2),
                    "shear_n": round(r.shear_n, 2),
                    "share_of_cable": round(r.share_of_cable, 4),
                    "disc_angle_deg": round(r.disc_angle_deg, 2),
                }
                for r in rows
            ],
            "assumptions": list(MODEL_ASSUMPTIONS),
        }
        if seg is not None:
            out["target"] = seg
            out["recommended_angle_deg"] = recommended
        print_json(out)
        return

    echo(
        f"Segment model: {region.value}, {table.value} table, {weight:g} kg, "
        f"cable {force:g} N at {angle:g} deg"
    )
    echo(NOT_A_MEASUREMENT)
    echo(
        f"transmitted to the spine {trans.transmitted_n:.1f} N, "
        f"friction loss {trans.friction_n:.1f} N"
    )
    echo(f"{'segment':<8} {'axial N':>9} {'shear N':>9} {'% cable':>8}")
    for r in rows:
        mark = "  <- target" if r.segment == seg else ""
        echo(
            f"{r.segment:<8} {r.axial_n:9.1f} {r.shear_n:9.1f} {100 * r.share_of_cable:7.1f}%{mark}"
        )
    if seg is not None:
        echo(f"recommended angle for {seg}: {recommended:g} deg (model)")
    echo("assumptions:")
    for a in MODEL_ASSUMPTIONS:
        echo(f"  - {a}")
