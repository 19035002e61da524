"""B7 (posture sensor): the analysis against the simulated wearers' ground truth.

For each seeded wearer (an hour at 50 Hz; 25 Hz and 200 Hz for a few): slump onset error
(detected minus true crossing of the 20 deg threshold), wear time error, reminders missing or
extra against the truth (60 s delay), inclination error while worn, the thoracic-inclination
proxy against the simulated sensor tilt, and the analysis time per recorded hour. The truth is
the simulator's own, so this measures the method and the filter, not a real sensor: noise,
bias and motion are the simulation's (``sim/posture.py``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _one(seed: int, rate: float, duration: float) -> dict[str, float]:
    from spinecare.signals.posture import PostureSettings, posture_analyze
    from spinecare.sim.posture import posture_simulate

    rec, truth = posture_simulate(duration, rate, random_state=seed)
    t0 = time.perf_counter()
    a, sig = posture_analyze(rec, PostureSettings(slump_deg=20.0, delay_s=60.0))
    took = time.perf_counter() - t0
    onsets = truth.slump_onsets(20.0, rec.t_s)
    det = [s.onset_s for s in a.slumps]
    errs = [min((d - o for d in det), key=abs) for o in onsets] if det else []
    expected = 0
    for s in truth.slumps:
        idx = np.flatnonzero(
            (rec.t_s >= s.onset_s) & (rec.t_s <= s.end_s) & (truth.forward_deg > 20.0)
        )
        expected += bool(idx.size and rec.t_s[idx[-1]] - rec.t_s[idx[0]] > 60.0)
    worn = ~np.isnan(truth.forward_deg) & sig.worn
    angle = sig.forward_deg[worn] - truth.forward_deg[worn]
    incl = a.calibration.thoracic_inclination_deg if a.calibration else float("nan")
    return {
        "slumps": len(onsets),
        "detected": len(det),
        "max_onset_error_s": max((abs(e) for e in errs), default=0.0),
        "wear_error_pct": 100.0 * (a.wear_time_s / truth.wear_time_s - 1.0),
        "reminders_missing_or_extra": abs(len(a.reminders) - expected),
        "angle_rmse_deg": float(np.sqrt(np.mean(angle**2))) if angle.size else float("nan"),
        "inclination_error_deg": incl - truth.profile.thoracic_inclination_deg,
        "analysis_s_per_hour": took / (duration / 3600.0),
    }


def run(quick: bool = False) -> dict[str, Any]:
    seeds = range(5 if quick else 20)
    rows = [_one(s, 50.0, 3600.0) for s in seeds]
    rows += [_one(100 + s, r, 1800.0) for s in range(2) for r in (25.0, 200.0)]
    cols = rows[0].keys()
    worst = {
        "max_onset_error_s": max(r["max_onset_error_s"] for r in rows),
        "max_abs_wear_error_pct": max(abs(r["wear_error_pct"]) for r in rows),
        "reminders_missing_or_extra": sum(r["reminders_missing_or_extra"] for r in rows),
        "slumps_true": sum(r["slumps"] for r in rows),
        "slumps_detected": sum(r["detected"] for r in rows),
        "max_angle_rmse_deg": max(r["angle_rmse_deg"] for r in rows),
        "max_abs_inclination_error_deg": max(abs(r["inclination_error_deg"]) for r in rows),
        "analysis_s_per_hour_median": float(np.median([r["analysis_s_per_hour"] for r in rows])),
    }
    return {
        "wearers": len(rows),
        "worst": {k: round(float(v), 3) for k, v in worst.items()},
        "columns": list(cols),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=False), indent=1))
