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

from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

import numpy as np
import numpy.typing as npt

from spinecare.therapy import controller_core as core
from spinecare.therapy.guarding import (
    ForceGuardingDetector,
    ForceGuardingSettings,
    guarding_warm_up,
)
from spinecare.therapy.profile import (
    ModeProfile,
    Phase,
    Stage,
    TractionMode,
    step_fraction,
)
from spinecare.therapy.protocol import Protocol
from spinecare.vocab import EMG_BLOCK, TICK_S, Command, Reading, Region


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
    # Force-path threshold multiplier during the ramp down until the patient's first one has
    # been seen (engineering choice from the simulated cohort: the residual's noise roughly
    # doubles while the drive pays out); from then on the detector's own measure of it
    # (ForceGuardingSettings.unload_noise_rate and the bounds next to it).
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
    # Where the EMG detector places the start of the rise it confirmed (back-dated over its
    # history, never delaying the stop): ``onset_s`` is the tick that stopped the distraction.
    emg_onset_s: float | None = None

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
            "emg_onset_s": None if self.emg_onset_s is None else round(self.emg_onset_s, 3),
        }


class DecompressionController:
    """Distraction with biofeedback; a small state machine over ``Phase``.

    The protocol's mode (therapy/profile.py) chooses each cycle's level, hold and rest and the
    shape of its ramp and hold; the guarding reaction, base tension and PAUSE are the same in
    every mode. The decisions are ``therapy/controller_core.py``'s compiled functions over this
    object's state arrays (the cohort's batch loop calls the same functions); this class feeds
    them, runs the EMG detector and presents the state as the rest of the system reads it.
    """

    def __init__(
        self,
        protocol: Protocol,
        *,
        emg_detector: EmgDetectorLike | None = None,
        settings: ControllerSettings | None = None,
        force_path: bool = True,
    ) -> None:
        self.protocol = protocol
        self.s = settings or ControllerSettings()
        self.force_detector = ForceGuardingDetector(self.s.force)
        self.emg_detector = emg_detector
        # The mode's programme: progressive steps, the main phase, regressive steps.
        self.profile = ModeProfile.of(protocol)
        # False: a patient who never tenses (the target curve drawn ahead of time).
        self.force_path = force_path
        self.params = controller_params(protocol, self.s)
        self.state = core.state_new(self.params, protocol.peak_force_n, protocol.base_force_n)
        self.event_log = np.zeros(
            core.EV_COLS * core.event_capacity(protocol.traction_minutes * 60.0, self.s.recoil_s)
        )
        self.emg_envelope_uv = 0.0
        # Force-only until the EMG detector has a valid baseline; it says so (never deaf).
        self.emg_status = EMG_NONE if emg_detector is None else EMG_CALIBRATING
        self.emg_reason = "" if emg_detector is None else "learning the quiet level"
        self._events: list[GuardingEvent] = []
        self._emg_rise_s: float | None = None  # back-dated start of the last EMG onset
        self._emg_confirm: int | None = None  # the detector's sample that confirmed it
        # the event that onset opened, until the detector's refined estimate of it arrives
        self._emg_event: tuple[int, GuardingEvent] | None = None

    # -- public ------------------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return PHASES[int(self.state[core.S_PHASE])]

    @property
    def stage(self) -> Stage:
        return STAGES[int(self.state[core.S_STAGE])]

    @property
    def cycle(self) -> Cycle:
        st, at = self.state, core.S_CYCLE
        return Cycle(STAGES[int(st[at])], st[at + 1], st[at + 2], st[at + 3], st[at + 4] > 0.5)

    @property
    def target_n(self) -> float:
        return float(self.state[core.S_TARGET])

    @property
    def peak_n(self) -> float:
        return float(self.state[core.S_PEAK])

    @property
    def base_n(self) -> float:
        return float(self.state[core.S_BASE])

    @property
    def muscle_tension_n(self) -> float:
        """The force path's unexplained force rise, N (shown as muscle tension)."""
        return float(self.state[core.S_MUSCLE])

    @property
    def paused_s(self) -> float:
        """Total time held by PAUSE (not traction time)."""
        return float(self.state[core.S_PAUSED_S])

    @property
    def events(self) -> list[GuardingEvent]:
        """The guarding events so far (kept in step with the core's log after every tick)."""
        return self._events

    def _sync_events(self) -> None:
        """Only the newest event can change (its peak while tense, then its relaxation and
        what followed); new rows become new objects."""
        n = int(self.state[core.S_NEV])
        if not n:
            return
        log, ev = self.event_log, self._events
        if ev:
            _event_refresh(ev[-1], log, len(ev) - 1)
        while len(ev) < n:
            ev.append(_event_at(log, len(ev)))

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def elapsed_s(self, now: float) -> float:
        """Traction time so far: a pause stops this clock."""
        return float(core.controller_elapsed_s(self.state, now))

    @property
    def paused(self) -> bool:
        paused_at = self.state[core.S_PAUSED_AT]
        return bool(paused_at == paused_at)

    def pause(self, now: float) -> None:
        """Hold the current force and stop the session clock (as peer tables' PAUSE does).

        Not during the final release: the session is ending. Counter-tension still stops the
        distraction while paused (it resumes the clock and is handled as always).
        """
        core.controller_pause(self.state, now)

    def resume(self, now: float) -> None:
        """Continue where PAUSE stopped: every phase timer moves on by the time paused."""
        core.controller_resume(self.state, now)

    def time_left_s(self, now: float) -> float:
        return max(0.0, self.protocol.traction_minutes * 60.0 - self.elapsed_s(now))

    @property
    def level_n(self) -> float:
        """The level the current cycle pulls to: its share of the span from base to the
        (possibly lowered) peak."""
        return float(core.controller_level_n(self.state))

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the controller's core and what the EMG detector
        compiles, before the first tick (never inside it)."""
        controller_warm_up()
        det = self.emg_detector
        warm = getattr(det, "warm_up", None)
        if callable(warm):
            warm()
        elif det is not None:
            import copy

            copy.deepcopy(det).update(np.zeros(EMG_BLOCK))

    def update(self, reading: Reading, now: float, dt: float = TICK_S) -> Command:
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
            lag = getattr(emg, "onset_lag_s", None)
            if emg.onset and lag is not None:
                self._emg_rise_s = float(now) - float(lag)
                self._emg_confirm = getattr(emg, "confirm_index", None)
            self._refine_emg_onset(emg, now)
        det = self.force_detector
        st = self.state
        verdict, score = -1, 0.0
        if not self.force_path:
            verdict = 0
        elif type(det) is not ForceGuardingDetector:
            # A substitute force path (tests script the muscles): its verdict, the core's
            # reaction.
            unloading = int(st[core.S_PHASE]) == core.RAMP_DOWN
            scale = self.s.unloading_threshold_scale if unloading else None
            upd = det.update(float(reading.force_n), float(reading.winch_mm), scale)
            verdict, score = int(upd.alarm), float(upd.score)
        flags = core.controller_update(
            st,
            self.params,
            det.state,
            det.params,
            self.event_log,
            float(reading.force_n),
            float(reading.winch_mm),
            float(now),
            float(dt),
            bool(emg_alarm),
            verdict,
            score,
        )
        known = len(self._events)
        self._sync_events()
        if emg_alarm and len(self._events) > known and self._emg_rise_s is not None:
            ev = self._events[-1]
            if "emg" in ev.source:
                ev.emg_onset_s = min(self._emg_rise_s, ev.onset_s)
                if self._emg_confirm is not None:
                    self._emg_event = (self._emg_confirm, ev)
        return Command(
            now,
            float(st[core.S_TARGET]),
            float(st[core.S_CMD_BASE]),
            bool(flags & core.FLAG_RELEASE),
            _FLAGS[flags & (core.FLAG_PAUSED | core.FLAG_GUARDING)],
        )

    def _refine_emg_onset(self, emg: object, now: float) -> None:
        """The detector estimates an onset again once the signal after it is in; the event that
        onset opened takes the better estimate (its complete record is written on relaxation,
        after it; the ``guarding_onset`` line keeps the estimate the stop was made with)."""
        lag = getattr(emg, "refined_lag_s", None)
        pending = self._emg_event
        if lag is None or pending is None:
            return
        if getattr(emg, "refined_confirm_index", None) == pending[0]:
            ev = pending[1]
            ev.emg_onset_s = min(float(now) - float(lag), ev.onset_s)
            self._emg_event = None

    def first_pull_s(self) -> float:
        """From the start to the end of the first hold: the ramp to base, the settling there,
        the ramp to the first pull's level and its hold. With a shorter traction time no pull
        fits and the table keeps base tension only: said before it starts."""
        prof = self.profile
        n = prof.progressive_steps
        frac = step_fraction(1, n) if n else 1.0
        level = self.base_n + frac * (self.peak_n - self.base_n)
        ramp_base = self.base_n / self.protocol.ramp_up_n_s
        return ramp_base + self.s.settle_s + prof.rise_s(self.base_n, level) + prof.hold_s


PHASES: tuple[Phase, ...] = tuple(Phase)
STAGES: tuple[Stage, ...] = tuple(Stage)
_MODES = {TractionMode.STATIC: core.STATIC, TractionMode.INTERMITTENT: core.INTERMITTENT}
_SOURCES = ("", "force", "emg", "force+emg")
_FLAGS: dict[int, tuple[str, ...]] = {
    0: (),
    core.FLAG_PAUSED: ("paused",),
    core.FLAG_GUARDING: ("guarding",),
}


def controller_params(protocol: Protocol, s: ControllerSettings) -> npt.NDArray[np.float64]:
    """The core's parameters: the settings, the protocol's times and rates, its mode."""
    prof = ModeProfile.of(protocol)
    cp = np.zeros(core.P_SIZE)
    cp[core.P_GUARD_RELEASE_FACTOR] = s.guard_release_factor
    cp[core.P_REBUILD_RAMP_FACTOR] = s.rebuild_ramp_factor
    cp[core.P_RELAX_MIN] = s.relax_min_s
    cp[core.P_RELAX_MAX] = s.relax_max_s
    cp[core.P_RELAX_STILL] = s.relax_still_mm_s
    cp[core.P_RELAX_WINDOW] = s.relax_window_s
    cp[core.P_NEAR_PEAK] = s.near_peak_fraction
    cp[core.P_PEAK_BACKOFF] = s.peak_backoff
    cp[core.P_STRIKES] = s.strikes_to_lower
    cp[core.P_MIN_RESUMED_HOLD] = s.min_resumed_hold_s
    cp[core.P_UNLOADING_SCALE] = s.unloading_threshold_scale
    cp[core.P_RECOIL] = s.recoil_s
    cp[core.P_SETTLE] = s.settle_s
    cp[core.P_TRACTION_S] = protocol.traction_minutes * 60.0
    cp[core.P_RAMP_UP] = protocol.ramp_up_n_s
    cp[core.P_RAMP_DOWN] = protocol.ramp_down_n_s
    cp[core.P_PROTO_HOLD] = protocol.hold_s
    cp[core.P_PROTO_REST] = protocol.rest_s
    cp[core.P_MODE] = _MODES.get(prof.mode, core.CYCLIC)
    cp[core.P_PROG_STEPS] = prof.progressive_steps
    cp[core.P_REG_STEPS] = prof.regressive_steps
    cp[core.P_HOLD] = prof.hold_s
    cp[core.P_REST] = prof.rest_s
    cp[core.P_LOG_K] = prof.log_k
    cp[core.P_OSC_N] = prof.oscillation_n
    cp[core.P_OSC_HZ] = prof.oscillation_hz
    cp[core.P_HIST_CAP] = core.hist_capacity(s.relax_window_s)
    return cp


def _event_at(log: npt.NDArray[np.float64], i: int) -> GuardingEvent:
    row = i * core.EV_COLS
    ev = GuardingEvent(
        onset_s=float(log[row + core.E_ONSET]),
        phase=PHASES[int(log[row + core.E_PHASE])].value,
        source=_SOURCES[int(log[row + core.E_SOURCE])],
        force_at_onset_n=float(log[row + core.E_FORCE]),
        target_at_onset_n=float(log[row + core.E_TARGET]),
        peak_force_n=float(log[row + core.E_PEAK]),
    )
    _event_refresh(ev, log, i)
    return ev


def _event_refresh(ev: GuardingEvent, log: npt.NDArray[np.float64], i: int) -> None:
    row = i * core.EV_COLS
    ev.peak_force_n = float(log[row + core.E_PEAK])
    ev.relaxed_s = _opt(log[row + core.E_RELAXED])
    ev.ramp_after_n_s = _opt(log[row + core.E_RAMP_AFTER])
    ev.peak_after_n = _opt(log[row + core.E_PEAK_AFTER])


def _opt(x: float) -> float | None:
    return None if x != x else float(x)


_warm = False


def controller_warm_up() -> None:
    """Run every core function once on scratch arrays: numba compiles them (or loads its disk
    cache) here, not inside the first tick. Once per process."""
    global _warm
    if _warm:
        return
    from spinecare.therapy.protocol import default_protocol

    ctrl = DecompressionController(default_protocol(Region.LUMBAR, 80.0, "L4-L5"))
    st, cp = ctrl.state, ctrl.params
    det = ctrl.force_detector
    log = ctrl.event_log
    core.controller_update(st, cp, det.state, det.params, log, 0.0, 0.0, 0.0, 0.02, False, -1, 0.0)
    core.controller_pause(st, 0.02)
    core.controller_resume(st, 0.04)
    core.controller_elapsed_s(st, 0.04)
    core.controller_level_n(st)
    guarding_warm_up()
    _warm = True
