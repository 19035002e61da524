"""Offline reference onsets for real sEMG recordings (ground truth for tests and benchmark B2).

Real recordings come without annotations, so the streaming detector is scored against a
conventional offline method that may look into the future: zero-phase 20-450 Hz band-pass,
the 50 Hz mains notch of the detector's chain ([en50160]; causal, started settled: see
``_notch_settled``), full-wave rectification, zero-phase 50 Hz low-pass (the envelope of
[hodges-bui1996]), and a threshold of the quiet mean + 3 SD measured on a stretch picked by eye
as quiet ([hodges-bui1996]: h = 3). Without the notch, a rest stretch that is mostly mains (the
gesture trials of tests/data hold 14-98 % of their rest power in the 50 Hz line) set the
threshold on the hum: onsets came late, and seven of those bursts were graded below clear.
An activation is a run above the threshold lasting at least 25 ms; runs closer than
``merge_gap_s`` are one activation. Its onset is the first sample of its first run. This is the
usual visual-plus-threshold reference of onset studies ([hodges-bui1996], [solnik2010]); it is
biased a few ms early by the zero-phase smoothing, not late.

Each activation is graded by its peak 100 ms RMS over the quiet RMS: below ``TONE_MAX_RATIO``
it is low-level tone (rest tone stays below 4x the quiet level, [data-biosppy]), from
``CLEAR_MIN_RATIO`` on it is a clear burst that the guarding detector must report; in between
it is graded ``ambiguous`` and neither required nor counted as a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import signal

from spinecare.errors import InputError
from spinecare.signals.filters import notch_sos

FloatArray = npt.NDArray[np.float64]
Grade = Literal["clear", "ambiguous", "tone"]

# Tone in rest sEMG stays below 4x the quiet level ([data-biosppy]: 3.7x at most on 100 ms RMS):
# activations peaking below are tone. A clear burst stands 25 % above that (engineering choice).
TONE_MAX_RATIO = 4.0
CLEAR_MIN_RATIO = 5.0
RMS_WINDOW_S = 0.1  # grading window, the detector's time scale too (engineering choice)


@dataclass(frozen=True, slots=True)
class ReferenceBurst:
    """One offline activation: times in seconds from the first sample."""

    onset_s: float
    offset_s: float
    peak_ratio: float  # peak 250 ms RMS / quiet RMS
    grade: Grade

    def as_dict(self) -> dict[str, float | str]:
        return {
            "onset_s": round(self.onset_s, 4),
            "offset_s": round(self.offset_s, 4),
            "peak_ratio": round(self.peak_ratio, 2),
            "grade": self.grade,
        }


@dataclass(frozen=True, slots=True)
class ReferenceParams:
    """The offline method's parameters (kept with each stored reference)."""

    quiet_s: tuple[float, float]
    band_hz: tuple[float, float] = (20.0, 450.0)  # sEMG band [hermens2000]
    lp_hz: float = 50.0  # envelope low-pass [hodges-bui1996]
    h: float = 3.0  # threshold = quiet mean + h SD [hodges-bui1996]
    min_on_s: float = 0.025  # a run must last this long [hodges-bui1996]: 25 ms windows
    merge_gap_s: float = 0.1  # shorter dips below threshold do not end an activation
    min_burst_s: float = 0.05  # shorter activations are ignored (single motor-unit spikes)
    # mains, as in the detector's chain [en50160]; None: no notch
    notch_hz: float | None = 50.0
    notch_q: float = 30.0


def _grade(ratio: float) -> Grade:
    if ratio >= CLEAR_MIN_RATIO:
        return "clear"
    return "tone" if ratio < TONE_MAX_RATIO else "ambiguous"


PRIME_S = 2.0  # how long the notch is run over the quiet stretch before the first sample


def _on_period(lo: int, hi: int, period: float, *, last: bool = False) -> int:
    """The sample in [lo, hi] closest to a whole number of ``period`` from sample 0, the first
    (or ``last``) of equally close ones; -1 if there is none."""
    ks = np.arange(np.ceil(lo / period), np.floor(hi / period) + 1)
    if ks.size == 0:
        return -1
    at = ks[::-1] * period if last else ks * period
    return int(np.round(at[np.argmin(np.abs(at - np.round(at)))]))


def _notch_settled(
    y: FloatArray, fs_hz: float, f0: float, q: float, quiet_s: tuple[float, float]
) -> FloatArray:
    """``y`` through a causal notch at ``f0`` that starts settled on the line in the quiet
    stretch, as though it had been running for seconds before the first sample.

    Causal, as in the detector's chain: a zero-phase notch rings ahead of a strong burst (its
    impulse response lasts about q / (pi f0), 0.2 s at 50 Hz) and moved the adductor references
    of tests/data 0.2-0.3 s early. Settled, because a notch started at rest lets the line through
    while it rings in, over the very stretch that sets the threshold: the notch is first run
    over copies of the quiet stretch cut to whole periods of the line and beginning on a whole
    period from sample 0, so the line runs on without a jump into the first sample.
    """
    sos = notch_sos(f0, fs_hz, q)  # the detector's own notch
    zi = np.zeros((sos.shape[0], 2))
    period = fs_hz / f0
    q0, q1 = (round(t * fs_hz) for t in quiet_s)
    half = (q1 - q0) // 2
    start = _on_period(q0, q0 + half, period)
    end = _on_period(max(start, 0) + half, q1, period, last=True)
    if 0 <= start < end <= y.size:
        seg = y[start:end]
        # 2 s of priming: ten time constants of the notch's ring-in at 50 Hz, Q 30 (q / (pi f0)
        # = 0.19 s), so what is left of it is e^-10 (engineering choice)
        reps = int(np.ceil(PRIME_S * fs_hz / seg.size))
        _, zi = signal.sosfilt(sos, np.tile(seg, reps), zi=zi)
    out, _ = signal.sosfilt(sos, y, zi=zi)
    return np.asarray(out, dtype=np.float64)


def reference_envelope(
    x: npt.ArrayLike, fs_hz: float, p: ReferenceParams
) -> tuple[FloatArray, FloatArray]:
    """Zero-phase band-passed signal and its zero-phase envelope (offline only)."""
    v = np.asarray(x, dtype=np.float64)
    hi = min(p.band_hz[1], 0.45 * fs_hz)
    band = signal.butter(4, [p.band_hz[0], hi], btype="bandpass", fs=fs_hz, output="sos")
    y = signal.sosfiltfilt(band, v - np.median(v))
    if p.notch_hz is not None and p.notch_hz < 0.5 * fs_hz:
        y = _notch_settled(y, fs_hz, p.notch_hz, p.notch_q, p.quiet_s)
    lp = signal.butter(2, p.lp_hz, fs=fs_hz, output="sos")
    return np.asarray(y, dtype=np.float64), np.asarray(signal.sosfiltfilt(lp, np.abs(y)))


def reference_bursts(
    x: npt.ArrayLike, fs_hz: float, params: ReferenceParams
) -> tuple[list[ReferenceBurst], dict[str, float]]:
    """Activations of a whole recording and the quiet statistics they were judged against."""
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1 or not np.all(np.isfinite(v)):
        raise InputError("x", "need a finite 1-D recording", v.shape)
    a, b = (round(s * fs_hz) for s in params.quiet_s)
    if not 0 <= a < b <= v.size or b - a < round(0.2 * fs_hz):
        raise InputError("quiet_s", "need at least 0.2 s inside the recording", params.quiet_s)
    y, env = reference_envelope(v, fs_hz, params)
    mu, sd = float(np.mean(env[a:b])), float(np.std(env[a:b]))
    thr = mu + params.h * sd
    quiet_rms = float(np.sqrt(np.mean(y[a:b] ** 2)))
    w = max(1, round(RMS_WINDOW_S * fs_hz))
    rms = np.sqrt(np.convolve(y**2, np.ones(w) / w, mode="same"))
    above = np.concatenate(([False], env > thr, [False]))
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    runs = [
        (int(s), int(e))
        for s, e in zip(edges[::2], edges[1::2], strict=True)
        if e - s >= round(params.min_on_s * fs_hz)
    ]
    merged: list[tuple[int, int]] = []
    gap = round(params.merge_gap_s * fs_hz)
    for s, e in runs:
        if merged and s - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    out = []
    for s, e in merged:
        if e - s < round(params.min_burst_s * fs_hz):
            continue
        ratio = float(rms[s:e].max() / quiet_rms)
        out.append(ReferenceBurst(s / fs_hz, e / fs_hz, ratio, _grade(ratio)))
    stats = {"quiet_mean": mu, "quiet_sd": sd, "threshold": thr, "quiet_rms": quiet_rms}
    return out, stats


TONE_BAND = (1.5, TONE_MAX_RATIO)  # tone: 1 s RMS between these multiples of the quiet RMS
TONE_WINDOW_S = 1.0
TONE_MIN_S = 0.5


def tone_stretches(
    x: npt.ArrayLike,
    fs_hz: float,
    params: ReferenceParams,
    bursts: list[ReferenceBurst],
) -> list[tuple[float, float]]:
    """Stretches of low-level tone: 1 s RMS within ``TONE_BAND`` of the quiet RMS for at least
    0.5 s, outside clear and ambiguous activations (so tone alarms can be counted per minute)."""
    v = np.asarray(x, dtype=np.float64)
    a, b = (round(s * fs_hz) for s in params.quiet_s)
    y, _ = reference_envelope(v, fs_hz, params)
    quiet_rms = float(np.sqrt(np.mean(y[a:b] ** 2)))
    w = max(1, round(TONE_WINDOW_S * fs_hz))
    ratio = np.sqrt(np.convolve(y**2, np.ones(w) / w, mode="same")) / quiet_rms
    mask = (ratio >= TONE_BAND[0]) & (ratio < TONE_BAND[1])
    for burst in bursts:
        if burst.grade != "tone":
            mask[round(burst.onset_s * fs_hz) : round(burst.offset_s * fs_hz)] = False
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [
        (s / fs_hz, e / fs_hz)
        for s, e in zip(edges[::2], edges[1::2], strict=True)
        if e - s >= round(TONE_MIN_S * fs_hz)
    ]


def onset_sensitivity(
    x: npt.ArrayLike, fs_hz: float, params: ReferenceParams, rel: float = 0.1
) -> dict[float, float]:
    """How far each clear reference onset moves, in ms, when the threshold is ``rel`` lower or
    higher (another quiet stretch gives another threshold): the spread of the three onsets.

    On a fast rise it is a few ms; on a rise that hovers near the threshold it is hundreds:
    there the reference itself cannot say when the rise began to better than that.
    """
    base, stats = reference_bursts(x, fs_hz, params)
    mu, sd = stats["quiet_mean"], stats["quiet_sd"]
    others = []
    for f in (1.0 - rel, 1.0 + rel):
        h = (f * stats["threshold"] - mu) / sd if sd > 0 else params.h
        bursts, _ = reference_bursts(x, fs_hz, replace(params, h=h))
        others.append([b.onset_s for b in bursts])
    out: dict[float, float] = {}
    for b in base:
        if b.grade != "clear":
            continue
        ons = [b.onset_s] + [min(o, key=lambda t: abs(t - b.onset_s)) for o in others if o]
        out[round(b.onset_s, 4)] = round(1000.0 * (max(ons) - min(ons)), 1)
    return out


def quiet_parts(quiet_s: tuple[float, float], min_s: float = 0.2) -> list[tuple[float, float]]:
    """The first and the last part of a quiet stretch, each half of it but at least ``min_s``:
    two other stretches an observer could as well have picked from the same rest."""
    a, b = quiet_s
    if b - a < min_s - 1e-9:  # 0.47 - 0.27 is a hair below 0.2 in binary
        raise InputError("quiet_s", f"need at least {min_s} s of quiet", quiet_s)
    w = min(b - a, max(min_s, 0.5 * (b - a)))
    return [(a, round(a + w, 4)), (round(b - w, 4), b)]


def onset_reproducibility(
    x: npt.ArrayLike, fs_hz: float, params: ReferenceParams
) -> dict[float, list[float | None]]:
    """How far each clear onset moves when the reference is built from the first or the last
    part of its own quiet stretch (``quiet_parts``), in ms: the reference against itself.

    ``onset_sensitivity`` asks what a 10 % different threshold does; this asks what another
    observer's choice of quiet does, which is how an unseen reference differs. An onset that a
    part's reference no longer finds inside the burst is ``None``.
    """
    base, _ = reference_bursts(x, fs_hz, params)
    clear = [b for b in base if b.grade == "clear"]
    out: dict[float, list[float | None]] = {round(b.onset_s, 4): [] for b in clear}
    for part in quiet_parts(params.quiet_s):
        others, _ = reference_bursts(x, fs_hz, replace(params, quiet_s=part))
        for b in clear:
            near = [o.onset_s for o in others if b.onset_s - 0.3 <= o.onset_s < b.offset_s]
            shift = min((abs(o - b.onset_s) for o in near), default=None)
            out[round(b.onset_s, 4)].append(None if shift is None else round(1000.0 * shift, 1))
    return out
