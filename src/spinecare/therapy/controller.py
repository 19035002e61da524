"""The biofeedback controller: one ``update(reading, now, dt) -> Command`` per 20 ms tick.

The same object runs against a real table in real time and against the simulated table faster
than real time; time is always passed in: ``now`` is the loop's clock and ``dt`` the time since
the previous update, skipped ticks included. It only *proposes* commands: the runtime's device
guard applies the safety policy (therapy/safety.py) to every proposal before the table sees it.

[seed-spinemed]: "The tension is automatically adjusted every 20 milliseconds.
As soon as the computer registers a counter-tension, the distraction is stopped and then slowly
rebuilt" and "a basic tension is always maintained".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

import numpy as np
import numpy.typing as npt

from spinecare.therapy.guarding import ForceGuardingDetector, ForceGuardingSettings
from spinecare.therapy.profile import (
    DISTRACTING,
    ModeProfile,
    Phase,
    Stage,
    TractionMode,
    ramp_toward,
    step_fraction,
)
from spinecare.therapy.protocol import Protocol
from spinecare.vocab import EMG_BLOCK, TICK_S, Command, Reading

DISTRACTING_NAMES = frozenset(p.value for p in DISTRACTING)
_RELEASED = frozenset({Phase.FINAL_RELEASE, Phase.DONE})
# Planning slack per cycle for the regressive steps: each phase change lands on a tick, so a
# cycle on the table takes up to a few ticks longer than its nominal length (engineering
# choice: 10 ticks).
CYCLE_MARGIN_S = 10 * TICK_S


@dataclass(frozen=True, slots=True)
class Cycle:
    """One pull of the programme: its stage, its level (fraction of the way from base to the
    current peak; 1 is the peak), its hold and rest, and whether it is static mode's one
    sustained pull (held until the programme's end needs the time)."""

    stage: Stage
    fraction: float
    hold_s: float
    rest_s: float
    static: bool = False


class EmgUpdateLike(TypingProtocol):
    @property
    def active(self) -> bool: ...

    @property
    def onset(self) -> bool: ...

    @property
    def envelope_uv(self) -> float: ...

    @property
    def ready(self) -> bool: ...


class EmgDetectorLike(TypingProtocol):
    def update(self, block_uv: npt.NDArray[np.float64]) -> EmgUpdateLike: ...


# What the controller says about its EMG channel (summary, events and monitor).
EMG_NONE = "none"  # no EMG channel: force path only, by design
EMG_CALIBRATING = "calibrating"  # no valid baseline yet: force path only until there is one
EMG_ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    # On counter-tension the pull goes back to base at this multiple of the protocol's ramp-down
    # rate: fast enough to stop the distraction within a few ticks, slow enough not to jerk.
    guard_release_factor: float = 5.0
    # The rebuild after counter-tension uses this fraction of the normal ramp ("slowly rebuilt",
    # seed).
    rebuild_ramp_factor: float = 0.5
    # Relaxation: muscles relax with time constants of 150-400 ms (sim/patient_model.py), so a
    # wait of at least 2 s (five time constants) before rebuilding, longer while the body moves.
    relax_min_s: float = 2.0
    relax_max_s: float = 20.0
    relax_still_mm_s: float = 0.25
    relax_window_s: float = 0.5
    # Counter-tension near the peak means the peak exceeded what the patient tolerates today:
    # lower the peak to this fraction of the force at onset (biofeedback adaptation).
    near_peak_fraction: float = 0.85
    peak_backoff: float = 0.9
    strikes_to_lower: int = 2
    # A hold interrupted by guarding resumes for what is left of it, at least this long.
    min_resumed_hold_s: float = 10.0
    # Force-path threshold multiplier during the ramp down (engineering choice from the
    # simulated cohort: the residual's noise roughly doubles while the drive pays out).
    unloading_threshold_scale: float = 1.6
    # After a fast release the tissue recoils for about a second (viscoelastic): new counter-
    # tension is logged as a separate event only after that (the distraction is stopped anyway).
    recoil_s: float = 1.0
    # Base tension held this long after pretension to learn the load-cell noise.
    settle_s: float = 3.0
    force: ForceGuardingSettings = field(default_factory=ForceGuardingSettings)


@dataclass(slots=True)
class GuardingEvent:  # the one GuardingEvent (the simulator's truth is a TrueContraction)
    """One registered counter-tension, as logged for the clinician and the metrics."""

    onset_s: float
    phase: str
    source: str
    force_at_onset_n: float
    target_at_onset_n: float
    peak_force_n: float
    relaxed_s: float | None = None
    ramp_after_n_s: float | None = None
    peak_after_n: float | None = None

    @property
    def time_to_relax_s(self) -> float | None:
        return None if self.relaxed_s is None else self.relaxed_s - self.onset_s

    def as_dict(self) -> dict[str, float | str | None]:
        return {
            "onset_s": round(self.onset_s, 3),
            "phase": self.phase,
            "source": self.source,
            "force_at_onset_n": round(self.force_at_onset_n, 1),
            "target_at_onset_n": round(self.target_at_onset_n, 1),
            "peak_force_n": round(self.peak_force_n, 1),
            "relaxed_s": None if self.relaxed_s is None else round(self.relaxed_s, 3),
            "time_to_relax_s": (
                None if self.time_to_relax_s is None else round(self.time_to_relax_s, 3)
            ),
            "ramp_after_n_s": self.ramp_after_n_s,
            "peak_after_n": None if self.peak_after_n is None else round(self.peak_after_n, 1),
        }


class DecompressionController:
    """Distraction with biofeedback; a small state machine over ``Phase``.

    The protocol's mode (therapy/profile.py) chooses each cycle's level, hold and rest and the
    shape of its ramp and hold; the guarding reaction, base tension and PAUSE are the same in
    every mode.
    """

    def __init__(
        self,
        protocol: Protocol,
        *,
        emg_detector: EmgDetectorLike | None = None,
        settings: ControllerSettings | None = None,
    ) -> None:
        self.protocol = protocol
        self.s = settings or ControllerSettings()
        self.force_detector = ForceGuardingDetector(self.s.force)
        self.emg_detector = emg_detector
        self.phase = Phase.PRETENSION
        self.target_n = 0.0
        self.peak_n = protocol.peak_force_n
        self.base_n = protocol.base_force_n
        self.events: list[GuardingEvent] = []
        self.muscle_tension_n = 0.0  # force-path CUSUM: unexplained force rise
        self.emg_envelope_uv = 0.0
        # Force-only until the EMG detector has a valid baseline; it says so (never deaf).
        self.emg_status = EMG_NONE if emg_detector is None else EMG_CALIBRATING
        self.emg_reason = "" if emg_detector is None else "learning the quiet level"
        self._traction_s = protocol.traction_minutes * 60.0
        self._start_s: float | None = None
        self._phase_end_s = 0.0
        self._resume_hold_s = protocol.hold_s
        self._ramp_n_s = protocol.ramp_up_n_s
        self._interrupted = Phase.PRETENSION
        self._rest_left_s = 0.0
        self._near_peak_strikes = 0
        self._alarm_before = False
        self._wait_start_s = 0.0
        self._settle_start_s: float | None = None
        self._paused_at: float | None = None
        self.paused_s = 0.0  # total time held by PAUSE (not traction time)
        self._x_hist: deque[tuple[float, float]] = deque()
        # The mode's programme: progressive steps, the main phase, regressive steps.
        self.profile = ModeProfile.of(protocol)
        self.stage = Stage.PROGRESSIVE if self.profile.progressive_steps else Stage.MAIN
        self._stage_cycles = 0  # cycles begun in the current stage
        self._regressive_done = 0
        self.cycle = Cycle(Stage.MAIN, 1.0, protocol.hold_s, protocol.rest_s)
        self._next_cycle = self.cycle
        self._ramp_from_n = 0.0
        self._ramp_t0 = 0.0
        self._hold_t0 = 0.0

    # -- public ------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def elapsed_s(self, now: float) -> float:
        """Traction time so far: a pause stops this clock."""
        if self._start_s is None:
            return 0.0
        return (now if self._paused_at is None else self._paused_at) - self._start_s

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self, now: float) -> None:
        """Hold the current force and stop the session clock (as peer tables' PAUSE does).

        Not during the final release: the session is ending. Counter-tension still stops the
        distraction while paused (it resumes the clock and is handled as always).
        """
        if self._paused_at is None and self.phase not in _RELEASED and self._start_s is not None:
            self._paused_at = now

    def resume(self, now: float) -> None:
        """Continue where PAUSE stopped: every phase timer moves on by the time paused."""
        if self._paused_at is None:
            return
        held = max(0.0, now - self._paused_at)
        self._paused_at = None
        self.paused_s += held
        if self._start_s is not None:
            self._start_s += held
        self._phase_end_s += held
        self._wait_start_s += held
        self._ramp_t0 += held
        self._hold_t0 += held
        if self._settle_start_s is not None:
            self._settle_start_s += held
        self._x_hist.clear()

    def time_left_s(self, now: float) -> float:
        return max(0.0, self._traction_s - self.elapsed_s(now))

    @property
    def level_n(self) -> float:
        """The level the current cycle pulls to: its share of the span from base to the
        (possibly lowered) peak."""
        frac = self.cycle.fraction
        if frac >= 1.0:
            return self.peak_n
        return self.base_n + frac * (self.peak_n - self.base_n)

    def warm_up(self) -> None:
        """Compile what the EMG detector compiles, before the first tick (never inside it)."""
        det = self.emg_detector
        warm = getattr(det, "warm_up", None)
        if callable(warm):
            warm()
        elif det is not None:
            import copy

            copy.deepcopy(det).update(np.zeros(EMG_BLOCK))

    def update(self, reading: Reading, now: float, dt: float = TICK_S) -> Command:
        if self._start_s is None:
            self._start_s = now
        force, winch = reading.force_n, reading.winch_mm
        # While the pull falls the drive moves and the residual is noisier; counter-tension then
        # matters less (the force is going down anyway), so the force path is less sensitive.
        unloading = self.phase is Phase.RAMP_DOWN
        det = self.force_detector.update(
            force, winch, self.s.unloading_threshold_scale if unloading else None
        )
        self.muscle_tension_n = det.score
        emg_alarm = False
        if self.emg_detector is not None and reading.emg_uv is not None:
            emg = self.emg_detector.update(reading.emg_uv)
            self.emg_envelope_uv = emg.envelope_uv
            if emg.ready:
                self.emg_status, self.emg_reason = EMG_ACTIVE, ""
            else:  # force path only, and it says why (never silently deaf)
                status = getattr(emg, "status", None)
                name = getattr(status, "name", "")
                self.emg_status = name.lower() if name else EMG_CALIBRATING
                self.emg_reason = str(getattr(emg, "reason", ""))
            emg_alarm = emg.ready and (emg.onset or emg.active)
        alarm = det.alarm or emg_alarm
        if self.phase is Phase.GUARD_WAIT or alarm:
            self._remember_winch(now, winch)

        rising = alarm and not self._alarm_before
        self._alarm_before = alarm
        if self._paused_at is not None:
            if not alarm:
                return Command(
                    t_s=now,
                    force_n=self.target_n,
                    base_n=min(self.base_n, self.target_n),
                    flags=("paused",),
                )
            self.resume(now)  # counter-tension: the distraction stops, paused or not
        if self.phase is not Phase.FINAL_RELEASE and self.phase is not Phase.DONE:
            if self.elapsed_s(now) >= self._traction_s:
                self.phase = Phase.FINAL_RELEASE
            elif alarm and self.phase not in (Phase.GUARD_RELEASE, Phase.GUARD_WAIT):
                self._start_guarding(now, force, self._source(det.alarm, emg_alarm))
            elif alarm:
                if (
                    rising
                    and self.phase is Phase.GUARD_WAIT
                    and now - self._wait_start_s >= self.s.recoil_s
                ):
                    # A new contraction while waiting at base: logged, and the wait restarts.
                    self._log_event(now, force, self._source(det.alarm, emg_alarm))
                self.events[-1].peak_force_n = max(self.events[-1].peak_force_n, force)
                self._wait_start_s = now  # still tense: the wait starts again

        self._step_phase(now, max(0.0, dt), force, winch, alarm)
        return Command(
            t_s=now,
            force_n=self.target_n,
            # What the table's watchdog may fall back to: never above the setpoint, and nothing
            # once the final release has begun.
            base_n=0.0 if self.phase in _RELEASED else min(self.base_n, self.target_n),
            release=self.phase is Phase.DONE,
            flags=("guarding",) if self.phase in (Phase.GUARD_RELEASE, Phase.GUARD_WAIT) else (),
        )

    # -- phases ------------------------------------------------------------------------------
    def _step_phase(self, now: float, dt: float, force: float, winch: float, alarm: bool) -> None:
        p = self.protocol
        if self.phase is Phase.PRETENSION:
            self.target_n = ramp_toward(self.target_n, self.base_n, p.ramp_up_n_s, dt)
            if not alarm:
                self.force_detector.learn_stiffness(force, winch)
                self.force_detector.observe_noise()
            if self.target_n >= self.base_n:
                if self._settle_start_s is None:
                    self._settle_start_s = now
                if now - self._settle_start_s >= self.s.settle_s and self._cycle_fits(now):
                    self._begin_ramp(now)
        elif self.phase in (Phase.RAMP_UP, Phase.REBUILD):
            level = self.level_n
            if self.phase is Phase.RAMP_UP and self.profile.log_k > 0.0:
                shaped = self.profile.rise(self._ramp_from_n, level, now - self._ramp_t0)
                self.target_n = min(level, max(self.target_n, shaped))
            else:
                self.target_n = ramp_toward(self.target_n, level, self._ramp_n_s, dt)
            if not alarm and self.force_detector.quiet:
                self.force_detector.learn_stiffness(force, winch)
            if self.target_n >= level:
                self.phase = Phase.HOLD
                self._phase_end_s = now + self._resume_hold_s
                self._hold_t0 = now
        elif self.phase is Phase.HOLD:
            self.target_n = self.profile.hold_target(self.level_n, self.base_n, now - self._hold_t0)
            if self._hold_over(now):
                self.phase = Phase.RAMP_DOWN
                self.force_detector.reset_learning_window()
                self._near_peak_strikes = 0  # a whole hold was tolerated
        elif self.phase is Phase.RAMP_DOWN:
            self.target_n = ramp_toward(self.target_n, self.base_n, p.ramp_down_n_s, dt)
            if not alarm:
                self.force_detector.learn_unloading(force, winch)
            if self.target_n <= self.base_n:
                self.phase = Phase.REST
                self._phase_end_s = now + self.cycle.rest_s
        elif self.phase is Phase.REST:
            self.target_n = self.base_n
            if now >= self._phase_end_s and self._cycle_fits(now):
                self._begin_ramp(now)
        elif self.phase is Phase.GUARD_RELEASE:
            rate = p.ramp_down_n_s * self.s.guard_release_factor
            self.target_n = ramp_toward(self.target_n, min(self.target_n, self.base_n), rate, dt)
            if self.target_n <= self.base_n:
                self.phase = Phase.GUARD_WAIT
                self._wait_start_s = now
                # Unloading stiffness differs from loading (viscoelastic hysteresis): after a
                # fast release the passive model is re-referenced at base tension.
                self.force_detector.clear()
        elif self.phase is Phase.GUARD_WAIT:
            if self._relaxed(now, alarm):
                self._end_guarding(now)
        elif self.phase is Phase.FINAL_RELEASE:
            self.target_n = ramp_toward(self.target_n, 0.0, p.ramp_down_n_s, dt)
            if self.target_n <= 0.0:
                self.phase = Phase.DONE
        # DONE: target stays at zero.

    def first_pull_s(self) -> float:
        """From the start to the end of the first hold: the ramp to base, the settling there,
        the ramp to the first pull's level and its hold. With a shorter traction time no pull
        fits (``_cycle_fits``) and the table keeps base tension only: said before it starts."""
        prof = self.profile
        n = prof.progressive_steps
        frac = step_fraction(1, n) if n else 1.0
        level = self.base_n + frac * (self.peak_n - self.base_n)
        ramp_base = self.base_n / self.protocol.ramp_up_n_s
        return ramp_base + self.s.settle_s + prof.rise_s(self.base_n, level) + prof.hold_s

    def _cycle_fits(self, now: float) -> bool:
        """Choose the programme's next cycle and start it only if its ramp and whole hold end
        before the traction time does: a pull that would be cut short by the final release is
        no treatment, only a load. Before regressive steps, a cycle must also leave them their
        time; a stage with no cycle left that fits hands over to the next."""
        prof = self.profile
        hold, rest = prof.hold_s, prof.rest_s
        if self.stage is Stage.PROGRESSIVE:
            n = prof.progressive_steps
            if self._stage_cycles < n:
                frac = step_fraction(self._stage_cycles + 1, n)
                if self._fits(now, Cycle(Stage.PROGRESSIVE, frac, hold, rest)):
                    return True
            self._enter(Stage.MAIN)
        if self.stage is Stage.MAIN:
            if prof.mode is TractionMode.STATIC:
                # One sustained pull: it needs at least one hold's time before it must end.
                if self._stage_cycles == 0 and self._fits(
                    now, Cycle(Stage.MAIN, 1.0, hold, 0.0, static=True)
                ):
                    return True
            elif self._fits(now, Cycle(Stage.MAIN, 1.0, hold, rest)):
                return True
            if prof.regressive_steps:
                self._enter(Stage.REGRESSIVE)
        n = prof.regressive_steps
        while self._regressive_done < n:
            frac = step_fraction(n - self._regressive_done, n)
            if self._fits(now, Cycle(Stage.REGRESSIVE, frac, hold, rest)):
                return True
            self._regressive_done += 1  # no time left for this step: the lower ones are shorter
        return False

    def _fits(self, now: float, cycle: Cycle) -> bool:
        """Whether ``cycle`` fits in the traction time left; remembered for ``_begin_ramp``."""
        prof = self.profile
        frac = cycle.fraction
        level = self.peak_n if frac >= 1.0 else self.base_n + frac * (self.peak_n - self.base_n)
        ramp_s = prof.rise_s(self.target_n, level)
        tail = 0.0  # what must still fit after the hold
        if cycle.stage is not Stage.REGRESSIVE and prof.regressive_steps:
            tail = self._regressive_left_s() + prof.fall_s(level, self.base_n) + cycle.rest_s
        elif cycle.static:
            tail = prof.fall_s(level, self.base_n)
        if self.elapsed_s(now) + ramp_s + cycle.hold_s + tail <= self._traction_s:
            self._next_cycle = cycle
            return True
        return False

    def _regressive_left_s(self) -> float:
        """Nominal time the regressive steps not yet begun need (with a margin per cycle)."""
        return self.profile.regressive_s(
            self._regressive_done, self.base_n, self.peak_n, CYCLE_MARGIN_S
        )

    def _enter(self, stage: Stage) -> None:
        if self.stage is not stage:
            self.stage = stage
            self._stage_cycles = 0

    def _hold_over(self, now: float) -> bool:
        """A hold ends after its time; static mode's pull when the rest of the programme (the
        ramp down to base and any regressive steps) needs the time left; a cyclic peak at
        once."""
        if self.cycle.static:
            left = self._traction_s - self.elapsed_s(now)
            tail = self.profile.fall_s(self.level_n, self.base_n) + CYCLE_MARGIN_S
            if self.profile.regressive_steps:
                tail += self._regressive_left_s()
            return left <= tail
        if self.cycle.hold_s <= 0.0:
            return True
        return now >= self._phase_end_s

    def _begin_ramp(self, now: float) -> None:
        cycle = self._next_cycle
        self.cycle = cycle
        self._stage_cycles += 1
        if cycle.stage is Stage.REGRESSIVE:
            self._regressive_done += 1
        self.phase = Phase.RAMP_UP
        self._ramp_n_s = self.protocol.ramp_up_n_s
        self._resume_hold_s = cycle.hold_s
        self._ramp_from_n = self.target_n
        self._ramp_t0 = now
        self.force_detector.reset_learning_window()

    @staticmethod
    def _source(force_alarm: bool, emg_alarm: bool) -> str:
        return "+".join(n for n, hit in (("force", force_alarm), ("emg", emg_alarm)) if hit)

    def _log_event(self, now: float, force: float, source: str) -> None:
        self.events.append(
            GuardingEvent(
                onset_s=now,
                phase=self.phase.value,
                source=source,
                force_at_onset_n=force,
                target_at_onset_n=self.target_n,
                peak_force_n=force,
            )
        )

    def _start_guarding(self, now: float, force: float, source: str) -> None:
        self._interrupted = self.phase
        if self.phase is Phase.HOLD:
            self._resume_hold_s = max(self.s.min_resumed_hold_s, self._phase_end_s - now)
        elif self.phase is Phase.REST:
            self._rest_left_s = max(0.0, self._phase_end_s - now)
        elif self.phase is Phase.RAMP_DOWN:
            self._rest_left_s = self.cycle.rest_s
        self._log_event(now, force, source)
        self._x_hist.clear()
        # Stop the distraction in this very tick: the target may only fall from here.
        self.phase = Phase.GUARD_RELEASE if self.target_n > self.base_n else Phase.GUARD_WAIT
        self._wait_start_s = now

    def _remember_winch(self, now: float, winch: float) -> None:
        """Winch positions over the last ``relax_window_s`` (only needed while guarding)."""
        hist = self._x_hist
        hist.append((now, winch))
        horizon = now - self.s.relax_window_s
        while len(hist) > 2 and hist[1][0] <= horizon:
            hist.popleft()

    def _relaxed(self, now: float, alarm: bool) -> bool:
        if now - self.events[-1].onset_s >= self.s.relax_max_s:
            return True
        if now - self._wait_start_s < self.s.relax_min_s or alarm:
            return False
        (t0, x0), (t1, x1) = self._x_hist[0], self._x_hist[-1]
        speed = abs(x1 - x0) / max(t1 - t0, TICK_S)
        return speed <= self.s.relax_still_mm_s

    def _end_guarding(self, now: float) -> None:
        event = self.events[-1]
        event.relaxed_s = now
        self.force_detector.clear()
        self.force_detector.reset_learning_window()
        near_peak = event.target_at_onset_n >= self.s.near_peak_fraction * self.peak_n
        if near_peak and event.phase in DISTRACTING_NAMES:
            self._near_peak_strikes += 1
        if self._near_peak_strikes >= self.s.strikes_to_lower:
            # Counter-tension near the peak again before a hold was tolerated: the peak is above
            # what the patient tolerates today. A single event (a cough) does not count.
            lowered = self.s.peak_backoff * min(event.target_at_onset_n, self.peak_n)
            self.peak_n = max(self.base_n * 1.1, lowered)
            self._near_peak_strikes = 0
        event.peak_after_n = self.peak_n
        interrupted = self._interrupted
        if interrupted in DISTRACTING:
            self.phase = Phase.REBUILD
            self._ramp_n_s = self.protocol.ramp_up_n_s * self.s.rebuild_ramp_factor
            event.ramp_after_n_s = self._ramp_n_s
        elif interrupted is Phase.PRETENSION:
            self.phase = Phase.PRETENSION
            event.ramp_after_n_s = self.protocol.ramp_up_n_s
        else:
            # Counter-tension while releasing or resting: finish the rest, then ramp as usual.
            self.phase = Phase.REST
            self._phase_end_s = now + self._rest_left_s
            event.ramp_after_n_s = self.protocol.ramp_up_n_s
