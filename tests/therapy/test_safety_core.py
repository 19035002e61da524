"""The compiled core of the safety policy (therapy/safety.py) against its own Python source.

``SafetyPolicy`` is a thin wrapper: every decision is a numba function over a float64 state
array. The SAF-n tests (test_safety.py) prove the rules through the wrapper; these tests prove
that the compiled functions and the same functions run by the interpreter (``fn.py_func``, which
is also what mutation testing mutates) decide identically, bit for bit, on random sequences of
readings, proposals, stops, faults and acknowledgements. They also hold the layout that the
cohort's batch loop relies on, and that a preview (``constrain``) commits nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from spinecare.therapy import safety
from spinecare.therapy.protocol import default_protocol
from spinecare.therapy.safety import FaultKind, FaultRecord, SafetyPolicy
from spinecare.vocab import Command, DeviceState, Reading

TICK = 0.020
NAN = float("nan")
INF = float("inf")
# The core's compiled functions: module attributes that numba compiled (``py_func`` is the
# Python source; under NUMBA_DISABLE_JIT=1 there is nothing to swap).
CORE = {
    name: fn
    for name, fn in vars(safety).items()
    if hasattr(fn, "py_func") and getattr(fn, "__module__", "") == safety.__name__
}


@contextmanager
def interpreted() -> Iterator[None]:
    """Run the core uncompiled: each compiled function, and every call between them, is its
    Python source for the duration (compiled code keeps the compiled callees it was built
    with, so the compiled run is unaffected)."""
    for name, fn in CORE.items():
        setattr(safety, name, fn.py_func)
    try:
        yield
    finally:
        for name, fn in CORE.items():
            setattr(safety, name, fn)


def make(
    region: str = "lumbar",
    weight: float = 80.0,
    clinician: float | None = None,
    peak: float | None = None,
) -> SafetyPolicy:
    proto = default_protocol(region, weight, "L4/5" if region == "lumbar" else "C5/6")
    if peak is not None:  # above the body-weight cap or the device limit: every stage clamps
        proto = proto.model_copy(update={"peak_force_n": peak})
    return SafetyPolicy(proto, clinician_max_force_n=clinician)


def test_the_core_is_compiled_and_has_its_python_source() -> None:
    if not CORE:
        pytest.skip("NUMBA_DISABLE_JIT=1: the core runs as Python")
    for name in ("policy_check", "policy_decide", "policy_constrain", "policy_fault"):
        assert name in CORE and callable(CORE[name].py_func)


# --- Random sequences: compiled and interpreted decide the same -----------------------------
forces = st.one_of(
    st.floats(-10.0, 20.0),  # small steps (noise)
    st.floats(-400.0, 400.0),  # jumps, slips, spikes
    st.sampled_from([0.0, 0.0, 0.0, NAN, INF, -2000.0, 2000.0]),  # repeats and nonsense
)
steps = st.tuples(
    st.sampled_from([TICK] * 8 + [0.0, 0.044, 0.046, 1.0]),  # loop gap
    st.sampled_from([0.0] * 8 + [0.040, 0.0405, 0.2]),  # age of the reading
    st.integers(0, 9),  # 0: the same reading again (not fresh)
    forces,  # change of the measured force
    st.sampled_from([0.0, 0.0, 0.01, -0.01, 0.2, -0.06, 3.1, NAN, 500.0]),  # winch change
    st.integers(0, 40),  # 0: stop button; 1: the table reports a fault
    st.one_of(  # the proposal: none, a level, or nonsense
        st.none(),
        st.tuples(
            st.one_of(st.floats(0.0, 1200.0), st.sampled_from([NAN, INF, -1.0, 1e300])),
            st.one_of(st.floats(0.0, 600.0), st.sampled_from([NAN, -INF, -5.0])),
        ),
    ),
    st.integers(0, 60),  # 0: acknowledge; 1: request a stop; 2: a Python fault; 3: a preview
)


def drive(pol: SafetyPolicy, seq: list[Any]) -> list[str]:
    """Apply a random sequence; the repr of everything the policy said, step by step (``repr``
    of a float is exact, so equal traces are equal to the last bit, NaN included)."""
    trace: list[str] = []
    now, force, winch, n = 0.0, 100.0, 10.0, 0
    for gap, age, new, df, dx, event, proposal, extra in seq:
        now += gap
        if new:
            n += 1
            force = force + df if math.isfinite(force) else 100.0 + df
            winch = winch + dx if math.isfinite(winch) else 10.0 + dx
        state = DeviceState.FAULT if event == 1 else DeviceState.ACTIVE
        reading = Reading(now - age, n, force, winch, event == 0, state)
        fresh = pol.check(reading, now)
        cmd = None if proposal is None or not fresh else Command(now, *proposal)
        if extra == 3 and cmd is not None:
            before = pol._st.tobytes()
            trace.append(repr(pol.constrain(cmd, now)))
            assert pol._st.tobytes() == before  # a preview commits nothing
        decision = pol.decide(cmd, now)
        if extra == 0:
            trace.append(f"ack {pol.acknowledge()}")
        elif extra == 1:
            pol.request_stop(now, "monitor stop")
        elif extra == 2:
            pol.fault(FaultKind.CONTROLLER_EXCEPTION, now, "boom")
        trace += [
            repr(fresh),
            repr(decision),
            repr(pol.faults),
            repr((pol.stopped, pol.stop_requested_s, pol.stop_reason, pol.releasing)),
            repr(pol.clamp_counts),
            pol._st.tobytes().hex(),
        ]
    return trace


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy scalars, interpreted
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    region=st.sampled_from(["lumbar", "cervical"]),
    weight=st.floats(40.0, 200.0),
    clinician=st.one_of(st.none(), st.floats(50.0, 1200.0)),
    peak=st.one_of(st.none(), st.floats(1.0, 2000.0)),
    seq=st.lists(steps, min_size=1, max_size=60),
    hold=st.integers(0, 40),
)
def test_compiled_and_interpreted_policies_decide_the_same(
    region: str,
    weight: float,
    clinician: float | None,
    peak: float | None,
    seq: list[Any],
    hold: int,
) -> None:
    # A stretch of identical readings with a still winch and an unmet command lets the
    # counting checks (stuck load cell, actuator stall) reach their ticks.
    still = (TICK, 0.0, 1, 0.0, 0.0, 40, (400.0, 50.0), 60)
    seq = seq[: len(seq) // 2] + [still] * hold + seq[len(seq) // 2 :]
    compiled = drive(make(region, weight, clinician, peak), seq)
    with interpreted():
        python = drive(make(region, weight, clinician, peak), seq)
    assert compiled == python


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy scalars, interpreted
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True), st.booleans()),
        min_size=1,
        max_size=30,
    ),
    st.floats(0.0, 2000.0),
)
def test_core_functions_on_raw_arrays_match_their_python_source(
    calls: list[tuple[float, float, bool]], clinician: float
) -> None:
    """The functions alone, as the batch loop calls them: any float, state and out compared."""
    if not CORE:
        pytest.skip("NUMBA_DISABLE_JIT=1: the core runs as Python")
    pa = safety.policy_params(default_protocol("lumbar", 90.0, "L4/5"), clinician)
    runs = []
    for mode in ("compiled", "python"):
        st_ = safety.policy_state_new()
        out = np.zeros(safety.OUT_SIZE)
        results = []
        with interpreted() if mode == "python" else _nothing():
            for k, (a, b, flag) in enumerate(calls):
                now = k * TICK
                results.append(safety.policy_check(st_, pa, now, now, float(k), a, b, flag, False))
                safety.policy_decide(st_, pa, not flag, a, b, now, out)
                results.append(out.tobytes())
        runs.append((results, st_.tobytes()))
    assert runs[0] == runs[1]


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# --- What the batch loop relies on --------------------------------------------------------
def test_layout_of_state_params_and_out() -> None:
    st_ = safety.policy_state_new()
    assert st_.dtype == np.float64 and st_.shape == (safety.STATE_SIZE,)
    assert safety.STATE_SIZE == safety.S_HIST + safety.STALL_TICKS
    assert math.isnan(st_[safety.S_STOP_T]) and math.isnan(st_[safety.S_LAST_NOW])
    assert st_[safety.S_RELEASE_RATE] == 100.0
    assert not st_[safety.S_RELEASING] and not st_[safety.S_NFAULTS]
    assert st_[safety.S_LAST_CMD] == 0.0 and st_[safety.S_LAST_BASE] == 0.0
    assert tuple(FaultKind) == safety.FAULT_KINDS and len(FaultKind) == safety.N_KINDS
    assert safety.FAULT_KINDS[safety.K_ACTUATOR_STALL] is FaultKind.ACTUATOR_STALL
    assert safety.FAULT_KINDS[safety.K_TICK_EXCEPTION] is FaultKind.TICK_EXCEPTION
    assert len(safety.STAGES) == safety.N_STAGES
    assert safety.OUT_SIZE == safety.O_ROWS + safety.ROW_SIZE * safety.N_STAGES
    pol = make(clinician=250.0)
    pa = pol._pa
    assert pa.shape == (safety.PARAMS_SIZE,)
    assert pa[safety.P_HARD_LIMIT] == pol.hard_limit_n == 250.0
    assert pa[safety.P_CAP_CLINICIAN] == 250.0
    assert math.isnan(make()._pa[safety.P_CAP_CLINICIAN])  # no clinician's limit
    assert (pa[safety.P_FORCE_MIN], pa[safety.P_FORCE_MAX]) == (-50.0, 1500.0)
    assert (pa[safety.P_WINCH_MIN], pa[safety.P_WINCH_MAX]) == (-5.0, 400.0)


@njit(cache=False)
def _batch_like(st_: Any, pa: Any, out: Any, forces: Any) -> float:  # pragma: no cover - jitted
    """A compiled caller, as the batch session loop: check and decide without Python."""
    for k in range(forces.shape[0]):
        now = k * 0.02
        winch = 10.0 + 0.01 * k  # a real drive is never perfectly still (no stall)
        fresh = safety.policy_check(st_, pa, now, now, float(k + 1), forces[k], winch, False, False)
        safety.policy_decide(st_, pa, fresh, 300.0, 100.0, now, out)
    return out[safety.O_FORCE]


def test_the_core_can_be_called_from_compiled_code() -> None:
    pol = make()
    forces = np.array([50.0 + (0.3 if k % 2 else -0.3) for k in range(30)])
    last = _batch_like(pol._st, pol._pa, pol._out, forces)
    assert last == 30.0  # 1 N a tick (50 N/s lumbar) for 30 ticks
    assert pol._st[safety.S_LAST_CMD] == 30.0


def test_fault_records_keep_the_order_they_latched_in_one_check() -> None:
    # One reading that is stale, reports a device fault and comes after a long pause: three
    # kinds latch in one call, in the order of the checks.
    pol = make()
    pol.check(Reading(0.0, 1, 50.0, 10.0, False), 0.0)
    pol.fault(FaultKind.TICK_EXCEPTION, 0.01, "first")
    pol.check(Reading(0.5, 2, 50.3, 10.01, False, DeviceState.FAULT), 1.0)
    assert pol.faults == [
        FaultRecord(FaultKind.TICK_EXCEPTION, 0.01, "first"),
        FaultRecord(FaultKind.LOOP_OVERRUN, 1.0, "tick gap 1000 ms"),
        FaultRecord(FaultKind.STALE_READING, 1.0, "reading 500 ms old"),
        FaultRecord(FaultKind.DEVICE_FAULT, 1.0, "table reports a fault"),
    ]
    st_ = pol._st
    assert st_[safety.S_NFAULTS] == 4
    row = safety.S_FAULTS + safety.FAULT_SLOTS * safety.K_STALE_READING
    assert st_[row + safety.F_ORDER] == 3 and st_[row + safety.F_T] == 1.0
    assert pol.acknowledge() and pol.faults == [] and st_[safety.S_NFAULTS] == 0


def test_the_detail_of_every_core_fault() -> None:
    detail = safety.fault_detail
    assert detail(safety.K_OUT_OF_RANGE, 1500.5, 0.0) == "load cell 1500.5 N"
    assert detail(safety.K_OUT_OF_RANGE, NAN, 1.0) == "encoder nan mm"
    assert detail(safety.K_OVERFORCE, 216.4, 200.0) == "216 N above the limit of 200 N"
    assert detail(safety.K_STUCK_LOAD_CELL, 20.5, 0.0) == "load cell frozen at 20.5 N"
    assert detail(safety.K_FORCE_JUMP, 300.0, 0.0) == "force changed +300 N in one tick"
    assert detail(safety.K_FORCE_JUMP, -79.0, 1.0) == "load-cell spike of -79 N"
    assert detail(safety.K_ENCODER_JUMP, -3.14, 0.0) == "encoder moved -3.1 mm in one tick"
    assert detail(safety.K_HARNESS_SLIP, 51.0, 0.0) == "force fell 51 N with the winch holding"
    assert detail(safety.K_ACTUATOR_STALL, 31.2, 0.0) == "tracking error 31 N, winch still"
    assert detail(safety.K_LOOP_OVERRUN, 46.0, 0.0) == "tick gap 46 ms"
    assert detail(safety.K_STALE_READING, 60.0, 0.0) == "reading 60 ms old"
    assert detail(safety.K_DEVICE_FAULT, 0.0, 0.0) == "table reports a fault"
    assert detail(safety.K_CONTROLLER_EXCEPTION, 0.0, 0.0) == ""


def test_a_preview_commits_nothing() -> None:
    pol = make()
    pol.check(Reading(0.0, 1, 10.0, 10.0, False), 0.0)
    pol.decide(Command(0.0, 1.0, 0.0), 0.0)
    before = pol._st.tobytes()
    preview = pol.constrain(Command(0.02, 5000.0, 9000.0, False, ("x",)), 0.02)
    assert pol._st.tobytes() == before
    assert preview.command == Command(0.02, 2.0, 2.0, False, ("x",))
    assert preview.stages == ("protocol", "rate_rise", "base_above_setpoint")
    assert pol.last_command == Command(0.0, 1.0, 0.0) and pol.clamp_counts == {}


def test_warm_up_leaves_no_trace_on_a_new_policy() -> None:
    safety.policy_warm_up()
    pol = make()
    assert pol._st.tobytes() == safety.policy_state_new().tobytes()
    assert pol.stop_reason == "" and pol.stop_requested_s is None and pol.faults == []


def test_flags_are_exactly_0_or_1_and_out_says_what_was_decided() -> None:
    """The batch loop reads the state and ``out`` directly: booleans are 0.0/1.0, what each
    decision was is in O_KIND, and the numbers a detail does not use are NaN."""
    S = safety
    pol = make()
    st_, out = pol._st, pol._out
    pol.check(Reading(0.0, 1, 20.0, 10.0, False), 0.0)
    assert st_[S.S_HAVE_READING] == 1.0 and st_[S.S_STOP_PRESSED] == 0.0
    pol.decide(Command(0.0, 50.0, 80.0), 0.0)
    assert (out[S.O_KIND], out[S.O_STOP], out[S.O_NCLAMPS]) == (S.D_CONSTRAINED, 0.0, 2.0)
    assert (out[S.O_FORCE], out[S.O_BASE]) == (1.0, 1.0)
    row = S.O_ROWS + S.ROW_SIZE
    assert list(out[row : row + S.ROW_SIZE]) == [S.C_BASE_ABOVE_SETPOINT, 80.0, 1.0, 1.0]
    pol.decide(None, 0.02)
    assert (out[S.O_KIND], out[S.O_STOP], out[S.O_NCLAMPS]) == (S.D_HOLD, 0.0, 0.0)
    pol.check(Reading(0.02, 2, 20.3, 10.01, True), 0.02)
    assert st_[S.S_STOPPED] == 1.0 and st_[S.S_RELEASING] == 1.0
    assert st_[S.S_STOP_PRESSED] == 1.0 and st_[S.S_STOP_SOURCE] == S.STOP_BUTTON
    assert st_[S.S_STOP_T] == 0.02 and st_[S.S_RELEASE_STARTED] == 0.0
    pol.decide(Command(0.04, 50.0, 0.0), 0.04)
    assert (out[S.O_KIND], out[S.O_STOP], out[S.O_BASE]) == (S.D_RELEASE, 1.0, 0.0)
    assert out[S.O_NCLAMPS] == 0.0
    assert st_[S.S_RELEASE_STARTED] == 1.0 and st_[S.S_RELEASE_RATE] == 100.0
    assert st_[S.S_RELEASE_T0] == 0.04
    assert st_[S.S_LAST_CMD] == out[S.O_FORCE] == 0.0  # 1 N at 100 N/s: zero at once
    pol.check(Reading(0.06, 3, 20.0, 10.02, False), 0.06)
    assert pol.acknowledge()
    assert (st_[S.S_STOPPED], st_[S.S_RELEASING], st_[S.S_RELEASE_STARTED]) == (0.0, 0.0, 0.0)
    assert st_[S.S_STOP_SOURCE] == S.STOP_NONE and math.isnan(st_[S.S_STOP_T])
    pol.check(Reading(0.0, 4, 20.3, 10.03, False), 0.08)  # 80 ms old
    row = S.S_FAULTS + S.FAULT_SLOTS * S.K_STALE_READING
    assert st_[row + S.F_ORDER] == 1.0 and st_[row + S.F_T] == 0.08
    assert st_[row + S.F_A] == pytest.approx(80.0) and st_[row + S.F_B] == 0.0
    assert st_[S.S_RELEASING] == 1.0 and not pol.stopped
    pol.fault(FaultKind.DEVICE_REFUSED, 0.1, "table not active")
    row = S.S_FAULTS + S.FAULT_SLOTS * S.K_DEVICE_REFUSED
    assert st_[row + S.F_ORDER] == 2.0 and st_[S.S_NFAULTS] == 2.0
    assert list(st_[row + S.F_T : row + S.FAULT_SLOTS]) == [0.1, 0.0, 0.0]
    pol.decide(None, 0.1)
    assert (out[S.O_KIND], out[S.O_STOP]) == (S.D_RELEASE, 0.0)  # a fault's release


def test_the_winch_ring_holds_the_last_25_positions() -> None:
    S = safety
    st_ = S.policy_state_new()
    for k in range(30):
        S._hist_push(st_, float(k))
    ring = st_[S.S_HIST : S.S_HIST + S.STALL_TICKS]
    assert sorted(ring) == [float(k) for k in range(5, 30)]
    assert st_[S.S_HIST_N] == 25.0 and st_[S.S_HIST_POS] == 5.0
    assert S._hist_span(st_) == 24.0


# --- Each fault's slots, the range's bounds, counts after an acknowledgement ------------------
def slots(pol: SafetyPolicy, kind: int) -> tuple[float, float, float]:
    row = safety.S_FAULTS + safety.FAULT_SLOTS * kind
    assert pol._st[row + safety.F_ORDER] == 1.0  # the first and only fault latched
    return tuple(float(x) for x in pol._st[row + safety.F_T : row + safety.FAULT_SLOTS])  # type: ignore[return-value]


def feed(pol: SafetyPolicy, *readings: tuple[float, float]) -> float:
    """Fresh readings (force, winch) one tick apart; the time of the last."""
    k = int(pol._st[safety.S_SEQ])
    for force, winch in readings:
        k += 1
        pol.check(Reading(k * TICK, k, force, winch, False), k * TICK)
    return k * TICK


@pytest.mark.parametrize(
    ("readings", "kind", "a", "b"),
    [
        ([(2000.0, 10.0)], safety.K_OUT_OF_RANGE, 2000.0, 0.0),
        ([(100.0, 401.0)], safety.K_OUT_OF_RANGE, 401.0, 1.0),  # 1.0: the encoder
        ([(100.0, 10.0), (500.0, 10.01)], safety.K_FORCE_JUMP, 400.0, 0.0),
        ([(200.0, 10.0), (280.0, 10.01), (200.0, 9.9)], safety.K_FORCE_JUMP, 80.0, 1.0),
        ([(100.0, 10.0), (100.3, 14.0)], safety.K_ENCODER_JUMP, 4.0, 0.0),
        ([(200.0, 10.0), (140.0, 10.0)], safety.K_HARNESS_SLIP, 60.0, 0.0),
        ([(50.0, 10.0)] * 16, safety.K_STUCK_LOAD_CELL, 50.0, 0.0),
        ([(480.0, 10.0), (481.0, 10.01)], safety.K_OVERFORCE, 481.0, 0.60 * 70 * 9.80665),
        ([(30.0, 10.0)] * 26, safety.K_ACTUATOR_STALL, 30.0, 0.0),
    ],
)
def test_each_core_fault_keeps_its_time_and_the_numbers_of_its_detail(
    readings: list[tuple[float, float]], kind: int, a: float, b: float
) -> None:
    pol = make(weight=70.0)  # cap 411.9 N: overforce above 437.5 N
    if kind == safety.K_ACTUATOR_STALL:  # a constant force is stuck too: keep it noisy
        readings = [(30.0 + (0.3 if k % 2 else 0.0), 10.0) for k in range(26)]
        a = 30.3
    t = feed(pol, *readings)
    assert [f.kind for f in pol.faults] == [safety.FAULT_KINDS[kind]]
    assert slots(pol, kind) == pytest.approx((t, a, b))


def test_faults_of_the_loop_and_the_table_keep_their_numbers() -> None:
    pol = make()
    pol.check(Reading(1.0, 1, 50.0, 10.0, False), 1.0)
    pol.check(Reading(1.0, 2, 50.3, 10.01, False), 1.5)  # a 500 ms pause, a 500 ms old reading
    assert slots(pol, safety.K_LOOP_OVERRUN) == pytest.approx((1.5, 500.0, 0.0))
    row = safety.S_FAULTS + safety.FAULT_SLOTS * safety.K_STALE_READING
    assert list(pol._st[row : row + safety.FAULT_SLOTS]) == pytest.approx([2.0, 1.5, 500.0, 0.0])
    pol = make()
    pol.check(Reading(1.0, 1, 50.0, 10.0, False, DeviceState.FAULT), 1.0)
    assert slots(pol, safety.K_DEVICE_FAULT) == (1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("force", "winch"), [(-50.0, 10.0), (1500.0, 10.0), (100.0, -5.0), (100.0, 400.0)]
)
def test_the_plausible_ranges_include_their_ends(force: float, winch: float) -> None:
    """-50..1500 N and -5..400 mm (quantities registry) are what a working sensor reports."""
    pol = make()
    feed(pol, (force, winch))
    assert pol.faults == []


@pytest.mark.parametrize(("force", "winch"), [(-50.0, -5.0), (1500.0, 400.0)])
def test_just_beyond_the_ends_is_out_of_range(force: float, winch: float) -> None:
    for f, w in (
        (math.nextafter(force, 2 * force), 10.0),
        (100.0, math.nextafter(winch, 2 * winch)),
    ):
        pol = make()
        feed(pol, (f, w))
        assert [x.kind for x in pol.faults] == [FaultKind.OUT_OF_RANGE]


def test_acknowledging_restarts_the_stuck_count_at_zero() -> None:
    pol = make()
    feed(pol, *[(50.0, 10.0)] * 10)  # 9 repeats counted
    assert pol.acknowledge()
    feed(pol, *[(50.0, 10.0)] * 14)
    assert pol.faults == []
    feed(pol, (50.0, 10.0))  # the 15th repeat after the acknowledgement
    assert [f.kind for f in pol.faults] == [FaultKind.STUCK_LOAD_CELL]


def test_acknowledging_restarts_the_stall_count_at_zero() -> None:
    pol = make()
    for k in range(200):  # the command up to 100 N, the force following, the winch moving
        pol.check(Reading(k * TICK, k + 1, min(k, 100) + 0.3 * (k % 2), 10.0 + k, False), k * TICK)
        pol.decide(Command(k * TICK, 100.0, 50.0), k * TICK)
    assert pol._st[safety.S_LAST_CMD] == 100.0 and pol.faults == []

    def off(n: int, error: float = 25.0) -> None:  # N off the command, the winch still
        for _ in range(n):
            k = int(pol._st[safety.S_SEQ]) + 1
            force = 100.0 - error + 0.3 * (k % 2)
            pol.check(Reading(k * TICK, k, force, 209.0, False), k * TICK)
            pol.decide(Command(k * TICK, 100.0, 50.0), k * TICK)

    off(25, error=0.0)  # on target while the winch stands: the window fills, nothing counted
    off(20)
    assert pol.faults == [] and pol.acknowledge()
    off(24)
    assert pol.faults == []
    off(1)  # the 25th after the acknowledgement
    assert [f.kind for f in pol.faults] == [FaultKind.ACTUATOR_STALL]


def test_the_spike_size_is_the_larger_of_40_n_and_10_percent_of_body_weight() -> None:
    assert make(weight=80.0).spike_n == pytest.approx(0.10 * 80.0 * 9.80665)
    assert make(weight=40.0).spike_n == 40.0
