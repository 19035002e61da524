"""One virtual patient's course: S sessions through the session service, with the progression
between them and, when the run has a fault catalogue, one injected fault per session.

A session with a fault or with EMG runs through ``services.sessions`` (the same controller,
safety policy, device guard and loop as a patient's session, on the simulated clock); the others
run in the batch mode (cohort/batch.py): the same compiled decisions and the same tick, in one
compiled call, proven equal to the per-tick path command by command. The seeds are spawned per
patient from the cohort's seed (``numpy.random.SeedSequence``), so a patient's sessions are the
same whichever worker runs them and in whatever order: the cohort's figures do not depend on
the number of workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinecare.clinical.bone import seed_threshold_t
from spinecare.cohort.batch import session_run_batch
from spinecare.cohort.faults import (
    FAULT_DURATION_S,
    FAULT_EARLIEST_S,
    FAULT_LATEST_BEFORE_END_S,
    LOOP_STALL_S,
    TABLE_FAULTS,
    CohortFault,
)
from spinecare.cohort.segments import neighbour_forces
from spinecare.cohort.spec import CohortSpec, first_protocol, next_protocol, segment_of
from spinecare.devices.simulated import SimulatedTable
from spinecare.runtime.clock import SimulatedClock
from spinecare.runtime.session import RELEASED_N, TickView
from spinecare.services.sessions import SessionOptions, session_prepare
from spinecare.sim.demographics import PatientProfile, profile_draw
from spinecare.sim.faults import Fault
from spinecare.sim.population import virtual_patient
from spinecare.therapy.protocol import Protocol
from spinecare.therapy.safety import SafetyPolicy
from spinecare.vocab import TICK_S, G

# Screening: more than 45% bone loss contraindicates decompression [seed-spinemed]; at the
# femoral neck that is T about -3.2 (clinical/bone.py). Such patients are screened out, not run.
SCREEN_T = seed_threshold_t("femoral_neck")
HOLD_PHASE = "hold"
# Time at target: a hold tick whose measured force is within 10% of the commanded force, the
# only published device accuracy (+/-10% of target [c1trac-k222912]).
AT_TARGET_FRACTION = 0.10
SAMPLE_EVERY = 5  # hold statistics from every 5th tick (of a fault-free session)


@dataclass(slots=True)
class _HoldStats:
    """Per-tick figures the session summary does not carry (the live-view subscriber)."""

    fault_at_s: float = math.inf
    zero_commanded_s: float | None = None  # first tick after the fault with zero commanded
    slack_s: float | None = None  # ... and the table truly slack as well: the safe state
    tables: list[SimulatedTable] = field(default_factory=list)
    true_over_n: float = math.inf  # the overforce threshold of SAF-4, on the true force
    true_violations: int = 0
    limit_n: float = math.inf  # the tightest cap on the commanded force
    over_commanded: int = 0
    ticks: int = 0
    abs_err_sum: float = 0.0
    rel_err_sum: float = 0.0
    at_target: int = 0
    force_sum: float = 0.0

    every: int = 1  # ticks per view

    def __call__(self, v: TickView) -> None:
        if self.tables and self.tables[0].true_harness_force_n > self.true_over_n:
            self.true_violations += 1
        if v.commanded_n > self.limit_n:
            self.over_commanded += 1
        if v.t_s >= self.fault_at_s and self.slack_s is None and v.commanded_n <= 0.0:
            if self.zero_commanded_s is None:
                self.zero_commanded_s = v.t_s
            # Slack by the simulated truth: a stuck load cell may report force for seconds.
            if self.tables and self.tables[0].true_harness_force_n < RELEASED_N:
                self.slack_s = v.t_s
        if v.phase != HOLD_PHASE or v.commanded_n <= 0.0:
            return
        err = abs(v.measured_n - v.commanded_n)
        self.ticks += 1
        self.abs_err_sum += err
        self.rel_err_sum += err / v.commanded_n
        self.force_sum += v.measured_n
        if err <= AT_TARGET_FRACTION * v.commanded_n:
            self.at_target += 1


@dataclass(slots=True)
class _Injector:
    """Faults from outside the table: a stalled loop (a clock that jumps) and a controller
    that raises. Both fire once, at ``at_s`` of session time."""

    kind: CohortFault | None
    at_s: float
    fired_s: float | None = None
    clock: SimulatedClock = field(default_factory=SimulatedClock)

    # The loop's clock. Simulated time starts at 0 and nothing before the first tick moves it,
    # so session time (SessionClock) is this clock's time.
    def now(self) -> float:
        return self.clock.now()

    def sleep_until(self, t: float) -> None:
        self.clock.sleep_until(t)
        if self.kind is CohortFault.LOOP_OVERRUN and self.fired_s is None and t >= self.at_s:
            self.fired_s = t
            self.clock.advance(LOOP_STALL_S)


def patient_seeds(
    spec: CohortSpec, index: int
) -> tuple[np.random.Generator, int, np.random.Generator]:
    """The patient's own streams: the person, the physics seed, the fault times."""
    ss = np.random.SeedSequence(spec.seed, spawn_key=(index,))
    person, physics, faults = ss.spawn(3)
    physics_seed = int(physics.generate_state(1, np.uint64)[0] >> np.uint64(2))
    return np.random.default_rng(person), physics_seed, np.random.default_rng(faults)


def session_run_virtual(
    spec: CohortSpec,
    profile: PatientProfile,
    proto: Protocol,
    physics_seed: int,
    fault: CohortFault | None,
    fault_at_s: float,
    observe: Callable[[TickView], None] | None = None,
) -> dict[str, Any]:
    """One session of the course through the session service; a compact record. ``observe``
    sees every tick (tests compare the commands with those of a paced session)."""
    injector = _Injector(fault, fault_at_s)
    tables: list[SimulatedTable] = []
    table_faults: tuple[Fault, ...] = ()
    if fault in TABLE_FAULTS:
        assert fault is not None
        table_faults = (Fault(TABLE_FAULTS[fault], fault_at_s, FAULT_DURATION_S[fault]),)

    def factory(now: Callable[[], float]) -> SimulatedTable:
        patient = virtual_patient(
            physics_seed,
            region=proto.region,
            weight_kg=proto.body_weight_kg,
            session_number=proto.session_number,
        )
        table = SimulatedTable(
            patient,
            seed=physics_seed,
            emg=spec.emg,
            table=proto.table,
            faults=table_faults,
            time_source=now,
        )
        if fault is CohortFault.PATIENT_STOP:
            table.press_stop(fault_at_s)
        tables.append(table)
        return table

    every = 1 if fault is not None or observe is not None else SAMPLE_EVERY
    hold = _HoldStats(
        fault_at_s=fault_at_s if fault is not None else math.inf, tables=tables, every=every
    )
    t0 = time.perf_counter()
    policy = SafetyPolicy(proto)
    hold.true_over_n = policy.overforce_n
    hold.limit_n = policy.effective_limit_n
    live = session_prepare(
        proto,
        factory,
        options=SessionOptions(
            clock=injector,
            emg=spec.emg,
            fsync=False,
            subscribers=(hold,) if observe is None else (hold, observe),
            # Every tick when a fault's timing or a test needs it; otherwise every 5th tick is
            # plenty for the hold statistics (a 60 s hold gives 600 samples) and saves a
            # fifth of the session's time.
            tick_view_every=every,
        ),
    )
    if fault is CohortFault.CONTROLLER_EXCEPTION:
        _arm_controller_exception(live.runner.controller, fault_at_s, injector)
    done = live.run()
    wall = time.perf_counter() - t0
    s = done.summary
    truth = done.truth or {}
    bw_n = proto.body_weight_kg * G
    mean_hold = hold.force_sum / hold.ticks if hold.ticks else 0.0
    # With a sensor fault injected, the reading may show force that is not there (a spike):
    # the limit is then judged on the simulated truth and on the commands; what the reading
    # showed is kept apart. Without one, the summary's count (reading and commands) stands.
    violations = s.limit_violations
    if fault is not None:
        violations = hold.true_violations + hold.over_commanded
    rec: dict[str, Any] = {
        "session": proto.session_number,
        "peak_target_n": proto.peak_force_n,
        "peak_target_pct_bw": round(100.0 * proto.peak_force_n / bw_n, 2),
        "final_peak_target_n": s.final_peak_target_n,
        "pull_angle_deg": s.pull_angle_deg,
        "completed": s.completed,
        "tolerated": s.tolerated,
        "stopped": s.stopped,
        "faulted": s.faulted,
        "end_reason": s.end_reason,
        "duration_s": s.duration_s,
        "limit_violations": violations,
        "measured_limit_excursions": s.limit_violations,
        "clamps": sum(s.clamps.values()),
        "peak_force_n": s.peak_force_n,
        "peak_force_pct_bw": round(100.0 * s.peak_force_n / bw_n, 2),
        "hold_time_s": s.hold_time_s,
        "hold_within_10pct": s.hold_within_10pct,
        "hold_abs_error_n": round(hold.abs_err_sum / hold.ticks, 3) if hold.ticks else None,
        "hold_rel_error": round(hold.rel_err_sum / hold.ticks, 5) if hold.ticks else None,
        "time_at_target_s": round(hold.at_target * hold.every * TICK_S, 2),
        "base_tension_lost_s": s.base_tension_lost_s,
        "guarding_detected": s.guarding_detected,
        "guarding_true": truth.get("guarding_true", 0),
        "guarding_true_detected": truth.get("guarding_true_detected", 0),
        "false_stops": truth.get("false_stops", 0),
        "latency_ms": [round(1000.0 * x, 1) for x in truth.get("response_from_measurable_s", [])],
        "faults_detected": [f.kind for f in s.faults],
        "wall_s": round(wall, 3),
    }
    rec.update(
        neighbour_forces(
            proto.model_copy(update={"pull_angle_deg": s.pull_angle_deg}), profile, mean_hold
        )
    )
    if tables:
        tr = tables[0].truth
        rec["elongation_max_mm"] = round(max(tr.elongation_mm, default=0.0), 2)
    if fault is not None:
        rec["fault"] = fault.value
        rec["fault_at_s"] = round(fault_at_s, 3)
        released = s.stopped or s.faulted
        detected = [f.t_s for f in s.faults if f.t_s >= fault_at_s - 1e-9]
        if s.stopped:
            detected.append(fault_at_s)  # the button is read on the next tick
        rec["time_to_detect_s"] = _since(released, min(detected, default=None), fault_at_s)
        rec["time_to_zero_command_s"] = _since(released, hold.zero_commanded_s, fault_at_s)
        rec["time_to_safe_s"] = _since(released, hold.slack_s, fault_at_s)
    return rec


def _since(released: bool, t_s: float | None, at_s: float) -> float | None:
    """Seconds from the fault's onset to ``t_s``. None: the fault never led to a release (not
    detected, or the session ended first), or the state was never reached (a stalled winch
    cannot pay out: zero is commanded but the table is not slack)."""
    if not released or t_s is None:
        return None
    return round(max(0.0, t_s - at_s), 3)


def _arm_controller_exception(controller: Any, at_s: float, injector: _Injector) -> None:
    """Make the session's own controller raise once at ``at_s`` (the runtime must turn it into
    a controlled release, SAF-11)."""
    update = controller.update

    def failing(reading: Any, now: float, dt: float = 0.02) -> Any:
        if now >= at_s and injector.fired_s is None:
            injector.fired_s = now
            raise RuntimeError("injected controller exception")
        return update(reading, now, dt)

    controller.update = failing


def patient_course(spec: CohortSpec, index: int) -> dict[str, Any]:
    """The whole course of patient ``index``: who they are and one record per session."""
    person_rng, physics_seed, fault_rng = patient_seeds(spec, index)
    profile = profile_draw(person_rng)
    segment = segment_of(spec, float(person_rng.random()))
    out: dict[str, Any] = {
        "patient": index,
        "physics_seed": physics_seed,
        "region": spec.region.value,
        "segment": segment,
        **profile.as_dict(),
        "screened_out": profile.t_score <= SCREEN_T,
        "sessions": [],
    }
    if out["screened_out"]:
        return out
    proto = first_protocol(spec, profile.weight_kg, segment)
    for k in range(spec.sessions):
        fault: CohortFault | None = None
        at_s = 0.0
        if spec.faults:
            # Round robin over the catalogue (every kind equally often), random time.
            fault = spec.faults[(index * spec.sessions + k) % len(spec.faults)]
            end = proto.traction_minutes * 60.0 - FAULT_LATEST_BEFORE_END_S
            at_s = float(fault_rng.uniform(FAULT_EARLIEST_S, max(FAULT_EARLIEST_S + 1.0, end)))
            at_s = math.floor(at_s * 50.0) / 50.0  # on the tick grid
        if fault is None and not spec.emg:
            # The batch mode: the same decisions in one compiled call (cohort/batch.py).
            rec = session_run_batch(spec, profile, proto, physics_seed)
        else:
            rec = session_run_virtual(spec, profile, proto, physics_seed, fault, at_s)
        out["sessions"].append(rec)
        if k + 1 < spec.sessions:
            proto = next_protocol(proto, bool(rec["tolerated"]))
    return out


def chunk_run(spec_json: dict[str, Any], chunk: int) -> list[dict[str, Any]]:
    """One task: the courses of one chunk of patients (what a Dask worker runs)."""
    spec = CohortSpec.model_validate(spec_json)
    return [patient_course(spec, i) for i in spec.chunk_range(chunk)]
