"""Treatment modes (docs/modes.md): the protocol refuses every parameter out of its range with the
field, each mode's target curve keeps the limits, and the one controller keeps its guarding
reaction, base tension and PAUSE in every mode."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from spinecare.quantities import REGISTRY, Q
from spinecare.therapy.controller import ControllerSettings, DecompressionController
from spinecare.therapy.curve import TargetCurve, target_curve
from spinecare.therapy.guarding import ForceGuardingDetector, ForceGuardingUpdate
from spinecare.therapy.profile import Phase, RampShape, Stage, TractionMode
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.therapy.safety import MAX_RISE_N_S, SafetyPolicy
from spinecare.vocab import TICK_S, Command, Reading, Region

EPS = 1e-6
MODE_FIELDS = {
    "progressive_steps": Q.PROGRESSIVE_STEPS,
    "regressive_steps": Q.REGRESSIVE_STEPS,
    "log_ramp_factor": Q.LOG_RAMP_FACTOR,
    "oscillation_amplitude_n": Q.OSCILLATION_AMPLITUDE,
    "oscillation_hz": Q.OSCILLATION_FREQUENCY,
}


def proto(region: str = "lumbar", weight: float = 80.0, **changes: Any) -> Protocol:
    seg = "L4/5" if region == "lumbar" else "C5/6"
    minutes = changes.pop("traction_minutes", 30.0)
    p = default_protocol(region, weight, seg, traction_minutes=minutes)
    return Protocol.model_validate({**p.model_dump(), **changes})


def refused(field: str, **changes: Any) -> str:
    with pytest.raises(ValidationError) as err:
        proto(**changes)
    text = str(err.value)
    assert field in text
    return text


# --- The protocol: each mode's parameters, with the field and the range ---------------------
def test_a_protocol_stored_before_modes_is_intermittent() -> None:
    stored = default_protocol("lumbar", 80, "L4/5").model_dump(mode="json")
    for name in ("mode", "ramp_shape", *MODE_FIELDS):
        del stored[name]
    p = Protocol.model_validate(stored)
    assert (p.mode, p.ramp_shape) == (TractionMode.INTERMITTENT, RampShape.LINEAR)
    assert (p.progressive_steps, p.regressive_steps, p.oscillation_amplitude_n) == (0, 0, 0.0)


@pytest.mark.parametrize("mode", list(TractionMode))
@pytest.mark.parametrize("shape", list(RampShape))
def test_every_mode_and_ramp_shape_is_accepted_by_name(mode: str, shape: str) -> None:
    p = proto(mode=mode.value, ramp_shape=shape.value)
    assert p.mode is mode and p.ramp_shape is shape
    assert Protocol.model_validate(p.model_dump(mode="json")) == p


@pytest.mark.parametrize(("field", "value"), [("mode", "sustained"), ("ramp_shape", "cubic")])
def test_an_unknown_mode_or_shape_is_refused_with_the_field(field: str, value: str) -> None:
    refused(field, **{field: value})


def _outside(q: Q) -> st.SearchStrategy[float]:
    r = REGISTRY[q]
    below = st.floats(r.safe_min - 1000.0, r.safe_min, exclude_max=not r.safe_min_exclusive)
    above = st.floats(r.safe_max, r.safe_max + 1000.0, exclude_min=True)
    strategy = st.one_of(below, above)
    if r.decimals == 0:
        return strategy.map(math.floor).filter(lambda v: not r.safe(v))
    return strategy.filter(lambda v: not r.safe(v))


@pytest.mark.parametrize("field", list(MODE_FIELDS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_mode_parameter_out_of_its_range_is_refused_with_the_field(
    field: str, data: st.DataObject
) -> None:
    value = data.draw(_outside(MODE_FIELDS[field]))
    text = refused(field, **{field: value})
    r = REGISTRY[MODE_FIELDS[field]]
    assert f"{r.safe_max:g}" in text or f"{r.safe_min:g}" in text  # the range is named


@settings(max_examples=40, deadline=None)
@given(
    region=st.sampled_from(list(Region)),
    ramp=st.floats(0.6, 20.0),
    factor=st.floats(1.5, 5.0),
)
def test_a_log_ramp_that_would_start_above_the_rise_limit_is_refused(
    region: Region, ramp: float, factor: float
) -> None:
    limit = MAX_RISE_N_S[region]
    changes = {"ramp_shape": "logarithmic", "ramp_up_n_s": ramp, "log_ramp_factor": factor}
    if factor * ramp <= limit:
        assert proto(region.value, **changes).log_ramp_factor == factor
    else:
        text = refused("log_ramp_factor", region=region.value, **changes)
        assert f"{limit:g} N/s" in text and f"{limit / ramp:.2f}" in text
    # A linear ramp has no start to speak of: the factor is not checked.
    assert proto(region.value, **{**changes, "ramp_shape": "linear"}).ramp_shape.value == "linear"


def refused_in(region: str, field: str, **changes: Any) -> str:
    with pytest.raises(ValidationError) as err:
        proto(region, **changes)
    assert field in str(err.value)
    return str(err.value)


@settings(max_examples=60, deadline=None)
@given(
    region=st.sampled_from(["lumbar", "cervical"]),
    weight=st.floats(40.0, 200.0),
    amp=st.floats(0.1, 50.0),
    hz=st.floats(0.05, 0.25),
    mode=st.sampled_from(list(TractionMode)),
)
def test_an_oscillation_is_refused_unless_small_slow_enough_and_in_a_hold(
    region: str, weight: float, amp: float, hz: float, mode: TractionMode
) -> None:
    base = default_protocol(region, weight, "L4/5" if region == "lumbar" else "C5/6")
    limit = MAX_RISE_N_S[base.region]
    room = min(0.05 * base.peak_force_n, 0.25 * (base.peak_force_n - base.base_force_n))
    changes = {"oscillation_amplitude_n": amp, "oscillation_hz": hz, "mode": mode.value}
    ok = mode is not TractionMode.CYCLIC and 2 * math.pi * hz * amp <= limit and amp <= room
    if ok:
        assert proto(region, weight, **changes).oscillation_amplitude_n == amp
    else:
        text = refused_in(region, "oscillation_amplitude_n", weight=weight, **changes)
        assert "cyclic" in text or "N/s" in text or "at most" in text


def test_steps_that_do_not_fit_the_traction_time_are_refused() -> None:
    assert proto(progressive_steps=5, regressive_steps=5).progressive_steps == 5
    text = refused("progressive_steps", progressive_steps=10, regressive_steps=10)
    assert "30 min" in text
    refused("progressive_steps", progressive_steps=3, traction_minutes=4)


# --- Target curves: the limits every mode keeps -------------------------------------------
@st.composite
def mode_protocols(draw: st.DrawFn) -> Protocol:
    region = draw(st.sampled_from(["lumbar", "cervical"]))
    weight = draw(st.floats(40.0, 200.0))
    mode = draw(st.sampled_from(list(TractionMode)))
    base = default_protocol(
        region, weight, "L4/5" if region == "lumbar" else "C5/6", traction_minutes=10.0
    )
    changes: dict[str, Any] = {
        "mode": mode.value,
        "progressive_steps": draw(st.integers(0, 2)),
        "regressive_steps": draw(st.integers(0, 2)),
        "hold_s": draw(st.sampled_from([20.0, 60.0])),
        "rest_s": draw(st.sampled_from([10.0, 30.0])),
    }
    limit = MAX_RISE_N_S[base.region]
    if draw(st.booleans()):
        changes["ramp_shape"] = "logarithmic"
        changes["log_ramp_factor"] = draw(st.floats(1.5, min(5.0, limit / base.ramp_up_n_s)))
    if mode is not TractionMode.CYCLIC and draw(st.booleans()):
        hz = draw(st.floats(0.05, 0.25))
        room = min(0.05 * base.peak_force_n, 0.25 * (base.peak_force_n - base.base_force_n))
        top = min(room, limit / (2 * math.pi * hz))
        changes["oscillation_hz"] = hz
        changes["oscillation_amplitude_n"] = draw(st.floats(0.1, 1.0)) * top
    try:
        return Protocol.model_validate({**base.model_dump(), **changes})
    except ValidationError:
        assume(False)
        raise


def _pulling(c: TargetCurve) -> list[int]:
    """Samples from the first ramp up to the final release (base must be held there)."""
    first = c.phase.index(Phase.RAMP_UP.value)
    last = c.phase.index(Phase.FINAL_RELEASE.value)
    return list(range(first, last))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=mode_protocols())
def test_every_mode_s_curve_keeps_the_rise_limit_the_peak_and_the_base(p: Protocol) -> None:
    c = target_curve(p)
    limit = MAX_RISE_N_S[p.region]
    assert c.max_rise_n_s <= max(limit, p.ramp_up_n_s) + EPS
    assert c.max_rise_n_s <= limit + EPS  # the default ramps are within it
    assert float(c.target_n.max()) <= p.peak_force_n + EPS
    pulling = _pulling(c)
    assert min(float(c.target_n[i]) for i in pulling) >= p.base_force_n - EPS
    # Starts slack, ends slack and done, after the whole traction time.
    assert c.target_n[0] < p.base_force_n and c.target_n[-1] == 0.0 and c.phase[-1] == "done"
    assert c.duration_s >= p.traction_minutes * 60.0
    # The peak is reached: every mode pulls to the protocol's peak at least once.
    assert float(c.target_n.max()) == pytest.approx(p.peak_force_n)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=mode_protocols())
def test_the_safety_policy_never_needs_to_clamp_a_mode_s_curve(p: Protocol) -> None:
    """Every clamp applies unchanged: the policy sees each tick's target, and a valid mode's
    curve stays inside the whole chain (protocol peak, body-weight cap, device limit, rise)."""
    c = target_curve(p)
    policy = SafetyPolicy(p)
    for t, f in zip(c.t_s, c.target_n, strict=True):
        decision = policy.decide(Command(float(t), float(f), min(p.base_force_n, float(f))), t)
        assert decision.clamps == (), (t, f, decision.clamps)


def _holds(c: TargetCurve) -> list[tuple[float, float, str, float]]:
    return [(cy.hold_start_s, cy.hold_end_s, cy.stage, cy.level_n) for cy in c.cycles]


def test_intermittent_holds_60_s_and_rests_30_s() -> None:
    c = target_curve(proto(traction_minutes=8.0))
    holds = _holds(c)
    assert len(holds) == 4
    assert all(b - a == pytest.approx(60.0, abs=2 * TICK_S) for a, b, _, _ in holds)
    assert all(cy.stage == Stage.MAIN.value for cy in c.cycles)


def test_static_is_one_pull_released_to_base_at_the_end_of_traction() -> None:
    p = proto(mode="static", traction_minutes=10.0)
    c = target_curve(p)
    (hold,) = _holds(c)
    assert hold[3] == p.peak_force_n
    end = p.traction_minutes * 60.0
    release = c.t_s[c.phase.index("final_release")]
    # The ramp down to base ends as the traction time does; the final release starts at base.
    ramp_down_s = (p.peak_force_n - p.base_force_n) / p.ramp_down_n_s
    assert end - 0.3 <= hold[1] + ramp_down_s <= end
    assert release - end < 2 * TICK_S + EPS
    _, before = c.at(release - TICK_S)
    assert before == pytest.approx(p.base_force_n)


def test_cyclic_ramps_up_and_down_without_holds_or_rests() -> None:
    p = proto(mode="cyclic", traction_minutes=5.0)
    c = target_curve(p)
    assert len(c.cycles) > 10
    assert all(cy.hold_end_s - cy.hold_start_s <= TICK_S + EPS for cy in c.cycles)
    starts = [cy.ramp_start_s for cy in c.cycles]
    period = (p.peak_force_n - p.base_force_n) * (1 / p.ramp_up_n_s + 1 / p.ramp_down_n_s)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g == pytest.approx(period, abs=4 * TICK_S) for g in gaps)


def test_steps_rise_to_the_peak_and_fall_before_the_end() -> None:
    p = proto(progressive_steps=3, regressive_steps=2, traction_minutes=20.0)
    c = target_curve(p)
    stages = [cy.stage for cy in c.cycles]
    levels = [cy.level_n for cy in c.cycles]
    assert stages[:3] == ["progressive"] * 3 and stages[-2:] == ["regressive"] * 2
    span = p.peak_force_n - p.base_force_n
    assert levels[:3] == pytest.approx([p.base_force_n + span * k / 4 for k in (1, 2, 3)])
    assert levels[-2:] == pytest.approx([p.base_force_n + span * k / 3 for k in (2, 1)])
    assert all(lv == p.peak_force_n for s, lv in zip(stages, levels, strict=True) if s == "main")
    # The last regressive hold ends within the traction time.
    assert c.cycles[-1].hold_end_s <= p.traction_minutes * 60.0 + 1.0


def test_the_logarithmic_ramp_is_fast_first_and_as_long_as_the_linear_one() -> None:
    lin = target_curve(proto(traction_minutes=3.0))
    log = target_curve(proto(ramp_shape="logarithmic", traction_minutes=3.0))
    a, b = lin.cycles[0], log.cycles[0]
    assert b.ramp_start_s == a.ramp_start_s
    assert b.hold_start_s == pytest.approx(a.hold_start_s, abs=2 * TICK_S)
    p = log.protocol
    mid = b.ramp_start_s + 0.35 * (b.hold_start_s - b.ramp_start_s)
    half = p.base_force_n + 0.5 * (p.peak_force_n - p.base_force_n)
    assert log.at(mid)[1] >= half - 0.5 > lin.at(mid)[1]
    # The release stays linear.
    assert log.max_rise_n_s == pytest.approx(2.0 * p.ramp_up_n_s, rel=0.02)


def test_the_oscillation_swings_below_the_peak_only_in_holds() -> None:
    p = proto(oscillation_amplitude_n=10.0, traction_minutes=4.0)
    c = target_curve(p)
    hold = [float(f) for f, ph in zip(c.target_n, c.phase, strict=True) if ph == "hold"]
    assert max(hold) <= p.peak_force_n and min(hold) == pytest.approx(p.peak_force_n - 20.0)
    assert c.max_rise_n_s == pytest.approx(p.ramp_up_n_s)  # 2 pi 0.2 Hz 10 N = 12.6 N/s


def test_the_curve_s_samples_and_segment_estimate() -> None:
    p = proto(traction_minutes=3.0)
    fine, coarse = target_curve(p), target_curve(p, 1.0)
    assert coarse.step_s == 1.0
    assert list(coarse.target_n[:-1]) == list(fine.target_n[::50][: len(coarse.t_s) - 1])
    assert all(0.0 <= s <= f + EPS for s, f in zip(fine.segment_n, fine.target_n, strict=True))
    d = coarse.as_dict()
    assert d["mode"] == "intermittent" and len(d["t_s"]) == len(d["segment_n"])  # type: ignore[arg-type]


# --- The one controller: guarding, base tension and PAUSE in every mode ---------------------
class Tension(ForceGuardingDetector):
    """The force path with the alarm scripted by the test."""

    tense = False

    def update(
        self, force_n: float, winch_mm: float, unloading_scale: float | None = None
    ) -> ForceGuardingUpdate:
        return ForceGuardingUpdate(self.tense, 30.0 if self.tense else 0.0)


class Table:
    """A table that follows each command exactly (force = last command, 10 N/mm)."""

    def __init__(self, p: Protocol, settings: ControllerSettings | None = None) -> None:
        self.ctrl = DecompressionController(p, settings=settings)
        self.tension = Tension()
        self.ctrl.force_detector = self.tension
        self.k = 0
        self.force = 0.0
        self.log: list[tuple[float, float, Phase]] = []

    @property
    def now(self) -> float:
        return self.k * TICK_S

    def tick(self, tense: bool = False) -> Command:
        now = self.now
        self.tension.tense = tense
        cmd = self.ctrl.update(Reading(now, self.k + 1, self.force, self.force / 10.0, False), now)
        self.force = cmd.force_n
        self.log.append((now, cmd.force_n, self.ctrl.phase))
        self.k += 1
        return cmd

    def until(self, cond: Callable[[], bool], max_s: float = 3000.0) -> float:
        for _ in range(round(max_s / TICK_S)):
            t = self.now
            self.tick()
            if cond():
                return t
        raise AssertionError("never happened")

    def phase_is(self, *phases: Phase) -> Callable[[], bool]:
        return lambda: self.ctrl.phase in phases

    def strike(self) -> float:
        """One tense tick; then relaxed until the guarding reaction has ended."""
        onset = self.now
        self.tick(tense=True)
        self.until(lambda: self.ctrl.phase not in (Phase.GUARD_RELEASE, Phase.GUARD_WAIT))
        return onset


def test_static_after_counter_tension_rebuilds_and_still_ends_on_time() -> None:
    p = proto(mode="static", traction_minutes=10.0)
    tab = Table(p)
    t_hold = tab.until(tab.phase_is(Phase.HOLD))
    tab.until(lambda: tab.now - t_hold >= 200.0)
    tab.strike()
    ev = tab.ctrl.events[0]
    assert ev.phase == "hold" and ev.ramp_after_n_s == pytest.approx(p.ramp_up_n_s / 2)
    assert tab.ctrl.phase is Phase.REBUILD
    tab.until(tab.phase_is(Phase.HOLD))
    t_down = tab.until(tab.phase_is(Phase.RAMP_DOWN))
    ramp_down_s = (p.peak_force_n - p.base_force_n) / p.ramp_down_n_s
    # Not "what was left of the hold" (that would overrun the session): the pull ends when the
    # ramp down to base needs the time left.
    assert t_down + ramp_down_s == pytest.approx(p.traction_minutes * 60.0, abs=0.3)


def test_cyclic_after_counter_tension_rebuilds_to_the_peak_and_turns_at_once() -> None:
    p = proto(mode="cyclic", traction_minutes=5.0)
    tab = Table(p)
    tab.until(lambda: tab.ctrl.phase is Phase.RAMP_UP and tab.ctrl.target_n > 200.0)
    tab.strike()
    tab.until(tab.phase_is(Phase.HOLD))
    t_hold = tab.now
    t_down = tab.until(tab.phase_is(Phase.RAMP_DOWN))
    assert t_down - t_hold <= TICK_S + EPS  # no 10 s resumed hold in a mode without holds
    # Counter-tension in the ramp down: back to base, wait, then the next ramp without a rest.
    tab.strike()
    t_rest_end = tab.now
    t_up = tab.until(tab.phase_is(Phase.RAMP_UP))
    assert t_up - t_rest_end <= 2 * TICK_S + EPS


def test_a_step_interrupted_by_counter_tension_rebuilds_to_its_own_level() -> None:
    p = proto(progressive_steps=2, traction_minutes=10.0)
    tab = Table(p)
    tab.until(tab.phase_is(Phase.HOLD))
    level = tab.ctrl.level_n
    assert level == pytest.approx(p.base_force_n + (p.peak_force_n - p.base_force_n) / 3)
    tab.until(lambda: tab.now > 30.0)
    tab.strike()
    tab.until(tab.phase_is(Phase.HOLD))
    assert tab.ctrl.target_n == pytest.approx(level)
    assert tab.ctrl.stage is Stage.PROGRESSIVE


def test_an_oscillating_hold_resumes_at_its_level_after_counter_tension() -> None:
    p = proto(oscillation_amplitude_n=10.0, traction_minutes=6.0)
    tab = Table(p)
    t_hold = tab.until(tab.phase_is(Phase.HOLD))
    tab.until(lambda: tab.now - t_hold >= 2.5)  # in the trough (period 5 s)
    assert tab.ctrl.target_n < p.peak_force_n - 15.0
    tab.strike()
    tab.until(tab.phase_is(Phase.HOLD))
    assert tab.ctrl.target_n == p.peak_force_n  # the swing starts again from the level


def test_a_log_ramp_interrupted_by_counter_tension_is_rebuilt_slowly_and_linearly() -> None:
    p = proto(ramp_shape="logarithmic", traction_minutes=6.0)
    tab = Table(p)
    tab.until(lambda: tab.ctrl.phase is Phase.RAMP_UP and tab.ctrl.target_n > 200.0)
    tab.strike()
    a, b = tab.tick(), tab.tick()
    assert tab.ctrl.phase is Phase.REBUILD
    assert b.force_n - a.force_n == pytest.approx(p.ramp_up_n_s / 2 * TICK_S)


def test_pause_in_a_log_ramp_holds_the_force_and_resumes_the_curve() -> None:
    p = proto(ramp_shape="logarithmic", traction_minutes=6.0)
    tab, ref = Table(p), Table(p)
    tab.until(lambda: tab.ctrl.phase is Phase.RAMP_UP and tab.ctrl.target_n > 160.0)
    ref.until(lambda: ref.k == tab.k)
    tab.ctrl.pause(tab.now)
    held = [tab.tick().force_n for _ in range(250)]  # 5 s paused
    assert held == [held[0]] * 250
    tab.ctrl.resume(tab.now)
    after = [tab.tick().force_n for _ in range(400)]
    before = [ref.tick().force_n for _ in range(400)]
    assert after == pytest.approx(before)  # the same curve, 5 s later


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    p=mode_protocols(),
    onsets=st.lists(st.floats(20.0, 500.0), min_size=1, max_size=4, unique=True),
)
def test_in_every_mode_guarding_keeps_base_and_never_pushes_past_the_peak(
    p: Protocol, onsets: list[float]
) -> None:
    tab = Table(p)
    onset_ticks = {round(t / TICK_S) for t in onsets}
    end = round((p.traction_minutes * 60.0 + 30.0) / TICK_S)
    for _ in range(end):
        tab.tick(tense=tab.k in onset_ticks)
        if tab.ctrl.done:
            break
    assert tab.ctrl.done
    phases = [ph for _, _, ph in tab.log]
    first = phases.index(Phase.RAMP_UP)
    last = phases.index(Phase.FINAL_RELEASE)
    forces = [f for _, f, _ in tab.log]
    assert min(forces[first:last]) >= p.base_force_n - EPS
    assert max(forces) <= p.peak_force_n + EPS
    rises = [b - a for a, b in itertools.pairwise(forces)]
    assert max(rises) <= MAX_RISE_N_S[p.region] * TICK_S + EPS
    assert len(tab.ctrl.events) >= 1
