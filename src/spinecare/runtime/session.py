"""One decompression session: device, safety supervisor, controller and recorder wired together.

Every 20 ms: read and check (supervisor), update (controller, only on a fresh, checked
reading), clamp and write (supervisor), record. The same code runs in real time on a monotonic
clock and in fast simulation on a simulated clock. The controller never holds the device: it
sees readings and returns proposals.
"""

from __future__ import annotations

import math
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spinecare.devices.base import Device
from spinecare.runtime.clock import Clock, SimulatedClock
from spinecare.runtime.loop import LoopRunner, RealtimeOptions, TimingStats
from spinecare.runtime.recorder import Recorder
from spinecare.therapy.controller import DecompressionController, EmgDetectorLike
from spinecare.therapy.profile import BASE_HELD, Phase
from spinecare.therapy.protocol import BASE_FRACTION, Protocol
from spinecare.therapy.safety import (
    OVERFORCE_MARGIN,
    OVERFORCE_SLACK_N,
    FaultKind,
    SafetySupervisor,
)
from spinecare.therapy.segments import recommend_angle, segment_transfer
from spinecare.vocab import TICK_S, Command, Reading

TELEMETRY_COLUMNS = (
    "phase",
    "target_n",
    "commanded_n",
    "measured_n",
    "winch_mm",
    "muscle_tension_n",
    "emg_envelope_uv",
    "segment_force_n",
    "flags",
)
# A session has ended when the measured force stays below this after the final release, a stop
# or a fault (load-cell noise is 0.3-2 N).
RELEASED_N = 5.0
# Measured force below this fraction of base tension counts as "base tension lost" (issue 2
# metric); 80% leaves room for the drive's tracking error during the fast guarding release.
BASE_LOST_FRACTION = 0.8
# Give up waiting for a released table after this long (the table's own watchdog releases).
RELEASE_TIMEOUT_S = 5.0


def within_clinician_limit(protocol: Protocol, clinician_max_force_n: float | None) -> Protocol:
    """The protocol the controller plans with: a clinician's limit below the peak becomes the
    peak (the supervisor enforces it anyway; planning within it avoids fighting the clamp)."""
    if clinician_max_force_n is None or clinician_max_force_n >= protocol.peak_force_n:
        return protocol
    peak = clinician_max_force_n
    base = protocol.base_force_n if protocol.base_force_n < peak else peak * BASE_FRACTION
    return protocol.model_copy(update={"peak_force_n": peak, "base_force_n": base})


@dataclass(slots=True)
class TickView:
    """What the live monitor shows each tick (published one way to the display)."""

    t_s: float
    phase: str
    target_n: float
    commanded_n: float
    measured_n: float
    muscle_tension_n: float
    emg_envelope_uv: float
    segment_force_n: float
    time_left_s: float
    guarding_events: int
    peak_n: float
    flags: tuple[str, ...]


@dataclass(slots=True)
class SessionResult:
    summary: dict[str, Any]
    controller: DecompressionController
    supervisor: SafetySupervisor
    timing: TimingStats


@dataclass(slots=True)
class _Metrics:
    peak_force_n: float = 0.0
    limit_violations: int = 0
    hold_ticks: int = 0
    hold_within: int = 0
    base_lost_ticks: int = 0
    ticks: int = 0
    segment_force_hold_sum: float = 0.0
    force_time_ns: float = 0.0  # impulse above zero, N*s: the session's force dose


class SessionRunner:
    """Runs one session to its end: final release, patient stop or fault."""

    def __init__(
        self,
        protocol: Protocol,
        device: Device,
        *,
        clock: Clock | None = None,
        recorder: Recorder | None = None,
        emg_detector: EmgDetectorLike | None = None,
        clinician_max_force_n: float | None = None,
        on_tick: Callable[[TickView], None] | None = None,
        tick_view_every: int = 1,
        realtime: RealtimeOptions | None = None,
        controller: DecompressionController | None = None,
    ) -> None:
        if protocol.pull_angle_deg is None:
            angle = recommend_angle(
                protocol.segment, protocol.region, protocol.body_weight_kg, protocol.table
            )
            protocol = protocol.model_copy(update={"pull_angle_deg": round(angle, 1)})
        self.protocol = protocol
        assert protocol.pull_angle_deg is not None
        self.transfer = segment_transfer(
            protocol.region,
            protocol.body_weight_kg,
            protocol.pull_angle_deg,
            protocol.table,
            protocol.segment,
        )
        self.clock: Clock = clock or SimulatedClock()
        self.device = device
        self.supervisor = SafetySupervisor(
            device, protocol, clinician_max_force_n=clinician_max_force_n
        )
        self.controller = controller or DecompressionController(
            within_clinician_limit(protocol, clinician_max_force_n), emg_detector=emg_detector
        )
        self.recorder = recorder
        self.on_tick = on_tick
        self.tick_view_every = max(1, tick_view_every)
        self.realtime = realtime
        self._stop_request = threading.Event()
        self._stop_reason = "patient stop"
        self._m = _Metrics()
        self._t0: float | None = None
        self._last_now = 0.0
        self._released_since: float | None = None
        self._release_started: float | None = None
        self._events_logged = 0
        self._faults_logged = 0
        self._stop_logged = False
        self._end_reason = ""
        # The same threshold that trips the overforce fault (SAF-4).
        self._violation_n = OVERFORCE_MARGIN * self.supervisor.hard_limit_n + OVERFORCE_SLACK_N

    def request_stop(self, reason: str = "patient stop") -> None:
        """Thread-safe: Ctrl-C or the monitor's stop button. Acts on the next tick."""
        self._stop_reason = reason
        self._stop_request.set()

    def start(self) -> None:
        """Bring the table up; ``run`` does this itself."""
        self.device.configure()
        self.device.activate()

    def tick(self, k: int, scheduled: float) -> bool:
        """One 20 ms step at clock time ``scheduled``; False when the session has ended.

        ``run`` drives this from its own loop; exposed for benchmarks that own the loop.
        """
        return self._step(k, scheduled)

    def run(self, max_seconds: float | None = None) -> SessionResult:
        self.start()
        runner = LoopRunner(TICK_S, self.clock, self._step, realtime=self.realtime)
        if self.recorder is not None:
            self.recorder.event(
                "session_start",
                0.0,
                protocol=self.protocol.model_dump(mode="json"),
                simulated=self.device.simulated,
            )
        # The session's natural end plus margin; a hard upper bound for the loop.
        limit_s = max_seconds or self.protocol.traction_minutes * 60.0 + 120.0
        error: BaseException | None = None
        max_ticks = math.ceil(limit_s / TICK_S)
        try:
            if type(self.clock) is SimulatedClock and self.realtime is None:
                timing = self._run_simulated(max_ticks)
            else:
                timing = runner.run(max_ticks=max_ticks)
        except BaseException as exc:  # recorded below, then re-raised: telemetry is kept
            error = exc
            timing = runner.stats()
            self._end_reason = f"runner error: {exc!r}"
        summary = self._summary(timing)
        if self.recorder is not None:
            if error is not None:
                summary["aborted"] = True
            self.recorder.event("session_end", self._last_now, reason=summary["end_reason"])
            self.recorder.close(summary)
        if error is not None:
            raise error
        return SessionResult(summary, self.controller, self.supervisor, timing)

    def _run_simulated(self, max_ticks: int) -> TimingStats:
        """Batch mode: on a simulated clock every deadline is met by construction (period
        error 0), so the ticks run back to back without the loop runner's timing bookkeeping.
        The tick itself is the same code as in real time."""
        step = self._step
        clock = self.clock
        t0 = clock.now()
        k = 0
        while k < max_ticks:
            scheduled = t0 + k * TICK_S
            clock.sleep_until(scheduled)
            k += 1
            if not step(k - 1, scheduled):
                break
        return TimingStats(
            ticks=k,
            period_error_ms_p50=0.0,
            period_error_ms_p99=0.0,
            period_error_ms_max=0.0,
            overruns=0,
            work_ms_p99=0.0,
            work_ms_max=0.0,
            period_s=TICK_S,
        )

    # -- the tick ----------------------------------------------------------------------------
    def _step(self, k: int, scheduled: float) -> bool:
        if self._t0 is None:
            self._t0 = scheduled
        now = scheduled - self._t0
        dt = now - self._last_now
        self._last_now = now
        if self.device.simulated and dt > 0.0:
            self.device.advance(dt)
        sup = self.supervisor
        if self._stop_request.is_set() and not sup.stopped:
            sup.request_stop(now, self._stop_reason)
        reading, fresh = sup.read(now)
        proposal: Command | None = None
        if fresh and not sup.releasing:
            try:
                proposal = self.controller.update(reading, now)
            except Exception as exc:  # SAF-11: a controller error becomes a safe release
                sup.fault(FaultKind.CONTROLLER_EXCEPTION, now, repr(exc))
                if self.recorder is not None:
                    self.recorder.event(
                        "controller_exception", now, error=repr(exc), trace=traceback.format_exc()
                    )
        command = sup.submit(proposal, now)
        self._observe(k, now, reading, proposal, command)
        return not self._finished(now, reading)

    def _observe(
        self, k: int, now: float, r: Reading, proposal: Command | None, cmd: Command
    ) -> None:
        c, m, sup = self.controller, self._m, self.supervisor
        phase = c.phase
        # The segment estimate is only needed for the hold statistics, the record and the view.
        want_view = self.on_tick is not None and k % self.tick_view_every == 0
        seg_n = (
            self.transfer.axial_n(max(0.0, r.force_n))
            if phase is Phase.HOLD or self.recorder is not None or want_view
            else 0.0
        )
        m.ticks += 1
        m.peak_force_n = max(m.peak_force_n, r.force_n)
        m.force_time_ns += max(0.0, r.force_n) * TICK_S
        if r.force_n > self._violation_n or cmd.force_n > sup.effective_limit_n:
            m.limit_violations += 1
        if not sup.releasing:
            if phase is Phase.HOLD:
                m.hold_ticks += 1
                m.segment_force_hold_sum += seg_n
                if abs(r.force_n - cmd.force_n) <= 0.1 * cmd.force_n:
                    m.hold_within += 1
            if phase in BASE_HELD and r.force_n < BASE_LOST_FRACTION * c.base_n:
                m.base_lost_ticks += 1
        clamps = sup.last_clamps
        flags = cmd.flags
        if clamps and clamps != ("release",):
            flags = flags + tuple(f"clamp:{x}" for x in clamps if x != "release")
        rec = self.recorder
        if rec is not None:
            rec.append(
                now,
                (
                    phase.value,
                    round(c.target_n, 2),
                    round(cmd.force_n, 2),
                    r.force_n,
                    r.winch_mm,
                    round(c.muscle_tension_n, 2),
                    round(c.emg_envelope_uv, 2),
                    round(seg_n, 2),
                    "|".join(flags),
                ),
            )
            self._log_events(rec, now)
        if want_view and self.on_tick is not None:
            self.on_tick(
                TickView(
                    t_s=now,
                    phase="stopped" if sup.stopped else "fault" if sup.faulted else phase.value,
                    target_n=c.target_n,
                    commanded_n=cmd.force_n,
                    measured_n=r.force_n,
                    muscle_tension_n=c.muscle_tension_n,
                    emg_envelope_uv=c.emg_envelope_uv,
                    segment_force_n=seg_n,
                    time_left_s=c.time_left_s(now),
                    guarding_events=len(c.events),
                    peak_n=c.peak_n,
                    flags=flags,
                )
            )

    def _log_events(self, rec: Recorder, now: float) -> None:
        events = self.controller.events
        while self._events_logged < len(events):
            ev = events[self._events_logged]
            rec.event(
                "guarding", ev.onset_s, **{k: v for k, v in ev.as_dict().items() if k != "onset_s"}
            )
            self._events_logged += 1
        faults = self.supervisor.faults
        while self._faults_logged < len(faults):
            f = faults[self._faults_logged]
            rec.event("fault", f.t_s, fault=f.kind.value, detail=f.detail)
            self._faults_logged += 1
        if self.supervisor.stopped and not self._stop_logged:
            rec.event("stop", now, reason=self.supervisor.stop_reason)
            self._stop_logged = True

    def _finished(self, now: float, r: Reading) -> bool:
        sup, c = self.supervisor, self.controller
        if not (sup.releasing or c.done):
            return False
        if self._release_started is None:
            self._release_started = now
        if r.force_n < RELEASED_N:
            if self._released_since is None:
                self._released_since = now
            if now - self._released_since >= 0.2:
                self._end_reason = self._reason()
                return True
        else:
            self._released_since = None
        if now - self._release_started >= RELEASE_TIMEOUT_S:
            self._end_reason = self._reason() + " (table did not report a full release)"
            return True
        return False

    def _reason(self) -> str:
        sup = self.supervisor
        if sup.stopped:
            return f"stopped: {sup.stop_reason}"
        if sup.faulted:
            return "fault: " + ", ".join(f.kind.value for f in sup.faults)
        return "completed"

    # -- summary -----------------------------------------------------------------------------
    def _summary(self, timing: TimingStats) -> dict[str, Any]:
        c, m, sup, p = self.controller, self._m, self.supervisor, self.protocol
        completed = c.done and not sup.releasing
        hold_s = m.hold_ticks * TICK_S
        events = [e.as_dict() for e in c.events]
        relax = [e["time_to_relax_s"] for e in events if e["time_to_relax_s"] is not None]
        return {
            "completed": completed,
            "aborted": not completed,
            "end_reason": self._end_reason or self._reason(),
            "simulated": self.device.simulated,
            "duration_s": round(self._last_now, 3),
            "traction_minutes": p.traction_minutes,
            "protocol": p.model_dump(mode="json"),
            "peak_force_n": round(m.peak_force_n, 1),
            "peak_target_n": round(max([c.peak_n, p.peak_force_n]), 1),
            "final_peak_target_n": round(c.peak_n, 1),
            "effective_limit_n": round(sup.effective_limit_n, 1),
            "hard_limit_n": round(sup.hard_limit_n, 1),
            "clinician_max_force_n": sup.clinician_max_force_n,
            "body_weight_cap_n": round(sup.body_weight_cap_n, 1),
            "limit_violations": m.limit_violations,
            "clamps": dict(sup.clamp_counts),
            "guarding_detected": len(c.events),
            "guarding_events": events,
            "median_time_to_relax_s": (sorted(relax)[len(relax) // 2] if relax else None),
            "hold_time_s": round(hold_s, 2),
            "hold_within_10pct": round(m.hold_within / m.hold_ticks, 4) if m.hold_ticks else None,
            "base_tension_lost_s": round(m.base_lost_ticks * TICK_S, 2),
            "force_time_integral_ns": round(m.force_time_ns, 1),
            "target_segment": p.segment,
            "pull_angle_deg": p.pull_angle_deg,
            "segment_force_hold_mean_n": (
                round(m.segment_force_hold_sum / m.hold_ticks, 1) if m.hold_ticks else None
            ),
            "segment_force_is_model_estimate": True,
            "stopped": sup.stopped,
            "stop_reason": sup.stop_reason or None,
            "faults": [f.as_dict() for f in sup.faults],
            "learned_stiffness_n_mm": round(c.force_detector.stiffness_n_mm, 2),
            "timing": {
                "period_error_ms_p50": round(timing.period_error_ms_p50, 4),
                "period_error_ms_p99": round(timing.period_error_ms_p99, 4),
                "period_error_ms_max": round(timing.period_error_ms_max, 4),
                "overruns": timing.overruns,
                "work_ms_p99": round(timing.work_ms_p99, 4),
                "ticks": timing.ticks,
                "clock": type(self.clock).__name__,
            },
        }
