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
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass

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


class SafetyPolicy:
    """The checks and the clamp chain for one session; pure state, time passed in."""

    def __init__(self, protocol: Protocol, *, clinician_max_force_n: float | None = None) -> None:
        self.protocol = protocol
        self.region = protocol.region
        bw_n = protocol.body_weight_kg * G
        self.body_weight_cap_n = BODY_WEIGHT_CAP[self.region] * bw_n
        self.clinician_max_force_n = clinician_max_force_n
        # The hard limit the measured force must never exceed (SAF-4). The protocol peak is a
        # target, not a hard limit: the patient's own counter-tension may briefly raise the
        # cable force above it.
        self.hard_limit_n = min(
            c
            for c in (clinician_max_force_n, self.body_weight_cap_n, DEVICE_MAX_FORCE_N)
            if c is not None
        )
        # The tightest of all caps on the commanded force.
        self.effective_limit_n = min(self.hard_limit_n, protocol.peak_force_n)
        self.overforce_n = OVERFORCE_MARGIN * self.hard_limit_n + OVERFORCE_SLACK_N
        self.max_rise_n_s = MAX_RISE_N_S[self.region]
        self.force_jump_n = FORCE_JUMP_CAP_FRACTION * self.body_weight_cap_n + FORCE_JUMP_SLACK_N
        self.spike_n = max(SPIKE_MIN_N, SPIKE_BW_FRACTION * bw_n)
        self._chain: tuple[tuple[str, float | None, str], ...] = (
            ("clinician", clinician_max_force_n, "the clinician's limit for this patient"),
            ("protocol", protocol.peak_force_n, "the protocol's peak force"),
            (
                "body_weight_cap",
                self.body_weight_cap_n,
                f"{BODY_WEIGHT_CAP[self.region]:.0%} of body weight ({self.region.value})",
            ),
            ("device_limit", DEVICE_MAX_FORCE_N, "the table's hard limit"),
        )
        self.faults: list[FaultRecord] = []
        self._releasing = False
        self.stop_requested_s: float | None = None
        self.stop_reason = ""
        self.clamp_counts: dict[str, int] = {}
        self.last_clamps: tuple[Clamp, ...] = ()
        self.last_command: Command | None = None
        self._last_cmd = 0.0
        self._last_base = 0.0
        self._release_rate = STOP_MIN_RATE_N_S
        self._release_started = False
        self._last_reading: Reading | None = None
        self._last_now: float | None = None
        self._pending_spike = 0.0
        self._stuck = 0
        self._stall = 0
        self._over = 0
        self._x_hist: deque[float] = deque(maxlen=STALL_TICKS)

    # -- state -------------------------------------------------------------------------------
    @property
    def faulted(self) -> bool:
        return bool(self.faults)

    @property
    def stopped(self) -> bool:
        return self.stop_requested_s is not None

    @property
    def releasing(self) -> bool:
        """True once the controller no longer has a say: stop or latched fault."""
        return self._releasing

    def fault(self, kind: FaultKind, now: float, detail: str = "") -> None:
        """Latch a fault (SAF-10); the first record of each kind is kept."""
        if not any(f.kind is kind for f in self.faults):
            self.faults.append(FaultRecord(kind, now, detail))
        self._releasing = True

    def request_stop(self, now: float, reason: str = "patient stop") -> None:
        """Stop button, Ctrl-C or the monitor's stop: all the same path (SAF-6)."""
        if self.stop_requested_s is None:
            self.stop_requested_s = now
            self.stop_reason = reason
        self._releasing = True

    def acknowledge(self) -> bool:
        """Clear latched faults and the stop once their cause is gone (SAF-10).

        A stop button still held cannot be acknowledged. The guard re-activates the table.
        """
        reading = self._last_reading
        if reading is not None and reading.stop_pressed:
            return False
        self.faults.clear()
        self.stop_requested_s = None
        self.stop_reason = ""
        self._releasing = False
        self._release_started = False
        self._stuck = self._stall = self._over = 0
        self._pending_spike = 0.0
        return True

    # -- the read side -----------------------------------------------------------------------
    def check(self, reading: Reading, now: float) -> bool:
        """Check a reading taken at loop time ``now``; True when it is new (fresh)."""
        if self._last_now is not None and now - self._last_now > MAX_TICK_GAP_S:
            gap_ms = 1000 * (now - self._last_now)
            self.fault(FaultKind.LOOP_OVERRUN, now, f"tick gap {gap_ms:.0f} ms")
        self._last_now = now
        prev = self._last_reading
        fresh = prev is None or reading.seq != prev.seq
        age = now - reading.t_s
        if age > MAX_READING_AGE_S:
            self.fault(FaultKind.STALE_READING, now, f"reading {1000 * age:.0f} ms old")
        if reading.stop_pressed:
            self.request_stop(now, "patient stop button")
        if reading.state is DeviceState.FAULT:
            self.fault(FaultKind.DEVICE_FAULT, now, "table reports a fault")
        if fresh:
            self._check_plausible(reading, prev, now)
            self._last_reading = reading
        return fresh

    def _check_plausible(self, r: Reading, prev: Reading | None, now: float) -> None:
        if not (math.isfinite(r.force_n) and TRACTION_FORCE.plausible(r.force_n)):
            self.fault(FaultKind.OUT_OF_RANGE, now, f"load cell {r.force_n} N")
            return
        if not (math.isfinite(r.winch_mm) and WINCH_POSITION.plausible(r.winch_mm)):
            self.fault(FaultKind.OUT_OF_RANGE, now, f"encoder {r.winch_mm} mm")
            return
        if r.force_n > self.overforce_n:
            self._over += 1
            if self._over >= OVERFORCE_TICKS:
                self.fault(
                    FaultKind.OVERFORCE,
                    now,
                    f"{r.force_n:.0f} N above the limit of {self.hard_limit_n:.0f} N",
                )
        else:
            self._over = 0
        if prev is None:
            self._x_hist.append(r.winch_mm)
            return
        df = r.force_n - prev.force_n
        dx = r.winch_mm - prev.winch_mm
        if r.force_n == prev.force_n and r.force_n > STUCK_MIN_FORCE_N:
            self._stuck += 1
            if self._stuck >= STUCK_TICKS:
                self.fault(FaultKind.STUCK_LOAD_CELL, now, f"load cell frozen at {r.force_n} N")
        else:
            self._stuck = 0
        if abs(df) > self.force_jump_n:
            self.fault(FaultKind.FORCE_JUMP, now, f"force changed {df:+.0f} N in one tick")
        spike = self._pending_spike
        if spike and df * spike < 0 and abs(df) >= SPIKE_RETURN * abs(spike):
            self.fault(FaultKind.FORCE_JUMP, now, f"load-cell spike of {spike:+.0f} N")
        self._pending_spike = df if abs(df) > self.spike_n else 0.0
        if abs(dx) > MAX_WINCH_STEP_MM:
            self.fault(FaultKind.ENCODER_JUMP, now, f"encoder moved {dx:+.1f} mm in one tick")
        if -df > max(SLIP_DROP_MIN_N, SLIP_DROP_FRACTION * prev.force_n) and dx >= -SLIP_PAYOUT_MM:
            self.fault(
                FaultKind.HARNESS_SLIP, now, f"force fell {-df:.0f} N with the winch holding"
            )
        self._x_hist.append(r.winch_mm)
        # While releasing, the table pays out at full speed and a force below the falling
        # command is the point; only a force that stays above it (a winch that cannot pay
        # out) is a stall then.
        error = r.force_n - self._last_cmd if self._releasing else abs(self._last_cmd - r.force_n)
        if error > max(STALL_ERROR_MIN_N, STALL_ERROR_FRACTION * self._last_cmd) and (
            max(self._x_hist) - min(self._x_hist) < STALL_STILL_MM
        ):
            self._stall += 1
            if self._stall >= STALL_TICKS:
                self.fault(
                    FaultKind.ACTUATOR_STALL, now, f"tracking error {error:.0f} N, winch still"
                )
        else:
            self._stall = 0

    # -- the write side ----------------------------------------------------------------------
    def decide(self, proposal: Command | None, now: float) -> Decision:
        """The command to write: the clamped proposal, a hold, or the release (SAF-1, 6)."""
        if self._releasing or (proposal is None and self._last_reading is None):
            decision = self._release(now)
        elif proposal is None:
            # No fresh reading this tick: repeat the last safe setpoint to keep the table's
            # watchdog fed; freshness (SAF-7) turns a longer gap into a fault.
            decision = Decision(
                Command(now, self._last_cmd, min(self._last_base, self._last_cmd)), None, ()
            )
        else:
            decision = self.constrain(proposal, now)
        cmd = decision.command
        self._last_cmd = cmd.force_n
        self._last_base = cmd.base_n
        self.last_command = cmd
        self.last_clamps = decision.clamps
        for c in decision.clamps:
            self.clamp_counts[c.stage] = self.clamp_counts.get(c.stage, 0) + 1
        return decision

    def constrain(self, proposal: Command, now: float) -> Decision:
        """Run the chain over a proposal (SAF-2): it only ever lowers the force.

        Pure apart from reading the last command; ``decide`` is what commits it. The web app's
        preview calls this too, so what a user is shown is what the table would get.
        """
        c = Constraint(proposal.force_n)
        if not math.isfinite(c.value_n) or c.value_n < 0.0:
            c.refuse("invalid", f"not a usable force ({proposal.force_n!r})")
        for stage, cap, reason in self._chain:
            if cap is not None:
                c.tighten_to(cap, stage, reason)
        c.tighten_to(
            self._last_cmd + self.max_rise_n_s * TICK_S,
            "rate_rise",
            f"rise limited to {self.max_rise_n_s:g} N/s",
        )
        force = c.value_n
        base = Constraint(proposal.base_n)
        if not math.isfinite(base.value_n) or base.value_n < 0.0:
            base.refuse("base_invalid", f"not a usable base ({proposal.base_n!r})")
        base.tighten_to(force, "base_above_setpoint", "base tension above the setpoint")
        return Decision(
            Command(now, force, base.value_n, proposal.release, proposal.flags),
            proposal.force_n,
            (*c.clamps, *base.clamps),
        )

    def _release(self, now: float) -> Decision:
        """A controlled ramp to zero from the last command, within STOP_RELEASE_S (SAF-6)."""
        if not self._release_started:
            self._release_started = True
            self._release_rate = max(STOP_MIN_RATE_N_S, self._last_cmd / STOP_RELEASE_S)
        step = self._release_rate * TICK_S
        force = self._last_cmd - step
        # A remainder of float rounding (a millionth of a step) is zero: without this, about
        # 40% of starting levels took one tick more than STOP_RELEASE_S to command zero.
        if force <= 1e-6 * step:
            force = 0.0
        flags = ("stop",) if self.stopped else ("fault",)
        return Decision(Command(now, force, 0.0, True, flags), None, ())
