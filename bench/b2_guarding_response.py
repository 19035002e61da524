"""B2 (closed loop): from a guarding event's true onset to the first command that stops the
distraction, over >= 1000 significant events in full simulated sessions, force path alone and
force + EMG.

"Stops the distraction" is the tick in which the controller registers counter-tension: its
command in that same tick no longer rises (tests/therapy/test_controller.py). Latencies are
given from the muscle onset (activation begins) and from the moment the muscles' share of the
cable force exceeds 3 load-cell SDs ("measurable"). Negative values: the EMG path saw the
activity before the force showed it. The NeuroKit2 comparison of the EMG onset detector is in
b2_emg_onset.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spinecare.cohort.run import cohort_report, cohort_sessions, run_cohort

GOALS: dict[str, tuple[str, float]] = {
    "force_response_ms_from_measurable_median": ("<=", 20.0),
    "force_response_ms_from_measurable_p95": ("<=", 40.0),
    "emg_response_ms_from_measurable_median": ("<=", 20.0),
    "emg_response_ms_from_measurable_p95": ("<=", 40.0),
    "force_detection_rate": (">=", 0.99),
    "emg_detection_rate": (">=", 0.99),
    "force_false_stops_per_session": ("<=", 1.0),
    "emg_false_stops_per_session": ("<=", 1.0),
}

# About 6 significant events per 30-minute session: 180 sessions give > 1000 events.
FULL_SESSIONS = 180
QUICK_SESSIONS = 16


def _arm(name: str, emg: bool, n: int, seed: int) -> dict[str, Any]:
    results = run_cohort(cohort_sessions(n, seed=seed, minutes=30.0, emg=emg), workers=None)
    rep = cohort_report(results)
    onset = [x for r in results for x in r["response_from_onset_s"]]
    meas = [x for r in results for x in r["response_from_measurable_s"]]

    def q(xs: list[float], p: float) -> float:
        return round(float(np.quantile(xs, p)) * 1000.0, 1) if xs else float("nan")

    return {
        f"{name}_sessions": n,
        f"{name}_events": rep["guarding_true"],
        f"{name}_detection_rate": round(rep["detection_rate"] or 0.0, 4),
        f"{name}_false_stops_per_session": round(rep["false_stops_per_session"], 3),
        f"{name}_response_ms_from_onset_median": q(onset, 0.5),
        f"{name}_response_ms_from_onset_p95": q(onset, 0.95),
        f"{name}_response_ms_from_measurable_median": q(meas, 0.5),
        f"{name}_response_ms_from_measurable_p95": q(meas, 0.95),
        f"{name}_marginal_events": sum(r["guarding_marginal"] for r in results),
        f"{name}_marginal_detected": sum(r["guarding_marginal_detected"] for r in results),
    }


def run(quick: bool = False) -> dict[str, Any]:
    n = QUICK_SESSIONS if quick else FULL_SESSIONS
    out: dict[str, Any] = {}
    out.update(_arm("force", emg=False, n=n, seed=101))
    out.update(_arm("emg", emg=True, n=n, seed=101))
    return out
