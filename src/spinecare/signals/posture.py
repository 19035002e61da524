"""Posture biofeedback from one inertial sensor on the upper back: what an elastic orthosis does
mechanically, measured.

Sensor frame (the CSV and the simulated wearer use it): x up along the spine, z out of the back,
y to the wearer's left, when the wearer stands upright. Accelerometer in m/s^2, gyroscope in
deg/s, 25-200 Hz.

Steps (each a ``posture_*`` function, chained by :func:`posture_analyze`):

1. orientation: the x-io Fusion AHRS (``imufusion``), a complementary filter of gyroscope and
   accelerometer with pinned gains (:class:`FilterGains`), gives the direction of gravity in the
   sensor frame per sample;
2. wear: the sensor is worn while it moves (breathing and sway keep a worn sensor moving); a
   still stretch of at least ``min_off_s`` is time off the body;
3. calibration: the upright reference is the mean gravity direction over the first minute of
   wear, unless given (a stored reference or a window the wearer stood upright in);
4. angles: forward (sagittal) inclination relative to that reference, positive when slumping;
5. slumps and reminders: a slump starts when the inclination exceeds the threshold and ends when
   it falls ``hysteresis_deg`` below it; a reminder fires once a slump has lasted longer than the
   delay, as posture trainers do (configurable angle and delay [upright-go], [lumo-lift]).

Accuracy, stated with every result: the upright reference and all angles are the *sensor's*
inclination, a proxy of posture. The thoracic inclination at calibration is not a kyphosis
angle; a single-sensor estimate is comparable at best to a Debrunner kyphometer, whose readings
differ from radiographic Cobb angles by about 10 degrees (SD of differences [greendale2011]).

Pure: arrays in, results out; the CSV parser takes text, never a file.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

import imufusion
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from spinecare.errors import InputError

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

G_N = 9.80665  # standard acceleration of gravity, m/s^2 [bipm-si]
CSV_HEADER = ("t_s", "ax", "ay", "az", "gx", "gy", "gz")
RATE_RANGE_HZ = (25.0, 200.0)  # the recordings accepted (CSV and serial stream)
# Delay and angle ranges of consumer posture trainers: Lumo Lift 3 s - 10 min [lumo-lift];
# angle thresholds in the tens of degrees [upright-go]. Outside them a setting is refused.
DELAY_RANGE_S = (3.0, 600.0)
SLUMP_RANGE_DEG = (5.0, 60.0)
DEFAULT_SLUMP_DEG = 20.0  # engineering choice (the command's default), adjustable per patient
DEFAULT_DELAY_S = 60.0  # engineering choice; trainers recommend 1-2 min [lumo-lift]
CALIBRATION_S = 60.0  # the first minute of wear is the upright reference (unless given)
GAP_S = 1.0  # a pause between samples longer than this splits the recording (filter restarts)

ACCURACY_STATEMENT = (
    "Angles are the inclination of one sensor on the upper back relative to the calibrated "
    "upright posture: a proxy of posture, not a radiographic measure. The thoracic inclination "
    "is not a kyphosis angle; at best it is comparable to a Debrunner kyphometer, which differs "
    "from radiographs by about 10 degrees. Wear time is inferred from motion: a worn sensor "
    "that stays perfectly still for a minute counts as off."
)


@dataclass(frozen=True, slots=True)
class FilterGains:
    """Pinned settings of the Fusion AHRS [fusion-ahrs] (not the library's defaults, which
    have changed between versions).

    ``gain`` 0.5 is the value Fusion documents as typical; 10 degrees of acceleration rejection
    ignores the accelerometer while walking or bending shakes it (the gyroscope carries the
    estimate), for at most ``rejection_timeout_s`` before the filter recovers.
    """

    gain: float = 0.5
    acceleration_rejection_deg: float = 10.0
    rejection_timeout_s: float = 5.0
    gyroscope_range_dps: float = 2000.0  # a common MEMS full scale; engineering choice

    def as_dict(self) -> dict[str, float]:
        return {
            "gain": self.gain,
            "acceleration_rejection_deg": self.acceleration_rejection_deg,
            "rejection_timeout_s": self.rejection_timeout_s,
            "gyroscope_range_dps": self.gyroscope_range_dps,
        }


@dataclass(frozen=True, slots=True)
class WearSettings:
    """Wear from motion (engineering choices, checked on the simulated wearers).

    A worn sensor on the thorax moves with breathing and postural sway: its gyroscope varies by
    well over the 0.3 deg/s this takes as the floor, while a resting MEMS gyroscope's noise
    stays near a few hundredths of a degree per second.
    """

    window_s: float = 2.0  # centred window of the motion level
    gyro_std_dps: float = 0.3  # motion level above which the sensor moves
    acc_std_ms2: float = 0.05
    min_off_s: float = 60.0  # still at least this long: off the body
    # at the start or end of a recording a shorter still stretch is enough: the sensor is
    # switched on before it is put on, and taken off before it is switched off
    edge_off_s: float = 10.0
    # Putting the sensor on and taking it off moves it too: the first and last 4 s of a wear
    # period next to time off are handling, not wear (nor a slump). Engineering choice, matched
    # to the 2 s window and a few seconds of handling.
    handling_s: float = 4.0


@dataclass(frozen=True, slots=True)
class PostureSettings:
    slump_deg: float = DEFAULT_SLUMP_DEG
    delay_s: float = DEFAULT_DELAY_S
    hysteresis_deg: float = 2.0  # a slump ends 2 deg below the threshold; engineering choice
    calibration_s: float = CALIBRATION_S
    gains: FilterGains = field(default_factory=FilterGains)
    wear: WearSettings = field(default_factory=WearSettings)

    def __post_init__(self) -> None:
        lo, hi = SLUMP_RANGE_DEG
        if not (math.isfinite(self.slump_deg) and lo <= self.slump_deg <= hi):
            raise InputError("slump_deg", f"must be {lo:g}-{hi:g} degrees", self.slump_deg)
        lo, hi = DELAY_RANGE_S
        if not (math.isfinite(self.delay_s) and lo <= self.delay_s <= hi):
            raise InputError("delay_s", f"must be {lo:g}-{hi:g} seconds", self.delay_s)


# --- input -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ImuRecording:
    """Samples of one recording: time (s), accelerometer (m/s^2), gyroscope (deg/s)."""

    t_s: Floats
    acc: Floats  # (n, 3)
    gyr: Floats  # (n, 3)

    @property
    def rate_hz(self) -> float:
        return imu_rate(self.t_s)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if self.t_s.size else 0.0


def imu_rate(t_s: Floats) -> float:
    """Nominal rate from the median sample interval."""
    if t_s.size < 2:
        return float("nan")
    return float(1.0 / np.median(np.diff(t_s)))


def imu_validate(t_s: Floats, acc: Floats, gyr: Floats) -> ImuRecording:
    """Refuse what cannot be a recording: wrong shapes, non-finite values, time not increasing,
    a rate outside 25-200 Hz, less than 2 seconds."""
    t = np.ascontiguousarray(t_s, dtype=np.float64)
    a = np.ascontiguousarray(acc, dtype=np.float64)
    g = np.ascontiguousarray(gyr, dtype=np.float64)
    if t.ndim != 1 or a.shape != (t.size, 3) or g.shape != (t.size, 3):
        raise InputError("samples", "need t_s and three accelerometer and gyroscope columns")
    if t.size < 2:
        raise InputError("samples", "fewer than two samples", int(t.size))
    for name, arr in (("t_s", t), ("acc", a), ("gyr", g)):
        bad = np.flatnonzero(~np.isfinite(arr.reshape(t.size, -1)).all(axis=1))
        if bad.size:
            raise InputError(name, f"sample {int(bad[0]) + 1}: not a finite number")
    dt = np.diff(t)
    bad = np.flatnonzero(dt <= 0)
    if bad.size:
        raise InputError(
            "t_s", f"sample {int(bad[0]) + 2}: time does not increase", float(t[bad[0] + 1])
        )
    rate = imu_rate(t)
    lo, hi = RATE_RANGE_HZ
    if not lo * 0.98 <= rate <= hi * 1.02:
        raise InputError("t_s", f"sampling rate {rate:.1f} Hz outside {lo:g}-{hi:g} Hz")
    if t[-1] - t[0] < 2.0:
        raise InputError("t_s", "recording shorter than 2 s", float(t[-1] - t[0]))
    # A physically impossible reading is a unit error (g instead of m/s^2, rad/s instead of
    # deg/s is not detectable this way): 16 g and 4000 deg/s are beyond wearable sensors.
    if float(np.max(np.abs(a))) > 16 * G_N:
        raise InputError("acc", "beyond 16 g: the accelerometer columns must be m/s^2")
    if float(np.max(np.abs(g))) > 4000.0:
        raise InputError("gyr", "beyond 4000 deg/s: the gyroscope columns must be deg/s")
    return ImuRecording(t, a, g)


def posture_csv_parse(text: str) -> ImuRecording:
    """The CSV a recording is exchanged in: header ``t_s,ax,ay,az,gx,gy,gz``, then numbers."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise InputError("file", "empty")
    header = tuple(h.strip().lower() for h in lines[first].split(","))
    if header != CSV_HEADER:
        raise InputError(
            "file", f"line {first + 1}: header must be {','.join(CSV_HEADER)}", lines[first][:60]
        )
    body = "\n".join(lines[first + 1 :])
    if not body.strip():
        raise InputError("file", "no samples after the header")
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:
        _raise_bad_line(lines, first)
        raise  # pragma: no cover (_raise_bad_line always raises)
    if data.size == 0:
        raise InputError("file", "no samples after the header")
    if data.shape[1] != len(CSV_HEADER):
        _raise_bad_line(lines, first)
    return imu_validate(data[:, 0], data[:, 1:4], data[:, 4:7])


def _raise_bad_line(lines: list[str], first: int) -> None:
    for no in range(first + 1, len(lines)):
        raw = lines[no]
        if not raw.strip():
            continue
        parts = raw.split(",")
        if len(parts) != len(CSV_HEADER):
            raise InputError(
                "file", f"line {no + 1}: {len(parts)} columns, expected {len(CSV_HEADER)}"
            )
        try:
            [float(p) for p in parts]
        except ValueError:
            raise InputError("file", f"line {no + 1}: not numeric", raw[:40]) from None
    raise InputError("file", "not a table of numbers")


def posture_csv_format(rec: ImuRecording) -> str:
    """The recording as the exchange CSV (6 decimals: micro-units)."""
    out = io.StringIO()
    out.write(",".join(CSV_HEADER) + "\n")
    table = np.column_stack([rec.t_s, rec.acc, rec.gyr])
    np.savetxt(out, table, delimiter=",", fmt="%.6f")
    return out.getvalue()


# --- 1. orientation ------------------------------------------------------------------------------
def _tilt_quaternion(acc: Floats) -> Floats:
    """The quaternion (w, x, y, z) that turns the earth's up into the measured up (no heading)."""
    up = acc / max(float(np.linalg.norm(acc)), 1e-9)
    z = np.array([0.0, 0.0, 1.0])
    # rotation taking sensor-frame ``up`` to the earth z axis: q = [1 + z.up, up x z], normalised
    w = 1.0 + float(np.dot(up, z))
    xyz = np.cross(up, z)
    if w < 1e-9:  # upside down
        return np.array([0.0, 1.0, 0.0, 0.0])
    q = np.array([w, *xyz])
    return q / float(np.linalg.norm(q))


def _ahrs(rate_hz: float, gains: FilterGains) -> imufusion.Ahrs:
    ahrs = imufusion.Ahrs()
    ahrs.set_settings(
        imufusion.AhrsSettings(
            sample_rate=rate_hz,
            convention=imufusion.CONVENTION_NWU,
            gain=gains.gain,
            gyroscope_range=gains.gyroscope_range_dps,
            acceleration_rejection=gains.acceleration_rejection_deg,
            magnetic_rejection=0.0,
            rejection_timeout=gains.rejection_timeout_s,
        )
    )
    return ahrs


def _start(ahrs: imufusion.Ahrs, acc: Floats) -> None:
    """Start from the accelerometer's tilt instead of the library's 3 s start-up ramp."""
    ahrs.set_quaternion(_tilt_quaternion(acc))
    ahrs.skip_startup()


def posture_orientation(rec: ImuRecording, gains: FilterGains | None = None) -> Floats:
    """Unit gravity direction (the 'up' an accelerometer at rest reads) in the sensor frame,
    per sample, from the Fusion AHRS with pinned gains. A gap longer than ``GAP_S`` restarts
    the filter from the accelerometer."""
    gains = gains or FilterGains()
    n = rec.t_s.size
    rate = rec.rate_hz
    acc_g = rec.acc / G_N  # Fusion takes g
    gyr = rec.gyr
    dt = np.diff(rec.t_s, prepend=rec.t_s[0] - 1.0 / rate)
    out = np.empty((n, 3))
    ahrs = _ahrs(rate, gains)
    nominal = 1.0 / rate
    period = nominal
    head = max(1, round(0.2 * rate))  # 0.2 s of accelerometer to start from
    _start(ahrs, acc_g[:head].mean(axis=0))
    for i in range(n):
        step = float(dt[i])
        if step > GAP_S:
            _start(ahrs, acc_g[i : i + head].mean(axis=0))
            step = nominal
        if abs(step - period) > 1e-3 * nominal:
            ahrs.set_sample_period(step)
            period = step
        ahrs.update_no_magnetometer(gyr[i], acc_g[i])
        out[i] = ahrs.get_gravity()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit: Floats = out / np.maximum(norms, 1e-9)
    return unit


# --- 2. wear -------------------------------------------------------------------------------------
def _moving_std(x: Floats, w: int) -> Floats:
    """Centred moving standard deviation per column (window ``w`` samples), via cumulative sums."""
    n = x.shape[0]
    w = max(2, min(w, n))
    c1 = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    c2 = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x * x]), axis=0)
    lo = np.clip(np.arange(n) - w // 2, 0, n - w)
    hi = lo + w
    s1 = c1[hi] - c1[lo]
    s2 = c2[hi] - c2[lo]
    var = np.maximum(s2 / w - (s1 / w) ** 2, 0.0)
    level: Floats = np.sqrt(var.sum(axis=1))
    return level


def _runs(mask: Bools) -> list[tuple[int, int]]:
    """Half-open index runs [start, end) where ``mask`` is true."""
    if mask.size == 0:
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def posture_wear(rec: ImuRecording, settings: WearSettings | None = None) -> Bools:
    """Worn per sample: moving, or still for less than ``min_off_s`` (and not across a gap)."""
    ws = settings or WearSettings()
    rate = rec.rate_hz
    w = round(ws.window_s * rate)
    moving = (_moving_std(rec.gyr, w) > ws.gyro_std_dps) | (
        _moving_std(rec.acc, w) > ws.acc_std_ms2
    )
    n = rec.t_s.size
    worn = np.ones(n, dtype=bool)
    for a, b in _runs(~moving):
        needed = ws.edge_off_s if a == 0 or b == n else ws.min_off_s
        if rec.t_s[b - 1] - rec.t_s[a] + 1.0 / rate >= needed:
            worn[a:b] = False
    trimmed = worn.copy()
    for a, b in _runs(worn):
        if a > 0:  # put on after time off
            trimmed[a : int(np.searchsorted(rec.t_s, rec.t_s[a] + ws.handling_s))] = False
        if b < n:  # taken off before time off
            trimmed[int(np.searchsorted(rec.t_s, rec.t_s[b - 1] - ws.handling_s, "right")) : b] = (
                False
            )
    return trimmed


# --- 3. calibration ------------------------------------------------------------------------------
class UprightReference(BaseModel):
    """The upright posture: gravity direction in the sensor frame, and where it came from."""

    model_config = ConfigDict(frozen=True)

    up: tuple[float, float, float]
    source: Literal["first_minute_of_wear", "window", "given"]
    from_s: float | None = None
    to_s: float | None = None
    # Sagittal angle of the sensor's x axis from the vertical at calibration: a *proxy* of the
    # upper thoracic curve, not a kyphosis angle (ACCURACY_STATEMENT).
    thoracic_inclination_deg: float


def _inclination(up: Floats) -> float:
    """Angle of the sensor x axis (along the spine) from the vertical, forward positive."""
    return float(math.degrees(math.atan2(up[2], up[0])))


def posture_calibrate(
    t_s: Floats,
    gravity: Floats,
    worn: Bools,
    *,
    seconds: float = CALIBRATION_S,
    at_s: float | None = None,
) -> UprightReference | None:
    """Mean gravity direction over the first ``seconds`` of wear (or from ``at_s`` on);
    None when the sensor was never worn in that span."""
    if at_s is None:
        idx = np.flatnonzero(worn)
        if idx.size == 0:
            return None
        # the first `seconds` of cumulative wear time
        dt = np.diff(t_s, append=t_s[-1] + (t_s[-1] - t_s[-2]))
        wear_t = np.cumsum(np.where(worn, dt, 0.0))
        idx = idx[wear_t[idx] <= seconds + 1e-9]
        source: Literal["first_minute_of_wear", "window"] = "first_minute_of_wear"
    else:
        idx = np.flatnonzero(worn & (t_s >= at_s) & (t_s < at_s + seconds))
        source = "window"
        if idx.size == 0:
            raise InputError("calibrate_at", "the sensor was not worn in that window", at_s)
    # the median resists a moment of bending or handling inside the window
    up = np.median(gravity[idx], axis=0)
    up = up / max(float(np.linalg.norm(up)), 1e-9)
    return UprightReference(
        up=(float(up[0]), float(up[1]), float(up[2])),
        source=source,
        from_s=float(t_s[idx[0]]),
        to_s=float(t_s[idx[-1]]),
        thoracic_inclination_deg=round(_inclination(up), 1),
    )


def reference_given(up: Sequence[float]) -> UprightReference:
    """A stored upright reference (gravity direction in the sensor frame)."""
    v = np.asarray(up, dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or float(np.linalg.norm(v)) < 1e-6:
        raise InputError("reference", "needs three finite numbers, not all zero", list(up))
    v = v / float(np.linalg.norm(v))
    return UprightReference(
        up=(float(v[0]), float(v[1]), float(v[2])),
        source="given",
        thoracic_inclination_deg=round(_inclination(v), 1),
    )


# --- 4. angles -----------------------------------------------------------------------------------
def posture_angles(gravity: Floats, reference: UprightReference) -> tuple[Floats, Floats]:
    """(forward, lateral) inclination in degrees relative to the upright reference.

    The body frame comes from the reference: up = the reference gravity direction, back = the
    sensor's z axis made orthogonal to it, left = up x back. Leaning forward turns the measured
    up towards the back axis (positive); mounting rotations about the back axis cancel out.
    """
    u = np.asarray(reference.up)
    b = np.array([0.0, 0.0, 1.0]) - u[2] * u
    if float(np.linalg.norm(b)) < 1e-3:  # sensor z along the vertical: fall back to x
        b = np.array([1.0, 0.0, 0.0]) - u[0] * u
    b = b / float(np.linalg.norm(b))
    left = np.cross(u, b)
    gu = gravity @ u
    forward = np.degrees(np.arctan2(gravity @ b, gu))
    lateral = np.degrees(np.arctan2(gravity @ left, gu))
    return forward, lateral


# --- 5. slumps and reminders ---------------------------------------------------------------------
class Slump(BaseModel):
    model_config = ConfigDict(frozen=True)

    onset_s: float
    end_s: float
    peak_deg: float
    reminded_s: float | None  # when the reminder fired (None: shorter than the delay)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.onset_s


class Reminder(BaseModel):
    model_config = ConfigDict(frozen=True)

    t_s: float
    slump_onset_s: float
    angle_deg: float


def posture_slumps(
    t_s: Floats, forward_deg: Floats, worn: Bools, settings: PostureSettings
) -> list[Slump]:
    """Slumps while worn: above ``slump_deg`` until ``hysteresis_deg`` below it (or wear ends)."""
    thr = settings.slump_deg
    low = thr - settings.hysteresis_deg
    above = (forward_deg > thr) & worn
    still_slumped = (forward_deg > low) & worn
    out: list[Slump] = []
    n = t_s.size
    starts = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    i_end = 0
    # runs of still_slumped, each holding the onset (first sample above the threshold)
    ends_at = _run_ends(still_slumped)
    for s in starts:
        if s < i_end:
            continue  # inside the previous slump (dipped below thr but not below thr - hyst)
        e = int(ends_at[s])  # first index after the run of still_slumped containing s
        i_end = e
        onset = float(t_s[s])
        end = float(t_s[e]) if e < n else float(t_s[-1])
        seg = slice(s, e)
        late = t_s[seg] - onset > settings.delay_s
        reminded = float(t_s[seg][late][0]) if late.any() else None
        out.append(
            Slump(
                onset_s=round(onset, 3),
                end_s=round(end, 3),
                peak_deg=round(float(np.max(forward_deg[seg])), 1),
                reminded_s=None if reminded is None else round(reminded, 3),
            )
        )
    return out


def _run_ends(mask: Bools) -> npt.NDArray[np.int64]:
    """For each index inside a true run, the index just after that run."""
    ends = np.zeros(mask.size, dtype=np.int64)
    for a, b in _runs(mask):
        ends[a:b] = b
    return ends


def posture_reminders(slumps: Sequence[Slump], t_s: Floats, forward_deg: Floats) -> list[Reminder]:
    out = []
    for s in slumps:
        if s.reminded_s is None:
            continue
        i = int(np.searchsorted(t_s, s.reminded_s - 1e-6))
        out.append(
            Reminder(
                t_s=s.reminded_s, slump_onset_s=s.onset_s, angle_deg=round(float(forward_deg[i]), 1)
            )
        )
    return out


# --- the analysis --------------------------------------------------------------------------------
class WearPeriod(BaseModel):
    model_config = ConfigDict(frozen=True)

    start_s: float
    end_s: float


class PostureAnalysis(BaseModel):
    """One recording analysed; everything a daily summary and a report need (JSON-ready)."""

    model_config = ConfigDict(frozen=True)

    samples: int
    rate_hz: float
    duration_s: float
    wear_time_s: float
    upright_time_s: float
    slumped_time_s: float
    upright_fraction: float | None  # of wear time; None when never worn
    wear_periods: list[WearPeriod]
    slumps: list[Slump]
    reminders: list[Reminder]
    calibration: UprightReference | None
    settings: dict[str, float | dict[str, float]]
    accuracy: str = ACCURACY_STATEMENT


@dataclass(frozen=True, slots=True)
class PostureSignals:
    """Per-sample results (for charts and tests; not stored)."""

    t_s: Floats
    gravity: Floats
    worn: Bools
    forward_deg: Floats
    lateral_deg: Floats


def _durations(t_s: Floats) -> Floats:
    """Time each sample stands for (its interval to the next; gaps count as nothing)."""
    dt = np.diff(t_s, append=t_s[-1] + np.median(np.diff(t_s)))
    nominal = float(np.median(dt))
    return np.where(dt > GAP_S, nominal, dt)


def posture_analyze(
    rec: ImuRecording,
    settings: PostureSettings | None = None,
    *,
    reference: UprightReference | None = None,
    calibrate_at_s: float | None = None,
) -> tuple[PostureAnalysis, PostureSignals]:
    """The whole chain on one recording."""
    st = settings or PostureSettings()
    gravity = posture_orientation(rec, st.gains)
    worn = posture_wear(rec, st.wear)
    # a gap interrupts wear: samples across it are not connected
    ref = reference or posture_calibrate(
        rec.t_s, gravity, worn, seconds=st.calibration_s, at_s=calibrate_at_s
    )
    dur = _durations(rec.t_s)
    wear_time = float(dur[worn].sum())
    if ref is None:
        forward = np.zeros(rec.t_s.size)
        lateral = np.zeros(rec.t_s.size)
        slumps: list[Slump] = []
    else:
        forward, lateral = posture_angles(gravity, ref)
        slumps = posture_slumps(rec.t_s, forward, worn, st)
    slumped = np.zeros(rec.t_s.size, dtype=bool)
    for s in slumps:
        slumped |= (rec.t_s >= s.onset_s) & (rec.t_s < s.end_s)
    slumped &= worn
    slumped_time = float(dur[slumped].sum())
    upright_time = wear_time - slumped_time
    periods = [
        WearPeriod(
            start_s=round(float(rec.t_s[a]), 3), end_s=round(float(rec.t_s[b - 1] + dur[b - 1]), 3)
        )
        for a, b in _runs(worn)
    ]
    analysis = PostureAnalysis(
        samples=int(rec.t_s.size),
        rate_hz=round(rec.rate_hz, 3),
        duration_s=round(rec.duration_s, 3),
        wear_time_s=round(wear_time, 2),
        upright_time_s=round(upright_time, 2),
        slumped_time_s=round(slumped_time, 2),
        upright_fraction=round(upright_time / wear_time, 4) if wear_time > 0 else None,
        wear_periods=periods,
        slumps=slumps,
        reminders=posture_reminders(slumps, rec.t_s, forward),
        calibration=ref,
        settings={
            "slump_deg": st.slump_deg,
            "delay_s": st.delay_s,
            "hysteresis_deg": st.hysteresis_deg,
            "calibration_s": st.calibration_s,
            "filter": st.gains.as_dict(),
        },
    )
    return analysis, PostureSignals(rec.t_s, gravity, worn, forward, lateral)


# --- live stream ---------------------------------------------------------------------------------
@dataclass(slots=True)
class LiveEvent:
    t_s: float
    kind: Literal["calibrated", "worn", "off", "slump", "upright", "reminder"]
    angle_deg: float | None = None


class PostureLive:
    """The same steps sample by sample, for a live stream: reminders as they fall due.

    Wear is judged on the trailing window (a still minute turns it off), so the live view
    lags the offline analysis by up to ``min_off_s`` at a take-off; the stored record is the
    offline analysis of the whole stream. Plain floats and running sums keep a sample to a few
    microseconds besides the filter.
    """

    def __init__(
        self,
        rate_hz: float,
        settings: PostureSettings | None = None,
        reference: UprightReference | None = None,
    ) -> None:
        lo, hi = RATE_RANGE_HZ
        if not lo <= rate_hz <= hi:
            raise InputError("rate", f"must be {lo:g}-{hi:g} Hz", rate_hz)
        self.st = settings or PostureSettings()
        self.rate = rate_hz
        self.ref: UprightReference | None = None
        self._axes: tuple[Floats, Floats] | None = None
        if reference is not None:
            self._set_reference(reference)
        self._ahrs = _ahrs(rate_hz, self.st.gains)
        self._started = False
        self._w = max(2, round(self.st.wear.window_s * rate_hz))
        self._ring: list[tuple[float, ...]] = []  # (gx, gy, gz, ax, ay, az) of the window
        self._sum = [0.0] * 6
        self._sq = [0.0] * 6
        self._k = 0
        self._still_since: float | None = None
        self.worn = False
        self._cal: list[Floats] = []
        self._cal_t0: float | None = None
        self._slump_t0: float | None = None
        self._reminded = False
        self._last_t: float | None = None

    def _set_reference(self, ref: UprightReference) -> None:
        self.ref = ref
        u = np.asarray(ref.up)
        b = np.array([0.0, 0.0, 1.0]) - u[2] * u
        if float(np.linalg.norm(b)) < 1e-3:
            b = np.array([1.0, 0.0, 0.0]) - u[0] * u
        self._axes = (u, b / float(np.linalg.norm(b)))

    def _moving(self, row: tuple[float, ...]) -> bool:
        """Trailing-window motion level (running sums of the window's values and squares)."""
        if len(self._ring) == self._w:
            old = self._ring[self._k % self._w]
            self._ring[self._k % self._w] = row
        else:
            old = None
            self._ring.append(row)
        self._k += 1
        for j in range(6):
            self._sum[j] += row[j]
            self._sq[j] += row[j] * row[j]
            if old is not None:
                self._sum[j] -= old[j]
                self._sq[j] -= old[j] * old[j]
        n = len(self._ring)
        var = [max(self._sq[j] / n - (self._sum[j] / n) ** 2, 0.0) for j in range(6)]
        gyro = math.sqrt(var[0] + var[1] + var[2])
        acc = math.sqrt(var[3] + var[4] + var[5])
        return gyro > self.st.wear.gyro_std_dps or acc > self.st.wear.acc_std_ms2

    def update(self, t_s: float, acc: Sequence[float], gyr: Sequence[float]) -> list[LiveEvent]:
        a = np.asarray(acc, dtype=np.float64) / G_N
        g = np.asarray(gyr, dtype=np.float64)
        events: list[LiveEvent] = []
        if not self._started or (self._last_t is not None and t_s - self._last_t > GAP_S):
            _start(self._ahrs, a)
            self._started = True
        elif self._last_t is not None:
            self._ahrs.set_sample_period(max(t_s - self._last_t, 1e-4))
        self._last_t = t_s
        self._ahrs.update_no_magnetometer(g, a)
        up = self._ahrs.get_gravity()
        if self._moving((gyr[0], gyr[1], gyr[2], acc[0], acc[1], acc[2])):
            self._still_since = None
            if not self.worn:
                self.worn = True
                events.append(LiveEvent(t_s, "worn"))
        else:
            if self._still_since is None:
                self._still_since = t_s
            if self.worn and t_s - self._still_since >= self.st.wear.min_off_s:
                self.worn = False
                self._end_slump()
                events.append(LiveEvent(t_s, "off"))
        if not self.worn:
            return events
        if self._axes is None:
            self._cal.append(np.asarray(up, dtype=np.float64))
            self._cal_t0 = t_s if self._cal_t0 is None else self._cal_t0
            if len(self._cal) >= round(self.st.calibration_s * self.rate):
                mean = np.median(np.asarray(self._cal), axis=0)
                mean /= max(float(np.linalg.norm(mean)), 1e-9)
                self._set_reference(
                    UprightReference(
                        up=(float(mean[0]), float(mean[1]), float(mean[2])),
                        source="first_minute_of_wear",
                        from_s=self._cal_t0,
                        to_s=t_s,
                        thoracic_inclination_deg=round(_inclination(mean), 1),
                    )
                )
                self._cal = []
                events.append(LiveEvent(t_s, "calibrated", round(_inclination(mean), 1)))
            return events
        u, b = self._axes
        angle = math.degrees(math.atan2(float(np.dot(up, b)), float(np.dot(up, u))))
        if self._slump_t0 is None:
            if angle > self.st.slump_deg:
                self._slump_t0 = t_s
                self._reminded = False
                events.append(LiveEvent(t_s, "slump", round(angle, 1)))
        elif angle < self.st.slump_deg - self.st.hysteresis_deg:
            self._end_slump()
            events.append(LiveEvent(t_s, "upright", round(angle, 1)))
        elif not self._reminded and t_s - self._slump_t0 > self.st.delay_s:
            self._reminded = True
            events.append(LiveEvent(t_s, "reminder", round(angle, 1)))
        return events

    def _end_slump(self) -> None:
        self._slump_t0 = None
        self._reminded = False


# --- days and weeks ------------------------------------------------------------------------------
class PostureDay(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    recordings: int
    wear_time_s: float
    plan_s: float | None
    wear_vs_plan: float | None  # fraction of the planned wear time
    upright_time_s: float
    upright_fraction: float | None
    reminders: int


class PostureWeek(BaseModel):
    model_config = ConfigDict(frozen=True)

    week: str  # ISO week, e.g. 2026-W49
    days: int
    mean_wear_time_s: float
    mean_wear_vs_plan: float | None
    upright_fraction: float | None
    reminders_per_wear_hour: float | None


def _split(a: datetime, b: datetime, zone: tzinfo) -> list[tuple[date, float]]:
    """Seconds of [a, b) on each local calendar day."""
    out: list[tuple[date, float]] = []
    cur = a.astimezone(zone)
    end = b.astimezone(zone)
    while cur < end:
        midnight = datetime.combine(cur.date() + timedelta(days=1), datetime.min.time(), zone)
        stop = min(midnight, end)
        out.append((cur.date(), (stop - cur).total_seconds()))
        cur = stop
    return out


def posture_daily(
    recordings: Sequence[tuple[datetime, PostureAnalysis]],
    zone: tzinfo,
    plan_s: Mapping[date, float] | None = None,
) -> list[PostureDay]:
    """Per local day: wear time (against the plan), upright time, reminders. Recordings that span
    midnight are split by their wear periods and slumps."""
    wear: dict[date, float] = {}
    slumped: dict[date, float] = {}
    reminders: dict[date, int] = {}
    count: dict[date, set[int]] = {}
    for k, (start, an) in enumerate(recordings):
        if start.tzinfo is None:
            raise InputError("started_at", "needs a time zone", start.isoformat())
        for p in an.wear_periods:
            for d, s in _split(
                start + timedelta(seconds=p.start_s), start + timedelta(seconds=p.end_s), zone
            ):
                wear[d] = wear.get(d, 0.0) + s
                count.setdefault(d, set()).add(k)
        for sl in an.slumps:
            for d, s in _split(
                start + timedelta(seconds=sl.onset_s), start + timedelta(seconds=sl.end_s), zone
            ):
                slumped[d] = slumped.get(d, 0.0) + s
        for r in an.reminders:
            d = (start + timedelta(seconds=r.t_s)).astimezone(zone).date()
            reminders[d] = reminders.get(d, 0) + 1
    recorded = set(wear) | set(reminders)
    if not recorded:
        return []
    first, last = min(recorded), max(recorded)
    # planned days between the first and the last recorded day count, worn or not
    days = sorted(recorded | {d for d in plan_s or {} if first <= d <= last})
    out = []
    for d in days:
        w = wear.get(d, 0.0)
        up = max(w - slumped.get(d, 0.0), 0.0)
        plan = (plan_s or {}).get(d)
        out.append(
            PostureDay(
                day=d,
                recordings=len(count.get(d, ())),
                wear_time_s=round(w, 1),
                plan_s=plan,
                wear_vs_plan=round(w / plan, 3) if plan else None,
                upright_time_s=round(up, 1),
                upright_fraction=round(up / w, 4) if w > 0 else None,
                reminders=reminders.get(d, 0),
            )
        )
    return out


def posture_weekly(days: Sequence[PostureDay]) -> list[PostureWeek]:
    """ISO weeks of the daily summaries: the trend kept with the follow-ups."""
    weeks: dict[str, list[PostureDay]] = {}
    for d in days:
        y, w, _ = d.day.isocalendar()
        weeks.setdefault(f"{y}-W{w:02d}", []).append(d)
    out = []
    for key in sorted(weeks):
        ds = weeks[key]
        wear = sum(d.wear_time_s for d in ds)
        up = sum(d.upright_time_s for d in ds)
        vs = [d.wear_vs_plan for d in ds if d.wear_vs_plan is not None]
        out.append(
            PostureWeek(
                week=key,
                days=len(ds),
                mean_wear_time_s=round(wear / len(ds), 1),
                mean_wear_vs_plan=round(sum(vs) / len(vs), 3) if vs else None,
                upright_fraction=round(up / wear, 4) if wear > 0 else None,
                reminders_per_wear_hour=(
                    round(sum(d.reminders for d in ds) / (wear / 3600.0), 2) if wear > 0 else None
                ),
            )
        )
    return out
