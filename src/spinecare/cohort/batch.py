"""The cohort's batch mode: one virtual session in one compiled call.

The per-tick runtime (``runtime/session.py``) spends about 20 us a tick in Python around the
compiled decisions; a 30-minute session is 90,000 ticks. Here the same tick runs in compiled
code from the first to the last: the simulated table's read (``sim/table_core.py``), the safety
policy's checks (``therapy/safety.py``, ``policy_check``), the controller (``therapy/
controller_core.py``, ``controller_update``), the policy's decision (``policy_decide``) and the
table's write, then the runtime's session figures and its end-of-session rule. The decisions are
the very functions the real-time path calls through its wrappers; the loop around them repeats
``SessionRunner.tick`` step by step, and a test runs both on the same seeds and compares every
command and the whole session record (tests/cohort/test_batch.py).

Only what the batch needs is here: a fault-free session without EMG on the simulated table
(``--faults`` and ``--emg`` sessions take the per-tick path: their injections and the EMG
detector live in Python). No stop button, no pause, no recorder.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

import spinecare.compiled  # noqa: F401  (numba cache keyed on every core's source)
from spinecare.cohort.segments import neighbour_forces
from spinecare.cohort.spec import CohortSpec
from spinecare.devices.simulated import TrueContraction, closed_events, open_events
from spinecare.runtime.metrics import score_against_truth
from spinecare.runtime.session import (
    BASE_LOST_FRACTION,
    RELEASE_TIMEOUT_S,
    RELEASED_HOLD_S,
    RELEASED_N,
    within_clinician_limit,
)
from spinecare.services.sessions import protocol_checked
from spinecare.sim import patient_model as pm
from spinecare.sim import table_core as tc
from spinecare.sim.demographics import PatientProfile, profile_draw
from spinecare.sim.population import virtual_patient
from spinecare.therapy import controller_core as cc
from spinecare.therapy import safety as sf
from spinecare.therapy.controller import PHASES, DecompressionController
from spinecare.therapy.protocol import Protocol
from spinecare.therapy.safety import SafetyPolicy
from spinecare.therapy.segments import recommend_angle
from spinecare.vocab import TICK_S, G

FloatArray = npt.NDArray[np.float64]

# Session figures the loop keeps (``m``), as ``SessionRunner._observe`` and the cohort's
# ``_HoldStats`` keep them.
(M_TICKS, M_PEAK, M_FORCE_TIME, M_VIOLATIONS, M_HOLD_TICKS, M_HOLD_WITHIN, M_BASE_LOST) = range(7)
(M_NOW, M_END, M_CLAMPS, M_V_TICKS, M_V_ABS_ERR, M_V_REL_ERR, M_V_AT_TARGET) = range(7, 14)
(M_V_FORCE_SUM, M_TRUTH_N, M_TRUTH_EV, M_SIZE) = range(14, 18)
# Rows for the physics' finished contractions: far more than a session has (reflexes, pain and
# spontaneous events come seconds apart); a longer session keeps the last ones.
TRUTH_EVENTS = 4096
# How the loop ended (M_END): still running when the tick budget ran out, released (the table
# slack for RELEASED_HOLD_S), or released without the table reporting slack in time.
END_BUDGET, END_RELEASED, END_TIMEOUT = 0, 1, 2
# Time at target: a hold tick whose measured force is within 10% of the commanded force, the
# only published device accuracy (+/-10% of target [c1trac-k222912]); the cohort samples every
# 5th tick, as its per-tick path does (cohort/engine.py).
AT_TARGET_FRACTION = 0.10
VIEW_EVERY = 5
_BASE_HELD = np.array(
    [
        float(PHASES.index(p))
        for p in PHASES
        if p.value
        in {"ramp_up", "hold", "ramp_down", "rest", "guard_release", "guard_wait", "rebuild"}
    ]
)


@njit(cache=True, nogil=True)
def session_loop(  # pragma: no cover - jitted
    cs: FloatArray,
    cp: FloatArray,
    gs: FloatArray,
    gp: FloatArray,
    cev: FloatArray,
    st: FloatArray,
    pa: FloatArray,
    pout: FloatArray,
    ts: FloatArray,
    tp: FloatArray,
    s: FloatArray,
    tev: FloatArray,
    noise_lc: FloatArray,
    spont: FloatArray,
    base_held: FloatArray,
    m: FloatArray,
    truth_t: FloatArray,
    truth_c: FloatArray,
    truth_ev: FloatArray,
    trace: FloatArray,
    max_ticks: int,
) -> None:
    """``SessionRunner.run`` on the simulated clock, tick by tick, until the session ends.

    ``trace`` (3 values a tick: commanded force, base, release; empty for none) lets a test
    compare every command with the per-tick path's. ``truth_ev`` receives the physics' event
    ring as it fills (the ring itself keeps only its last ``pm.EVENT_CAP`` rows).
    """
    rd = np.zeros(tc.OUT_SIZE)
    t_prev = math.nan
    release_started = math.nan
    released_since = math.nan
    violation_n = pa[sf.P_OVERFORCE]
    effective_n = pa[sf.P_EFFECTIVE_LIMIT]
    n_truth = 0
    ev_read = 0
    ev_cap = truth_ev.shape[0] // pm.EVENT_COLS
    for k in range(max_ticks):
        now = 0.0 + k * TICK_S
        dt = TICK_S if t_prev != t_prev else now - t_prev
        t_prev = now
        m[M_NOW] = now
        # -- read and check (DeviceGuard.read) --
        if k == 0:
            ts[tc.TS_ORIGIN] = now - ts[tc.TS_K] / 1000.0
        k_before = ts[tc.TS_K]
        target_k = float(int((now - ts[tc.TS_ORIGIN]) * 1000.0 + 1e-6))
        tc.table_read(ts, tp, s, tev, noise_lc, spont, target_k, rd)
        if ts[tc.TS_K] > k_before:  # SimulatedTable records its truth after each catch-up
            truth_t[n_truth] = ts[tc.TS_K] / 1000.0
            truth_c[n_truth] = s[pm.S_CONTRIB]
            n_truth += 1
            n_ev = int(s[pm.S_EVN])
            while ev_read < n_ev:
                src = (ev_read % pm.EVENT_CAP) * pm.EVENT_COLS
                dst = (ev_read % ev_cap) * pm.EVENT_COLS
                for j in range(pm.EVENT_COLS):
                    truth_ev[dst + j] = tev[src + j]
                ev_read += 1
        force, winch = rd[tc.OUT_FORCE], rd[tc.OUT_WINCH]
        fresh = sf.policy_check(
            st, pa, now, rd[tc.OUT_T], rd[tc.OUT_SEQ], force, winch, False, rd[tc.OUT_FAULT] > 0.5
        )
        # -- the controller, only on a fresh reading while it has a say --
        has = False
        prop_force = 0.0
        prop_base = 0.0
        prop_release = False
        if fresh and st[sf.S_RELEASING] == 0.0:
            flags = cc.controller_update(cs, cp, gs, gp, cev, force, winch, now, dt, False, -1, 0.0)
            has = True
            prop_force = cs[cc.S_TARGET]
            prop_base = cs[cc.S_CMD_BASE]
            prop_release = (flags & cc.FLAG_RELEASE) != 0
        # -- decide and write (DeviceGuard.write) --
        sf.policy_decide(st, pa, has, prop_force, prop_base, now, pout)
        kind = pout[sf.O_KIND]
        cmd_force = pout[sf.O_FORCE]
        cmd_base = pout[sf.O_BASE]
        release = kind == sf.D_RELEASE or (kind == sf.D_CONSTRAINED and prop_release)
        if kind == sf.D_CONSTRAINED:
            m[M_CLAMPS] += pout[sf.O_NCLAMPS]
        tc.table_write(ts, s, cmd_force, cmd_base, 1.0 if release else 0.0)
        err = ts[tc.TS_WRITE_ERR]
        if err == 1.0:
            sf.policy_fault(st, sf.K_DEVICE_REFUSED, now, math.nan, math.nan)
        elif err == 2.0:
            sf.policy_fault(st, sf.K_DEVICE_FAULT, now, math.nan, math.nan)
        if trace.shape[0] >= 3 * (k + 1):
            trace[3 * k] = cmd_force
            trace[3 * k + 1] = cmd_base
            trace[3 * k + 2] = 1.0 if release else 0.0
        # -- the session's figures (SessionRunner._observe, the cohort's hold statistics) --
        releasing = st[sf.S_RELEASING] != 0.0
        phase = cs[cc.S_PHASE]
        m[M_TICKS] += 1.0
        if force > m[M_PEAK]:
            m[M_PEAK] = force
        m[M_FORCE_TIME] += max(0.0, force) * TICK_S
        if force > violation_n or cmd_force > effective_n:
            m[M_VIOLATIONS] += 1.0
        if not releasing:
            if phase == cc.HOLD:
                m[M_HOLD_TICKS] += 1.0
                if abs(force - cmd_force) <= 0.1 * cmd_force:
                    m[M_HOLD_WITHIN] += 1.0
            if force < BASE_LOST_FRACTION * cs[cc.S_BASE]:
                for ph in base_held:
                    if phase == ph:
                        m[M_BASE_LOST] += 1.0
                        break
            if k % VIEW_EVERY == 0 and phase == cc.HOLD and cmd_force > 0.0:
                e = abs(force - cmd_force)
                m[M_V_TICKS] += 1.0
                m[M_V_ABS_ERR] += e
                m[M_V_REL_ERR] += e / cmd_force
                m[M_V_FORCE_SUM] += force
                if e <= AT_TARGET_FRACTION * cmd_force:
                    m[M_V_AT_TARGET] += 1.0
        # -- the end (SessionRunner._finished) --
        if not (releasing or phase == cc.DONE):
            continue
        if release_started != release_started:
            release_started = now
        if force < RELEASED_N and cmd_force <= 0.0:
            if released_since != released_since:
                released_since = now
            if now - released_since >= RELEASED_HOLD_S - 1e-9:
                m[M_END] = END_RELEASED
                break
        else:
            released_since = math.nan
        if now - release_started >= RELEASE_TIMEOUT_S:
            m[M_END] = END_TIMEOUT
            break
    m[M_TRUTH_N] = n_truth
    m[M_TRUTH_EV] = ev_read


def session_run_batch(
    spec: CohortSpec,
    profile: PatientProfile,
    proto: Protocol,
    physics_seed: int,
    *,
    trace: list[tuple[float, float, bool]] | None = None,
) -> dict[str, Any]:
    """One fault-free, EMG-free session of the course: the record ``session_run_virtual`` makes
    of it (cohort/engine.py), from one compiled call. ``trace`` receives every command."""
    if spec.emg:
        raise ValueError("the batch session runs without EMG (the per-tick path has it)")
    t0 = time.perf_counter()
    proto = protocol_checked(proto)
    if proto.pull_angle_deg is None:  # as SessionRunner chooses it
        angle = recommend_angle(proto.segment, proto.region, proto.body_weight_kg, proto.table)
        proto = proto.model_copy(update={"pull_angle_deg": round(angle, 1)})
    patient = virtual_patient(
        physics_seed,
        region=proto.region,
        weight_kg=proto.body_weight_kg,
        session_number=proto.session_number,
    )
    traction_s = proto.traction_minutes * 60.0
    limit_s = traction_s + 120.0  # SessionRunner.run's bound
    max_ticks = math.ceil(limit_s / TICK_S)
    table = tc.table_inputs(patient, table=proto.table, seed=physics_seed, session_s=limit_s)
    tc.table_activate(table.ts, table.s)
    ctrl = DecompressionController(within_clinician_limit(proto, None))
    policy = SafetyPolicy(proto)
    det = ctrl.force_detector
    m = np.zeros(M_SIZE)
    truth_t = np.zeros(max_ticks)
    truth_c = np.zeros(max_ticks)
    truth_ev = np.zeros(TRUTH_EVENTS * pm.EVENT_COLS)
    tr = np.zeros(3 * max_ticks if trace is not None else 0)
    session_loop(
        ctrl.state,
        ctrl.params,
        det.state,
        det.params,
        ctrl.event_log,
        policy._st,
        policy._pa,
        np.zeros(sf.OUT_SIZE),
        table.ts,
        table.p,
        table.s,
        table.ev,
        table.noise_lc,
        table.spont,
        _BASE_HELD,
        m,
        truth_t,
        truth_c,
        truth_ev,
        tr,
        max_ticks,
    )
    ticks = int(m[M_TICKS])
    if trace is not None:
        trace.extend(
            (float(tr[3 * i]), float(tr[3 * i + 1]), bool(tr[3 * i + 2])) for i in range(ticks)
        )
    ctrl._sync_events()
    faults = _faults(policy)
    events = ctrl.events
    stopped = False  # no stop button in a batch session
    completed = ctrl.done and not policy.releasing
    end = int(m[M_END])
    reason = _reason(faults, ctrl.done)
    if end == END_TIMEOUT:
        reason += " (table did not report a full release)"
    n_truth = int(m[M_TRUTH_N])
    truth = _Truth(
        closed_events(truth_ev, 0, int(m[M_TRUTH_EV]), TRUTH_EVENTS) + open_events(table.s),
        truth_t[:n_truth],
        truth_c[:n_truth],
    )
    # Scored until the pull began to end, as in the per-tick session (services.sessions._truth).
    end_s = min([traction_s, *(t for _, t in faults[:1])])
    scores = score_against_truth(
        events, truth, session_end_s=end_s, noise_sd_n=float(patient.load_cell_sigma_n)
    )
    wall = time.perf_counter() - t0
    bw_n = proto.body_weight_kg * G
    peak_force_n = round(float(m[M_PEAK]), 1)
    hold_ticks = m[M_HOLD_TICKS]
    v_ticks = m[M_V_TICKS]
    mean_hold = float(m[M_V_FORCE_SUM] / v_ticks) if v_ticks else 0.0
    rec: dict[str, Any] = {
        "session": proto.session_number,
        "peak_target_n": proto.peak_force_n,
        "peak_target_pct_bw": round(100.0 * proto.peak_force_n / bw_n, 2),
        "final_peak_target_n": round(ctrl.peak_n, 1),
        "pull_angle_deg": proto.pull_angle_deg,
        "completed": completed,
        "tolerated": completed and not (stopped or bool(faults)),
        "stopped": stopped,
        "faulted": bool(faults),
        "end_reason": reason,
        "duration_s": round(float(m[M_NOW]), 3),
        "limit_violations": int(m[M_VIOLATIONS]),
        "measured_limit_excursions": int(m[M_VIOLATIONS]),
        "clamps": int(m[M_CLAMPS]),
        "peak_force_n": peak_force_n,
        "peak_force_pct_bw": round(100.0 * peak_force_n / bw_n, 2),
        "hold_time_s": round(float(hold_ticks) * TICK_S, 2),
        "hold_within_10pct": (
            round(float(m[M_HOLD_WITHIN] / hold_ticks), 4) if hold_ticks else None
        ),
        "hold_abs_error_n": round(float(m[M_V_ABS_ERR] / v_ticks), 3) if v_ticks else None,
        "hold_rel_error": round(float(m[M_V_REL_ERR] / v_ticks), 5) if v_ticks else None,
        "time_at_target_s": round(float(m[M_V_AT_TARGET]) * VIEW_EVERY * TICK_S, 2),
        "base_tension_lost_s": round(float(m[M_BASE_LOST]) * TICK_S, 2),
        "guarding_detected": len(events),
        "guarding_true": scores.get("guarding_true", 0),
        "guarding_true_detected": scores.get("guarding_true_detected", 0),
        "false_stops": scores.get("false_stops", 0),
        "latency_ms": [round(1000.0 * x, 1) for x in scores.get("response_from_measurable_s", [])],
        "faults_detected": [kind for kind, _ in faults],
        "wall_s": round(wall, 3),
    }
    rec.update(neighbour_forces(proto, profile, mean_hold))
    elong = float(table.ts[tc.TS_ELONG_MAX])
    rec["elongation_max_mm"] = round(elong if math.isfinite(elong) else 0.0, 2)
    return rec


@dataclass(frozen=True, slots=True)
class _Truth:
    """The simulated truth as ``score_against_truth`` reads it; per-tick arrays, not lists (a
    session's 90,000 values are not copied into Python floats)."""

    contractions: list[TrueContraction]
    t_s: FloatArray
    muscle_contribution_n: FloatArray

    @property
    def events(self) -> list[TrueContraction]:
        return sorted(self.contractions, key=lambda e: e.onset_s)


def _faults(policy: SafetyPolicy) -> list[tuple[str, float]]:
    """The latched faults (kind, time) in the order they latched."""
    st = policy._st
    rows = []
    for code in range(sf.N_KINDS):
        row = sf.S_FAULTS + sf.FAULT_SLOTS * code
        if st[row + sf.F_ORDER] > 0.0:
            rows.append((float(st[row + sf.F_ORDER]), code, float(st[row + sf.F_T])))
    return [(sf.FAULT_KINDS[code].value, t) for _, code, t in sorted(rows)]


def _reason(faults: list[tuple[str, float]], done: bool) -> str:
    """``SessionRunner._reason`` (no stop in a batch session)."""
    if faults:
        return "fault: " + ", ".join(kind for kind, _ in faults)
    if not done:
        return "aborted: the loop ended before the session did"
    return "completed"


def batch_warm_up() -> None:
    """Compile (or load from numba's disk cache) the loop and every core it calls, before a
    worker's first session: one session of a minute, its record thrown away."""
    from spinecare.therapy.protocol import default_protocol

    spec = CohortSpec(protocol_name="lumbar-default", patients=1, sessions=1, seed=0, minutes=1.0)
    profile = profile_draw(np.random.default_rng(0))
    proto = default_protocol(spec.region, profile.weight_kg, "L4-L5", traction_minutes=1.0)
    session_run_batch(spec, profile, proto, 0)
