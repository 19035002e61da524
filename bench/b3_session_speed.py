"""B3 (whole session): wall time of one 30-minute session in fast mode with the physics and
the full controller, safety and recorder-free runner, and batch throughput over processes.

Also the same session with the straightforward per-step Python physics (``step_python``
instead of the numba kernel), to give the speed-up of the compiled model.
"""

from __future__ import annotations

import os
import time
from typing import Any

from spinecare.cohort.run import VirtualSession, cohort_sessions, run_cohort, run_virtual_session
from spinecare.devices import simulated
from spinecare.sim import patient_model as pm
from spinecare.vocab import Region

GOALS: dict[str, tuple[str, float]] = {
    "session_wall_s": ("<=", 1.0),
    "batch_sessions_per_s_per_core": (">=", 5.0),
}

ONE = VirtualSession(seed=42, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5")


def _one_session(minutes: float = 30.0) -> float:
    vs = VirtualSession(
        seed=ONE.seed,
        region=ONE.region,
        weight_kg=ONE.weight_kg,
        segment=ONE.segment,
        minutes=minutes,
    )
    t0 = time.perf_counter()
    run_virtual_session(vs)
    return time.perf_counter() - t0


def run(quick: bool = False) -> dict[str, Any]:
    _one_session(1.0)  # compile and warm caches
    walls = sorted(_one_session() for _ in range(3))
    cores = os.cpu_count() or 1
    n_batch = 24 if quick else 200
    t0 = time.perf_counter()
    run_cohort(cohort_sessions(n_batch, seed=5), workers=cores)
    batch_wall = time.perf_counter() - t0
    # The same session with the interpreted physics (extrapolated from 3 minutes).
    kernel = simulated._kernel
    simulated._kernel = pm.advance_python
    try:
        py_wall = _one_session(3.0) * 10.0
    finally:
        simulated._kernel = kernel
    return {
        "session_wall_s": round(walls[1], 3),
        "session_wall_s_best": round(walls[0], 3),
        "batch_sessions": n_batch,
        "batch_workers": cores,
        "batch_wall_s": round(batch_wall, 1),
        "batch_sessions_per_s": round(n_batch / batch_wall, 3),
        "batch_sessions_per_s_per_core": round(n_batch / batch_wall / cores, 3),
        "python_physics_session_wall_s": round(py_wall, 1),
        "speedup_vs_python_physics": round(py_wall / walls[1], 1),
    }
