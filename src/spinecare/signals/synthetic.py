"""Synthetic surface EMG with known onsets, for tests and benchmarks (pure, seeded).

Model: rest noise (band-limited Gaussian, amplifier and background activity) plus muscle
activity (Gaussian noise shaped to a typical sEMG spectrum, 30-250 Hz, whose amplitude follows
an activation envelope with a raised-cosine rise and fall), plus 50 Hz mains and an optional
slow drift of the rest level. This is the amplitude-modulated Gaussian model behind the
double-threshold [bonato1998] and mean + h*SD [hodges-bui1996] detectors, not a motor-unit
simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

from spinecare.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SyntheticEmg:
    """A synthetic recording in microvolts with its ground truth."""

    signal_uv: FloatArray
    fs_hz: float
    onsets: IntArray  # sample index where each activation starts to rise
    offsets: IntArray  # sample index where each activation has fallen back to rest
    activation: FloatArray  # 0..1 envelope of muscle activity


def _band_noise(rng: np.random.Generator, n: int, lo: float, hi: float, fs: float) -> FloatArray:
    """Unit-RMS Gaussian noise band-limited to lo..hi Hz (offline, zero phase is fine here)."""
    sos = signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
    v = signal.sosfiltfilt(sos, rng.standard_normal(n + 400))[200:-200]
    return np.asarray(v / np.sqrt(np.mean(v**2)), dtype=np.float64)


def emg_synthetic(
    duration_s: float,
    onsets_s: npt.ArrayLike = (),
    burst_s: float | npt.ArrayLike = 0.5,
    *,
    snr_db: float = 20.0,
    rest_rms_uv: float = 3.0,
    rise_s: float = 0.010,
    mains_uv: float = 5.0,
    rest_drift: float = 0.0,
    drift_period_s: float = 60.0,
    fs_hz: float = 1000.0,
    seed: int = 0,
) -> SyntheticEmg:
    """Rest EMG with bursts starting at ``onsets_s``.

    ``snr_db`` is 20*log10(burst RMS / rest RMS) on the plateau, mains excluded. Typical resting
    paraspinal sEMG is a few microvolts RMS; guarding contractions tens of microvolts.
    ``rest_drift`` is the relative amplitude of a slow sinusoidal wander of the rest level.
    """
    if duration_s <= 0 or fs_hz <= 0:
        raise InputError("duration_s", "duration and rate must be positive", (duration_s, fs_hz))
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs_hz)
    t = np.arange(n) / fs_hz
    starts = np.asarray(onsets_s, dtype=np.float64).ravel()
    lengths = np.broadcast_to(np.asarray(burst_s, dtype=np.float64), starts.shape)
    act = np.zeros(n)
    on_idx = np.round(starts * fs_hz).astype(np.int64)
    off_idx = np.round((starts + lengths) * fs_hz).astype(np.int64)
    rise = max(1, round(rise_s * fs_hz))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
    for a, b in zip(on_idx, off_idx, strict=True):
        if not 0 <= a < b <= n:
            raise InputError("onsets_s", "burst outside the recording", (a, b, n))
        seg = np.ones(b - a)
        k = min(rise, (b - a) // 2)
        seg[:k] = ramp[:k]
        seg[len(seg) - k :] = np.minimum(seg[len(seg) - k :], ramp[:k][::-1])
        act[a:b] = np.maximum(act[a:b], seg)
    rest_level = rest_rms_uv * (1.0 + rest_drift * np.sin(2 * np.pi * t / drift_period_s))
    rest = rest_level * _band_noise(rng, n, 10.0, 450.0, fs_hz)
    burst_rms = rest_rms_uv * 10.0 ** (snr_db / 20.0)
    muscle = burst_rms * act * _band_noise(rng, n, 30.0, 250.0, fs_hz)
    mains = mains_uv * np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 2 * np.pi))
    return SyntheticEmg(
        signal_uv=np.asarray(rest + muscle + mains, dtype=np.float64),
        fs_hz=fs_hz,
        onsets=on_idx,
        offsets=off_idx,
        activation=act,
    )


def emg_bursts(
    n_bursts: int,
    *,
    lead_s: float = 3.0,
    gap_s: tuple[float, float] = (1.5, 3.0),
    burst_s: tuple[float, float] = (0.3, 1.0),
    seed: int = 0,
    **kwargs: float,
) -> SyntheticEmg:
    """``n_bursts`` bursts at random gaps after ``lead_s`` of rest (for baseline learning)."""
    rng = np.random.default_rng(seed + 7919)
    lengths = rng.uniform(burst_s[0], burst_s[1], n_bursts)
    gaps = rng.uniform(gap_s[0], gap_s[1], n_bursts)
    starts = lead_s + np.concatenate(([0.0], np.cumsum(lengths + gaps)[:-1]))
    duration = float(starts[-1] + lengths[-1] + gaps[-1]) if n_bursts else lead_s
    return emg_synthetic(duration, starts, lengths, seed=seed, **kwargs)


def emg_tone(
    duration_s: float,
    level: float,
    *,
    rest_rms_uv: float = 3.0,
    n_units: int = 6,
    rate_hz: tuple[float, float] = (6.0, 12.0),
    fs_hz: float = 1000.0,
    seed: int = 0,
) -> FloatArray:
    """Low-level postural tone to add to rest: a few motor units firing on their own.

    Rest tone is not a dense interference pattern but single motor-unit action potentials, each
    unit firing fairly regularly (inter-spike CV 0.2) at 6-12 Hz, each spike a biphasic wave of
    about 6 ms (first derivative of a Gaussian). That spikiness is what fools amplitude
    detectors tuned on Gaussian bursts ([data-biosppy] looks like this; engineering model).
    The result is scaled so that rest plus tone has ``level`` times the rest RMS.
    """
    if duration_s <= 0 or fs_hz <= 0 or n_units < 1:
        raise InputError("duration_s", "duration, rate and units must be positive", duration_s)
    if level < 1.0:
        raise InputError("level", "tone level is a multiple of rest, >= 1", level)
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs_hz)
    out = np.zeros(n)
    half = max(2, round(0.006 * fs_hz))
    t = np.arange(-half, half + 1) / fs_hz
    sigma = 0.0012
    wave = -t / sigma * np.exp(-0.5 * (t / sigma) ** 2)
    for _ in range(n_units):
        rate = rng.uniform(*rate_hz)
        amp = rng.uniform(0.5, 1.5)
        k = rng.uniform(0.0, 1.0 / rate)
        while k < duration_s:
            i = round(k * fs_hz)
            a, b = max(0, i - half), min(n, i + half + 1)
            out[a:b] += amp * wave[a - (i - half) : b - (i - half)]
            k += max(0.02, rng.normal(1.0 / rate, 0.2 / rate))
    rms = float(np.sqrt(np.mean(out**2)))
    if rms > 0.0:
        out *= rest_rms_uv * np.sqrt(level**2 - 1.0) / rms
    return np.asarray(out, dtype=np.float64)
