"""Simulated wearer of the posture sensor: seeded schedules of wear and slumps, and the inertial
signals they produce, with the ground truth kept beside them.

The wearer's trunk follows a forward (flexion) angle made of slumps (smooth ramps to a held
angle), breathing and slow postural sway, with walking bouts that shake the accelerometer; the
sensor sits on the upper back, tilted forward by the wearer's thoracic curve and rotated a little
on the skin. Off the body it lies on a table, face up or down, still. Accelerometer and gyroscope
are computed from that orientation (specific force and body rate) with white noise and a
constant gyroscope bias.

Every amplitude below is a simulation choice (no source: plausible orders of magnitude for a
MEMS sensor on the thorax), documented so the tests' tolerances can be judged against them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfiltfilt

from spinecare.signals.posture import G_N, RATE_RANGE_HZ, ImuRecording

Floats = npt.NDArray[np.float64]

# Simulation choices (see the module docstring).
BREATHING_DEG = 0.6  # thoracic pitch amplitude with each breath
BREATHING_HZ = 0.25  # 15 breaths a minute
SWAY_SD_DEG = 0.8  # slow postural sway (low-passed at 0.3 Hz)
LATERAL_SD_DEG = 1.0
GYRO_NOISE_DPS = 0.05  # white noise per sample
GYRO_BIAS_SD_DPS = 0.3  # constant bias per axis, drawn per wearer
ACC_NOISE_MS2 = 0.02
HANDLING_S = 3.0  # putting the sensor on or taking it off (counts as not worn)
UPRIGHT_START_S = 90.0  # each wear period starts upright (the calibration minute and margin)
WALK_STEP_HZ = 1.8


def check_random_state(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """A generator from a seed, a generator (used as is) or None (fresh entropy)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


@dataclass(frozen=True, slots=True)
class SlumpEvent:
    """A slump: the angle ramps up from ``onset_s`` over ``ramp_s``, holds ``hold_s``, ramps
    back over ``ramp_s``."""

    onset_s: float
    hold_s: float
    angle_deg: float
    ramp_s: float = 2.0

    @property
    def end_s(self) -> float:
        return self.onset_s + 2 * self.ramp_s + self.hold_s


@dataclass(frozen=True, slots=True)
class WearerProfile:
    thoracic_inclination_deg: float = 25.0  # sensor tilt from vertical when upright
    mount_rotation_deg: float = 0.0  # rotation on the skin about the sensor's z axis
    gyro_bias_dps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    table_face_up: bool = True


@dataclass(frozen=True, slots=True)
class WearerTruth:
    wear_periods: tuple[tuple[float, float], ...]
    slumps: tuple[SlumpEvent, ...]
    walks: tuple[tuple[float, float], ...]
    profile: WearerProfile
    forward_deg: Floats = field(repr=False)  # true flexion relative to upright (NaN: not worn)

    @property
    def wear_time_s(self) -> float:
        return sum(b - a for a, b in self.wear_periods)

    def slump_onsets(self, threshold_deg: float, t_s: Floats) -> list[float]:
        """When each slump's true angle first exceeds ``threshold_deg`` (slumps that do not
        reach it are left out)."""
        out = []
        for s in self.slumps:
            seg = (t_s >= s.onset_s) & (t_s <= s.end_s) & (self.forward_deg > threshold_deg)
            idx = np.flatnonzero(seg)
            if idx.size:
                out.append(float(t_s[idx[0]]))
        return out


def posture_schedule(
    duration_s: float,
    random_state: int | np.random.Generator | None = None,
    *,
    slumps_per_hour: float = 12.0,
    long_fraction: float = 0.5,
) -> tuple[list[tuple[float, float]], list[SlumpEvent], list[tuple[float, float]]]:
    """Random wear periods, slumps inside them (after an upright start) and walking bouts."""
    rng = check_random_state(random_state)
    wear: list[tuple[float, float]] = []
    t = float(rng.uniform(60.0, 240.0))  # lies on the table first
    while t < duration_s - 300.0:
        length = float(rng.uniform(900.0, 2400.0))
        end = min(t + length, duration_s - 30.0)
        if end - t >= 300.0:
            wear.append((t, end))
        t = end + float(rng.uniform(120.0, 900.0))
    slumps: list[SlumpEvent] = []
    walks: list[tuple[float, float]] = []
    for a, b in wear:
        t = a + UPRIGHT_START_S + float(rng.exponential(3600.0 / slumps_per_hour))
        while True:
            long = rng.random() < long_fraction
            hold = float(rng.uniform(70.0, 240.0) if long else rng.uniform(5.0, 45.0))
            ev = SlumpEvent(
                onset_s=t,
                hold_s=hold,
                angle_deg=float(rng.uniform(26.0, 45.0)),
                ramp_s=float(rng.uniform(1.5, 3.0)),
            )
            if ev.end_s > b - 10.0:
                break
            slumps.append(ev)
            gap = float(rng.exponential(3600.0 / slumps_per_hour)) + 20.0
            if gap > 90.0 and rng.random() < 0.5:  # a walk in the upright stretch
                w0 = ev.end_s + 10.0
                w1 = w0 + min(gap - 30.0, float(rng.uniform(30.0, 120.0)))
                walks.append((w0, w1))
            t = ev.end_s + gap
    return wear, slumps, walks


def _smoothstep(x: Floats) -> Floats:
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _lowpass_noise(
    rng: np.random.Generator, n: int, rate: float, cutoff: float, sd: float
) -> Floats:
    sos = butter(2, cutoff / (rate / 2.0), output="sos")
    x: Floats = np.asarray(sosfiltfilt(sos, rng.standard_normal(n)), dtype=np.float64)
    s = float(np.std(x))
    return x * (sd / s) if s > 0 else x


def _rot_y(b: Floats) -> Floats:
    c, s = np.cos(b), np.sin(b)
    z, o = np.zeros_like(b), np.ones_like(b)
    return np.stack(
        [np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2
    )


def _rot_x(p: Floats) -> Floats:
    c, s = np.cos(p), np.sin(p)
    z, o = np.zeros_like(p), np.ones_like(p)
    return np.stack(
        [np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2
    )


# Sensor axes in the world (x forward, y left, z up) for an upright wearer: x up, y left, z back.
_MOUNT = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def posture_simulate(
    duration_s: float = 3600.0,
    rate_hz: float = 50.0,
    random_state: int | np.random.Generator | None = None,
    *,
    wear_periods: Sequence[tuple[float, float]] | None = None,
    slumps: Sequence[SlumpEvent] | None = None,
    walks: Sequence[tuple[float, float]] | None = None,
    profile: WearerProfile | None = None,
    slumps_per_hour: float = 12.0,
) -> tuple[ImuRecording, WearerTruth]:
    """A recording of a seeded wearer and its ground truth. Give ``wear_periods`` and
    ``slumps`` to script the wearer; otherwise they are drawn (:func:`posture_schedule`)."""
    lo, hi = RATE_RANGE_HZ
    if not lo <= rate_hz <= hi:
        raise ValueError(f"rate_hz must be {lo:g}-{hi:g}")
    rng = check_random_state(random_state)
    if wear_periods is None:
        wear_periods, drawn, drawn_walks = posture_schedule(
            duration_s, rng, slumps_per_hour=slumps_per_hour
        )
        slumps = drawn if slumps is None else slumps
        walks = drawn_walks if walks is None else walks
    slumps = list(slumps or ())
    walks = list(walks or ())
    if profile is None:
        bias = rng.normal(0.0, GYRO_BIAS_SD_DPS, 3)
        profile = WearerProfile(
            thoracic_inclination_deg=float(rng.uniform(15.0, 40.0)),
            mount_rotation_deg=float(rng.uniform(-15.0, 15.0)),
            gyro_bias_dps=(float(bias[0]), float(bias[1]), float(bias[2])),
            table_face_up=bool(rng.random() < 0.7),
        )
    n = round(duration_s * rate_hz)
    t = np.arange(n) / rate_hz
    # how much the sensor is on the body: 1 worn, 0 on the table, ramps while handled
    on = np.zeros(n)
    for a, b in wear_periods:
        on = np.maximum(
            on,
            _smoothstep((t - (a - HANDLING_S)) / HANDLING_S)
            * _smoothstep((b + HANDLING_S - t) / HANDLING_S),
        )
    worn = np.zeros(n, dtype=bool)
    for a, b in wear_periods:
        worn |= (t >= a) & (t < b)
    # the trunk while worn
    theta = BREATHING_DEG * np.sin(2 * np.pi * BREATHING_HZ * t + rng.uniform(0, 2 * np.pi))
    theta += _lowpass_noise(rng, n, rate_hz, 0.3, SWAY_SD_DEG)
    phi = _lowpass_noise(rng, n, rate_hz, 0.3, LATERAL_SD_DEG)
    for s in slumps:
        up = _smoothstep((t - s.onset_s) / s.ramp_s)
        down = _smoothstep((s.end_s - t) / s.ramp_s)
        theta += s.angle_deg * up * down
    lin = np.zeros((n, 3))
    for a, b in walks:
        m = (
            ((t >= a) & (t < b)).astype(float)
            * _smoothstep((t - a) / 2.0)
            * _smoothstep((b - t) / 2.0)
        )
        theta += m * 1.5 * np.sin(2 * np.pi * WALK_STEP_HZ * t)
        lin[:, 2] += m * 1.5 * np.sin(2 * np.pi * WALK_STEP_HZ * t)  # vertical bounce
        lin[:, 0] += m * 0.8 * np.sin(2 * np.pi * WALK_STEP_HZ / 2 * t + 0.5)  # fore-aft
    table_beta = 90.0 if profile.table_face_up else -90.0
    beta = on * (theta + profile.thoracic_inclination_deg) + (1 - on) * table_beta
    phi = on * phi
    lin *= on[:, None]
    psi = math.radians(profile.mount_rotation_deg)
    rz = np.array(
        [[math.cos(psi), -math.sin(psi), 0.0], [math.sin(psi), math.cos(psi), 0.0], [0.0, 0.0, 1.0]]
    )
    s_mat = _rot_x(np.radians(phi)) @ _rot_y(np.radians(beta)) @ (_MOUNT @ rz)
    f_world = lin + np.array([0.0, 0.0, G_N])
    acc = np.einsum("nji,nj->ni", s_mat, f_world)
    ds = np.gradient(s_mat, 1.0 / rate_hz, axis=0)
    omega = np.einsum("nji,njk->nik", s_mat, ds)  # S^T dS/dt = [w]x in the sensor frame
    gyr = np.degrees(
        np.stack(
            [
                0.5 * (omega[:, 2, 1] - omega[:, 1, 2]),
                0.5 * (omega[:, 0, 2] - omega[:, 2, 0]),
                0.5 * (omega[:, 1, 0] - omega[:, 0, 1]),
            ],
            axis=1,
        )
    )
    gyr += np.asarray(profile.gyro_bias_dps) + rng.normal(0.0, GYRO_NOISE_DPS, (n, 3))
    acc += rng.normal(0.0, ACC_NOISE_MS2, (n, 3))
    truth = WearerTruth(
        wear_periods=tuple((float(a), float(b)) for a, b in wear_periods),
        slumps=tuple(slumps),
        walks=tuple((float(a), float(b)) for a, b in walks),
        profile=profile,
        forward_deg=np.where(worn, theta, np.nan),
    )
    return ImuRecording(t, acc, gyr), truth
