"""The cohort's figures from its patients' records, and the paired comparison of two runs.

Everything here is a function of the records alone, taken in patient order: the same seed gives
the same figures whatever ran them (the run's speed is reported apart, under ``run``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

Record = dict[str, Any]
# Bootstrap resamples for the confidence intervals of ``compare`` (engineering choice: 2000
# resamples put the 2.5% and 97.5% percentiles within about a tenth of the interval's width).
BOOTSTRAP = 2000
CI_LEVEL = 0.95


def sessions_of(patients: Iterable[Record]) -> list[tuple[Record, Record]]:
    """(patient, session) pairs in patient and session order."""
    return [(p, s) for p in patients for s in p["sessions"]]


def _q(xs: Sequence[float], q: float) -> float | None:
    return None if not xs else round(float(np.quantile(np.asarray(xs, dtype=float), q)), 3)


def _mean(xs: Sequence[float]) -> float | None:
    return None if not xs else round(float(np.mean(np.asarray(xs, dtype=float))), 4)


def cohort_summary(patients: Sequence[Record]) -> dict[str, Any]:
    """The figures of the report (and of ``cohort run --json``)."""
    pats = sorted(patients, key=lambda p: int(p["patient"]))
    pairs = sessions_of(pats)
    ss = [s for _, s in pairs]
    n = len(ss)
    normal = [s for s in ss if "fault" not in s]
    true_n = sum(int(s["guarding_true"]) for s in ss)
    hit_n = sum(int(s["guarding_true_detected"]) for s in ss)
    latencies = [x for s in ss for x in s["latency_ms"]]
    rel_err = [float(s["hold_rel_error"]) for s in normal if s["hold_rel_error"] is not None]
    hold_s = sum(float(s["hold_time_s"]) for s in normal)
    at_target_s = sum(float(s["time_at_target_s"]) for s in normal)
    peaks = [float(s["peak_force_pct_bw"]) for s in ss]
    with_nb = [s for s in ss if s.get("neighbour_axial_n_max") and s.get("target_axial_n")]
    ratios = [float(s["target_axial_n"]) / float(s["neighbour_axial_n_max"]) for s in with_nb]
    clamps = sum(int(s["clamps"]) for s in ss)
    detected: dict[str, int] = {}
    for s in ss:
        for kind in s["faults_detected"]:
            detected[kind] = detected.get(kind, 0) + 1
    return {
        "patients": len(pats),
        "screened_out": sum(1 for p in pats if p["screened_out"]),
        "patient_sessions": n,
        "completed": sum(1 for s in ss if s["completed"]),
        "tolerated": sum(1 for s in ss if s["tolerated"]),
        "limit_violations": sum(int(s["limit_violations"]) for s in ss),
        # Readings above the limit that the simulated truth shows were sensor faults (a spike).
        "measured_limit_excursions": sum(int(s.get("measured_limit_excursions", 0)) for s in ss),
        "guarding_true": true_n,
        "guarding_true_detected": hit_n,
        "guarding_recall": round(hit_n / true_n, 4) if true_n else None,
        "false_stops_per_session": round(sum(int(s["false_stops"]) for s in ss) / n, 4)
        if n
        else None,
        "peak_force_pct_bw_max": max(peaks) if peaks else None,
        "peak_force_pct_bw_p50": _q(peaks, 0.5),
        "peak_force_pct_bw_p95": _q(peaks, 0.95),
        "hold_tracking_error_pct_mean": None
        if not rel_err
        else round(100 * float(np.mean(rel_err)), 3),
        "hold_tracking_error_pct_p95": None
        if not rel_err
        else round(100 * float(np.quantile(rel_err, 0.95)), 3),
        "hold_within_10pct_min": min(
            (float(s["hold_within_10pct"]) for s in normal if s["hold_within_10pct"] is not None),
            default=None,
        ),
        "time_at_target_fraction_of_hold": round(at_target_s / hold_s, 4) if hold_s else None,
        "detection_latency_ms_p50": _q(latencies, 0.5),
        "detection_latency_ms_p95": _q(latencies, 0.95),
        "detection_latency_ms_max": max(latencies) if latencies else None,
        "target_over_neighbour_axial_mean": _mean(ratios),
        "target_strongest_fraction": round(sum(1 for r in ratios if r >= 1.0) / len(ratios), 4)
        if ratios
        else None,
        "base_tension_lost_s_max": max(
            (float(s["base_tension_lost_s"]) for s in normal), default=None
        ),
        "safety_events": {
            "clamps": clamps,
            "patient_stops": sum(1 for s in ss if s["stopped"]),
            "faulted_sessions": sum(1 for s in ss if s["faulted"]),
            "faults_detected": dict(sorted(detected.items())),
        },
        "progression": progression(pats),
        "faults": fault_table(ss),
    }


def progression(patients: Sequence[Record]) -> list[dict[str, Any]]:
    """Per session number: the planned peak, how it ended, how far the spine was distracted."""
    by: dict[int, list[Record]] = {}
    for p in patients:
        for s in p["sessions"]:
            by.setdefault(int(s["session"]), []).append(s)
    out = []
    for k in sorted(by):
        rows = by[k]
        el = [float(s["elongation_max_mm"]) for s in rows if s.get("elongation_max_mm") is not None]
        out.append(
            {
                "session": k,
                "sessions": len(rows),
                "peak_target_pct_bw_mean": _mean([float(s["peak_target_pct_bw"]) for s in rows]),
                "final_peak_target_n_mean": _mean([float(s["final_peak_target_n"]) for s in rows]),
                "tolerated_fraction": round(sum(1 for s in rows if s["tolerated"]) / len(rows), 4),
                "guarding_per_session": _mean([float(s["guarding_detected"]) for s in rows]),
                "elongation_max_mm_mean": _mean(el),
            }
        )
    return out


def fault_table(sessions: Sequence[Record]) -> list[dict[str, Any]]:
    """Per injected fault: how often, released how often, time to zero command and to slack."""
    by: dict[str, list[Record]] = {}
    for s in sessions:
        if "fault" in s:
            by.setdefault(str(s["fault"]), []).append(s)
    out = []
    for kind in sorted(by):
        rows = by[kind]
        zero = [
            float(s["time_to_zero_command_s"])
            for s in rows
            if s["time_to_zero_command_s"] is not None
        ]
        safe = [float(s["time_to_safe_s"]) for s in rows if s["time_to_safe_s"] is not None]
        out.append(
            {
                "fault": kind,
                "sessions": len(rows),
                "released": sum(1 for s in rows if s["stopped"] or s["faulted"]),
                "limit_violations": sum(int(s["limit_violations"]) for s in rows),
                "time_to_zero_command_s_p50": _q(zero, 0.5),
                "time_to_zero_command_s_max": max(zero) if zero else None,
                "time_to_safe_s_p50": _q(safe, 0.5),
                "time_to_safe_s_p95": _q(safe, 0.95),
                "time_to_safe_s_max": max(safe) if safe else None,
                "never_slack": sum(
                    1
                    for s in rows
                    if (s["stopped"] or s["faulted"]) and s["time_to_safe_s"] is None
                ),
                "time_to_safe_s": safe,
            }
        )
    return out


# -- compare ------------------------------------------------------------------------------
def _per_patient(
    patients: Sequence[Record], fn: Callable[[Record], float | None]
) -> dict[int, float]:
    out = {}
    for p in patients:
        vals = [v for v in (fn(s) for s in p["sessions"]) if v is not None]
        if vals:
            out[int(p["patient"])] = float(np.mean(vals))
    return out


COMPARED: dict[str, Callable[[Record], float | None]] = {
    "peak_force_pct_bw": lambda s: float(s["peak_force_pct_bw"]),
    "peak_target_pct_bw": lambda s: float(s["peak_target_pct_bw"]),
    "hold_tracking_error_pct": lambda s: (
        None if s["hold_rel_error"] is None else 100.0 * float(s["hold_rel_error"])
    ),
    "time_at_target_s": lambda s: float(s["time_at_target_s"]),
    "guarding_detected": lambda s: float(s["guarding_detected"]),
    "false_stops": lambda s: float(s["false_stops"]),
    "target_axial_n": lambda s: (
        None if s.get("target_axial_n") is None else float(s["target_axial_n"])
    ),
    "elongation_max_mm": lambda s: (
        None if s.get("elongation_max_mm") is None else float(s["elongation_max_mm"])
    ),
    "limit_violations": lambda s: float(s["limit_violations"]),
}


def cohort_compare(a: Sequence[Record], b: Sequence[Record], seed: int = 0) -> list[dict[str, Any]]:
    """Paired differences B - A over the same virtual patients: the mean of each patient's
    per-session mean, with a bootstrap confidence interval over patients (sessions of one
    patient are not independent, so patients are the unit resampled)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, fn in COMPARED.items():
        pa, pb = _per_patient(a, fn), _per_patient(b, fn)
        ids = sorted(set(pa) & set(pb))
        if not ids:
            continue
        d = np.array([pb[i] - pa[i] for i in ids])
        mean = float(d.mean())
        if len(d) > 1:
            boot = rng.choice(d, size=(BOOTSTRAP, len(d)), replace=True).mean(axis=1)
            lo, hi = np.quantile(boot, [(1 - CI_LEVEL) / 2, 1 - (1 - CI_LEVEL) / 2])
        else:
            lo = hi = mean
        rows.append(
            {
                "metric": name,
                "patients": len(ids),
                "a_mean": round(float(np.mean([pa[i] for i in ids])), 4),
                "b_mean": round(float(np.mean([pb[i] for i in ids])), 4),
                "difference": round(mean, 4),
                "ci_low": round(float(lo), 4),
                "ci_high": round(float(hi), 4),
                "significant": bool(lo > 0 or hi < 0),
            }
        )
    return rows
