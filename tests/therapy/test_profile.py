"""The profile arithmetic the controller and the target curve share (therapy/profile.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.therapy.profile import (
    ModeProfile,
    TractionMode,
    log_curvature,
    log_ramp,
    oscillation_dip,
    oscillation_max_rise_n_s,
    oscillation_room_n,
    ramp_toward,
    step_fraction,
)
from spinecare.therapy.protocol import Protocol, default_protocol

FACTORS = st.floats(1.5, 5.0)


def test_ramp_toward_moves_by_at_most_one_step_and_stops_at_the_goal() -> None:
    assert ramp_toward(100.0, 200.0, 15.0, 0.02) == pytest.approx(100.3)
    assert ramp_toward(199.9, 200.0, 15.0, 0.02) == 200.0
    assert ramp_toward(200.0, 100.0, 30.0, 0.02) == pytest.approx(199.4)


@pytest.mark.parametrize("steps", range(1, 11))
def test_steps_divide_the_span_evenly_below_the_peak(steps: int) -> None:
    levels = [step_fraction(k, steps) for k in range(1, steps + 1)]
    assert all(0.0 < f < 1.0 for f in levels)
    gaps = [b - a for a, b in zip([0.0, *levels], [*levels, 1.0], strict=True)]
    assert gaps == pytest.approx([1.0 / (steps + 1)] * (steps + 1))


@settings(deadline=None)
@given(factor=FACTORS)
def test_the_log_ramp_starts_factor_times_steeper_than_its_mean(factor: float) -> None:
    k = log_curvature(factor)
    assert k / math.log1p(k) == pytest.approx(factor, rel=1e-9)
    # Numerically: the first millisecond of a 10 s ramp over 100 N (mean 10 N/s).
    start = log_ramp(0.0, 100.0, 1e-3, 10.0, k) / 1e-3
    assert start == pytest.approx(10.0 * factor, rel=1e-2)


@settings(deadline=None)
@given(factor=FACTORS, x=st.floats(0.0, 1.0), y=st.floats(0.0, 1.0))
def test_the_log_ramp_rises_from_start_to_goal_and_flattens(
    factor: float, x: float, y: float
) -> None:
    k = log_curvature(factor)
    lo, hi = sorted((x, y))
    a, b = (log_ramp(130.0, 260.0, t * 8.0, 8.0, k) for t in (lo, hi))
    assert 130.0 - 1e-9 <= a <= b <= 260.0 + 1e-9
    assert log_ramp(130.0, 260.0, 0.0, 8.0, k) == 130.0
    assert log_ramp(130.0, 260.0, 8.0, 8.0, k) == 260.0
    # Concave: ahead of the straight line everywhere inside.
    assert a >= 130.0 + 130.0 * lo - 1e-9


def test_a_factor_of_one_is_the_straight_line() -> None:
    assert log_curvature(1.0) == 0.0
    assert log_ramp(0.0, 100.0, 2.5, 10.0, 0.0) == pytest.approx(25.0)


@given(amp=st.floats(0.1, 50.0), hz=st.floats(0.05, 0.25), t=st.floats(0.0, 600.0))
def test_the_oscillation_dips_below_the_level_by_at_most_twice_its_amplitude(
    amp: float, hz: float, t: float
) -> None:
    dip = oscillation_dip(amp, hz, t)
    assert -1e-9 <= dip <= 2 * amp + 1e-9
    assert oscillation_dip(amp, hz, 0.0) == 0.0


@settings(deadline=None)
@given(amp=st.floats(0.1, 50.0), hz=st.floats(0.05, 0.25))
def test_the_oscillation_rises_no_faster_than_2_pi_f_a(amp: float, hz: float) -> None:
    n = 2000  # samples per period
    dt = 1.0 / hz / n
    worst = max(
        (oscillation_dip(amp, hz, i * dt) - oscillation_dip(amp, hz, (i + 1) * dt)) / dt
        for i in range(n)
    )
    assert worst <= oscillation_max_rise_n_s(amp, hz) * (1 + 1e-6)
    assert worst == pytest.approx(oscillation_max_rise_n_s(amp, hz), rel=1e-3)


@settings(deadline=None)
@given(level=st.floats(20.0, 890.0), base_share=st.floats(0.0, 0.99))
def test_a_hold_oscillates_within_its_room_above_base(level: float, base_share: float) -> None:
    base = level * base_share
    room = oscillation_room_n(level, base)
    assert 0.0 <= room <= 0.05 * level + 1e-9
    assert level - 2 * room >= base + 0.5 * (level - base) - 1e-9
    prof = ModeProfile(TractionMode.STATIC, 0, 0, 60.0, 30.0, 15.0, 30.0, 0.0, 50.0, 0.25)
    lows = [prof.hold_target(level, base, t / 10) for t in range(0, 41)]
    assert min(lows) >= level - 2 * room - 1e-9
    assert max(lows) <= level


def _proto(**changes: object) -> Protocol:
    p = default_protocol("lumbar", 80, "L4/5")
    return Protocol.model_validate({**p.model_dump(), **changes})


def test_the_profile_of_a_protocol() -> None:
    cyclic = ModeProfile.of(_proto(mode="cyclic"))
    assert (cyclic.hold_s, cyclic.rest_s, cyclic.log_k) == (0.0, 0.0, 0.0)
    inter = ModeProfile.of(_proto(ramp_shape="logarithmic", oscillation_amplitude_n=5.0))
    assert (inter.hold_s, inter.rest_s) == (60.0, 30.0)
    assert inter.log_k == pytest.approx(log_curvature(2.0))
    assert (inter.oscillation_n, inter.oscillation_hz) == (5.0, 0.2)
    # Both ramp shapes take as long as the linear ramp at the protocol's (mean) rate.
    assert inter.rise_s(130.0, 250.0) == pytest.approx(8.0)
    assert inter.fall_s(250.0, 130.0) == pytest.approx(4.0)
    assert inter.cycle_s(250.0, 130.0, hold_s=60.0, rest_s=30.0) == pytest.approx(102.0)


def test_the_regressive_steps_need_their_cycles_but_not_the_last_release() -> None:
    p = _proto(regressive_steps=2)
    prof = ModeProfile.of(p)
    base, peak = 100.0, 250.0
    levels = [base + f * (peak - base) for f in (2 / 3, 1 / 3)]
    want = sum(prof.rise_s(base, lv) + 60.0 + 0.2 for lv in levels)
    want += prof.fall_s(levels[0], base) + 30.0
    assert prof.regressive_s(0, base, peak, 0.2) == pytest.approx(want)
    assert prof.regressive_s(1, base, peak, 0.2) == pytest.approx(
        prof.rise_s(base, levels[1]) + 60.0 + 0.2
    )
    assert prof.regressive_s(2, base, peak, 0.2) == 0.0
