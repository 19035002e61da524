"""The biofeedback controller against a scripted spring table (no physics, no supervisor)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.therapy import controller_core as core
from spinecare.therapy.controller import ControllerSettings, DecompressionController, GuardingEvent
from spinecare.therapy.guarding import ForceGuardingDetector, ForceGuardingUpdate
from spinecare.therapy.profile import Phase
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.vocab import EMG_BLOCK, TICK_S, Command, DeviceState, Reading, Region


def drive(
    ctrl: DecompressionController,
    table: Any,
    seconds: float,
    *,
    t0: float = 0.0,
    hook: Callable[[float], None] | None = None,
) -> list[tuple[float, Command, Phase]]:
    out = []
    for k in range(round(seconds / TICK_S)):
        now = t0 + k * TICK_S
        table.advance(TICK_S)
        if hook:
            hook(now)
        cmd = ctrl.update(table.read(), now)
        table.write(cmd)
        out.append((now, cmd, ctrl.phase))
    return out


def test_phases_follow_the_intermittent_profile(fake_table: Callable[..., Any]) -> None:
    proto = default_protocol("lumbar", 80, "L4/5", traction_minutes=4)
    ctrl, table = DecompressionController(proto), fake_table()
    out = drive(ctrl, table, 4 * 60 + 30)
    phases = [p for _, _, p in out]
    order = []
    for p in phases:
        if not order or order[-1] is not p:
            order.append(p)
    assert order[:6] == [
        Phase.PRETENSION,
        Phase.RAMP_UP,
        Phase.HOLD,
        Phase.RAMP_DOWN,
        Phase.REST,
        Phase.RAMP_UP,
    ]
    assert order[-2:] == [Phase.FINAL_RELEASE, Phase.DONE]
    assert ctrl.done and out[-1][1].force_n == 0.0
    # Peak reached, never exceeded.
    assert max(c.force_n for _, c, _ in out) == pytest.approx(proto.peak_force_n)


def test_base_tension_is_kept_until_the_final_release(fake_table: Callable[..., Any]) -> None:
    proto = default_protocol("cervical", 70, "C5/6", traction_minutes=5)
    ctrl, table = DecompressionController(proto), fake_table(stiffness_n_mm=8.0)
    out = drive(ctrl, table, 5 * 60 + 20)
    started = False
    for _, cmd, phase in out:
        if phase is Phase.RAMP_UP:
            started = True
        if started and phase not in (Phase.FINAL_RELEASE, Phase.DONE):
            assert cmd.force_n >= proto.base_force_n - 1e-9


def test_counter_tension_stops_the_distraction_in_the_same_tick(
    fake_table: Callable[..., Any],
) -> None:
    proto = default_protocol("lumbar", 80, "L4/5", traction_minutes=10)
    ctrl, table = DecompressionController(proto), fake_table()
    out = drive(ctrl, table, 15.0)  # into the first ramp
    assert out[-1][2] is Phase.RAMP_UP
    before = out[-1][1].force_n

    def tense(now: float) -> None:
        table.extra_force = 40.0  # muscles pull back: force rises at the same winch position

    out = drive(ctrl, table, 0.04, t0=15.0, hook=tense)
    assert ctrl.events, "counter-tension not registered"
    first = out[0][1]
    assert first.force_n <= before  # the distraction stopped in the tick of detection
    assert ctrl.phase in (Phase.GUARD_RELEASE, Phase.GUARD_WAIT)
    assert "guarding" in first.flags
    # Then back to base, wait, rebuild slower.
    table.extra_force = 0.0
    out = drive(ctrl, table, 12.0, t0=15.04)
    assert min(c.force_n for _, c, _ in out) == pytest.approx(proto.base_force_n)
    assert Phase.REBUILD in {p for _, _, p in out}
    ev = ctrl.events[0]
    assert ev.relaxed_s is not None and ev.time_to_relax_s is not None
    assert ev.time_to_relax_s >= ctrl.s.relax_min_s
    assert ev.ramp_after_n_s == pytest.approx(proto.ramp_up_n_s * ctrl.s.rebuild_ramp_factor)


def test_repeated_guarding_at_the_peak_lowers_the_peak(fake_table: Callable[..., Any]) -> None:
    proto = default_protocol("lumbar", 80, "L4/5", traction_minutes=10)
    ctrl, table = DecompressionController(proto), fake_table()
    out = drive(ctrl, table, 30.0)
    assert out[-1][2] is Phase.HOLD
    t = 30.0
    for strike in (1, 2):
        table.extra_force = 40.0
        drive(ctrl, table, 0.1, t0=t)
        table.extra_force = 0.0
        out = drive(ctrl, table, 60.0, t0=t + 0.1)
        t += 60.1
        if strike == 1:
            # One event (a cough) does not lower the peak: the rebuild goes back to it.
            assert ctrl.peak_n == proto.peak_force_n
            assert out[-1][2] is Phase.HOLD
    assert ctrl.peak_n < proto.peak_force_n
    assert ctrl.events[-1].peak_after_n == pytest.approx(ctrl.peak_n)


def test_no_false_alarm_on_a_quiet_spring(fake_table: Callable[..., Any]) -> None:
    proto = default_protocol("lumbar", 120, "L5/S1", traction_minutes=6)
    ctrl, table = DecompressionController(proto), fake_table(stiffness_n_mm=35.0)
    drive(ctrl, table, 6 * 60 + 30)
    assert ctrl.events == []


# --- The guarding reaction, tick by tick (docs/safety.md, "Counter-tension") -----------------
# A protocol with round numbers: base 150 N, peak 300 N, ramps 15 N/s up and 30 N/s down.
GUARD_PROTO = Protocol(
    region=Region.LUMBAR,
    body_weight_kg=80.0,
    segment="L4/5",
    peak_force_n=300.0,
    base_force_n=150.0,
    ramp_up_n_s=15.0,
    ramp_down_n_s=30.0,
    hold_s=60.0,
    rest_s=30.0,
    traction_minutes=10.0,
)
# ControllerSettings: back to base at 5x the ramp-down rate (150 N/s = 3 N a tick); wait at least
# 2 s and until the winch moves at most 0.25 mm/s, at most 20 s; rebuild at half the ramp
# (7.5 N/s); two onsets at 85% of the peak or more lower it to 90% of the onset's target.
GUARD_RELEASE_PER_TICK = 3.0
REBUILD_N_S = 7.5
GUARDING = (Phase.GUARD_RELEASE, Phase.GUARD_WAIT)


class ScriptedTension(ForceGuardingDetector):
    """The force path with the alarm scripted: the test says when the muscles are tense."""

    tense = False

    def update(
        self, force_n: float, winch_mm: float, unloading_scale: float | None = None
    ) -> ForceGuardingUpdate:
        return ForceGuardingUpdate(self.tense, 30.0 if self.tense else 0.0)


@dataclass(frozen=True)
class EmgNow:
    active: bool
    onset: bool
    envelope_uv: float
    ready: bool = True


class ScriptedEmg:
    """An EMG channel whose activity the test scripts (calibrated from the start)."""

    tense = False

    def update(self, block_uv: npt.NDArray[np.float64]) -> EmgNow:
        return EmgNow(self.tense, False, 80.0 if self.tense else 5.0)


class Patient:
    """Hand-made readings for the controller: the table follows each command exactly (force =
    the last command, winch = force / 10 N/mm plus any creep the test asks for)."""

    def __init__(self, settings: ControllerSettings | None = None, emg: bool = False) -> None:
        self.emg = ScriptedEmg() if emg else None
        self.ctrl = DecompressionController(GUARD_PROTO, settings=settings, emg_detector=self.emg)
        self.tension = ScriptedTension()
        self.ctrl.force_detector = self.tension
        self.k = 0
        self.force = 0.0
        self.creep_mm_s = 0.0
        self._creep_mm = 0.0

    @property
    def now(self) -> float:
        return self.k * TICK_S

    @property
    def phase(self) -> Phase:
        return self.ctrl.phase

    def tick(self, tense: bool = False, extra_n: float = 0.0, emg_tense: bool = False) -> Command:
        now = self.now
        self._creep_mm += self.creep_mm_s * TICK_S
        force = self.force + extra_n
        winch = self.force / 10.0 + self._creep_mm
        block = np.zeros(EMG_BLOCK) if self.emg is not None else None
        reading = Reading(now, self.k + 1, force, winch, False, DeviceState.ACTIVE, block)
        self.tension.tense = tense
        if self.emg is not None:
            self.emg.tense = emg_tense
        cmd = self.ctrl.update(reading, now, TICK_S)
        self.force = cmd.force_n
        self.k += 1
        return cmd

    def until(self, cond: Callable[[], bool], max_s: float = 400.0, tense: bool = False) -> float:
        """Tick until ``cond`` holds after a tick; the time of that tick."""
        for _ in range(round(max_s / TICK_S)):
            t = self.now
            self.tick(tense)
            if cond():
                return t
        raise AssertionError("never happened")

    def phase_is(self, *phases: Phase) -> Callable[[], bool]:
        return lambda: self.ctrl.phase in phases

    def strike(self, cond: Callable[[], bool]) -> GuardingEvent:
        """Wait for ``cond``, one tense tick, then relaxed until the guarding has ended."""
        self.until(cond)
        self.tick(tense=True)
        self.until(lambda: self.ctrl.phase not in GUARDING)
        return self.ctrl.events[-1]


def test_guarding_in_the_ramp_goes_back_to_base_at_five_times_the_ramp_down_rate() -> None:
    p = Patient()
    p.until(lambda: p.ctrl.phase is Phase.RAMP_UP and p.ctrl.target_n >= 250.0)
    before, onset = p.ctrl.target_n, p.now
    out = [p.tick(tense=True)]
    ev = p.ctrl.events[0]
    assert (ev.onset_s, ev.phase, ev.source) == (onset, "ramp_up", "force")
    assert ev.force_at_onset_n == ev.target_at_onset_n == ev.peak_force_n == before
    assert p.ctrl.phase is Phase.GUARD_RELEASE
    # Stopped in the tick of detection: the first command is already one release step lower.
    assert out[0].force_n == pytest.approx(before - GUARD_RELEASE_PER_TICK)
    t_wait = p.until(p.phase_is(Phase.GUARD_WAIT), max_s=5.0)
    ticks = round((t_wait - onset) / TICK_S)
    assert ticks == math.ceil((before - 150.0) / GUARD_RELEASE_PER_TICK) - 1
    assert p.ctrl.target_n == 150.0  # at base, never below
    wait = [p.tick() for _ in range(50)]
    assert all(c.force_n == 150.0 and c.base_n == 150.0 for c in wait)
    assert all(c.flags == ("guarding",) for c in [*out, *wait])


def _to_wait(p: Patient) -> tuple[float, float]:
    """Onset during the ramp; returns (onset, time the wait at base began)."""
    p.until(lambda: p.ctrl.phase is Phase.RAMP_UP and p.ctrl.target_n >= 250.0)
    onset = p.now
    p.tick(tense=True)
    return onset, p.until(p.phase_is(Phase.GUARD_WAIT), max_s=5.0)


@pytest.mark.parametrize(
    ("creep_mm_s", "relaxes"), [(0.0, True), (0.2, True), (-0.2, True), (0.3, False), (-0.3, False)]
)
def test_relaxed_after_2_s_at_base_with_a_still_winch_else_after_20_s(
    creep_mm_s: float, relaxes: bool
) -> None:
    p = Patient()
    onset, t_wait = _to_wait(p)
    p.creep_mm_s = creep_mm_s
    t_end = p.until(lambda: p.ctrl.phase is not Phase.GUARD_WAIT, max_s=30.0)
    ev = p.ctrl.events[0]
    assert ev.relaxed_s == t_end
    assert ev.time_to_relax_s == pytest.approx(t_end - onset)
    if relaxes:  # 2 s counted from the start of the wait, not from the onset
        assert 2.0 - 1e-9 <= t_end - t_wait <= 2.0 + TICK_S + 1e-9
    else:
        assert 20.0 - 1e-9 <= t_end - onset <= 20.0 + TICK_S + 1e-9
    # Then a slower rebuild to the same peak.
    assert p.ctrl.phase is Phase.REBUILD
    assert ev.ramp_after_n_s == REBUILD_N_S and ev.peak_after_n == 300.0
    a, b = p.tick(), p.tick()
    assert b.force_n - a.force_n == pytest.approx(REBUILD_N_S * TICK_S)
    assert b.flags == ()


def test_tension_while_waiting_restarts_the_wait_and_a_new_one_is_a_new_event() -> None:
    p = Patient()
    _, t_wait = _to_wait(p)
    p.until(lambda: p.now - t_wait >= 0.5)
    t1 = p.now
    p.tick(tense=True, extra_n=200.0)  # within the recoil second: the same event
    assert len(p.ctrl.events) == 1
    assert p.ctrl.events[0].peak_force_n == 350.0
    p.until(lambda: p.now - t1 >= 1.2)
    t2 = p.now
    p.tick(tense=True)  # 1.2 s after the wait restarted: a new contraction
    assert len(p.ctrl.events) == 2
    ev = p.ctrl.events[1]
    assert (ev.onset_s, ev.phase, ev.source) == (t2, "guard_wait", "force")
    t_end = p.until(lambda: p.ctrl.phase is not Phase.GUARD_WAIT, max_s=30.0)
    assert 2.0 - 1e-9 <= t_end - t2 <= 2.0 + TICK_S + 1e-9
    assert ev.relaxed_s == t_end


def test_continuous_tension_ends_the_wait_after_20_s() -> None:
    p = Patient()
    p.until(lambda: p.ctrl.phase is Phase.RAMP_UP and p.ctrl.target_n >= 250.0)
    onset = p.now
    t_end = p.until(lambda: p.ctrl.events[0].relaxed_s is not None, max_s=30.0, tense=True)
    assert 20.0 - 1e-9 <= t_end - onset <= 20.0 + TICK_S + 1e-9


@pytest.mark.parametrize(("into_hold_s", "resumed_s"), [(5.0, 55.0), (57.0, 10.0)])
def test_a_hold_interrupted_by_guarding_resumes_for_what_is_left_at_least_10_s(
    into_hold_s: float, resumed_s: float
) -> None:
    p = Patient()
    t_hold = p.until(p.phase_is(Phase.HOLD))
    p.until(lambda: p.now - t_hold >= into_hold_s)
    p.tick(tense=True)
    assert p.ctrl.events[0].phase == "hold"
    t_again = p.until(p.phase_is(Phase.HOLD), max_s=60.0)
    t_down = p.until(p.phase_is(Phase.RAMP_DOWN), max_s=80.0)
    assert t_down - t_again == pytest.approx(resumed_s, abs=2 * TICK_S)


def test_guarding_at_rest_waits_at_base_then_finishes_the_rest() -> None:
    p = Patient()
    t_rest = p.until(p.phase_is(Phase.REST))
    p.until(lambda: p.now - t_rest >= 10.0)
    onset = p.now
    cmd = p.tick(tense=True)
    assert p.ctrl.phase is Phase.GUARD_WAIT  # already at base: nothing to release
    assert cmd.force_n == 150.0 and cmd.flags == ("guarding",)
    t_end = p.until(lambda: p.ctrl.phase is not Phase.GUARD_WAIT, max_s=30.0)
    assert 2.0 - 1e-9 <= t_end - onset <= 2.0 + TICK_S + 1e-9
    assert p.phase is Phase.REST
    ev = p.ctrl.events[0]
    assert ev.phase == "rest" and ev.ramp_after_n_s == 15.0
    t_ramp = p.until(p.phase_is(Phase.RAMP_UP), max_s=40.0)
    # What was left of the rest at the onset (30 s - 10 s), after the relaxation.
    assert t_ramp - t_end == pytest.approx(20.0, abs=2 * TICK_S)


def test_guarding_in_the_ramp_down_is_followed_by_a_whole_rest() -> None:
    p = Patient()
    p.until(lambda: p.ctrl.phase is Phase.RAMP_DOWN and p.ctrl.target_n <= 280.0)
    p.tick(tense=True)
    assert p.ctrl.phase is Phase.GUARD_RELEASE
    t_end = p.until(lambda: p.ctrl.phase not in GUARDING, max_s=30.0)
    assert p.phase is Phase.REST and p.ctrl.events[0].ramp_after_n_s == 15.0
    t_ramp = p.until(p.phase_is(Phase.RAMP_UP), max_s=40.0)
    assert t_ramp - t_end == pytest.approx(30.0, abs=2 * TICK_S)


def test_guarding_in_pretension_holds_the_force_then_pretension_goes_on() -> None:
    p = Patient()
    p.until(lambda: p.ctrl.target_n >= 100.0)
    level = p.ctrl.target_n
    cmd = p.tick(tense=True)
    assert p.ctrl.phase is Phase.GUARD_WAIT and cmd.force_n == level
    p.until(lambda: p.ctrl.phase not in GUARDING, max_s=30.0)
    assert p.phase is Phase.PRETENSION
    assert p.ctrl.events[0].ramp_after_n_s == 15.0
    a, b = p.tick(), p.tick()
    assert b.force_n - a.force_n == pytest.approx(15.0 * TICK_S)


def _ramping_at(p: Patient, level: float) -> Callable[[], bool]:
    return lambda: p.ctrl.phase in (Phase.RAMP_UP, Phase.REBUILD) and p.ctrl.target_n >= level


@pytest.mark.parametrize(("level", "lowered"), [(256.0, True), (250.0, False)])
def test_two_onsets_near_the_peak_lower_it(level: float, lowered: bool) -> None:
    # 85% of 300 N = 255 N: two onsets at or above it, without a whole hold between them.
    p = Patient()
    first = p.strike(_ramping_at(p, level))
    assert p.ctrl.peak_n == 300.0 and first.peak_after_n == 300.0
    second = p.strike(_ramping_at(p, level))
    assert second.phase == "rebuild"
    if lowered:
        assert p.ctrl.peak_n == pytest.approx(0.9 * second.target_at_onset_n)
    else:
        assert p.ctrl.peak_n == 300.0
    assert second.peak_after_n == p.ctrl.peak_n
    # The count starts again: one more onset does not lower it further.
    third = p.strike(_ramping_at(p, min(level, 0.9 * p.ctrl.peak_n)))
    assert third.peak_after_n == p.ctrl.peak_n == second.peak_after_n


def test_a_lowered_peak_stays_above_base_tension() -> None:
    p = Patient(ControllerSettings(peak_backoff=0.5))
    p.strike(p.phase_is(Phase.HOLD))
    p.strike(p.phase_is(Phase.HOLD))
    assert p.ctrl.peak_n == pytest.approx(1.1 * 150.0)  # 50% of 300 N would be base tension


def test_an_onset_while_releasing_is_no_strike_against_the_peak() -> None:
    p = Patient()
    # Near the peak, but the pull was already falling: not a sign the peak is too high.
    p.strike(lambda: p.ctrl.phase is Phase.RAMP_DOWN)
    assert p.ctrl.events[0].target_at_onset_n >= 255.0
    p.strike(_ramping_at(p, 256.0))
    assert p.ctrl.peak_n == 300.0


def test_a_step_of_the_winch_in_the_last_half_second_delays_the_relaxation() -> None:
    # The winch speed is judged over the last 0.5 s: a 0.2 mm step (0.4 mm/s over the window)
    # at the moment the wait turns 2 s old keeps the patient "moving" until it leaves the window.
    p = Patient()
    _, t_wait = _to_wait(p)
    p.until(lambda: p.now - t_wait >= 2.0, max_s=3.0)  # the next tick is the first at 2 s
    step_at = p.now
    p._creep_mm += 0.2
    t_end = p.until(lambda: p.ctrl.phase is not Phase.GUARD_WAIT, max_s=5.0)
    assert 0.5 - 1e-9 <= t_end - step_at <= 0.5 + 2 * TICK_S + 1e-9


def test_an_onset_exactly_at_the_near_peak_fraction_counts() -> None:
    p = Patient(ControllerSettings(near_peak_fraction=1.0))
    p.strike(p.phase_is(Phase.HOLD))  # at the peak itself: 300 N >= 100% of 300 N
    p.strike(p.phase_is(Phase.HOLD))
    assert p.ctrl.peak_n == pytest.approx(270.0)


def test_guarding_just_before_the_rest_ends_keeps_only_what_was_left() -> None:
    p = Patient()
    t_rest = p.until(p.phase_is(Phase.REST))
    p.until(lambda: p.now - t_rest >= 29.5)
    p.tick(tense=True)
    t_end = p.until(lambda: p.ctrl.phase not in GUARDING, max_s=30.0)
    t_ramp = p.until(p.phase_is(Phase.RAMP_UP), max_s=5.0)
    assert t_ramp - t_end == pytest.approx(0.5, abs=2 * TICK_S)


@pytest.mark.parametrize(
    ("force", "emg", "source"),
    [(True, False, "force"), (False, True, "emg"), (True, True, "force+emg")],
)
def test_each_event_names_the_channel_that_detected_it(force: bool, emg: bool, source: str) -> None:
    p = Patient(emg=True)
    p.until(lambda: p.ctrl.phase is Phase.RAMP_UP and p.ctrl.target_n >= 250.0)
    p.tick(tense=force, emg_tense=emg)
    assert p.ctrl.phase is Phase.GUARD_RELEASE and p.ctrl.emg_status == "active"
    t_wait = p.until(p.phase_is(Phase.GUARD_WAIT), max_s=5.0)
    p.until(lambda: p.now - t_wait >= 1.2)
    p.tick(tense=force, emg_tense=emg)  # a new contraction while waiting
    assert [e.source for e in p.ctrl.events] == [source, source]


def test_a_contraction_at_rest_is_waited_out_with_the_real_detector(
    fake_table: Callable[..., Any],
) -> None:
    # At base there is nothing to release: the wait starts at once, and the force path keeps
    # its passive reference (re-referencing it at the onset would absorb the contraction and
    # declare the muscles relaxed 2 s later while they still pull).
    proto = default_protocol("lumbar", 80, "L4/5", traction_minutes=10)
    ctrl, table = DecompressionController(proto), fake_table()
    out = drive(ctrl, table, 120.0)
    t = out[-1][0] + TICK_S
    while ctrl.phase is not Phase.REST:
        drive(ctrl, table, TICK_S, t0=t)
        t += TICK_S
    drive(ctrl, table, 5.0, t0=t)
    t0 = t + 5.0

    def tense(now: float) -> None:
        table.extra_force = 40.0 if now < t0 + 6.0 else 0.0

    drive(ctrl, table, 20.0, t0=t0, hook=tense)
    ev = ctrl.events[0]
    assert ev.phase == "rest" and ev.onset_s == pytest.approx(t0)
    assert ev.time_to_relax_s is not None and ev.time_to_relax_s > 4.0


def test_a_second_pair_of_onsets_near_the_lowered_peak_lowers_it_again() -> None:
    """The count of strikes restarts after a lowering: two more lower the peak once more."""
    p = Patient()
    p.strike(_ramping_at(p, 256.0))
    p.strike(_ramping_at(p, 256.0))
    once = p.ctrl.peak_n
    assert once < 300.0
    p.strike(_ramping_at(p, 0.9 * once))
    assert p.ctrl.peak_n == once
    fourth = p.strike(_ramping_at(p, 0.9 * once))
    assert p.ctrl.peak_n == pytest.approx(0.9 * fourth.target_at_onset_n)
    assert p.ctrl.peak_n < once


def test_a_new_contraction_while_waiting_is_logged_with_its_force_and_its_peak() -> None:
    """At base, 1.2 s after the wait began: a new event with the force at its onset; its peak is
    the largest force while it lasts, whatever came before or after."""
    p = Patient()
    _, t_wait = _to_wait(p)
    p.until(lambda: p.now - t_wait >= 1.2)
    p.tick(tense=True, extra_n=40.0)
    p.tick(tense=True, extra_n=80.0)
    p.tick(tense=True, extra_n=20.0)
    assert len(p.ctrl.events) == 2
    ev = p.ctrl.events[1]
    assert ev.phase == "guard_wait"
    assert ev.force_at_onset_n == 190.0 and ev.target_at_onset_n == 150.0
    assert ev.peak_force_n == 230.0
    first = p.ctrl.events[0]
    assert first.peak_force_n == first.force_at_onset_n  # the earlier event keeps its own


class _WindowOracle:
    """The relaxation rule written out on a plain list: the winch samples of the wait (one per
    tick at base, and the tick of the onset), trimmed to the newest sample at least 0.5 s old
    and everything after it; relaxed when the wait is 2 s old and the winch moved at most
    0.25 mm/s over that span, or 20 s after the onset."""

    def __init__(self, onset_s: float) -> None:
        self.onset_s = onset_s
        self.hist: list[tuple[float, float]] = []

    def relaxed(self, now: float, winch: float, wait_start: float) -> bool:
        self.hist.append((now, winch))
        while len(self.hist) > 2 and self.hist[1][0] <= now - 0.5:
            self.hist.pop(0)
        if now - self.onset_s >= 20.0:
            return True
        if now - wait_start < 2.0:
            return False
        (t0, x0), (t1, x1) = self.hist[0], self.hist[-1]
        return abs(x1 - x0) / max(t1 - t0, TICK_S) <= 0.25


@given(
    st.lists(
        st.tuples(st.integers(0, 150), st.sampled_from([-0.3, -0.1, -0.01, 0.01, 0.1, 0.3])),
        max_size=8,
    )
)
@settings(max_examples=25, deadline=None)
def test_the_relaxation_is_judged_on_the_last_half_second_of_winch_motion(
    steps: list[tuple[int, float]],
) -> None:
    """Winch steps at random ticks of the wait: the wait ends on the very tick the rule says."""
    p = Patient()
    onset, t_wait = _to_wait(p)
    oracle = _WindowOracle(onset)
    moves = dict(steps)
    expected: float | None = None
    for i in range(1100):  # up to 22 s: past the 20 s limit
        if i in moves:
            p._creep_mm += moves[i]
        now = p.now
        winch = p.force / 10.0 + p._creep_mm
        if oracle.relaxed(now, winch, t_wait):
            expected = now
        p.tick()
        if expected is not None or p.ctrl.phase is not Phase.GUARD_WAIT:
            break
    assert expected is not None
    assert p.ctrl.events[0].relaxed_s == expected


def test_updates_faster_than_the_window_keep_the_newest_winch_samples() -> None:
    """Updates closer together than a tick (a hostile or broken clock) fill the winch history
    faster than the window trims it: it keeps the newest samples, in order, and never grows."""
    ctrl = DecompressionController(GUARD_PROTO)
    st_, cp = ctrl.state, ctrl.params
    cap = int(cp[core.P_HIST_CAP])
    for i in range(cap + 10):
        core._remember_winch(st_, cp, 5.0, float(i))
    n, head = int(st_[core.S_HIST_LEN]), int(st_[core.S_HIST_HEAD])
    assert n == cap
    kept = [st_[core.S_HIST + 2 * ((head + j) % cap) + 1] for j in range(n)]
    assert kept == [float(i) for i in range(10, cap + 10)]
    # A later sample trims what is older than the window, down to the newest old one.
    core._remember_winch(st_, cp, 6.0, -1.0)
    n, head = int(st_[core.S_HIST_LEN]), int(st_[core.S_HIST_HEAD])
    assert n == 2
    assert st_[core.S_HIST + 2 * head + 1] == float(cap + 9)
