"""The safety supervisor: the only path from the controller to the table.

It owns the device handle. Every reading is checked for freshness and plausibility *before* the
controller sees it, every proposed command passes a clamp chain that can only tighten
(clinician -> protocol -> %-body-weight cap -> device hard limit -> rate limit), and a patient
stop or any latched fault replaces the controller's proposal with a controlled release to zero.
Hard limits are constants in code, not settings. Requirement IDs (SAF-n) refer to
docs/safety.md.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass

from spinecare.devices.base import Device, DeviceNotActiveError
from spinecare.quantities import DEVICE_MAX_FORCE_N, TRACTION_FORCE, WINCH_POSITION
from spinecare.therapy.protocol import Protocol
from spinecare.vocab import TICK_S, Command, DeviceState, G, Reading, Region

# SAF-3: body-weight caps. Lumbar: protocols stay at or below 1/2 body weight (Shealy, Eyerman;
# DESIGN.md 4); the supervisor allows 60% as the last line before the device limit. Cervical:
# 7-15% of body weight in protocols (Akinbo; DESIGN.md 4), the traditional maximum is 1/6
# (about 17%); the supervisor allows 20%.
BODY_WEIGHT_CAP = {Region.LUMBAR: 0.60, Region.CERVICAL: 0.20}
# SAF-5: the fastest rise of the force setpoint. Engineering limit: commercial decompression
# tables take 5-30 s to reach peak (DRX9000, Triton DTS programmes); 50 N/s lumbar and 15 N/s
# cervical are 3-4x the default ramps (therapy/protocol.py) and stay below the simulated
# stretch-reflex thresholds' upper range.
MAX_RISE_N_S = {Region.LUMBAR: 50.0, Region.CERVICAL: 15.0}
# Falls are safe but abrupt unloading jerks the patient: at most 600 N/s (a full device-limit
# release in 1.5 s).
MAX_FALL_N_S = 600.0
# SAF-6: patient stop: controlled release to zero within 2 s (issue 2); we aim for 1.5 s to leave
# the drive's lag a margin, and never slower than 100 N/s.
STOP_RELEASE_S = 1.5
STOP_MIN_RATE_N_S = 100.0
# SAF-7: a reading older than 2 ticks is a fault (issue 2).
MAX_READING_AGE_S = 2 * TICK_S + 1e-6
# SAF-12: the loop itself must not pause longer than 2 ticks (plus 5 ms scheduling slack).
MAX_TICK_GAP_S = 2 * TICK_S + 0.005
# SAF-8 plausibility. A loaded load cell always shows noise: the same value for 15 ticks
# (300 ms) above 20 N means it is stuck.
STUCK_TICKS = 15
STUCK_MIN_FORCE_N = 20.0
# The winch cannot move faster than the drive's top speed (100 mm/s on the simulated table,
# devices/simulated.py): beyond 1.25 times that within a tick (plus 0.5 mm encoder slack) is an
# encoder fault.
MAX_WINCH_STEP_MM = 1.25 * 100.0 * TICK_S + 0.5
# A single-sample excursion that returns on the next sample: a load-cell glitch. A contraction
# cannot rise and fall again within 20 ms (relaxation takes 150-400 ms, Miller 2010;
# sim/population.py), so an excursion above 10% of body weight (at least 40 N) that comes back
# by 70% or more within one tick is a sensor fault.
SPIKE_MIN_N = 40.0
SPIKE_BW_FRACTION = 0.10
SPIKE_RETURN = 0.7
# Harness slip: the force falls by more than a quarter (and 30 N) within one tick while the winch
# is not paying out.
SLIP_DROP_FRACTION = 0.25
SLIP_DROP_MIN_N = 30.0
# Actuator stall: a tracking error above 15% (and 20 N) for 0.5 s with the winch standing still.
STALL_TICKS = 25
STALL_ERROR_FRACTION = 0.15
STALL_ERROR_MIN_N = 20.0
STALL_STILL_MM = 0.1
# SAF-4: measured force above the hard limit by 5% (+5 N load-cell margin) on 2 ticks.
OVERFORCE_MARGIN = 1.05
OVERFORCE_SLACK_N = 5.0
OVERFORCE_TICKS = 2


class FaultKind(enum.StrEnum):
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


@dataclass(frozen=True, slots=True)
class FaultRecord:
    kind: FaultKind
    t_s: float
    detail: str

    def as_dict(self) -> dict[str, str | float]:
        return {"kind": self.kind.value, "t_s": round(self.t_s, 3), "detail": self.detail}


class SafetySupervisor:
    """Wraps a ``Device``; the runner and the controller never hold the device itself."""

    def __init__(
        self,
        device: Device,
        protocol: Protocol,
        *,
        clinician_max_force_n: float | None = None,
    ) -> None:
        self._device = device
        self.protocol = protocol
        self.region = protocol.region
        bw_n = protocol.body_weight_kg * G
        self.body_weight_cap_n = BODY_WEIGHT_CAP[self.region] * bw_n
        self.clinician_max_force_n = clinician_max_force_n
        # The hard limit the measured force must never exceed (SAF-4): the protocol peak is a
        # target, not a hard limit, because the patient's own counter-tension may briefly raise
        # the cable force above it.
        self.hard_limit_n = min(
            c
            for c in (clinician_max_force_n, self.body_weight_cap_n, DEVICE_MAX_FORCE_N)
            if c is not None
        )
        # The tightest of all caps on the *commanded* force.
        self.effective_limit_n = min(self.hard_limit_n, protocol.peak_force_n)
        self.max_rise_n_s = MAX_RISE_N_S[self.region]
        # A guarding contraction reaches at most ~0.4 body weight (sim/patient_model.py); a jump
        # larger than half the body-weight cap in 20 ms is not physiological.
        self.force_jump_n = 0.5 * self.body_weight_cap_n + 20.0
        self.spike_n = max(SPIKE_MIN_N, SPIKE_BW_FRACTION * bw_n)
        self._pending_spike = 0.0
        self.faults: list[FaultRecord] = []
        self._releasing = False
        self.stop_requested_s: float | None = None
        self.stop_reason = ""
        self.clamp_counts: dict[str, int] = {}
        self.last_clamps: tuple[str, ...] = ()
        self._last_cmd = 0.0
        self._release_from_n: float | None = None
        self._release_rate = STOP_MIN_RATE_N_S
        self._last_reading: Reading | None = None
        self._last_now: float | None = None
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

    @property
    def device_state(self) -> DeviceState:
        return self._device.state

    def fault(self, kind: FaultKind, now: float, detail: str = "") -> None:
        """Latch a fault (SAF-10). Also used by the runner for controller exceptions."""
        if not any(f.kind is kind for f in self.faults):
            self.faults.append(FaultRecord(kind, now, detail))
        self._releasing = True

    def request_stop(self, now: float, reason: str = "patient stop") -> None:
        """Software stop (Ctrl-C, the web monitor's stop); same path as the stop button."""
        if self.stop_requested_s is None:
            self.stop_requested_s = now
            self.stop_reason = reason
        self._releasing = True

    def acknowledge(self, now: float) -> bool:
        """Clear latched faults and the stop once their cause is gone (SAF-10)."""
        reading = self._last_reading
        if reading is not None and reading.stop_pressed:
            return False
        self.faults.clear()
        self.stop_requested_s = None
        self._releasing = False
        self._release_from_n = None
        self._stuck = self._stall = self._over = 0
        if self._device.state is not DeviceState.ACTIVE:
            self._device.activate()
        return True

    # -- the read side -----------------------------------------------------------------------
    def read(self, now: float) -> tuple[Reading, bool]:
        """Read the table and check the reading. Returns (reading, fresh)."""
        if self._last_now is not None and now - self._last_now > MAX_TICK_GAP_S:
            self.fault(
                FaultKind.LOOP_OVERRUN, now, f"tick gap {1000 * (now - self._last_now):.0f} ms"
            )
        self._last_now = now
        reading = self._device.read()
        prev = self._last_reading
        fresh = prev is None or reading.seq != prev.seq
        if now - reading.t_s > MAX_READING_AGE_S:
            self.fault(
                FaultKind.STALE_READING, now, f"reading {1000 * (now - reading.t_s):.0f} ms old"
            )
        if reading.stop_pressed:
            self.request_stop(now, "patient stop button")
        if reading.state is DeviceState.FAULT:
            self.fault(FaultKind.DEVICE_FAULT, now, "table reports a fault")
        if fresh:
            self._check_plausible(reading, prev, now)
            self._last_reading = reading
        return reading, fresh

    def _check_plausible(self, r: Reading, prev: Reading | None, now: float) -> None:
        if not (math.isfinite(r.force_n) and TRACTION_FORCE.plausible(r.force_n)):
            self.fault(FaultKind.OUT_OF_RANGE, now, f"load cell {r.force_n} N")
            return
        if not (math.isfinite(r.winch_mm) and WINCH_POSITION.plausible(r.winch_mm)):
            self.fault(FaultKind.OUT_OF_RANGE, now, f"encoder {r.winch_mm} mm")
            return
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
        if -df > max(SLIP_DROP_MIN_N, SLIP_DROP_FRACTION * prev.force_n) and dx >= -0.05:
            self.fault(
                FaultKind.HARNESS_SLIP, now, f"force fell {-df:.0f} N with the winch holding"
            )
        self._x_hist.append(r.winch_mm)
        error = abs(self._last_cmd - r.force_n)
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
        if r.force_n > OVERFORCE_MARGIN * self.hard_limit_n + OVERFORCE_SLACK_N:
            self._over += 1
            if self._over >= OVERFORCE_TICKS:
                self.fault(
                    FaultKind.OVERFORCE,
                    now,
                    f"{r.force_n:.0f} N above the limit of {self.hard_limit_n:.0f} N",
                )
        else:
            self._over = 0

    # -- the write side ----------------------------------------------------------------------
    def submit(self, proposal: Command | None, now: float) -> Command:
        """Clamp a proposal (or replace it with a release) and write it to the table."""
        if self.releasing or (proposal is None and self._last_reading is None):
            command = self._release_command(now)
        elif proposal is None:
            # No fresh reading this tick: repeat the last safe setpoint to keep the table's
            # watchdog fed; freshness (SAF-7) turns a longer gap into a fault.
            command = Command(
                t_s=now,
                force_n=self._last_cmd,
                base_n=min(self._last_cmd, self.protocol.base_force_n),
            )
            self.last_clamps = ()
        else:
            command = self._clamp(proposal, now)
        self._last_cmd = command.force_n
        try:
            self._device.write(command)
        except DeviceNotActiveError as exc:
            self.fault(FaultKind.DEVICE_REFUSED, now, str(exc) or "table not active")
        return command

    def _clamp(self, proposal: Command, now: float) -> Command:
        force = proposal.force_n
        reasons: list[str] = []
        chain = (
            ("clinician", self.clinician_max_force_n),
            ("protocol", self.protocol.peak_force_n),
            ("body_weight_cap", self.body_weight_cap_n),
            ("device_limit", DEVICE_MAX_FORCE_N),
        )
        for stage, cap in chain:
            if cap is not None and force > cap:
                force = cap
                reasons.append(stage)
        if not math.isfinite(force) or force < 0.0:
            force = 0.0
            reasons.append("invalid")
        rise = self.max_rise_n_s * TICK_S
        fall = MAX_FALL_N_S * TICK_S
        if force > self._last_cmd + rise:
            force = self._last_cmd + rise
            reasons.append("rate_rise")
        elif force < self._last_cmd - fall:
            force = self._last_cmd - fall
            reasons.append("rate_fall")
        for reason in reasons:
            self.clamp_counts[reason] = self.clamp_counts.get(reason, 0) + 1
        self.last_clamps = tuple(reasons)
        base = min(max(0.0, proposal.base_n), force)
        return Command(
            t_s=now, force_n=force, base_n=base, release=proposal.release, flags=proposal.flags
        )

    def _release_command(self, now: float) -> Command:
        if self._release_from_n is None:
            start = self._last_cmd
            if self._last_reading is not None:
                start = max(start, self._last_reading.force_n)
            self._release_from_n = start
            self._release_rate = max(STOP_MIN_RATE_N_S, start / STOP_RELEASE_S)
            self._last_cmd = min(self._last_cmd, start)
        force = max(0.0, self._last_cmd - self._release_rate * TICK_S)
        flags = ("stop",) if self.stopped else ("fault",)
        self.last_clamps = ("release",)
        return Command(t_s=now, force_n=force, base_n=0.0, release=True, flags=flags)
