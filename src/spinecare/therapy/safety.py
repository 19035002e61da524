"""The safety policy: pure rules between the controller's proposal and the table.

It holds no device and reads no clock. The runtime's device guard (``runtime/guard.py``), the
only holder of the device handle, hands it every reading (``check``) before the controller sees
it and every proposal (``decide``) before anything is written. A patient stop or any latched
fault replaces the controller's proposal with a controlled release to zero.

The clamp chain only tightens (after the AndroidAPS constraint objects [aaps], but without their
loosening ``set``): clinician limit -> protocol peak -> %-body-weight cap -> device hard limit ->
rise-rate limit. Each clamp is recorded with its reason and the values before and after. Nothing
in the chain ever raises a proposal: a controller asking for a fast fall gets it (falling is the
safe direction; the controller's profile shapes every fall, and stop and fault releases are the
policy's own ramp).

Hard limits are constants in code, not settings; the numeric ranges come from the quantities
registry. Requirement IDs (SAF-n) refer to docs/safety.md.

The rules run as compiled functions over float64 arrays (``policy_check``, ``policy_decide``,
``policy_constrain``; "The compiled core" below), so that the cohort's batch session loop runs
the very same code as the table; ``SafetyPolicy`` keeps the state array and builds the records.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinecare.compiled import jit_core  # numba cache keyed on every core's source
from spinecare.quantities import DEVICE_MAX_FORCE_N, TRACTION_FORCE, WINCH_POSITION, WINCH_SPEED
from spinecare.therapy.protocol import Protocol
from spinecare.vocab import TICK_S, Command, DeviceState, G, Reading, Region

# SAF-3: body-weight caps. Lumbar protocols stay at or below 1/2 body weight [shealy-borgmeyer1997]
# [eyerman1998]; the policy allows 60% as the last line before the device limit. Cervical
# protocols use 7-15% of body weight [akinbo2006]; the traditional maximum is 1/6 (about 17%)
# [judovich1957]; the policy allows 20%.
BODY_WEIGHT_CAP = {Region.LUMBAR: 0.60, Region.CERVICAL: 0.20}
# SAF-5: the fastest rise of the force setpoint. Engineering limit: commercial decompression
# tables take 5-30 s to reach peak [drx9000-manual]; 50 N/s lumbar and 15 N/s cervical are 3-4x
# the default ramps (therapy/protocol.py) and below the stretch-reflex range of the simulated
# paraspinals.
MAX_RISE_N_S = {Region.LUMBAR: 50.0, Region.CERVICAL: 15.0}
# SAF-6: patient stop: controlled release to zero within 2 s (engineering requirement after the
# SpineMED panic switch that returns the table at controlled speed [spinemed-s200e]); the policy
# commands zero within 1.5 s to leave the drive's lag a margin, and never slower than 100 N/s.
STOP_RELEASE_S = 1.5
STOP_MIN_RATE_N_S = 100.0
# SAF-7: a reading older than 2 ticks is a fault (engineering choice: one missed sample is
# tolerated, two are a dropout).
MAX_READING_AGE_S = 2 * TICK_S + 1e-6
# SAF-12: the loop itself must not pause longer than 2 ticks (plus 5 ms scheduling slack).
MAX_TICK_GAP_S = 2 * TICK_S + 0.005
# SAF-8 plausibility. A loaded load cell always shows noise: the same value for 15 ticks
# (300 ms) above 20 N means it is stuck (engineering choice on the simulated load cell).
STUCK_TICKS = 15
STUCK_MIN_FORCE_N = 20.0
# The winch cannot move faster than the drive's top speed (quantities.WINCH_SPEED): beyond 1.25
# times that within a tick (plus 0.5 mm encoder slack) is an encoder fault.
MAX_WINCH_STEP_MM = 1.25 * WINCH_SPEED.absolute_max * TICK_S + 0.5
# A single-sample excursion that returns on the next sample: a load-cell glitch. A contraction
# cannot rise and fall again within 20 ms (the simulated muscles relax over 150-400 ms, an
# engineering choice in sim/population.py; the reflex alone takes 48-70 ms [miller2010]), so an
# excursion above 10% of body weight (at least 40 N) that comes back by 70% or more within one
# tick is a sensor fault.
SPIKE_MIN_N = 40.0
SPIKE_BW_FRACTION = 0.10
SPIKE_RETURN = 0.7
# Harness slip: the force falls by more than a quarter (and 30 N) within one tick while the winch
# is not paying out (engineering choice; harness slip is the commonest complaint about peer
# tables [drx-maude]).
SLIP_DROP_FRACTION = 0.25
SLIP_DROP_MIN_N = 30.0
SLIP_PAYOUT_MM = 0.05
# Actuator stall: a tracking error above 15% (and 20 N) for 0.5 s with the winch standing still
# (engineering choice).
STALL_TICKS = 25
STALL_ERROR_FRACTION = 0.15
STALL_ERROR_MIN_N = 20.0
STALL_STILL_MM = 0.1
# SAF-4: measured force above the hard limit by 5% (+5 N load-cell margin) on 2 ticks; 5% is half
# the only published device accuracy (+/-10% of target [c1trac-k222912]).
OVERFORCE_MARGIN = 1.05
OVERFORCE_SLACK_N = 5.0
OVERFORCE_TICKS = 2
# A force jump larger than half the body-weight cap within one tick is not physiological: a
# guarding contraction reaches at most about 0.4 body weight in the simulated patient.
FORCE_JUMP_CAP_FRACTION = 0.5
FORCE_JUMP_SLACK_N = 20.0


class FaultKind(enum.StrEnum):
    """What the policy detected; each latches and releases (SAF-10)."""

    STALE_READING = "stale_reading"
    OUT_OF_RANGE = "out_of_range"
    STUCK_LOAD_CELL = "stuck_load_cell"
    FORCE_JUMP = "force_jump"
    ENCODER_JUMP = "encoder_jump"
    HARNESS_SLIP = "harness_slip"
    ACTUATOR_STALL = "actuator_stall"
    OVERFORCE = "overforce"
    CONTROLLER_EXCEPTION = "controller_exception"
    LOOP_OVERRUN = "loop_overrun"
    DEVICE_REFUSED = "device_refused"
    DEVICE_FAULT = "device_fault"
    # An exception elsewhere in the tick (recorder, live-view subscriber, the runtime itself).
    TICK_EXCEPTION = "tick_exception"


@dataclass(frozen=True, slots=True)
class FaultRecord:
    kind: FaultKind
    t_s: float
    detail: str

    def as_dict(self) -> dict[str, str | float]:
        return {"kind": self.kind.value, "t_s": round(self.t_s, 3), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Clamp:
    """One tightening: which stage, why, and the values (N) before and after."""

    stage: str
    reason: str
    before_n: float
    limit_n: float
    after_n: float

    def as_dict(self) -> dict[str, str | float]:
        return {
            "stage": self.stage,
            "reason": self.reason,
            "before_n": round(self.before_n, 2),
            "limit_n": round(self.limit_n, 2),
            "after_n": round(self.after_n, 2),
        }


class Constraint:
    """A force that can only go down, remembering each cut (the AndroidAPS pattern [aaps]).

    There is no ``set``: a stage can tighten the value or leave it.
    """

    __slots__ = ("clamps", "original_n", "value_n")

    def __init__(self, value_n: float) -> None:
        self.original_n = value_n
        self.value_n = value_n
        self.clamps: list[Clamp] = []

    def refuse(self, stage: str, reason: str) -> None:
        """Replace a value that is no force at all (NaN, infinite, negative) with zero."""
        self.clamps.append(Clamp(stage, reason, self.value_n, 0.0, 0.0))
        self.value_n = 0.0

    def tighten_to(self, limit_n: float, stage: str, reason: str) -> None:
        """Lower the value to ``limit_n`` if it is above (or not a number at all)."""
        v = self.value_n
        if v > limit_n or v != v:  # v != v: NaN
            self.clamps.append(Clamp(stage, reason, v, limit_n, limit_n))
            self.value_n = limit_n


@dataclass(frozen=True, slots=True)
class Decision:
    """What the guard writes this tick, and how it came about."""

    command: Command
    original_n: float | None  # the controller's proposal (None: a hold or a release)
    clamps: tuple[Clamp, ...]

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(c.stage for c in self.clamps)


# --- The compiled core ------------------------------------------------------------------------
# One implementation of the rules, two callers: ``SafetyPolicy`` (below) calls these functions
# once a tick, and the cohort's batch session loop calls the very same functions from compiled
# code. Everything is float64: ``st`` the state of one session (slots ``S_*``), ``pa`` the limits
# derived at construction (slots ``P_*``, from ``policy_params``), ``out`` what ``policy_decide``
# and ``policy_constrain`` decided (slots ``O_*``, then one row of ``ROW_SIZE`` per clamp).
# Booleans are 0.0/1.0, an absent time is NaN, counters are floats.
#
# The functions are plain Python compiled with ``njit(...)(fn)`` rather than decorated: mutmut
# leaves decorated functions alone, and mutation testing runs them uncompiled
# (NUMBA_DISABLE_JIT=1, scripts/mutate.py), so each rule is mutated where it is written.

# Fault kinds by code: the index in FAULT_KINDS (the order of FaultKind).
(
    K_STALE_READING,
    K_OUT_OF_RANGE,
    K_STUCK_LOAD_CELL,
    K_FORCE_JUMP,
    K_ENCODER_JUMP,
    K_HARNESS_SLIP,
    K_ACTUATOR_STALL,
    K_OVERFORCE,
    K_CONTROLLER_EXCEPTION,
    K_LOOP_OVERRUN,
    K_DEVICE_REFUSED,
    K_DEVICE_FAULT,
    K_TICK_EXCEPTION,
    N_KINDS,
) = range(14)
FAULT_KINDS: tuple[FaultKind, ...] = tuple(FaultKind)
KIND_CODE: dict[FaultKind, int] = {kind: code for code, kind in enumerate(FAULT_KINDS)}
# Per fault kind, FAULT_SLOTS state slots from S_FAULTS + FAULT_SLOTS * code: the order in which
# it latched (1, 2, ...; 0: not latched; the row's first slot), its time and the two numbers its
# detail names (0.0 where it names fewer; for OUT_OF_RANGE and FORCE_JUMP the second says which
# variant: 1.0 for the encoder, or for a spike).
F_ORDER, F_T, F_A, F_B, FAULT_SLOTS = range(5)
# Who asked for the stop (S_STOP_SOURCE): the table's stop button, or a caller of request_stop.
STOP_NONE, STOP_BUTTON, STOP_CALLER = range(3)
# State slots; the winch history of the stall check (a ring of STALL_TICKS) comes last.
(
    S_RELEASING,  # 1.0 once a stop or a latched fault took the controller's say away
    S_STOPPED,  # 1.0 after a stop request, until acknowledged
    S_STOP_T,  # the first stop's time (NaN: none)
    S_STOP_SOURCE,  # STOP_*
    S_NFAULTS,  # latched faults (the order counter)
    S_LAST_CMD,  # the last command's force (N)
    S_LAST_BASE,  # the last command's base tension (N)
    S_RELEASE_STARTED,
    S_RELEASE_RATE,  # N/s of the release under way
    S_RELEASE_T0,  # the loop time of the release's first command (valid once it started)
    S_HAVE_READING,  # 1.0 once a fresh reading was checked
    S_SEQ,  # the last fresh reading: sequence number, force, winch, stop button
    S_FORCE,
    S_WINCH,
    S_STOP_PRESSED,
    S_LAST_NOW,  # the loop time of the last check (NaN: none)
    S_PENDING_SPIKE,  # the last step above the spike size (N), 0.0 if none
    S_STUCK,  # counts of the stuck, stall and overforce checks
    S_STALL,
    S_OVER,
    S_HIST_N,  # winch samples in the ring (up to STALL_TICKS) and the next one's position
    S_HIST_POS,
    S_FAULTS,
) = range(23)
S_HIST = S_FAULTS + FAULT_SLOTS * N_KINDS
STATE_SIZE = S_HIST + STALL_TICKS
# Parameter slots.
(
    P_HARD_LIMIT,  # hard_limit_n
    P_EFFECTIVE_LIMIT,  # effective_limit_n
    P_OVERFORCE,  # overforce_n
    P_MAX_RISE,  # max_rise_n_s
    P_FORCE_JUMP,  # force_jump_n
    P_SPIKE,  # spike_n
    P_CAP_CLINICIAN,  # the chain's caps in order (the clinician's NaN when there is none)
    P_CAP_PROTOCOL,
    P_CAP_BODY_WEIGHT,
    P_CAP_DEVICE,
    P_FORCE_MIN,  # plausible load cell and encoder (quantities registry)
    P_FORCE_MAX,
    P_WINCH_MIN,
    P_WINCH_MAX,
    PARAMS_SIZE,
) = range(15)
# Clamp stages by code, in the order of the chain.
(
    C_INVALID,
    C_CLINICIAN,
    C_PROTOCOL,
    C_BODY_WEIGHT_CAP,
    C_DEVICE_LIMIT,
    C_RATE_RISE,
    C_BASE_INVALID,
    C_BASE_ABOVE_SETPOINT,
    N_STAGES,
) = range(9)
STAGES = (
    "invalid",
    "clinician",
    "protocol",
    "body_weight_cap",
    "device_limit",
    "rate_rise",
    "base_invalid",
    "base_above_setpoint",
)
# What was decided (O_KIND).
D_CONSTRAINED, D_HOLD, D_RELEASE = range(3)
# ``out``: force, base, kind, 1.0 for a stop's release (0.0: a fault's), the number of clamps,
# then the clamps (each stage at most once), one row each: stage code, before, limit, after.
O_FORCE, O_BASE, O_KIND, O_STOP, O_NCLAMPS, O_ROWS = range(6)
R_STAGE, R_BEFORE, R_LIMIT, R_AFTER, ROW_SIZE = range(5)
OUT_SIZE = O_ROWS + ROW_SIZE * N_STAGES

FloatArray = npt.NDArray[np.float64]


def _fault_impl(  # pragma: no cover - jitted
    st: FloatArray, kind: int, now: float, a: float, b: float
) -> bool:
    """Latch a fault (SAF-10); True the first time of its kind, whose time and numbers stay."""
    row = S_FAULTS + FAULT_SLOTS * kind
    first: bool = st[row] == 0.0  # F_ORDER
    if first:
        st[S_NFAULTS] += 1.0
        st[row] = st[S_NFAULTS]
        st[row + F_T] = now
        st[row + F_A] = a
        st[row + F_B] = b
    st[S_RELEASING] = 1.0
    return first


policy_fault = jit_core(_fault_impl)


def _request_stop_impl(
    st: FloatArray, now: float, source: float
) -> bool:  # pragma: no cover - jitted
    """Stop (SAF-6): the first request's time and source are kept; True for the first."""
    first: bool = st[S_STOPPED] == 0.0
    if first:
        st[S_STOPPED] = 1.0
        st[S_STOP_T] = now
        st[S_STOP_SOURCE] = source
    st[S_RELEASING] = 1.0
    return first


policy_request_stop = jit_core(_request_stop_impl)


def _acknowledge_impl(st: FloatArray) -> bool:  # pragma: no cover - jitted
    """Clear faults and stop, restart every count (SAF-10); refused while the button is held."""
    if st[S_HAVE_READING] != 0.0 and st[S_STOP_PRESSED] != 0.0:
        return False
    for kind in range(N_KINDS):
        st[S_FAULTS + FAULT_SLOTS * kind] = 0.0  # F_ORDER
    st[S_NFAULTS] = 0.0
    st[S_STOPPED] = 0.0
    st[S_STOP_T] = math.nan
    st[S_STOP_SOURCE] = STOP_NONE
    st[S_RELEASING] = 0.0
    st[S_RELEASE_STARTED] = 0.0
    st[S_STUCK] = 0.0
    st[S_STALL] = 0.0
    st[S_OVER] = 0.0
    st[S_PENDING_SPIKE] = 0.0
    return True


policy_acknowledge = jit_core(_acknowledge_impl)


def _hist_push_impl(st: FloatArray, winch_mm: float) -> None:  # pragma: no cover - jitted
    """Append to the winch ring (the last STALL_TICKS fresh, plausible readings)."""
    pos = int(st[S_HIST_POS])
    st[S_HIST + pos] = winch_mm
    pos += 1
    if pos >= STALL_TICKS:
        pos = 0
    st[S_HIST_POS] = pos
    if st[S_HIST_N] < STALL_TICKS:
        st[S_HIST_N] += 1.0


_hist_push = jit_core(_hist_push_impl)


def _hist_span_impl(st: FloatArray) -> float:  # pragma: no cover - jitted
    """Largest minus smallest winch position in the ring (at least one sample, all finite)."""
    hist = st[S_HIST : S_HIST + int(st[S_HIST_N])]
    span: float = hist.max() - hist.min()
    return span


_hist_span = jit_core(_hist_span_impl)


def _check_impl(  # pragma: no cover - jitted
    st: FloatArray,
    pa: FloatArray,
    now: float,
    reading_t_s: float,
    seq: float,
    force_n: float,
    winch_mm: float,
    stop_pressed: bool,
    device_fault: bool,
) -> bool:
    """Check a reading taken at loop time ``now`` (SAF-7, 8, 12); True when it is new."""
    last_now = st[S_LAST_NOW]
    if last_now == last_now and now - last_now > MAX_TICK_GAP_S:
        policy_fault(st, K_LOOP_OVERRUN, now, 1000 * (now - last_now), 0.0)
    st[S_LAST_NOW] = now
    fresh: bool = st[S_HAVE_READING] == 0.0 or seq != st[S_SEQ]
    age = now - reading_t_s
    if age > MAX_READING_AGE_S:
        policy_fault(st, K_STALE_READING, now, 1000 * age, 0.0)
    if stop_pressed:
        policy_request_stop(st, now, STOP_BUTTON)
    if device_fault:
        policy_fault(st, K_DEVICE_FAULT, now, 0.0, 0.0)
    if fresh:
        _plausible(st, pa, now, force_n, winch_mm)
        st[S_HAVE_READING] = 1.0
        st[S_SEQ] = seq
        st[S_FORCE] = force_n
        st[S_WINCH] = winch_mm
        st[S_STOP_PRESSED] = 1.0 if stop_pressed else 0.0
    return fresh


def _plausible_impl(  # pragma: no cover - jitted
    st: FloatArray, pa: FloatArray, now: float, force_n: float, winch_mm: float
) -> None:
    """Plausibility of a fresh reading against the last fresh one (SAF-4, SAF-8)."""
    if not (math.isfinite(force_n) and pa[P_FORCE_MIN] <= force_n <= pa[P_FORCE_MAX]):
        policy_fault(st, K_OUT_OF_RANGE, now, force_n, 0.0)
        return
    if not (math.isfinite(winch_mm) and pa[P_WINCH_MIN] <= winch_mm <= pa[P_WINCH_MAX]):
        policy_fault(st, K_OUT_OF_RANGE, now, winch_mm, 1.0)
        return
    if force_n > pa[P_OVERFORCE]:
        st[S_OVER] += 1.0
        if st[S_OVER] >= OVERFORCE_TICKS:
            policy_fault(st, K_OVERFORCE, now, force_n, pa[P_HARD_LIMIT])
    else:
        st[S_OVER] = 0.0
    if st[S_HAVE_READING] == 0.0:
        _hist_push(st, winch_mm)
        return
    prev_force = st[S_FORCE]
    df = force_n - prev_force
    dx = winch_mm - st[S_WINCH]
    if force_n == prev_force and force_n > STUCK_MIN_FORCE_N:
        st[S_STUCK] += 1.0
        if st[S_STUCK] >= STUCK_TICKS:
            policy_fault(st, K_STUCK_LOAD_CELL, now, force_n, 0.0)
    else:
        st[S_STUCK] = 0.0
    if abs(df) > pa[P_FORCE_JUMP]:
        policy_fault(st, K_FORCE_JUMP, now, df, 0.0)
    spike = st[S_PENDING_SPIKE]
    if spike and df * spike < 0 and abs(df) >= SPIKE_RETURN * abs(spike):
        policy_fault(st, K_FORCE_JUMP, now, spike, 1.0)
    st[S_PENDING_SPIKE] = df if abs(df) > pa[P_SPIKE] else 0.0
    if abs(dx) > MAX_WINCH_STEP_MM:
        policy_fault(st, K_ENCODER_JUMP, now, dx, 0.0)
    if -df > max(SLIP_DROP_MIN_N, SLIP_DROP_FRACTION * prev_force) and dx >= -SLIP_PAYOUT_MM:
        policy_fault(st, K_HARNESS_SLIP, now, -df, 0.0)
    _hist_push(st, winch_mm)
    # While releasing, the table pays out at full speed and a force below the falling command
    # is the point; only a force that stays above it (a winch that cannot pay out) is a stall
    # then.
    last_cmd = st[S_LAST_CMD]
    error = force_n - last_cmd if st[S_RELEASING] != 0.0 else abs(last_cmd - force_n)
    if error > max(STALL_ERROR_MIN_N, STALL_ERROR_FRACTION * last_cmd) and (
        _hist_span(st) < STALL_STILL_MM
    ):
        st[S_STALL] += 1.0
        if st[S_STALL] >= STALL_TICKS:
            policy_fault(st, K_ACTUATOR_STALL, now, error, 0.0)
    else:
        st[S_STALL] = 0.0


_plausible = jit_core(_plausible_impl)
policy_check = jit_core(_check_impl)


def _record_impl(  # pragma: no cover - jitted
    out: FloatArray, stage: int, before: float, limit: float, after: float
) -> None:
    """Append one clamp row to ``out``."""
    n = int(out[O_NCLAMPS])
    row = O_ROWS + ROW_SIZE * n
    out[row] = stage  # R_STAGE
    out[row + R_BEFORE] = before
    out[row + R_LIMIT] = limit
    out[row + R_AFTER] = after
    out[O_NCLAMPS] = n + 1


_record = jit_core(_record_impl)


def _tighten_impl(
    out: FloatArray, v: float, limit: float, stage: int
) -> float:  # pragma: no cover - jitted
    """Lower ``v`` to ``limit`` if it is above (or not a number at all), recording the cut."""
    if v > limit or v != v:  # v != v: NaN
        _record(out, stage, v, limit, limit)
        return limit
    return v


_tighten = jit_core(_tighten_impl)


def _constrain_impl(  # pragma: no cover - jitted
    st: FloatArray, pa: FloatArray, force_n: float, base_n: float, out: FloatArray
) -> None:
    """The clamp chain over a proposal (SAF-1, 2, 3, 5): it only ever lowers the force.

    Reads the last command and writes only ``out``, so a preview commits nothing.
    """
    out[O_NCLAMPS] = 0.0
    v = force_n
    if not math.isfinite(v) or v < 0.0:
        _record(out, C_INVALID, v, 0.0, 0.0)
        v = 0.0
    for stage in range(C_CLINICIAN, C_DEVICE_LIMIT + 1):
        cap = pa[P_CAP_CLINICIAN + stage - C_CLINICIAN]
        if cap == cap:  # NaN: no such cap (a patient without a clinician's limit)
            v = _tighten(out, v, cap, stage)
    v = _tighten(out, v, st[S_LAST_CMD] + pa[P_MAX_RISE] * TICK_S, C_RATE_RISE)
    base = base_n
    if not math.isfinite(base) or base < 0.0:
        _record(out, C_BASE_INVALID, base, 0.0, 0.0)
        base = 0.0
    base = _tighten(out, base, v, C_BASE_ABOVE_SETPOINT)
    out[O_FORCE] = v
    out[O_BASE] = base
    out[O_KIND] = D_CONSTRAINED
    out[O_STOP] = 0.0


policy_constrain = jit_core(_constrain_impl)


def _release_impl(st: FloatArray, now: float, out: FloatArray) -> None:  # pragma: no cover - jitted
    """A controlled ramp to zero from the last command, within STOP_RELEASE_S (SAF-6)."""
    if st[S_RELEASE_STARTED] == 0.0:
        st[S_RELEASE_STARTED] = 1.0
        st[S_RELEASE_T0] = now
        st[S_RELEASE_RATE] = max(STOP_MIN_RATE_N_S, st[S_LAST_CMD] / STOP_RELEASE_S)
    step = st[S_RELEASE_RATE] * TICK_S
    force = st[S_LAST_CMD] - step
    # A remainder of float rounding (a millionth of a step) is zero: without this, about 40% of
    # starting levels took one tick more than STOP_RELEASE_S to command zero.
    if force <= 1e-6 * step:
        force = 0.0
    out[O_NCLAMPS] = 0.0
    out[O_FORCE] = force
    out[O_BASE] = 0.0
    out[O_KIND] = D_RELEASE
    out[O_STOP] = st[S_STOPPED]


_release = jit_core(_release_impl)


def _decide_impl(  # pragma: no cover - jitted
    st: FloatArray,
    pa: FloatArray,
    has_proposal: bool,
    force_n: float,
    base_n: float,
    now: float,
    out: FloatArray,
) -> None:
    """The command to write (SAF-1, 6): the clamped proposal, a hold, or the release; commits
    it as the last command. ``now`` is the loop time (kept as the start of a release)."""
    if st[S_RELEASING] != 0.0 or (not has_proposal and st[S_HAVE_READING] == 0.0):
        _release(st, now, out)
    elif not has_proposal:
        # No fresh reading this tick: repeat the last safe setpoint to keep the table's
        # watchdog fed; freshness (SAF-7) turns a longer gap into a fault.
        last = st[S_LAST_CMD]
        base = st[S_LAST_BASE]
        out[O_NCLAMPS] = 0.0
        out[O_FORCE] = last
        out[O_BASE] = min(base, last)
        out[O_KIND] = D_HOLD
        out[O_STOP] = 0.0
    else:
        policy_constrain(st, pa, force_n, base_n, out)
    st[S_LAST_CMD] = out[O_FORCE]
    st[S_LAST_BASE] = out[O_BASE]


policy_decide = jit_core(_decide_impl)


def policy_state_new() -> FloatArray:
    """The state of a new session: nothing latched, no reading, last command 0 N."""
    st = np.zeros(S_HIST + STALL_TICKS)
    st[S_STOP_T] = math.nan
    st[S_LAST_NOW] = math.nan
    st[S_RELEASE_RATE] = STOP_MIN_RATE_N_S
    return st


def policy_params(protocol: Protocol, clinician_max_force_n: float | None = None) -> FloatArray:
    """The limits of one session (SAF-3, 4, 5, 8), derived once from the protocol."""
    region = protocol.region
    bw_n = protocol.body_weight_kg * G
    body_weight_cap_n = BODY_WEIGHT_CAP[region] * bw_n
    # The hard limit the measured force must never exceed (SAF-4). The protocol peak is a
    # target, not a hard limit: the patient's own counter-tension may briefly raise the cable
    # force above it.
    hard_limit_n = min(
        c for c in (clinician_max_force_n, body_weight_cap_n, DEVICE_MAX_FORCE_N) if c is not None
    )
    pa = np.empty(PARAMS_SIZE)
    pa[P_HARD_LIMIT] = hard_limit_n
    # The tightest of all caps on the commanded force.
    pa[P_EFFECTIVE_LIMIT] = min(hard_limit_n, protocol.peak_force_n)
    pa[P_OVERFORCE] = OVERFORCE_MARGIN * hard_limit_n + OVERFORCE_SLACK_N
    pa[P_MAX_RISE] = MAX_RISE_N_S[region]
    pa[P_FORCE_JUMP] = FORCE_JUMP_CAP_FRACTION * body_weight_cap_n + FORCE_JUMP_SLACK_N
    pa[P_SPIKE] = max(SPIKE_MIN_N, SPIKE_BW_FRACTION * bw_n)
    no_limit = math.nan
    pa[P_CAP_CLINICIAN] = clinician_max_force_n if clinician_max_force_n is not None else no_limit
    pa[P_CAP_PROTOCOL] = protocol.peak_force_n
    pa[P_CAP_BODY_WEIGHT] = body_weight_cap_n
    pa[P_CAP_DEVICE] = DEVICE_MAX_FORCE_N
    pa[P_FORCE_MIN] = TRACTION_FORCE.absolute_min
    pa[P_FORCE_MAX] = TRACTION_FORCE.absolute_max
    pa[P_WINCH_MIN] = WINCH_POSITION.absolute_min
    pa[P_WINCH_MAX] = WINCH_POSITION.absolute_max
    return pa


def fault_detail(kind: int, a: float, b: float) -> str:
    """The detail text of a fault the core latched, from the numbers it kept (slots F_A, F_B)."""
    if kind == K_LOOP_OVERRUN:
        return f"tick gap {a:.0f} ms"
    if kind == K_STALE_READING:
        return f"reading {a:.0f} ms old"
    if kind == K_DEVICE_FAULT:
        return "table reports a fault"
    if kind == K_OUT_OF_RANGE:
        return f"encoder {a} mm" if b else f"load cell {a} N"
    if kind == K_OVERFORCE:
        return f"{a:.0f} N above the limit of {b:.0f} N"
    if kind == K_STUCK_LOAD_CELL:
        return f"load cell frozen at {a} N"
    if kind == K_FORCE_JUMP:
        return f"load-cell spike of {a:+.0f} N" if b else f"force changed {a:+.0f} N in one tick"
    if kind == K_ENCODER_JUMP:
        return f"encoder moved {a:+.1f} mm in one tick"
    if kind == K_HARNESS_SLIP:
        return f"force fell {a:.0f} N with the winch holding"
    if kind == K_ACTUATOR_STALL:
        return f"tracking error {a:.0f} N, winch still"
    return ""


def policy_warm_up() -> None:
    """Compile every core function (or load numba's disk cache) before a session's first tick.

    Runs on scratch arrays, through each path: a check with every fault, the chain with every
    clamp, a hold and a release.
    """
    # It decides nothing: mutants here could only show that (scripts/mutate.py).
    # pragma: no mutate start
    st = policy_state_new()
    pa = np.full(PARAMS_SIZE, 100.0)
    out = np.zeros(OUT_SIZE)
    policy_check(st, pa, 0.0, 0.0, 1.0, 50.0, 10.0, False, False)
    policy_decide(st, pa, False, 0.0, 0.0, 0.0, out)
    policy_decide(st, pa, True, math.nan, -1.0, 0.0, out)
    policy_constrain(st, pa, 500.0, 500.0, out)
    policy_check(st, pa, 1.0, 0.0, 2.0, math.nan, 10.0, True, True)
    policy_fault(st, K_TICK_EXCEPTION, 1.0, 0.0, 0.0)
    policy_request_stop(st, 1.0, STOP_CALLER)
    policy_decide(st, pa, True, 10.0, 0.0, 1.0, out)
    policy_acknowledge(st)
    # pragma: no mutate end


# What ``decide`` passes the core for "no proposal" (numbers it does not read).
_NO_PROPOSAL = Command(0.0, 0.0, 0.0)


class SafetyPolicy:
    """The checks and the clamp chain for one session; pure state, time passed in.

    A thin wrapper over the compiled core: the state lives in one float64 array (``_st``), the
    limits in another (``_pa``), and every decision is a call of a ``policy_*`` function. The
    wrapper turns what the core decided into the records callers read: ``FaultRecord`` with its
    detail text, ``Decision`` with its ``Clamp`` objects and their reasons.
    """

    # The reason given to the first ``request_stop`` (read only while that stop stands).
    _stop_reason = ""

    def __init__(self, protocol: Protocol, *, clinician_max_force_n: float | None = None) -> None:
        policy_warm_up()
        self.protocol = protocol
        self.region = protocol.region
        self.clinician_max_force_n = clinician_max_force_n
        pa = policy_params(protocol, clinician_max_force_n)
        self._pa = pa
        self.body_weight_cap_n = float(pa[P_CAP_BODY_WEIGHT])
        self.hard_limit_n = float(pa[P_HARD_LIMIT])
        self.effective_limit_n = float(pa[P_EFFECTIVE_LIMIT])
        self.overforce_n = float(pa[P_OVERFORCE])
        self.max_rise_n_s = float(pa[P_MAX_RISE])
        self.force_jump_n = float(pa[P_FORCE_JUMP])
        self.spike_n = float(pa[P_SPIKE])
        # The reason of each stage of the chain by stage code (the two invalid ones name the value).
        cap = BODY_WEIGHT_CAP[self.region]
        self._reasons = {
            C_CLINICIAN: "the clinician's limit for this patient",
            C_PROTOCOL: "the protocol's peak force",
            C_BODY_WEIGHT_CAP: f"{cap:.0%} of body weight ({self.region.value})",
            C_DEVICE_LIMIT: "the table's hard limit",
            C_RATE_RISE: f"rise limited to {self.max_rise_n_s:g} N/s",
            C_BASE_ABOVE_SETPOINT: "base tension above the setpoint",
        }
        self._st = policy_state_new()
        self._out = np.zeros(OUT_SIZE)
        self.faults: list[FaultRecord] = []
        self.clamp_counts: dict[str, int] = {}
        self.last_clamps: tuple[Clamp, ...] = ()
        self.last_command: Command | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def faulted(self) -> bool:
        return bool(self.faults)

    @property
    def stopped(self) -> bool:
        return bool(self._st[S_STOPPED] != 0.0)

    @property
    def stop_requested_s(self) -> float | None:
        """The time of the first stop request (None: not stopped)."""
        return float(self._st[S_STOP_T]) if self.stopped else None

    @property
    def stop_reason(self) -> str:
        source = self._st[S_STOP_SOURCE]
        if source == STOP_BUTTON:
            return "patient stop button"
        return self._stop_reason if source == STOP_CALLER else ""

    @property
    def releasing(self) -> bool:
        """True once the controller no longer has a say: stop or latched fault."""
        return bool(self._st[S_RELEASING] != 0.0)

    def fault(self, kind: FaultKind, now: float, detail: str = "") -> None:
        """Latch a fault (SAF-10); the first record of each kind is kept."""
        if policy_fault(self._st, KIND_CODE[kind], float(now), 0.0, 0.0):
            self.faults.append(FaultRecord(kind, now, detail))

    def request_stop(self, now: float, reason: str = "patient stop") -> None:
        """Stop button, Ctrl-C or the monitor's stop: all the same path (SAF-6)."""
        if policy_request_stop(self._st, float(now), STOP_CALLER):
            self._stop_reason = reason

    def acknowledge(self) -> bool:
        """Clear latched faults and the stop once their cause is gone (SAF-10).

        A stop button still held cannot be acknowledged. The guard re-activates the table.
        """
        if not policy_acknowledge(self._st):
            return False
        self.faults.clear()
        return True

    # -- the read side -----------------------------------------------------------------------
    def check(self, reading: Reading, now: float) -> bool:
        """Check a reading taken at loop time ``now``; True when it is new (fresh)."""
        st = self._st
        fresh = policy_check(
            st,
            self._pa,
            float(now),
            float(reading.t_s),
            float(reading.seq),
            float(reading.force_n),
            float(reading.winch_mm),
            bool(reading.stop_pressed),
            reading.state is DeviceState.FAULT,
        )
        if st[S_NFAULTS] != len(self.faults):
            self._record_new_faults()
        return bool(fresh)

    def _record_new_faults(self) -> None:
        """Append the faults the core latched since the last record, in the order they did."""
        st = self._st
        known = len(self.faults)
        new: list[tuple[float, int]] = []
        for code in range(N_KINDS):
            order = st[S_FAULTS + FAULT_SLOTS * code]  # F_ORDER
            if order > known:
                new.append((float(order), code))
        for _, code in sorted(new):
            row = S_FAULTS + FAULT_SLOTS * code
            a, b = float(st[row + F_A]), float(st[row + F_B])
            self.faults.append(
                FaultRecord(FAULT_KINDS[code], float(st[row + F_T]), fault_detail(code, a, b))
            )

    # -- the write side ----------------------------------------------------------------------
    def decide(self, proposal: Command | None, now: float) -> Decision:
        """The command to write: the clamped proposal, a hold, or the release (SAF-1, 6)."""
        out = self._out
        p = proposal if proposal is not None else _NO_PROPOSAL
        has = proposal is not None
        policy_decide(self._st, self._pa, has, float(p.force_n), float(p.base_n), float(now), out)
        decision = self._decision(out, proposal, now)
        self.last_command = decision.command
        self.last_clamps = decision.clamps
        for c in decision.clamps:
            self.clamp_counts[c.stage] = self.clamp_counts.get(c.stage, 0) + 1
        return decision

    def constrain(self, proposal: Command, now: float) -> Decision:
        """Run the chain over a proposal (SAF-2): it only ever lowers the force.

        Pure apart from reading the last command; ``decide`` is what commits it. The web app's
        preview calls this too, so what a user is shown is what the table would get.
        """
        out = np.zeros(OUT_SIZE)
        force, base = float(proposal.force_n), float(proposal.base_n)
        policy_constrain(self._st, self._pa, force, base, out)
        return self._decision(out, proposal, now)

    def _decision(self, out: FloatArray, proposal: Command | None, now: float) -> Decision:
        """The ``Decision`` object of what the core wrote into ``out``."""
        kind = out[O_KIND]
        force, base = float(out[O_FORCE]), float(out[O_BASE])
        if kind == D_RELEASE:
            flags = ("stop",) if out[O_STOP] != 0.0 else ("fault",)
            return Decision(Command(now, force, base, True, flags), None, ())
        if proposal is None:  # a hold: the last command again
            return Decision(Command(now, force, base), None, ())
        clamps: list[Clamp] = []
        for i in range(int(out[O_NCLAMPS])):
            row = O_ROWS + ROW_SIZE * i
            stage = int(out[row])  # R_STAGE
            if stage == C_INVALID:
                reason = f"not a usable force ({proposal.force_n!r})"
            elif stage == C_BASE_INVALID:
                reason = f"not a usable base ({proposal.base_n!r})"
            else:
                reason = self._reasons[stage]
            before, limit, after = (float(out[row + k]) for k in (R_BEFORE, R_LIMIT, R_AFTER))
            clamps.append(Clamp(STAGES[stage], reason, before, limit, after))
        command = Command(now, force, base, proposal.release, proposal.flags)
        return Decision(command, proposal.force_n, tuple(clamps))
