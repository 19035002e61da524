"""`spinecare session curve`: a mode's target force curve ahead of time (docs/modes.md).

The curve is drawn by the session's own controller (therapy/curve.py) for a patient who never
tenses, with the force the segment model estimates at the target segment beside it. Nothing
moves; the protocol is validated exactly as `session run` validates it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from spinecare.cli.output import number_option
from spinecare.cli.session import (
    LogFactorOption,
    ModeOption,
    OscillationHzOption,
    OscillationOption,
    ProgressiveOption,
    RampOption,
    RegressiveOption,
    build_protocol,
    session_app,
)
from spinecare.errors import InputError

# Samples per second in the JSON output by default (1 s): enough to draw a session, small enough
# to read (a 30-minute curve is about 1,800 samples).
DEFAULT_STEP_S = 1.0


@session_app.command("curve")
def curve(
    region: Annotated[str, typer.Option(help="lumbar or cervical")] = "lumbar",
    weight: Annotated[float, number_option(help="body weight, kg (40-200)")] = 80.0,
    segment: Annotated[str, typer.Option(help="target segment, e.g. L4/5 or C5/6")] = "L4/5",
    minutes: Annotated[float, number_option(help="traction time, min")] = 30.0,
    table: Annotated[str, typer.Option(help="split or fixed")] = "split",
    angle: Annotated[float | None, number_option(help="pull angle, deg (default: model)")] = None,
    peak: Annotated[
        float | None, number_option(help="peak force, N (default: weight-adapted)")
    ] = None,
    base: Annotated[float | None, number_option(help="base tension, N (default: peak/2)")] = None,
    session_number: Annotated[int, typer.Option(help="session number in the course")] = 1,
    mode: ModeOption = "intermittent",
    progressive_steps: ProgressiveOption = 0,
    regressive_steps: RegressiveOption = 0,
    ramp: RampOption = "linear",
    log_factor: LogFactorOption = None,
    oscillation: OscillationOption = 0.0,
    oscillation_hz: OscillationHzOption = None,
    step: Annotated[
        float, number_option(help="seconds between samples in --json (0.02-10)")
    ] = DEFAULT_STEP_S,
    as_json: Annotated[bool, typer.Option("--json", help="print the curve as JSON")] = False,
    png: Annotated[Path | None, typer.Option(help="draw the curve into this PNG file")] = None,
) -> None:
    """Show a mode's target force curve ahead of time (nothing moves)."""
    from spinecare.vocab import TICK_S

    if not TICK_S <= step <= 10.0:
        raise InputError("step", f"must be at least {TICK_S:g} and at most 10 s", step)
    proto = build_protocol(
        region,
        weight,
        segment,
        minutes=minutes,
        table=table,
        angle=angle,
        peak=peak,
        base=base,
        session_number=session_number,
        mode=mode,
        progressive_steps=progressive_steps,
        regressive_steps=regressive_steps,
        ramp=ramp,
        log_factor=log_factor,
        oscillation=oscillation,
        oscillation_hz=oscillation_hz,
    )
    from spinecare.therapy.curve import target_curve

    drawn = target_curve(proto, step)
    if png is not None:
        from spinecare.reports.mode_chart import mode_curves_png
        from spinecare.store.files import write_private

        write_private(png, mode_curves_png([drawn]))  # a disk fault: exit 10, no file left
    if as_json:
        typer.echo(json.dumps(drawn.as_dict()))
    else:
        typer.echo(_describe(drawn.as_dict(), png))


def _describe(c: dict[str, Any], png: Path | None) -> str:
    """The programme in words: one line per pull, then the limits it keeps."""
    from spinecare.therapy.safety import MAX_RISE_N_S
    from spinecare.vocab import Region

    shape = c["ramp_shape"] + (
        f", oscillation {c['oscillation_amplitude_n']:g} N at {c['oscillation_hz']:g} Hz"
        if c["oscillation_amplitude_n"]
        else ""
    )
    lines = [
        f"mode {c['mode']} ({shape}), peak {c['peak_force_n']:g} N, base "
        f"{c['base_force_n']:g} N, {c['progressive_steps']} progressive / "
        f"{c['regressive_steps']} regressive steps; {c['duration_s'] / 60:.1f} min to release",
        f"{'pull':>4}  {'stage':<11} {'ramp at':>8} {'hold at':>8} {'hold s':>7} {'level N':>8}",
    ]
    for i, cy in enumerate(c["cycles"], 1):
        lines.append(
            f"{i:>4}  {cy['stage']:<11} {cy['ramp_start_s']:>8.1f} {cy['hold_start_s']:>8.1f} "
            f"{cy['hold_s']:>7.1f} {cy['level_n']:>8.1f}"
        )
    limit = MAX_RISE_N_S[Region(c["region"])]
    seg = max(c["segment_n"]) if c["segment_n"] else 0.0
    lines.append(
        f"steepest rise {c['max_rise_n_s']:.1f} N/s (rise limit {limit:g} N/s); at "
        f"{c['segment']} up to {seg:.0f} N at {c['pull_angle_deg']:g} deg (model estimate)"
    )
    if png is not None:
        lines.append(f"chart: {png}")
    return "\n".join(lines)
