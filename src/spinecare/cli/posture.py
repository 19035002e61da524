"""`spinecare posture analyze|simulate|live|record|summary`: the posture sensor on the upper back.

``analyze`` needs no database: a CSV (header ``t_s,ax,ay,az,gx,gy,gz``; s, m/s^2, deg/s) in, the
analysis out. ``simulate`` writes a seeded wearer's recording (and its ground truth). ``live``
reads the same columns from a serial port and prints reminders as they fall due. ``record``
keeps an analysed recording with a patient; ``summary`` shows days and weeks. numpy, imufusion
and matplotlib load inside the commands.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, print_json, run_read, run_write
from spinecare.cli.output import number_option
from spinecare.cli.textfile import recording_read
from spinecare.errors import InputError
from spinecare.settings import clinic_today

if TYPE_CHECKING:
    from spinecare.services.orthosis import PostureSource
    from spinecare.signals.posture import PostureAnalysis, PostureSettings

posture_app = typer.Typer(
    help="Posture sensor on the upper back: analyse, simulate, stream live, record, summarise.",
    no_args_is_help=True,
)
app.add_typer(posture_app, name="posture")

SLUMP_OPTION = typer.Option(20.0, "--slump-deg", help="slump threshold, deg beyond upright (5-60)")
DELAY_OPTION = typer.Option(60.0, "--delay-s", help="reminder after this long slumped (3-600 s)")


def _settings(slump_deg: float, delay_s: float) -> PostureSettings:
    from spinecare.signals.posture import PostureSettings

    return PostureSettings(slump_deg=slump_deg, delay_s=delay_s)


def _png(path: Path | None) -> None:
    if path is not None and path.suffix.lower() != ".png":
        raise InputError("plot", "needs a .png file name", str(path))
    if path is not None and not path.parent.is_dir():
        raise InputError("plot", "directory does not exist", str(path.parent))


def _print_analysis(a: PostureAnalysis, head: str) -> None:
    typer.echo(head)
    if a.calibration is None:
        typer.echo("never worn: no calibration, no slumps")
        return
    c = a.calibration
    where = "given" if c.source == "given" else f"{c.from_s:.0f}-{c.to_s:.0f} s ({c.source})"
    typer.echo(
        f"calibrated upright: {where}; thoracic inclination {c.thoracic_inclination_deg:.0f} deg "
        "(sensor proxy, not a kyphosis angle)"
    )
    frac = "-" if a.upright_fraction is None else f"{100 * a.upright_fraction:.1f}%"
    typer.echo(
        f"worn {a.wear_time_s / 60:.1f} min in {len(a.wear_periods)} period(s); upright {frac} "
        f"of wear time; {len(a.slumps)} slump(s), {len(a.reminders)} reminder(s)"
    )
    for r in a.reminders:
        typer.echo(
            f"  reminder at {r.t_s:9.2f} s  (slumped since {r.slump_onset_s:.2f} s, "
            f"{r.angle_deg:.0f} deg)"
        )
    typer.echo(a.accuracy)


def _analysis_json(a: PostureAnalysis, file: str) -> dict[str, Any]:
    return {"file": file, **a.model_dump(mode="json")}


@posture_app.command("analyze")
def analyze_cmd(
    file: Path = typer.Argument(..., help="CSV with header t_s,ax,ay,az,gx,gy,gz"),
    slump_deg: float = SLUMP_OPTION,
    delay_s: float = DELAY_OPTION,
    calibrate_at: float | None = number_option(
        None, "--calibrate-at", help="start (s) of a minute the wearer stood upright"
    ),
    plot: Path | None = typer.Option(None, "--plot", help="draw the inclination into a PNG"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Wear time, upright time, slumps and reminders of one recording."""
    st = _settings(slump_deg, delay_s)
    if calibrate_at is not None and not (math.isfinite(calibrate_at) and calibrate_at >= 0):
        raise InputError("calibrate_at", "seconds from the start, not negative", calibrate_at)
    _png(plot)
    text = recording_read(file)
    from spinecare.signals.posture import posture_analyze, posture_csv_parse

    rec = posture_csv_parse(text)
    analysis, sig = posture_analyze(rec, st, calibrate_at_s=calibrate_at)
    if plot is not None:
        from spinecare.reports.charts import to_png
        from spinecare.reports.orthosis_report import posture_recording_figure
        from spinecare.store.files import write_private

        write_private(plot, to_png(posture_recording_figure(sig, analysis, file.name)))
    if as_json:
        typer.echo(json.dumps(_analysis_json(analysis, str(file)), indent=1))
    else:
        _print_analysis(
            analysis,
            f"{file}: {analysis.samples} samples at {analysis.rate_hz:g} Hz "
            f"({analysis.duration_s / 60:.1f} min)",
        )


@posture_app.command("simulate")
def simulate_cmd(
    out: Path = typer.Option(..., "--out", help="CSV to write"),
    minutes: float = number_option(60.0, "--minutes", help="length of the recording (1-1440)"),
    rate: float = number_option(50.0, "--rate", help="sampling rate, 25-200 Hz"),
    seed: int = typer.Option(0, "--seed", help="the simulated wearer"),
    truth: Path | None = typer.Option(None, "--truth", help="also write the ground truth (JSON)"),
) -> None:
    """Write a seeded wearer's recording (known wear periods and slumps)."""
    if not (math.isfinite(minutes) and 1.0 <= minutes <= 1440.0):
        raise InputError("minutes", "must be 1-1440", minutes)
    if not (math.isfinite(rate) and 25.0 <= rate <= 200.0):
        raise InputError("rate", "must be 25-200 Hz", rate)
    for p in (out, truth):
        if p is not None and not p.parent.is_dir():
            raise InputError("out", "directory does not exist", str(p.parent))
    from spinecare.signals.posture import posture_csv_format
    from spinecare.sim.posture import posture_simulate

    rec, tr = posture_simulate(minutes * 60.0, rate, random_state=seed)
    from spinecare.store.files import write_private

    write_private(out, posture_csv_format(rec).encode("utf-8"))
    if truth is not None:
        write_private(
            truth,
            json.dumps(
                {
                    "seed": seed,
                    "wear_periods": tr.wear_periods,
                    "wear_time_s": round(tr.wear_time_s, 2),
                    "slumps": [
                        {"onset_s": s.onset_s, "end_s": s.end_s, "angle_deg": s.angle_deg}
                        for s in tr.slumps
                    ],
                    "thoracic_inclination_deg": tr.profile.thoracic_inclination_deg,
                },
                indent=1,
            ).encode("utf-8"),
        )
    typer.echo(
        f"{out}: {rec.t_s.size} samples at {rate:g} Hz; wearer {seed}: worn "
        f"{tr.wear_time_s / 60:.1f} min, {len(tr.slumps)} slumps"
    )


def _parse_line(line: str) -> tuple[float, list[float], list[float]] | None:
    parts = line.strip().split(",")
    if len(parts) != 7:
        return None
    try:
        v = [float(p) for p in parts]
    except ValueError:
        return None
    if not all(math.isfinite(x) for x in v):
        return None
    return v[0], v[1:4], v[4:7]


@posture_app.command("live")
def live_cmd(
    port: str = typer.Option(..., "--port", help="serial device (or a pyserial URL)"),
    baud: int = typer.Option(115200, "--baud", help="baud rate"),
    rate: float = number_option(50.0, "--rate", help="the sensor's sampling rate, 25-200 Hz"),
    seconds: float | None = number_option(None, "--seconds", help="stop after this long"),
    slump_deg: float = SLUMP_OPTION,
    delay_s: float = DELAY_OPTION,
    out: Path | None = typer.Option(None, "--out", help="also save the stream as CSV"),
    patient: int | None = typer.Option(
        None, "--patient", help="keep the analysed stream with this patient when it ends"
    ),
    as_user: str | None = AS_OPTION,
) -> None:
    """Read t_s,ax,ay,az,gx,gy,gz lines from a serial port; print reminders as they fall due.

    Ctrl-C (or --seconds) ends the stream; with --patient the whole stream is then analysed
    offline and kept as a recording (source: serial)."""
    st = _settings(slump_deg, delay_s)
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise InputError("seconds", "must be positive", seconds)
    if out is not None and not out.parent.is_dir():
        raise InputError("out", "directory does not exist", str(out.parent))
    import serial

    from spinecare.signals.posture import CSV_HEADER, PostureLive

    monitor = PostureLive(rate, st)
    try:
        link = serial.serial_for_url(port, baudrate=baud, timeout=1.0)
    except (serial.SerialException, ValueError) as exc:
        raise InputError("port", f"cannot open: {exc}", port) from None
    saved = out.open("w", encoding="utf-8") if out is not None else None
    if saved is not None:
        saved.write(",".join(CSV_HEADER) + "\n")
    t0: float | None = None
    bad = 0
    pending = b""
    done = False
    kept: list[tuple[float, list[float], list[float]]] = []  # for --patient
    typer.echo(f"listening on {port}; calibrating on the first minute of wear (stand upright)")
    try:
        while not done:
            chunk = link.read(max(1, link.in_waiting))  # whole lines at a time, not byte by byte
            if not chunk:
                if seconds is not None and t0 is None:
                    break  # nothing arrives at all
                continue
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                sample = _parse_line(raw.decode("ascii", errors="replace"))
                if sample is None:
                    bad += raw.strip() != b""
                    continue
                t, acc, gyr = sample
                if kept and t <= kept[-1][0]:
                    bad += 1  # time went backwards (a sensor reset): not a sample of this stream
                    continue
                t0 = t if t0 is None else t0
                if patient is not None:
                    kept.append(sample)
                if saved is not None:
                    saved.write(raw.decode("ascii").strip() + "\n")
                for ev in monitor.update(t, acc, gyr):
                    angle = "" if ev.angle_deg is None else f" ({ev.angle_deg:.0f} deg)"
                    typer.echo(f"{ev.t_s:9.2f} s  {ev.kind}{angle}")
                if seconds is not None and t - t0 >= seconds:
                    done = True
                    break
    except KeyboardInterrupt:
        pass
    finally:
        link.close()
        if saved is not None:
            saved.close()
    if bad:
        print(
            f"warning: {bad} line(s) that were not 7 numbers (or went back in time) were skipped",
            file=sys.stderr,
        )
    if patient is not None:
        _record_stream(kept, patient, as_user, st, out)


def _record_stream(
    kept: list[tuple[float, list[float], list[float]]],
    patient: int,
    as_user: str | None,
    st: PostureSettings,
    out: Path | None,
) -> None:
    """Analyse the whole stream offline and keep it; it began its duration before now."""
    from datetime import UTC, timedelta

    import numpy as np

    from spinecare.signals.posture import imu_validate, posture_analyze

    if len(kept) < 2:
        raise InputError("port", "no samples arrived: nothing to record", len(kept))
    rec = imu_validate(
        np.array([k[0] for k in kept]),
        np.array([k[1] for k in kept]),
        np.array([k[2] for k in kept]),
    )
    analysis, _ = posture_analyze(rec, st)
    began = datetime.now(UTC) - timedelta(seconds=rec.duration_s)

    def work(s: Any, actor: Any, _: Any) -> Any:
        from spinecare.services.orthosis import record_posture

        return record_posture(
            s, actor, patient, began, analysis, source="serial",
            file_name=out.name if out is not None else None,
        )  # fmt: skip

    r = run_write(as_user, work)
    typer.echo(f"recording {r.id}: worn {r.wear_time_s / 60:.1f} min, {r.reminders} reminder(s)")


def _start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise InputError("start", "not an ISO 8601 date-time", text) from None
    if start.tzinfo is None:
        raise InputError("start", "needs a time zone offset, e.g. 2026-12-01T09:00+01:00", text)
    return start


@posture_app.command("record")
def record_cmd(
    patient: int = typer.Option(..., "--patient", help="patient id"),
    file: Path | None = typer.Option(None, "--file", help="CSV recording to analyse and keep"),
    start: str | None = typer.Option(None, "--start", help="when the recording began (ISO 8601)"),
    simulate_days: int | None = typer.Option(
        None, "--simulate-days", help="instead of a file: this many days of a simulated wearer"
    ),
    hours: float = number_option(2.0, "--hours", help="simulated: hours recorded a day (0.2-12)"),
    seed: int = typer.Option(0, "--seed", help="simulated: the wearer"),
    slump_deg: float = SLUMP_OPTION,
    delay_s: float = DELAY_OPTION,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Analyse a recording (or simulated days up to yesterday) and keep it with the patient.

    A recording kept already, or one overlapping a kept one in time, is refused (status 2):
    the same hours would count twice in the summary."""
    st = _settings(slump_deg, delay_s)
    items: list[tuple[datetime, PostureAnalysis, PostureSource, str | None]] = []
    if (file is None) == (simulate_days is None):
        raise InputError("file", "give --file FILE.csv --start ISO, or --simulate-days N")
    if file is not None:
        if start is None:
            raise InputError("start", "when did the recording begin? --start ISO")
        began = _start(start)
        from spinecare.signals.posture import posture_analyze, posture_csv_parse

        analysis, _ = posture_analyze(posture_csv_parse(recording_read(file)), st)
        items.append((began, analysis, "csv", file.name))
    else:
        assert simulate_days is not None
        if not 1 <= simulate_days <= 60:
            raise InputError("simulate_days", "must be 1-60", simulate_days)
        if not (math.isfinite(hours) and 0.2 <= hours <= 12.0):
            raise InputError("hours", "must be 0.2-12", hours)
        items += _simulated_days(simulate_days, hours, seed, st)

    def work(s: Any, actor: Any, settings: Any) -> list[dict[str, Any]]:
        from spinecare.services.orthosis import record_posture

        out = []
        for began, analysis, source, name in items:
            if began.tzinfo is not None and began.utcoffset() is None:  # pragma: no cover
                raise InputError("start", "needs a time zone")
            if source == "simulated":
                began = began.replace(tzinfo=settings.clinic.zone)
            out.append(
                record_posture(
                    s, actor, patient, began, analysis, source=source, file_name=name
                ).model_dump(mode="json")
            )
        return out

    saved = run_write(as_user, work)
    if as_json:
        print_json(saved)
        return
    for r in saved:
        frac = "-" if r["upright_fraction"] is None else f"{100 * r['upright_fraction']:.0f}%"
        typer.echo(
            f"recording {r['id']}: {r['started_at']}  worn {r['wear_time_s'] / 60:.0f} min, "
            f"upright {frac}, {r['reminders']} reminder(s)"
        )


def _simulated_days(
    days: int, hours: float, seed: int, st: PostureSettings
) -> list[tuple[datetime, PostureAnalysis, PostureSource, str | None]]:
    """One recording a day at 09:00 (clinic time, zone set when stored), ending yesterday; the
    simulated wearer slumps less as the weeks go by (a simulation choice, to show a trend)."""
    from datetime import timedelta

    import numpy as np

    from spinecare.signals.posture import posture_analyze
    from spinecare.sim.posture import posture_simulate

    rng = np.random.default_rng(seed)
    out: list[tuple[datetime, PostureAnalysis, PostureSource, str | None]] = []
    for i in range(days):
        day = clinic_today() - timedelta(days=days - i)
        rec, _ = posture_simulate(
            hours * 3600.0, 25.0, random_state=rng, slumps_per_hour=max(3.0, 14.0 - 0.4 * i)
        )
        analysis, _ = posture_analyze(rec, st)
        began = datetime.combine(day, datetime.min.time()).replace(hour=9)
        out.append((began, analysis, "simulated", None))
    return out


@posture_app.command("summary")
def summary_cmd(
    patient: int = typer.Option(..., "--patient", help="patient id"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Daily wear (against the wearing plan), upright time and reminders; the weekly trend."""
    from spinecare.services.orthosis import posture_summary

    data = run_read(
        as_user,
        lambda s, actor, settings: posture_summary(s, actor, patient, zone=settings.clinic.zone),
    )
    if as_json:
        print_json(data)
        return
    typer.echo(f"{'day':<12}{'worn':>8}{'plan':>8}{'upright':>9}{'reminders':>11}")
    for d in data.days:
        plan = "-" if d.plan_s is None else f"{d.plan_s / 3600:.1f}h"
        up = "-" if d.upright_fraction is None else f"{100 * d.upright_fraction:.0f}%"
        typer.echo(
            f"{d.day.isoformat():<12}{d.wear_time_s / 3600:>7.1f}h{plan:>8}{up:>9}{d.reminders:>11}"
        )
    for w in data.weeks:
        vs = "-" if w.mean_wear_vs_plan is None else f"{100 * w.mean_wear_vs_plan:.0f}% of plan"
        up = "-" if w.upright_fraction is None else f"{100 * w.upright_fraction:.0f}%"
        typer.echo(
            f"{w.week}: {w.days} day(s), mean worn {w.mean_wear_time_s / 3600:.1f} h ({vs}), "
            f"upright {up}"
        )
    typer.echo(data.accuracy)
