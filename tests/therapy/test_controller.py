"""The biofeedback controller against a scripted spring table (no physics, no supervisor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from spinecare.therapy.controller import DecompressionController
from spinecare.therapy.profile import Phase
from spinecare.therapy.protocol import default_protocol
from spinecare.vocab import TICK_S, Command


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
