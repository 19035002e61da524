"""Clock behaviour the loop relies on (logic only; precision is benchmark B1's job)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinecare.runtime.clock import Clock, MonotonicClock, SimulatedClock


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(MonotonicClock(), Clock)
    assert isinstance(SimulatedClock(), Clock)


def test_simulated_clock_starts_at_zero_and_jumps_to_deadlines() -> None:
    c = SimulatedClock()
    assert c.now() == 0.0
    c.sleep_until(0.02)
    assert c.now() == 0.02
    c.advance(0.005)
    assert c.now() == pytest.approx(0.025)


@given(st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), max_size=30))
def test_simulated_clock_never_goes_backwards(deadlines: list[float]) -> None:
    c = SimulatedClock()
    last = c.now()
    for t in deadlines:
        c.sleep_until(t)
        assert c.now() >= last
        assert c.now() >= t or c.now() == last
        last = c.now()


def test_simulated_clock_rejects_negative_advance() -> None:
    with pytest.raises(ValueError):
        SimulatedClock().advance(-0.1)


def test_monotonic_clock_sleep_until_reaches_the_deadline() -> None:
    c = MonotonicClock()
    deadline = c.now() + 0.003
    c.sleep_until(deadline)
    assert c.now() >= deadline  # never early; how late is measured by the benchmark


def test_monotonic_clock_past_deadline_returns_at_once() -> None:
    c = MonotonicClock(spin_s=0.0)
    before = c.now()
    c.sleep_until(before - 1.0)
    assert c.now() >= before


def test_monotonic_clock_rejects_negative_spin() -> None:
    with pytest.raises(ValueError):
        MonotonicClock(spin_s=-1e-3)
