"""`spinecare session run`: one decompression session on the simulated table, with a live
terminal monitor; Ctrl-C is the patient stop."""

from __future__ import annotations

import datetime as dt
import json
import math
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.output import number_option
from spinecare.errors import InputError
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.vocab import TICK_S, Region, TableType

session_app = typer.Typer(help="Run decompression sessions.", no_args_is_help=True)
app.add_typer(session_app, name="session")

# The treatment mode's options, shared by `session run` and `session curve` (docs/modes.md).
ModeOption = Annotated[str, typer.Option(help="static, intermittent or cyclic (docs/modes.md)")]
ProgressiveOption = Annotated[
    int, typer.Option(help="cycles pulling to rising levels first (0-10)")
]
RegressiveOption = Annotated[int, typer.Option(help="cycles pulling to falling levels last (0-10)")]
RampOption = Annotated[str, typer.Option(help="ramp up: linear or logarithmic")]
LogFactorOption = Annotated[
    float | None, number_option(help="logarithmic ramp: start / mean rate (default 2)")
]
OscillationOption = Annotated[float, number_option(help="hold oscillation amplitude, N (0 = none)")]
OscillationHzOption = Annotated[
    float | None, number_option(help="hold oscillation frequency, Hz (default 0.2)")
]


def build_protocol(
    region: str,
    weight: float,
    segment: str,
    *,
    minutes: float,
    table: str,
    angle: float | None,
    peak: float | None,
    base: float | None,
    session_number: int,
    mode: str = "intermittent",
    progressive_steps: int = 0,
    regressive_steps: int = 0,
    ramp: str = "linear",
    log_factor: float | None = None,
    oscillation: float = 0.0,
    oscillation_hz: float | None = None,
) -> Protocol:
    """The protocol from CLI arguments, validated before anything starts.

    The mode options (docs/modes.md) are validated by the protocol itself, each against its
    range and the drive's rise limit, with the protocol field named in the message.
    """
    try:
        reg = Region(region)
    except ValueError:
        raise InputError("region", "must be lumbar or cervical", region) from None
    try:
        tab = TableType(table)
    except ValueError:
        raise InputError("table", "must be split or fixed", table) from None
    from spinecare.quantities import BODY_WEIGHT, REGISTRY, SESSION_MINUTES, Q

    BODY_WEIGHT.check(weight, "weight")
    SESSION_MINUTES.check(minutes, "minutes")
    REGISTRY[Q.SESSION_NUMBER].check(session_number, "session-number")
    if angle is not None:  # named as the option (the model's fields are named otherwise)
        from spinecare.therapy.segments import angle_range

        lo, hi = angle_range(reg)
        if not (math.isfinite(angle) and lo <= angle <= hi):
            raise InputError(
                "angle", f"must be between {lo:g} and {hi:g} deg for {reg.value} traction", angle
            )
    proto = default_protocol(
        reg,
        weight,
        segment,
        table=tab,
        session_number=session_number,
        traction_minutes=minutes,
        pull_angle_deg=angle,
    )
    if peak is not None or base is not None:
        new_peak = proto.peak_force_n if peak is None else peak
        new_base = round(new_peak / 2, 1) if base is None else base
        proto = Protocol.model_validate(
            {**proto.model_dump(), "peak_force_n": new_peak, "base_force_n": new_base}
        )
    from spinecare.therapy.profile import RampShape, TractionMode

    modes = ", ".join(m.value for m in TractionMode)
    if mode not in {m.value for m in TractionMode}:
        raise InputError("mode", f"must be one of {modes}", mode)
    if ramp not in {r.value for r in RampShape}:
        raise InputError("ramp", "must be linear or logarithmic", ramp)
    changes: dict[str, object] = {
        "mode": mode,
        "progressive_steps": progressive_steps,
        "regressive_steps": regressive_steps,
        "ramp_shape": ramp,
        "oscillation_amplitude_n": oscillation,
    }
    if log_factor is not None:
        changes["log_ramp_factor"] = log_factor
    if oscillation_hz is not None:
        changes["oscillation_hz"] = oscillation_hz
    return Protocol.model_validate({**proto.model_dump(), **changes})


def _default_out_dir() -> Path:
    """A new directory under the sessions directory. The data directory is checked as every
    command that stores patient data checks it (a shared one such as /tmp is refused), and a
    bad setting is an error, not a silent fall-back to the working directory."""
    from spinecare.settings import get_settings
    from spinecare.store.files import private_dir

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    settings = get_settings()
    private_dir(settings.data_dir)
    return settings.session_root / f"session-{stamp}"


# Exit statuses of `session run` (README "Exit statuses"); 1-3 are shared with every command.
EXIT_COMPLETED = 0
EXIT_STOPPED = 4  # the patient (or the operator) stopped the session; the table released
EXIT_FAULT = 5  # a safety fault ended it, or its telemetry could not be written in full
EXIT_ABORTED = 6  # the loop ended before the session did (should not happen; see the summary)
# What a session leaves in its output directory, as the plain summary lists it.
OUTPUT_FILES = ("telemetry.csv", "events.jsonl", "emg.txt", "summary.json", "force.png")
# SCHED_FIFO priority of the real-time loop thread: above every normal process, below the
# kernel's own threaded interrupts (50) so the load cell's and the disk's interrupts still run.
REALTIME_PRIORITY = 40


# What a course session takes from its course (patient, segment, forces): given as well, the
# option would be silently ignored, and a clinician who typed ``--peak 250`` would think it held.
COURSE_PLANNED = ("region", "weight", "segment", "table", "angle", "peak", "base", "session_number")


def _given(names: tuple[str, ...]) -> list[str]:
    """The options of ``names`` the user gave (on the command line or from the environment);
    none when ``run`` is called by another command (``spinecare demo``)."""
    import click
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command.name != "run":
        return []
    typed = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return [n for n in names if ctx.get_parameter_source(n) in typed]


@session_app.command("run")
def run(
    region: Annotated[str, typer.Option(help="lumbar or cervical")] = "lumbar",
    weight: Annotated[float, number_option(help="body weight, kg (40-200)")] = 80.0,
    segment: Annotated[str, typer.Option(help="target segment, e.g. L4/5 or C5/6")] = "L4/5",
    minutes: Annotated[
        float | None, number_option(help="traction time, min (default 30, or the course's)")
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="simulate faster than real time")] = False,
    speed: Annotated[
        float, number_option(help="watch at this multiple of real time (1 = real time)")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="virtual patient seed")] = 1,
    emg: Annotated[bool, typer.Option("--emg", help="use the surface-EMG channel")] = False,
    out: Annotated[Path | None, typer.Option(help="output directory")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    table: Annotated[str, typer.Option(help="split or fixed")] = "split",
    angle: Annotated[float | None, number_option(help="pull angle, deg (default: model)")] = None,
    peak: Annotated[
        float | None, number_option(help="peak force, N (default: weight-adapted)")
    ] = None,
    base: Annotated[float | None, number_option(help="base tension, N (default: peak/2)")] = None,
    session_number: Annotated[int, typer.Option(help="session number in the course")] = 1,
    clinician_max: Annotated[float | None, number_option(help="clinician force limit, N")] = None,
    course_session: Annotated[
        int | None,
        typer.Option(
            help="run this planned session of a course (its stored protocol) and record it"
        ),
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="acting user (with --course-session)")
    ] = None,
    device_spec: Annotated[
        str,
        typer.Option(
            "--device",
            help="simulated (default), modbus://HOST:PORT or rtu:///dev/ttyX?baud=N",
        ),
    ] = "simulated",
    mode: ModeOption = "intermittent",
    progressive_steps: ProgressiveOption = 0,
    regressive_steps: RegressiveOption = 0,
    ramp: RampOption = "linear",
    log_factor: LogFactorOption = None,
    oscillation: OscillationOption = 0.0,
    oscillation_hz: OscillationHzOption = None,
) -> None:
    """Run one session on the simulated table: telemetry, summary.json and a force chart.

    With ``--course-session ID`` the protocol comes from the planned session of a course (force
    progression included) and the result is recorded against it (``--as`` a clinical user).
    Ctrl-C (the patient stop), SIGTERM and SIGHUP stop the session: the table releases to 0 N.
    Exit status: 0 completed, 4 stopped, 5 safety fault or telemetry incomplete, 6 the loop
    ended early.
    """
    from spinecare.quantities import CLINICIAN_MAX_FORCE, REGISTRY, SESSION_MINUTES, Q

    if course_session is not None and (planned := _given(COURSE_PLANNED)):
        raise InputError(
            planned[0].replace("_", "-"),
            "a course session runs the protocol its course planned (patient, segment, forces): "
            "leave it out, or use --clinician-max to cap the force",
        )
    if course_session is None and as_user is not None:
        raise InputError("as", "acts only with --course-session (a session outside a course "
                         "records nothing)")  # fmt: skip
    if log_factor is not None and ramp != "logarithmic":
        raise InputError("log-factor", "only with --ramp logarithmic", log_factor)
    if oscillation_hz is not None and oscillation == 0.0:
        raise InputError(
            "oscillation-hz", "only with --oscillation N (an amplitude)", oscillation_hz
        )
    REGISTRY[Q.PLAYBACK_SPEED].check(speed, "speed")
    if minutes is not None:
        SESSION_MINUTES.check(minutes, "minutes")
    if clinician_max is not None:
        CLINICIAN_MAX_FORCE.check(clinician_max, "clinician-max")
    out_dir = out or _default_out_dir()
    from spinecare.services.sessions import require_unused

    require_unused(out_dir)
    from spinecare.cli._device import table_choice

    # A table on the wire (None: the simulated table); never a silent fallback to the simulator.
    wire = table_choice(device_spec, fast=fast, speed=speed, emg=emg)

    from spinecare.runtime.clock import Clock, MonotonicClock, PacedClock, SimulatedClock
    from spinecare.runtime.loop import RealtimeOptions
    from spinecare.services import sessions as svc

    clock: Clock = (
        SimulatedClock() if fast else MonotonicClock() if speed == 1.0 else PacedClock(speed)
    )
    monitor = _Monitor(enabled=not as_json and sys.stdout.isatty(), fast=fast, speed=speed)
    options = svc.SessionOptions(
        clock=clock,
        # Real time asks for SCHED_FIFO for the loop thread (best effort; refused politely
        # without the privilege): the loop must not wait behind whatever else the machine runs.
        realtime=(
            RealtimeOptions(fifo_priority=REALTIME_PRIORITY) if not fast and speed == 1.0 else None
        ),
        emg=emg,
        clinician_max_force_n=clinician_max,
        subscribers=(monitor.update,),
        tick_view_every=max(1, round((1.0 if fast else 0.1 * speed) / TICK_S)),
        fsync=not fast,
    )

    def device(proto: Protocol) -> svc.DeviceFactory:
        if wire is not None:
            return wire.factory(proto, clinician_max_force_n=clinician_max, emg=emg)
        from spinecare.cohort.run import simulated_table_factory

        return simulated_table_factory(proto, seed, emg)

    if course_session is not None:
        mode_options = (mode, progressive_steps, regressive_steps, ramp, log_factor, oscillation)
        if mode_options != ("intermittent", 0, 0, "linear", None, 0.0) or oscillation_hz:
            raise InputError("mode", "a course session runs its planned protocol's mode")
        live = _course_live(course_session, as_user, out_dir, minutes, options, device)
        for warning in live.warnings:
            from spinecare.cli.output import note

            note(f"warning: {warning}")
    else:
        proto = build_protocol(
            region,
            weight,
            segment,
            minutes=30.0 if minutes is None else minutes,
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
        live = svc.session_prepare(proto, device(proto), options=options, out_dir=out_dir)
    monitor.proto = live.protocol
    monitor.simulated = live.simulated

    presses = 0

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        # The first press stops the session (a controlled release); the second interrupts the
        # loop, whose release then runs on its own (exit 130). Later presses change nothing:
        # raised during that release, they used to end it with the force still commanded.
        nonlocal presses
        presses += 1
        if presses == 1:
            live.request_stop("patient stop (Ctrl-C)")
        elif presses == 2:
            raise KeyboardInterrupt

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        # Killed politely (service stop, closed terminal): the same controlled release as a
        # patient stop; left to the default action, the process would die with the table
        # pulling until its own watchdog, and without a summary.
        live.request_stop(f"terminated ({signal.Signals(signum).name})")

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, on_sigint)}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup's "ignore" is kept
            previous[sig] = signal.signal(sig, on_terminate)
    try:
        with monitor:
            done = live.run()
    except KeyboardInterrupt:
        # the second Ctrl-C: the release ran on its own loop before this (exit 130)
        from spinecare.cli.output import error

        error(
            f"interrupted (a second Ctrl-C) after the release; the session's record is in {out_dir}"
        )
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    report: dict[str, Any] = done.summary.model_dump(mode="json")
    if done.truth is not None:
        report["truth"] = done.truth
    report["out_dir"] = str(out_dir)
    try:
        _write_chart(out_dir, live.protocol, seed)
    except (OSError, ValueError) as exc:
        report["chart_error"] = str(exc)
    if not (out_dir / "summary.json").is_file():
        from spinecare.cli.output import note

        kept = (
            "it is stored with the course session"
            if done.course_session is not None
            else "the summary printed here is the only copy of it"
        )
        note(f"warning: summary.json could not be written in {out_dir}: {kept}")
    if done.course_session is not None:
        cs = done.course_session
        report["course_session"] = {"id": cs.id, "status": cs.status.value}
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_summary(report)
    status = {"completed": EXIT_COMPLETED, "stopped": EXIT_STOPPED, "fault": EXIT_FAULT}
    code = status.get(done.outcome, EXIT_ABORTED)
    if code:
        raise typer.Exit(code)


def _course_live(
    session_id: int,
    as_user: str | None,
    out_dir: Path,
    minutes: float | None,
    options: Any,
    device: Any,
) -> Any:
    """Check and record the course session as running, before the table moves."""
    from spinecare.cli.db import acting_user, clinic_store
    from spinecare.services import sessions as svc

    with clinic_store() as (store, settings):
        with store.session() as db:
            actor = acting_user(db, settings, as_user)
            proto = svc.planned_protocol(db, actor, session_id)
        return svc.course_session_prepare(
            store.unit_of_work,
            actor,
            session_id,
            device(proto),
            out_dir=out_dir,
            minutes=minutes,
            options=options,
            screening=settings.clinic.screening,
        )


def _write_chart(out_dir: Path, proto: Protocol, seed: int) -> None:
    from spinecare.reports.charts import session_force_png
    from spinecare.runtime.recorder import load_events, load_telemetry

    chart = session_force_png(
        load_telemetry(out_dir),
        load_events(out_dir),
        title=f"{proto.region.value} {proto.segment}, {proto.body_weight_kg:g} kg, seed {seed}",
    )
    from spinecare.store.files import write_private

    write_private(out_dir / "force.png", chart)  # whole or not at all (a full disk)


class _Monitor:
    """The live terminal monitor (rich); silent when output is not a terminal."""

    def __init__(self, *, enabled: bool, fast: bool, speed: float) -> None:
        self.enabled = enabled
        self.fast = fast
        self.speed = speed
        self.proto: Protocol | None = None
        self.simulated = True  # what the table itself says (SAF-16)
        self._live: Any = None
        self._last: Any = None

    def __enter__(self) -> _Monitor:
        if self.enabled:
            from rich.live import Live

            self._live = Live(self._render(None), refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render(self._last))
            self._live.__exit__(None, None, None)

    def update(self, view: Any) -> None:
        self._last = view
        if self._live is not None:
            self._live.update(self._render(view))

    def _render(self, v: Any) -> Any:
        from rich.panel import Panel
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_column(justify="right")
        grid.add_column()
        p = self.proto
        if p is None:
            return Panel(grid, title="spinecare")
        title = (
            f"spinecare  {p.region.value} {p.segment}  {p.body_weight_kg:g} kg  "
            f"peak {p.peak_force_n:.0f} N  base {p.base_force_n:.0f} N"
            + (
                "  (fast simulation)"
                if self.fast
                else ("  (simulated table" if self.simulated else "  (real table")
                + (f", x{self.speed:g} real time)" if self.speed != 1.0 else ")")
            )
        )
        if v is None:
            grid.add_row("", "starting ...")
            return Panel(grid, title=title)
        # The scale is the force quantity's safe range, narrowed to this patient's hard limit.
        from spinecare.quantities import TRACTION_FORCE

        scale = max(1.0, min(TRACTION_FORCE.safe_max, p.peak_force_n * 1.2))
        width = 40

        def bar(x: float) -> str:
            n = max(0, min(width, round(width * x / scale)))
            return "#" * n + "." * (width - n)

        mins, secs = divmod(int(v.time_left_s), 60)
        state = {
            "stopped": "STOPPED: releasing to zero" if not v.ended else "STOPPED: released",
            "fault": "FAULT: releasing to zero" if not v.ended else "FAULT: released",
        }.get(v.phase, v.phase)
        if v.ended and v.phase not in ("stopped", "fault"):
            state = "session ended"
        grid.add_row(
            "phase",
            state
            + (
                ""
                if v.peak_n >= p.peak_force_n
                else f"   (peak lowered to {v.peak_n:.0f} N after counter-tension)"
            ),
        )
        grid.add_row("target", f"{bar(v.target_n)} {v.target_n:6.0f} N")
        grid.add_row("force", f"{bar(v.measured_n)} {v.measured_n:6.0f} N")
        grid.add_row("at segment", f"{v.segment_force_n:6.0f} N (model estimate)")
        grid.add_row(
            "muscle tension", f"{v.muscle_tension_n:6.1f} N   EMG {v.emg_envelope_uv:6.1f} uV"
        )
        grid.add_row("counter-tension", f"{v.guarding_events} events")
        grid.add_row("time left", f"{mins:02d}:{secs:02d}")
        if v.ended:
            grid.add_row("", v.end_reason)
        else:
            grid.add_row("", "Ctrl-C = patient stop")
        return Panel(grid, title=title)


def _or_na(value: object) -> str:
    """A figure the session has, or n/a (a session without a completed hold has none)."""
    return "n/a" if value is None else str(value)


def _print_summary(s: dict[str, Any]) -> None:
    lines = [
        f"session: {s['end_reason']}  ({s['duration_s'] / 60:.1f} min)",
        f"peak force {s['peak_force_n']} N (target {s['final_peak_target_n']} N, "
        f"hard limit {s['hard_limit_n']} N), limit violations {s['limit_violations']}",
        f"counter-tension: {s['guarding_detected']} detected"
        + (f", {s['truth']['guarding_true']} in the simulated patient" if "truth" in s else ""),
        f"hold within +/-10%: {_or_na(s['hold_within_10pct'])}, "
        f"base tension lost {s['base_tension_lost_s']} s",
        f"force at {s['target_segment']} during hold (model estimate): "
        + (
            f"{s['segment_force_hold_mean_n']} N at {s['pull_angle_deg']} deg"
            if s["segment_force_hold_mean_n"] is not None
            else "n/a (no hold was completed)"
        ),
    ]
    # Only what is there: a full disk may have kept the summary or the chart from being written.
    out = Path(s["out_dir"])
    written = [name for name in OUTPUT_FILES if (out / name).is_file()]
    lines.append(f"output: {out} ({', '.join(written) or 'nothing written'})")
    for fault in s.get("faults") or ():  # what latched, when, and why (the table released)
        lines.append(f"fault at {fault['t_s']:.1f} s: {fault['kind']}: {fault['detail']}")
    if not s.get("telemetry_complete", True):
        lines.append(f"telemetry incomplete: {s.get('telemetry_error')}")
    if "chart_error" in s:
        lines.append(f"force chart not written: {s['chart_error']}")
    typer.echo("\n".join(lines))


# `session curve` (the mode's target curve ahead of time) registers itself on ``session_app``.
from spinecare.cli import session_curve as _session_curve  # noqa: E402, F401
