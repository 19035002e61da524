"""B3 (physics part): how fast the simulated table's physics runs a 30-minute session.

Three numbers for 30 simulated minutes (90 000 ticks of 20 ms, 1.8 M physics steps at 1 kHz):
- the numba kernel called once per tick (``advance_numba`` with 20 steps), physics only;
- the same model run by the interpreter (``step_python`` on plain lists), quick mode simulates
  less and extrapolates linearly;
- the whole ``SimulatedTable`` tick without a controller: ``advance(0.02)`` + ``read()`` +
  ``write(cmd)``, i.e. the simulator's share of the B3 goal (session <= 1 s with controller).
The command profile is a lumbar intermittent session: ramp 15 N/s to 1/2 BW, hold 60 s, down
at 30 N/s to base, rest 30 s (therapy/protocol.py defaults). CPU time (process_time) is
reported next to wall time because the benchmark machine may be shared.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from spinecare.devices.simulated import SimulatedTable
from spinecare.sim import patient_model as pm
from spinecare.sim import virtual_patient
from spinecare.vocab import TICK_S, Command

# Goal: Python overhead of advance()+read()+write() per tick <= 10 us without EMG (engineering
# choice: 90 000 ticks x 10 us = 0.9 s, inside the 1 s per simulated 30-minute session of B3).
GOALS: dict[str, tuple[str, float]] = {"table_tick_us": ("<=", 10.0)}

SESSION_S = 30 * 60.0
TICKS = round(SESSION_S / TICK_S)
STEPS_PER_TICK = round(TICK_S * pm.STEPS_PER_S)


def _profile(weight_kg: float) -> np.ndarray:
    """Force setpoint per tick of a lumbar intermittent session."""
    bw = weight_kg * pm.G
    peak, base = 0.5 * bw, 0.25 * bw
    out = np.empty(TICKS)
    f, phase, t_phase = 0.0, "up", 0.0
    for i in range(TICKS):
        if phase == "up":
            f = min(f + 15.0 * TICK_S, peak)
            if f >= peak:
                phase, t_phase = "hold", 0.0
        elif phase == "hold":
            t_phase += TICK_S
            if t_phase >= 60.0:
                phase = "down"
        elif phase == "down":
            f = max(f - 30.0 * TICK_S, base)
            if f <= base:
                phase, t_phase = "rest", 0.0
        else:
            t_phase += TICK_S
            if t_phase >= 30.0:
                phase = "up"
        out[i] = f
    return out


def _setup(emg: bool = False) -> tuple[SimulatedTable, np.ndarray]:
    p = virtual_patient(2024, region="lumbar", weight_kg=80.0)
    p = dataclasses.replace(p, pain_tolerance_n=0.55 * p.body_weight_n)
    table = SimulatedTable(p, emg=emg)
    return table, _profile(p.weight_kg)


def _numba_physics(ticks: int) -> tuple[float, float]:
    table, prof = _setup()
    s, p = table._s, table._p
    noise, ev, ring = table._noise, table._ev, table._emg_ring
    pm.advance_numba(s.copy(), p, 1, noise, ev.copy(), ring.copy())  # compile/load cache
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(ticks):
        s[pm.S_TGT] = prof[i]
        pm.advance_numba(s, p, STEPS_PER_TICK, noise, ev, ring)
    return time.perf_counter() - w0, time.process_time() - c0


def _python_physics(ticks: int) -> tuple[float, float]:
    table, prof = _setup()
    s: list[float] = table._s.tolist()
    p: list[float] = table._p.tolist()
    noise: list[float] = table._noise.tolist()
    ev: list[float] = table._ev.tolist()
    ring: list[float] = table._emg_ring.tolist()
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(ticks):
        s[pm.S_TGT] = float(prof[i])
        pm.advance_python(s, p, STEPS_PER_TICK, noise, ev, ring)
    return time.perf_counter() - w0, time.process_time() - c0


def _table_ticks(ticks: int, emg: bool) -> tuple[float, float]:
    table, prof = _setup(emg)
    table.configure()
    table.activate()
    cmds = [Command(0.0, float(f), float(f) / 2) for f in prof[:ticks]]
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(ticks):
        table.advance(TICK_S)
        table.read()
        table.write(cmds[i])
    return time.perf_counter() - w0, time.process_time() - c0


def run(quick: bool = False) -> dict[str, Any]:
    py_ticks = round((20.0 if quick else SESSION_S) / TICK_S)
    table_ticks = round((300.0 if quick else SESSION_S) / TICK_S)
    nb_wall, nb_cpu = _numba_physics(TICKS)
    py_wall, py_cpu = _python_physics(py_ticks)
    scale = TICKS / py_ticks
    tb_wall, tb_cpu = _table_ticks(table_ticks, emg=False)
    _te_wall, te_cpu = _table_ticks(table_ticks, emg=True)
    return {
        "simulated_s": SESSION_S,
        "ticks": TICKS,
        "physics_steps": TICKS * STEPS_PER_TICK,
        "numba_session_s": round(nb_wall, 4),
        "numba_session_cpu_s": round(nb_cpu, 4),
        "numba_ns_per_step": round(1e9 * nb_cpu / (TICKS * STEPS_PER_TICK), 1),
        "python_session_s": round(py_wall * scale, 2),
        "python_session_cpu_s": round(py_cpu * scale, 2),
        "python_simulated_s": py_ticks * TICK_S,
        "python_extrapolated": py_ticks < TICKS,
        "speedup_python_over_numba": round(py_cpu * scale / nb_cpu, 1),
        "table_tick_us": round(1e6 * tb_cpu / table_ticks, 2),
        "table_tick_wall_us": round(1e6 * tb_wall / table_ticks, 2),
        "table_tick_emg_us": round(1e6 * te_cpu / table_ticks, 2),
        "table_session_s": round(tb_cpu * TICKS / table_ticks, 3),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2))
