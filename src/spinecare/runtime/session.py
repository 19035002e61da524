"""One decompression session: the device guard, the controller and the recorder on one loop.

Every 20 ms: read and check (guard and policy), update (controller, only on a fresh, checked
reading), clamp and write (guard and policy), record and publish. The same ``LoopRunner`` runs
it on the monotonic clock in real time and on the simulated clock as fast as the CPU allows.
The controller never holds the device; it sees readings and returns proposals.

Any exception anywhere in the tick (recorder, subscriber, device driver, controller, this code)
latches a fault, and the following ticks command the policy's controlled release until the table
is slack; the summary is written either way.
"""

from __future__ import annotations

import contextlib
import math
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spinecare.devices.base import Device
from spinecare.runtime.clock import Clock, SessionClock, SimulatedClock
from spinecare.runtime.guard import DeviceGuard
from spinecare.runtime.loop import LoopRunner, RealtimeOptions, TimingStats
from spinecare.runtime.recorder import Recorder, RecorderError
from spinecare.runtime.summary import SUMMARY_VERSION, SessionSummary
from spinecare.therapy.controller import DecompressionController, EmgDetectorLike
from spinecare.therapy.profile import BASE_HELD, Phase
from spinecare.therapy.protocol import BASE_FRACTION, Protocol
from spinecare.therapy.safety import FaultKind, SafetyPolicy
from spinecare.therapy.segments import recommend_angle, segment_transfer
from spinecare.vocab import EMG_BLOCK, TICK_S, Command, Reading

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
# A session has ended when the measured force stays below this, with zero commanded, for
# RELEASED_HOLD_S after the final release, a stop or a fault (load-cell noise is 0.3-2 N).
RELEASED_N = 5.0
RELEASED_HOLD_S = 0.2
# Measured force below this fraction of base tension counts as "base tension lost"; 80% leaves
# room for the drive's tracking error during the fast guarding release.
BASE_LOST_FRACTION = 0.8
# Give up waiting for a released table after this long (the table's own watchdog releases).
RELEASE_TIMEOUT_S = 5.0
# How often an interrupted release starts again within that time (engineering choice: more
# interrupts than this in 5 s is someone holding a key down; the ticks left still bound it).
RELEASE_RESTARTS = 50

TickSubscriber = Callable[["TickView"], None]


def within_clinician_limit(protocol: Protocol, clinician_max_force_n: float | None) -> Protocol:
    """The protocol the controller plans with: a clinician's limit below the peak becomes the
    peak (the policy enforces it anyway; planning within it avoids fighting the clamp)."""
    if clinician_max_force_n is None or clinician_max_force_n >= protocol.peak_force_n:
        return protocol
    peak = clinician_max_force_n
    base = protocol.base_force_n if protocol.base_force_n < peak else peak * BASE_FRACTION
    return protocol.model_copy(update={"peak_force_n": peak, "base_force_n": base})


@dataclass(frozen=True, slots=True)
class TickView:
    """What the live monitor shows (published one way to every subscriber)."""

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
    ended: bool = False  # the last view of the session (after the release)
    end_reason: str = ""
    # The patient's hand switch as the table reported it this tick (pressed: the stop path).
    stop_pressed: bool = False
    # Latched faults of the safety policy, in the order they happened (FaultKind values).
    faults: tuple[str, ...] = ()
    # The EMG channel's state (``controller.EMG_*``; "" without EMG): anything but active while
    # EMG is on means the counter-tension reaction runs on the force path alone.
    emg_status: str = ""


@dataclass(slots=True)
class SessionResult:
    summary: SessionSummary
    controller: DecompressionController
    policy: SafetyPolicy
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
    """Runs one session to its end: final release, patient stop or fault.

    ``device`` is handed to the guard and never used here again. A simulated table built with
    ``time_source=runner.clock.now`` follows the loop's clock (``make_session_clock``).
    """

    def __init__(
        self,
        protocol: Protocol,
        device: Device,
        *,
        clock: SessionClock | Clock | None = None,
        recorder: Recorder | None = None,
        emg_detector: EmgDetectorLike | None = None,
        clinician_max_force_n: float | None = None,
        subscribers: Sequence[TickSubscriber] = (),
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
        base_clock = clock or SimulatedClock()
        self.clock = (
            base_clock if isinstance(base_clock, SessionClock) else SessionClock(base_clock)
        )
        self.simulated = device.simulated
        self.policy = SafetyPolicy(protocol, clinician_max_force_n=clinician_max_force_n)
        self._guard = DeviceGuard(device, self.policy, self.clock.now)
        self.controller = controller or DecompressionController(
            within_clinician_limit(protocol, clinician_max_force_n), emg_detector=emg_detector
        )
        self.recorder = recorder
        self.subscribers = list(subscribers)
        self.tick_view_every = max(1, tick_view_every)
        self.realtime = realtime
        self._stop_request = threading.Event()
        self._pause_request = threading.Event()
        self._stop_reason = "patient stop"
        self._m = _Metrics()
        self._t_prev: float | None = None
        self._now = 0.0
        self._released_since: float | None = None
        self._release_started: float | None = None
        self._events_logged = 0
        self._events_closed = 0
        self._faults_logged = 0
        self._stop_logged = False
        self._emg_logged = ""
        self._end_reason = ""
        self._recorder_failed = False
        self._recorder_error = ""
        self._last_view: TickView | None = None
        self._fault_view: tuple[str, ...] = ()
        self._violation_n = self.policy.overforce_n  # the threshold that trips SAF-4

    # -- control from other threads ----------------------------------------------------------
    def request_stop(self, reason: str = "patient stop") -> None:
        """Thread-safe: Ctrl-C or the monitor's stop button. Acts on the next tick."""
        self._stop_reason = reason
        self._stop_request.set()

    def request_pause(self, paused: bool = True) -> None:
        """Thread-safe: the monitor's PAUSE (hold the force, stop the clock) or its release.
        Acts on the next tick; a stop always wins."""
        if paused:
            self._pause_request.set()
        else:
            self._pause_request.clear()

    # -- running -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Everything slow, before the first tick: bring the table up (a simulated table
        compiles its physics here), compile the EMG detector, then zero the session clock."""
        self._guard.start()
        self.controller.warm_up()
        self.clock.zero()

    def run(self, max_seconds: float | None = None) -> SessionResult:
        try:
            self.prepare()
        except BaseException:
            # Nothing of this session happened (the table refused, a compile failed): no
            # record is left that would make its directory look used.
            if self.recorder is not None:
                self.recorder.discard()
            raise
        if self.recorder is not None:
            self.recorder.event(
                "session_start",
                0.0,
                protocol=self.protocol.model_dump(mode="json"),
                simulated=self.simulated,
            )
        # The session's natural end plus margin; a hard upper bound for the loop.
        limit_s = max_seconds or self.protocol.traction_minutes * 60.0 + 120.0
        runner = LoopRunner(TICK_S, self.clock, self.tick, realtime=self.realtime)
        error: BaseException | None = None
        try:
            timing = runner.run(max_ticks=math.ceil(limit_s / TICK_S))
        except BaseException as exc:  # e.g. a second Ctrl-C: release, record, then re-raise
            error = exc
            timing = runner.stats()
            self.policy.fault(FaultKind.TICK_EXCEPTION, self._now, f"loop ended: {exc!r}")
            self._release_after_error()
        self._end_reason = self._end_reason or self._reason()
        self._publish_end()
        summary = self._summary(timing)
        if self.recorder is not None:
            self._close_recorder(summary)
            summary = summary.model_copy(
                update={
                    "telemetry_complete": not self._recorder_failed,
                    "telemetry_error": self._recorder_error or None,
                }
            )
        self._guard.shutdown()
        if error is not None:
            raise error
        return SessionResult(summary, self.controller, self.policy, timing)

    def _release_after_error(self) -> None:
        """The loop itself broke: run release ticks on a fresh loop until the table is slack.

        Nothing cuts the release short (SAF-6): an interrupt that arrives during it (a third
        Ctrl-C, raised wherever the main thread happens to be) starts a fresh release loop
        for the ticks that are left, where it used to end the release with the force still
        commanded. Bounded in ticks, so a tick that fails every time cannot hold it forever."""
        left = math.ceil(RELEASE_TIMEOUT_S / TICK_S) + 1
        for _ in range(RELEASE_RESTARTS):
            runner = LoopRunner(TICK_S, self.clock, self.tick)
            try:
                runner.run(max_ticks=left)
                return
            except BaseException:  # the release goes on, whatever interrupted it
                left -= runner.stats().ticks + 1  # and the tick it broke off
                if left <= 0:
                    return

    # -- the tick ----------------------------------------------------------------------------
    def tick(self, k: int, scheduled: float) -> bool:
        """One 20 ms step; False when the session has ended. Never raises."""
        now = self.clock.now()
        dt = TICK_S if self._t_prev is None else now - self._t_prev
        self._t_prev = now
        self._now = now
        policy = self.policy
        reading: Reading | None = None
        command: Command | None = None
        proposal: Command | None = None
        try:
            if self._stop_request.is_set() and not policy.stopped:
                policy.request_stop(now, self._stop_reason)
            reading, fresh = self._guard.read(now)
            if fresh and not policy.releasing:
                try:
                    if self._pause_request.is_set() != self.controller.paused:
                        if self.controller.paused:
                            self.controller.resume(now)
                        else:
                            self.controller.pause(now)
                    proposal = self.controller.update(reading, now, dt)
                except Exception as exc:  # SAF-11: a controller error becomes a safe release
                    policy.fault(FaultKind.CONTROLLER_EXCEPTION, now, repr(exc))
                    self._record_exception("controller_exception", now, exc)
            command = self._guard.write(proposal, now).command
        except Exception as exc:  # anything else in the runtime's own part of the tick
            policy.fault(FaultKind.TICK_EXCEPTION, now, f"runtime: {exc!r}")
            self._record_exception("tick_exception", now, exc)
            try:
                command = self._guard.write(None, now).command
            except Exception:
                command = None
        if reading is None or command is None:
            if self._release_started is None:
                self._release_started = now
            return not self._timed_out(now)
        try:
            self._observe(k, now, reading, command)
        except Exception as exc:  # recorder or subscriber: never a reason to keep pulling
            part = "recorder" if isinstance(exc, (OSError, RecorderError)) else "observer"
            policy.fault(FaultKind.TICK_EXCEPTION, now, f"{part}: {exc!r}")
            self._record_exception("tick_exception", now, exc)
        return not self._finished(now, reading, command)

    def _record_exception(self, kind: str, now: float, exc: BaseException) -> None:
        rec = self.recorder
        if rec is None or self._recorder_failed:
            return
        with contextlib.suppress(Exception):
            rec.event(kind, now, error=repr(exc), trace=traceback.format_exc())

    def _phase_name(self) -> str:
        policy = self.policy
        if policy.stopped:
            return "stopped"
        if policy.faulted:
            return "fault"
        if self.controller.paused:
            return "paused"
        return self.controller.phase.value

    def _observe(self, k: int, now: float, r: Reading, cmd: Command) -> None:
        c, m, policy = self.controller, self._m, self.policy
        phase = c.phase
        releasing = policy.releasing
        want_view = bool(self.subscribers) and k % self.tick_view_every == 0
        rec = self.recorder if not self._recorder_failed else None
        # The segment estimate is only needed for the hold statistics, the record and the view.
        seg_n = (
            self.transfer.axial_n(max(0.0, r.force_n))
            if phase is Phase.HOLD or rec is not None or want_view
            else 0.0
        )
        m.ticks += 1
        if r.force_n > m.peak_force_n:
            m.peak_force_n = r.force_n
        m.force_time_ns += max(0.0, r.force_n) * TICK_S
        if r.force_n > self._violation_n or cmd.force_n > policy.effective_limit_n:
            m.limit_violations += 1
        if not releasing:
            if phase is Phase.HOLD:
                m.hold_ticks += 1
                m.segment_force_hold_sum += seg_n
                if abs(r.force_n - cmd.force_n) <= 0.1 * cmd.force_n:
                    m.hold_within += 1
            if phase in BASE_HELD and r.force_n < BASE_LOST_FRACTION * c.base_n:
                m.base_lost_ticks += 1
        clamps = policy.last_clamps
        flags = cmd.flags
        if clamps:
            flags = flags + tuple(f"clamp:{x.stage}" for x in clamps)
        phase_name = self._phase_name() if releasing or c.paused else phase.value
        target = 0.0 if releasing else c.target_n
        if rec is not None:
            if rec.error is not None:
                self._recorder_failed = True
                self._recorder_error = str(rec.error)
                raise RecorderError(f"telemetry cannot be written: {rec.error}")
            rec.append(
                round(now, 4),
                (
                    phase_name,
                    round(target, 2),
                    round(cmd.force_n, 2),
                    r.force_n,
                    r.winch_mm,
                    round(c.muscle_tension_n, 2),
                    round(c.emg_envelope_uv, 2),
                    round(seg_n, 2),
                    "|".join(flags),
                ),
            )
            if rec.samples_hz is not None:  # the raw sEMG, for `emg detect` on the record
                rec.append_samples(now, r.emg_uv, EMG_BLOCK)
            self._log_events(rec, now)
        if want_view:
            view = TickView(
                t_s=now,
                phase=phase_name,
                target_n=target,
                commanded_n=cmd.force_n,
                measured_n=r.force_n,
                muscle_tension_n=c.muscle_tension_n,
                emg_envelope_uv=c.emg_envelope_uv,
                segment_force_n=seg_n,
                time_left_s=0.0 if releasing else c.time_left_s(now),
                guarding_events=len(c.events),
                peak_n=c.peak_n,
                flags=flags,
                stop_pressed=r.stop_pressed,
                faults=self._fault_kinds(),
                emg_status=c.emg_status,
            )
            self._last_view = view
            for sub in self.subscribers:
                sub(view)

    def _fault_kinds(self) -> tuple[str, ...]:
        """The latched faults' kinds (a new tuple only when one latched)."""
        faults = self.policy.faults
        view = self._fault_view
        if len(faults) != len(view) or (faults and faults[-1].kind.value != view[-1]):
            self._fault_view = tuple(f.kind.value for f in faults)
        return self._fault_view

    def _log_events(self, rec: Recorder, now: float) -> None:
        """Onsets at once; each guarding episode again, complete, once the muscles relaxed."""
        events = self.controller.events
        while self._events_logged < len(events):
            ev = events[self._events_logged]
            rec.event(
                "guarding_onset",
                ev.onset_s,
                phase=ev.phase,
                source=ev.source,
                force_at_onset_n=round(ev.force_at_onset_n, 1),
                target_at_onset_n=round(ev.target_at_onset_n, 1),
                **({} if ev.emg_onset_s is None else {"emg_onset_s": round(ev.emg_onset_s, 3)}),
            )
            self._events_logged += 1
        while (
            self._events_closed < len(events) and events[self._events_closed].relaxed_s is not None
        ):
            self._log_guarding(rec, self._events_closed)
            self._events_closed += 1
        faults = self.policy.faults
        while self._faults_logged < len(faults):
            f = faults[self._faults_logged]
            rec.event("fault", f.t_s, fault=f.kind.value, detail=f.detail)
            self._faults_logged += 1
        c = self.controller
        if c.emg_status != self._emg_logged:  # when the table ran on the force path alone
            rec.event("emg_status", now, status=c.emg_status, reason=c.emg_reason)
            self._emg_logged = c.emg_status
        if self.policy.stopped and not self._stop_logged:
            rec.event("stop", now, reason=self.policy.stop_reason)
            self._stop_logged = True

    def _log_guarding(self, rec: Recorder, i: int) -> None:
        ev = self.controller.events[i]
        d = ev.as_dict()
        del d["onset_s"]
        rec.event("guarding", ev.onset_s, **d)

    def _finished(self, now: float, r: Reading, cmd: Command) -> bool:
        if not (self.policy.releasing or self.controller.done):
            return False
        if self._release_started is None:
            self._release_started = now
        if r.force_n < RELEASED_N and cmd.force_n <= 0.0:
            if self._released_since is None:
                self._released_since = now
            if now - self._released_since >= RELEASED_HOLD_S - 1e-9:
                self._end_reason = self._reason()
                return True
        else:
            self._released_since = None
        if self._timed_out(now):
            self._end_reason = self._reason() + " (table did not report a full release)"
            return True
        return False

    def _timed_out(self, now: float) -> bool:
        started = self._release_started
        return started is not None and now - started >= RELEASE_TIMEOUT_S

    def _reason(self) -> str:
        policy = self.policy
        if policy.stopped:
            return f"stopped: {policy.stop_reason}"
        if policy.faulted:
            return "fault: " + ", ".join(f.kind.value for f in policy.faults)
        if not self.controller.done:
            return "aborted: the loop ended before the session did"
        return "completed"

    def _publish_end(self) -> None:
        """A last frame after the release, so a monitor never freezes on a pulling screen."""
        last = self._last_view
        if not self.subscribers or last is None:
            return
        view = TickView(
            t_s=self._now,
            phase=self._phase_name() if self.policy.releasing else "done",
            target_n=0.0,
            commanded_n=self.policy.last_command.force_n if self.policy.last_command else 0.0,
            measured_n=last.measured_n,
            muscle_tension_n=last.muscle_tension_n,
            emg_envelope_uv=last.emg_envelope_uv,
            segment_force_n=last.segment_force_n,
            time_left_s=0.0,
            guarding_events=len(self.controller.events),
            peak_n=self.controller.peak_n,
            flags=last.flags,
            ended=True,
            end_reason=self._end_reason,
            stop_pressed=last.stop_pressed,
            faults=self._fault_kinds(),
            emg_status=self.controller.emg_status,
        )
        for sub in self.subscribers:
            with contextlib.suppress(Exception):
                sub(view)

    def _close_recorder(self, summary: SessionSummary) -> None:
        rec = self.recorder
        assert rec is not None
        try:
            if not self._recorder_failed:
                # Episodes still open at the end (e.g. a stop while waiting at base).
                for i in range(self._events_closed, len(self.controller.events)):
                    self._log_guarding(rec, i)
                self._events_closed = len(self.controller.events)
                rec.event("session_end", self._now, reason=summary.end_reason)
            rec.close(summary.model_dump(mode="json"))
        except OSError as exc:
            self._recorder_failed = True
            self._recorder_error = self._recorder_error or str(exc)

    # -- summary -----------------------------------------------------------------------------
    def _summary(self, timing: TimingStats) -> SessionSummary:
        c, m, policy, p = self.controller, self._m, self.policy, self.protocol
        completed = c.done and not policy.releasing
        events = [e.as_dict() for e in c.events]
        relax = sorted(e["time_to_relax_s"] for e in events if e["time_to_relax_s"] is not None)
        return SessionSummary.model_validate(
            {
                "schema_version": SUMMARY_VERSION,
                "completed": completed,
                "aborted": not completed,
                "stopped": policy.stopped,
                "faulted": policy.faulted,
                "end_reason": self._end_reason or self._reason(),
                "simulated": self.simulated,
                "duration_s": round(self._now, 3),
                "traction_minutes": p.traction_minutes,
                "protocol": p.model_dump(mode="json"),
                "peak_force_n": round(m.peak_force_n, 1),
                "peak_target_n": round(max(c.peak_n, p.peak_force_n), 1),
                "final_peak_target_n": round(c.peak_n, 1),
                "effective_limit_n": round(policy.effective_limit_n, 1),
                "hard_limit_n": round(policy.hard_limit_n, 1),
                "clinician_max_force_n": policy.clinician_max_force_n,
                "body_weight_cap_n": round(policy.body_weight_cap_n, 1),
                "limit_violations": m.limit_violations,
                "clamps": dict(policy.clamp_counts),
                "guarding_detected": len(c.events),
                "guarding_events": events,
                "median_time_to_relax_s": relax[len(relax) // 2] if relax else None,
                "hold_time_s": round(m.hold_ticks * TICK_S, 2),
                "hold_within_10pct": (
                    round(m.hold_within / m.hold_ticks, 4) if m.hold_ticks else None
                ),
                "base_tension_lost_s": round(m.base_lost_ticks * TICK_S, 2),
                "force_time_integral_ns": round(m.force_time_ns, 1),
                "target_segment": p.segment,
                "pull_angle_deg": p.pull_angle_deg,
                "segment_force_hold_mean_n": (
                    round(m.segment_force_hold_sum / m.hold_ticks, 1) if m.hold_ticks else None
                ),
                "stop_reason": policy.stop_reason or None,
                "faults": [f.as_dict() for f in policy.faults],
                "learned_stiffness_n_mm": round(c.force_detector.stiffness_n_mm, 2),
                "emg_status": c.emg_status,
                "timing": {
                    "period_error_ms_p50": round(timing.period_error_ms_p50, 4),
                    "period_error_ms_p99": round(timing.period_error_ms_p99, 4),
                    "period_error_ms_max": round(timing.period_error_ms_max, 4),
                    "overruns": timing.overruns,
                    "skipped_ticks": timing.skipped_ticks,
                    "work_ms_p99": round(timing.work_ms_p99, 4),
                    "ticks": timing.ticks,
                    "clock": type(self.clock.base).__name__,
                    "realtime": dict(timing.realtime),
                },
            }
        )
