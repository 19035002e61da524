"""`spinecare emg detect`: replay the guarding EMG detector over a recording.

The very detector the 50 Hz loop uses (``signals.replay``), fed from the first sample in 20 ms
blocks. Engineers use it to check an electrode set-up, clinics to review a session. numpy and
numba are imported inside the command, so ``spinecare --help`` stays fast.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.output import number_option
from spinecare.cli.textfile import recording_read
from spinecare.errors import InputError

if TYPE_CHECKING:
    from spinecare.signals.replay import Replay

emg_app = typer.Typer(
    help="Surface EMG: replay the guarding detector over a recording.", no_args_is_help=True
)
app.add_typer(emg_app, name="emg")


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


# Below this rate the detector's 20-450 Hz band is cut at 0.45 x the rate: SENIAM recommends
# sampling sEMG at 1 kHz or more [hermens2000], and the detector's figures are from such files.
SENIAM_MIN_RATE_HZ = 1000.0


def result_dict(rp: Replay, path: Path, column: int, samples: int) -> dict[str, Any]:
    """The JSON shape of ``emg detect --json``."""
    from spinecare.signals.detector import DetectorConfig

    lo, hi = DetectorConfig(fs_hz=rp.rate_hz).band_hz
    return {
        "rate_hz": rp.rate_hz,
        "bursts": [b.as_dict() for b in rp.bursts],
        "file": str(path),
        "column": column,
        "samples": samples,
        "band_hz": [lo, round(min(hi, 0.45 * rp.rate_hz), 1)],
        "duration_s": round(rp.duration_s, 4),
        "calibration": {
            "ready_s": rp.ready_s,
            "not_ready_s": round(rp.not_ready_s, 3),
            "final_status": rp.final_status.name.lower(),
            "final_reason": rp.final_reason,
            "quiet_level": _finite(rp.calibrations[-1].quiet_level) if rp.calibrations else None,
            "events": [
                {
                    "t_s": round(c.index / rp.rate_hz, 4),
                    "kind": c.kind.name.lower(),
                    "quiet_level": _finite(c.quiet_level),
                }
                for c in rp.calibrations
            ],
            "status_s": rp.status_s,
            # mains lines found at rest and notched from then on (a 60 Hz grid, a loose ground)
            "mains_notches": [{"hz": f, "t_s": round(t, 4)} for f, t in rp.mains_notches],
        },
        "tone_s": round(rp.tone_s, 3),
        "bad_samples": rp.bad_samples,
    }


def _session_start(text: str) -> float | None:
    """The session time of the first sample, from a session's ``emg.txt`` (runtime/recorder):
    its third comment line. None for any other file."""
    from spinecare.runtime.recorder import FIRST_SAMPLE_AT

    for line in text[:4096].splitlines():
        if line.startswith(FIRST_SAMPLE_AT):
            try:
                t0 = float(line.removeprefix(FIRST_SAMPLE_AT).removesuffix(" s"))
            except ValueError:
                return None
            return t0 if math.isfinite(t0) else None
    return None


def _print_text(out: dict[str, Any]) -> None:
    cal = out["calibration"]
    print(
        f"{out['file']} column {out['column']}: {out['samples']} samples at "
        f"{out['rate_hz']:g} Hz ({out['duration_s']:.2f} s)"
    )
    if out["rate_hz"] < SENIAM_MIN_RATE_HZ:
        print(
            f"note: at {out['rate_hz']:g} Hz the band-pass ends at {out['band_hz'][1]:g} Hz; "
            "SENIAM recommends sampling sEMG at 1 kHz or more, and detections may differ "
            "from a 1 kHz recording of the same muscle"
        )
    if "first_sample_session_t_s" in out:
        print(
            f"a session's record: its first sample is at session time "
            f"{out['first_sample_session_t_s']:g} s (add it to the times below)"
        )
    events = ", ".join(
        f"{e['kind']} at {e['t_s']:.2f} s (quiet {e['quiet_level']:.4g})" for e in cal["events"]
    )
    if cal["ready_s"] is not None:
        print(f"calibration: ready at {cal['ready_s']:.2f} s; {events}")
        print(f"  without a valid baseline {cal['not_ready_s']:.2f} s; now: {cal['final_reason']}")
    elif events:
        # a baseline was learned but not yet confirmed (2 s without a lower stretch): a
        # contraction rising above it would have been reported, and made it ready
        print(f"calibration: never confirmed ({cal['final_reason']}); {events}")
    else:
        print(f"calibration: never ready ({cal['final_reason']}); no detection possible")
    for m in cal["mains_notches"]:
        print(f"mains interference at {m['hz']:g} Hz: notched from {m['t_s']:.2f} s "
              "(check the grounding and the electrode leads)")  # fmt: skip
    if out["tone_s"] > 0:
        print(f"low-level tone (shown, not acted on): {out['tone_s']:.2f} s")
    if out["bad_samples"]:
        print(f"invalid samples (held): {out['bad_samples']}")
    print(f"bursts: {len(out['bursts'])}")
    if out["bursts"]:
        print(f"  {'onset_s':>9} {'reported_s':>10} {'offset_s':>9}")
        for b in out["bursts"]:
            print(f"  {b['onset_s']:9.3f} {b['reported_s']:10.3f} {b['offset_s']:9.3f}")


def _plot(x: Any, rp: Replay, out_png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    t = np.arange(x.size) / rp.rate_hz
    tick = np.arange(1, rp.level.size + 1) * (x.size / rp.rate_hz / max(rp.level.size, 1))
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(12, 5), sharex=True)
    ax0.plot(t, x, lw=0.4, color="0.3")
    ax0.set_ylabel("signal")
    ax0.set_title(title)
    ax1.semilogy(tick, np.maximum(rp.level, 1e-2), lw=0.8, color="tab:blue")
    ax1.set_ylabel("level / quiet")
    ax1.set_xlabel("s")
    for ax in (ax0, ax1):
        for b in rp.bursts:
            ax.axvspan(b.onset_s, b.offset_s, color="tab:red", alpha=0.15)
            ax.axvline(b.reported_s, color="tab:red", lw=0.8, ls=":")
        for c in rp.calibrations:
            ax.axvline(c.index / rp.rate_hz, color="tab:green", lw=0.8)
    fig.tight_layout()
    import io

    from spinecare.store.files import write_private

    image = io.BytesIO()
    try:
        fig.savefig(image, format="png", dpi=100)
    finally:
        plt.close(fig)
    write_private(out_png, image.getvalue())  # a disk fault: exit 10, no file left


@emg_app.command("detect")
def detect_cmd(
    file: Path = typer.Argument(
        ..., help="text columns, '#' comments (header lines skipped); or a session's directory"
    ),
    rate: float = number_option(..., "--rate", help="sampling rate in Hz (500-20000)"),
    column: int | None = typer.Option(None, "--column", help="0-based column (default: the last)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    plot: Path | None = typer.Option(None, "--plot", help="also draw the bursts into a PNG"),
) -> None:
    """Replay the guarding detector over a recording in 20 ms blocks; list its bursts."""
    if not math.isfinite(rate) or not 500.0 <= rate <= 20000.0:
        raise InputError("rate", "sEMG needs 500-20000 Hz", rate)
    if column is not None and column < 0:
        raise InputError("column", "0-based, not negative", column)
    if plot is not None and plot.suffix.lower() != ".png":
        raise InputError("plot", "needs a .png file name", str(plot))
    from spinecare.runtime.recorder import EMG_SAMPLES

    if file.is_dir():  # a session's directory: the raw sEMG its loop received
        if not (file / EMG_SAMPLES).is_file():
            raise InputError("file", f"a directory without a session's {EMG_SAMPLES}", str(file))
        file = file / EMG_SAMPLES
    text = recording_read(file)

    from spinecare.signals.replay import replay
    from spinecare.signals.textfile import column as pick
    from spinecare.signals.textfile import parse_table

    table = parse_table(text)
    col = table.shape[1] - 1 if column is None else column
    x = pick(table, col)
    tick = round(0.02 * rate)
    if x.size < tick:
        raise InputError("file", f"need at least one 20 ms block ({tick} samples)", x.size)
    rp = replay(x, rate)
    out = result_dict(rp, file, col, int(x.size))
    t0 = _session_start(text)
    if t0 is not None:  # a session's emg.txt: where its time 0 lies in the session
        out["first_sample_session_t_s"] = t0
    if plot is not None:
        _plot(x, rp, plot, f"{file.name} column {col}")
    if as_json:
        print(json.dumps(out, indent=1))
    else:
        _print_text(out)
