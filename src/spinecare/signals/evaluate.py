"""Scoring streaming onset detectors against ground truth (tests and benchmark B2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class _Streaming(Protocol):
    def reset(self) -> None: ...


class _HasOnset(Protocol):
    @property
    def onset_index(self) -> int | None: ...


def stream_onsets(update: object, x: npt.ArrayLike, block: int = 20) -> tuple[IntArray, IntArray]:
    """Feed ``x`` block by block to ``update(block) -> OnsetUpdate``.

    Returns the reported onset indices and, for each, the index of the last sample of the block
    in which it was reported (the earliest moment a controller could act on it).
    """
    v = np.asarray(x, dtype=np.float64)
    fn = update  # a bound ``update`` method
    onsets: list[int] = []
    reports: list[int] = []
    for start in range(0, v.shape[0] - block + 1, block):
        r = fn(v[start : start + block])  # type: ignore[operator]
        idx = r.onset_index
        if idx is not None:
            onsets.append(idx)
            reports.append(start + block - 1)
    return np.asarray(onsets, dtype=np.int64), np.asarray(reports, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class OnsetScore:
    """Matched onsets, misses and false alarms, in samples unless named otherwise."""

    n_true: int
    n_detected: int
    errors: IntArray  # reported onset index - true onset, per matched burst
    latencies: IntArray  # report sample - true onset, per matched burst (NaN-free)
    misses: int
    false_alarms: int  # detections outside every burst window
    rest_s: float  # rest time over which false alarms were counted

    def ms(self, values: npt.ArrayLike, q: float, fs_hz: float = 1000.0) -> float:
        v = np.asarray(values, dtype=np.float64)
        return float(np.percentile(v, q) * 1000.0 / fs_hz) if v.size else float("nan")

    @property
    def false_alarms_per_min(self) -> float:
        return 60.0 * self.false_alarms / self.rest_s if self.rest_s > 0 else 0.0


def score_onsets(
    true_on: npt.ArrayLike,
    true_off: npt.ArrayLike,
    det_on: npt.ArrayLike,
    det_report: npt.ArrayLike | None,
    n_samples: int,
    *,
    fs_hz: float = 1000.0,
    early_s: float = 0.05,
    late_s: float = 0.3,
    tail_s: float = 0.3,
    skip_s: float = 0.0,
) -> OnsetScore:
    """Match each true onset to the first detection in [onset - early, onset + late].

    Detections from the onset window to ``tail_s`` after the burst's end belong to the burst
    (re-triggers are not false alarms); anything else after ``skip_s`` is a false alarm.
    """
    on = np.asarray(true_on, dtype=np.int64)
    off = np.asarray(true_off, dtype=np.int64)
    det = np.asarray(det_on, dtype=np.int64)
    rep = det if det_report is None else np.asarray(det_report, dtype=np.int64)
    early, late, tail = (round(s * fs_hz) for s in (early_s, late_s, tail_s))
    used = np.zeros(det.shape[0], dtype=bool)
    errors: list[int] = []
    lat: list[int] = []
    misses = 0
    for a, b in zip(on, off, strict=True):
        in_win = np.flatnonzero((det >= a - early) & (det <= a + late))
        if in_win.size:
            j = in_win[0]
            errors.append(int(det[j] - a))
            lat.append(int(rep[j] - a))
        else:
            misses += 1
        used |= (det >= a - early) & (det <= b + tail)
    skip = round(skip_s * fs_hz)
    fa = int(np.sum(~used & (det >= skip)))
    burst_len = float(np.sum(np.minimum(off + tail, n_samples) - np.maximum(on - early, 0)))
    rest_s = max(0.0, (n_samples - skip - burst_len) / fs_hz)
    return OnsetScore(
        n_true=int(on.size),
        n_detected=int(det.size),
        errors=np.asarray(errors, dtype=np.int64),
        latencies=np.asarray(lat, dtype=np.int64),
        misses=misses,
        false_alarms=fa,
        rest_s=rest_s,
    )
