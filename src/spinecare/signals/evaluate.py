"""Scoring streaming onset detectors against ground truth (tests and benchmark B2)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class RealScore:
    """A detector's bursts on a real recording against its offline reference."""

    clear: int  # clear reference bursts scored
    detected: int  # ... with an onset of their own
    covered: int  # ... that began while an earlier detection still held (distraction stopped)
    missed: int
    errors_ms: FloatArray  # detected onset - reference onset, per detected clear burst
    latencies_ms: FloatArray  # reported - reference onset (NaN for offline methods)
    retriggers: int  # further onsets inside a clear burst
    quiet_alarms: int  # onsets outside every reference activation
    quiet_min: float
    tone_alarms: int  # onsets inside activations graded as tone
    tone_min: float
    # reference onset of each entry of ``errors_ms`` (seconds)
    matched_s: FloatArray = field(default_factory=lambda: np.zeros(0))

    def as_dict(self) -> dict[str, float | int | None]:
        def q(v: FloatArray, p: float) -> float | None:
            v = v[np.isfinite(v)]
            return round(float(np.percentile(v, p)), 1) if v.size else None

        err_abs = np.abs(self.errors_ms)
        return {
            "clear_bursts": self.clear,
            "detected": self.detected,
            "covered": self.covered,
            "missed": self.missed,
            "onset_error_ms_median": q(self.errors_ms, 50),
            "onset_error_ms_abs_p95": q(err_abs, 95),
            "onset_error_ms_abs_max": q(err_abs, 100),
            "report_latency_ms_median": q(self.latencies_ms, 50),
            "report_latency_ms_p95": q(self.latencies_ms, 95),
            "retriggers": self.retriggers,
            "quiet_alarms": self.quiet_alarms,
            "quiet_min": round(self.quiet_min, 3),
            "tone_alarms": self.tone_alarms,
            "tone_min": round(self.tone_min, 3),
        }


def score_real(
    reference: list[tuple[float, float, str]],
    detections: list[tuple[float, float | None, float]],
    duration_s: float,
    *,
    skip_s: float = 0.25,
    early_s: float = 0.3,
    tail_s: float = 0.3,
) -> RealScore:
    """Score ``detections`` (onset, reported or None, offset) against ``reference`` activations
    (onset, offset, grade), all in seconds.

    A detection belongs to the nearest clear burst whose window [onset - early, offset + tail]
    holds its onset (the one it falls inside, if any), else to the nearest activation of another
    grade whose window holds it: the first in a clear burst detects it (an onset back-dated into
    tone just before a burst is an onset error, not a tone alarm and a miss), later ones are
    re-triggers; one in a tone activation is a tone alarm; one outside every window is a quiet
    alarm. Ambiguous activations are neither required nor counted. A detection back-dated to
    before a clear burst's window but reported inside the burst detects it (the table stopped
    while the muscle pulled: an onset error, not an alarm in quiet and a miss).
    Activations starting before ``skip_s`` (under way before any detector could have calibrated)
    are left out, as are detections there.
    """
    refs = [r for r in reference if r[0] >= skip_s]
    dets = [d for d in detections if d[0] >= skip_s or (d[1] is not None and d[1] >= skip_s)]
    first: dict[int, tuple[float, float | None, float]] = {}
    retrig = quiet = tone = 0
    for d in dets:
        near = [
            (r[2] != "clear", max(r[0] - d[0], d[0] - r[1], 0.0), i)
            for i, r in enumerate(refs)
            if r[0] - early_s <= d[0] <= r[1] + tail_s
        ]
        if not near and d[1] is not None:  # back-dated far ahead, but it stopped in a burst
            near = [
                (False, r[0] - d[0], i)
                for i, r in enumerate(refs)
                if r[2] == "clear" and r[0] <= d[1] <= r[1]
            ]
        hit = min(near)[2] if near else None
        if hit is None:
            quiet += 1
        elif refs[hit][2] == "tone":
            tone += 1
        elif refs[hit][2] == "clear":
            if hit in first:
                retrig += 1
            else:
                first[hit] = d
    errors: list[float] = []
    lat: list[float] = []
    matched: list[float] = []
    covered = missed = 0
    clear = [i for i, r in enumerate(refs) if r[2] == "clear"]
    for i in clear:
        on = refs[i][0]
        if i in first:
            d = first[i]
            errors.append(1000.0 * (d[0] - on))
            matched.append(on)
            lat.append(float("nan") if d[1] is None else 1000.0 * (d[1] - on))
        elif any(d[1] is not None and d[1] <= on <= d[2] for d in dets):
            covered += 1
        else:
            missed += 1
    windows = sorted((max(skip_s, r[0] - early_s), r[1] + tail_s) for r in refs)
    busy = 0.0
    end = skip_s
    for a, b in windows:
        a = max(a, end)
        if b > a:
            busy += b - a
            end = b
    tone_s = sum(r[1] - r[0] for r in refs if r[2] == "tone")
    return RealScore(
        clear=len(clear),
        detected=len(first),
        covered=covered,
        missed=missed,
        errors_ms=np.asarray(errors, dtype=np.float64),
        latencies_ms=np.asarray(lat, dtype=np.float64),
        retriggers=retrig,
        quiet_alarms=quiet,
        quiet_min=max(0.0, duration_s - skip_s - busy) / 60.0,
        tone_alarms=tone,
        tone_min=tone_s / 60.0,
        matched_s=np.asarray(matched, dtype=np.float64),
    )
