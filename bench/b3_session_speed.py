"""B3 (whole session): wall time of one 30-minute session in fast mode with the physics, the
controller and the safety policy.

Two ways to run it: the batch mode (``cohort/batch.py``: the session in one compiled call, what
the cohort runs; ``session_wall_s``) and the per-tick session service on the simulated clock
(the runtime, guard and wrappers in Python around the same compiled decisions, with the
recorder-free runner and the EMG channel: what a fault or EMG session of the cohort runs;
``per_tick_session_wall_s``). Also the per-tick session with the straightforward per-step Python
physics (``step_python`` instead of the numba kernel), to give the speed-up of the compiled
model. The cohort's throughput over processes is B8.
"""

from __future__ import annotations

import time
from typing import Any

from spinecare.cohort.batch import batch_warm_up, session_run_batch
from spinecare.cohort.engine import patient_seeds
from spinecare.cohort.run import VirtualSession, run_virtual_session
from spinecare.cohort.spec import CohortSpec, first_protocol
from spinecare.devices import simulated
from spinecare.sim import patient_model as pm
from spinecare.sim.demographics import profile_draw
from spinecare.vocab import Region

GOALS: dict[str, tuple[str, float]] = {
    "session_wall_s": ("<=", 1.0),
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


def _batch_sessions(n: int) -> list[float]:
    """Wall time of ``n`` batch sessions of the cohort's default lumbar protocol."""
    spec = CohortSpec(protocol_name="lumbar-default", patients=n, sessions=1, seed=42)
    walls = []
    for i in range(n):
        person, physics_seed, _ = patient_seeds(spec, i)
        profile = profile_draw(person)
        proto = first_protocol(spec, profile.weight_kg, "L4/5")
        t0 = time.perf_counter()
        session_run_batch(spec, profile, proto, physics_seed)
        walls.append(time.perf_counter() - t0)
    return sorted(walls)


def run(quick: bool = False) -> dict[str, Any]:
    batch_warm_up()
    batch = _batch_sessions(3 if quick else 9)
    _one_session(1.0)  # compile and warm caches
    walls = sorted(_one_session() for _ in range(3))
    # The same session with the interpreted physics (extrapolated from 3 minutes).
    kernel = simulated._kernel
    simulated._kernel = pm.advance_python
    try:
        py_wall = _one_session(3.0) * 10.0
    finally:
        simulated._kernel = kernel
    return {
        "session_wall_s": round(batch[len(batch) // 2], 3),
        "session_wall_s_best": round(batch[0], 3),
        "session_wall_s_worst": round(batch[-1], 3),
        "batch_sessions_timed": len(batch),
        "per_tick_session_wall_s": round(walls[1], 3),
        "per_tick_session_wall_s_best": round(walls[0], 3),
        "batch_vs_per_tick": round(walls[1] / batch[len(batch) // 2], 1),
        "python_physics_session_wall_s": round(py_wall, 1),
        "speedup_vs_python_physics": round(py_wall / walls[1], 1),
    }
