"""`spinecare session run`: one decompression session on the simulated table, with a live
terminal monitor; Ctrl-C is the patient stop."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from spinecare.cli.app import app
from spinecare.errors import InputError
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.vocab import TICK_S, Region, TableType

session_app = typer.Typer(help="Run decompression sessions.", no_args_is_help=True)
app.add_typer(session_app, name="session")


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
) -> Protocol:
    """The protocol from CLI arguments, validated before anything starts."""
    try:
        reg = Region(region)
    except ValueError:
        raise InputError("region", "must be lumbar or cervical", region) from None
    try:
        tab = TableType(table)
    except ValueError:
        raise InputError("table", "must be split or fixed", table) from None
    if not 40.0 <= weight <= 200.0:
        raise InputError("weight", "must be between 40 and 200 kg", weight)
    if not 0.0 < minutes <= 45.0:
        raise InputError("minutes", "traction time must be above 0 and at most 45 min", minutes)
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
    return proto


def _default_out_dir() -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        from spinecare.settings import get_settings

        settings = get_settings()
        sessions_dir = settings.sessions_dir or Path(settings.data_dir) / "sessions"
        return Path(sessions_dir) / f"session-{stamp}"
    except Exception:  # settings unavailable: fall back to the working directory
        pass
    return Path("runs") / f"session-{stamp}"


@session_app.command("run")
def run(
    region: Annotated[str, typer.Option(help="lumbar or cervical")] = "lumbar",
    weight: Annotated[float, typer.Option(help="body weight, kg (40-200)")] = 80.0,
    segment: Annotated[str, typer.Option(help="target segment, e.g. L4/5 or C5/6")] = "L4/5",
    minutes: Annotated[float, typer.Option(help="traction time, min")] = 30.0,
    fast: Annotated[bool, typer.Option("--fast", help="simulate faster than real time")] = False,
    speed: Annotated[
        float, typer.Option(help="watch at this multiple of real time (1 = real time)")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="virtual patient seed")] = 1,
    emg: Annotated[bool, typer.Option("--emg", help="use the surface-EMG channel")] = False,
    out: Annotated[Path | None, typer.Option(help="output directory")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    table: Annotated[str, typer.Option(help="split or fixed")] = "split",
    angle: Annotated[float | None, typer.Option(help="pull angle, deg (default: model)")] = None,
    peak: Annotated[
        float | None, typer.Option(help="peak force, N (default: weight-adapted)")
    ] = None,
    base: Annotated[float | None, typer.Option(help="base tension, N (default: peak/2)")] = None,
    session_number: Annotated[int, typer.Option(help="session number in the course")] = 1,
    clinician_max: Annotated[float | None, typer.Option(help="clinician force limit, N")] = None,
    course_session: Annotated[
        int | None,
        typer.Option(
            help="run this planned session of a course (its stored protocol) and record it"
        ),
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="acting user (with --course-session)")
    ] = None,
) -> None:
    """Run one session on the simulated table: telemetry, summary.json and a force chart.

    With ``--course-session ID`` the protocol comes from the planned session of a course (force
    progression included) and the result is recorded against it (``--as`` a clinical user).
    """
    from spinecare.cohort.run import VirtualSession, make_table, truth_scores
    from spinecare.runtime.clock import Clock, MonotonicClock, PacedClock, SimulatedClock
    from spinecare.runtime.loop import RealtimeOptions
    from spinecare.runtime.recorder import Recorder, load_events, load_telemetry
    from spinecare.runtime.session import TELEMETRY_COLUMNS, SessionRunner

    if course_session is not None:
        from spinecare.cli.db import run_read
        from spinecare.services.sessions import planned_protocol

        planned = run_read(
            as_user, lambda db, actor, _: planned_protocol(db, actor, course_session)
        )
        proto = planned.model_copy(update={"traction_minutes": minutes})
        weight, session_number = proto.body_weight_kg, proto.session_number
    else:
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
        )
    if not 1.0 <= speed <= 1000.0:
        raise InputError("speed", "must be between 1 and 1000", speed)
    if clinician_max is not None and not 0.0 < clinician_max <= 890.0:
        raise InputError("clinician-max", "must be above 0 and at most 890 N", clinician_max)
    out_dir = out or _default_out_dir()
    if (out_dir / "telemetry.csv").exists():
        raise InputError("out", "holds a session already; choose a new directory", str(out_dir))

    device = make_table(
        VirtualSession(
            seed=seed,
            region=proto.region,
            weight_kg=proto.body_weight_kg,
            segment=proto.segment,
            table=proto.table,
            emg=emg,
            session_number=proto.session_number,
        )
    )
    emg_detector = None
    if emg:
        from spinecare.signals.emg import EmgGuardingDetector

        emg_detector = EmgGuardingDetector()
    recorder = Recorder(out_dir, TELEMETRY_COLUMNS, fsync=not fast)
    monitor = _Monitor(
        enabled=not as_json and sys.stdout.isatty(), fast=fast, proto=proto, speed=speed
    )
    clock: Clock = (
        SimulatedClock() if fast else MonotonicClock() if speed == 1.0 else PacedClock(speed)
    )
    runner = SessionRunner(
        proto,
        device,
        clock=clock,
        recorder=recorder,
        emg_detector=emg_detector,
        clinician_max_force_n=clinician_max,
        on_tick=monitor.update,
        tick_view_every=max(1, round((1.0 if fast else 0.1 * speed) / TICK_S)),
        realtime=RealtimeOptions() if not fast and speed == 1.0 else None,
    )

    presses = 0

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise KeyboardInterrupt
        runner.request_stop("patient stop (Ctrl-C)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with monitor:
            result = runner.run()
    finally:
        signal.signal(signal.SIGINT, previous)

    summary = result.summary
    summary.update(truth_scores(result, device))
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    from spinecare.reports.charts import session_force_png

    chart = session_force_png(
        load_telemetry(out_dir),
        load_events(out_dir),
        title=f"{proto.region.value} {proto.segment}, {weight:g} kg, seed {seed}",
    )
    (out_dir / "force.png").write_bytes(chart)
    summary["out_dir"] = str(out_dir)
    if course_session is not None:
        from spinecare.cli.db import run_write
        from spinecare.services.sessions import attach_output

        recorded = run_write(
            as_user, lambda db, actor, _: attach_output(db, actor, course_session, out_dir)
        )
        summary["course_session"] = {"id": recorded.id, "status": recorded.status.value}
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


class _Monitor:
    """The live terminal monitor (rich); silent when output is not a terminal."""

    def __init__(self, *, enabled: bool, fast: bool, proto: Protocol, speed: float) -> None:
        self.enabled = enabled
        self.fast = fast
        self.speed = speed
        self.proto = proto
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
        title = (
            f"spinecare  {p.region.value} {p.segment}  {p.body_weight_kg:g} kg  "
            f"peak {p.peak_force_n:.0f} N  base {p.base_force_n:.0f} N"
            + (
                "  (fast simulation)"
                if self.fast
                else "  (simulated table"
                + (f", x{self.speed:g} real time)" if self.speed != 1.0 else ")")
            )
        )
        if v is None:
            grid.add_row("", "starting ...")
            return Panel(grid, title=title)
        scale = max(1.0, p.peak_force_n * 1.2)
        width = 40

        def bar(x: float) -> str:
            n = max(0, min(width, round(width * x / scale)))
            return "#" * n + "." * (width - n)

        mins, secs = divmod(int(v.time_left_s), 60)
        grid.add_row(
            "phase",
            v.phase
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
        grid.add_row("", "Ctrl-C = patient stop")
        return Panel(grid, title=title)


def _print_summary(s: dict[str, Any]) -> None:
    lines = [
        f"session: {s['end_reason']}  ({s['duration_s'] / 60:.1f} min)",
        f"peak force {s['peak_force_n']} N (target {s['final_peak_target_n']} N, "
        f"hard limit {s['hard_limit_n']} N), limit violations {s['limit_violations']}",
        f"counter-tension: {s['guarding_detected']} detected"
        + (f", {s['guarding_true']} in the simulated patient" if "guarding_true" in s else ""),
        f"hold within +/-10%: {s['hold_within_10pct']}, "
        f"base tension lost {s['base_tension_lost_s']} s",
        f"force at {s['target_segment']} during hold (model estimate): "
        f"{s['segment_force_hold_mean_n']} N at {s['pull_angle_deg']} deg",
        f"output: {s['out_dir']} (telemetry.csv, events.jsonl, summary.json, force.png)",
    ]
    typer.echo("\n".join(lines))
