"""LoopRunner logic: the grid, the catch-up policy, overrun counting, stop, bounded stats.

All tests run on simulated clocks: the runner's timing *quality* is benchmark B1's subject.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.runtime.clock import MonotonicClock, SimulatedClock
from spinecare.runtime.loop import LoopRunner, RealtimeOptions
from spinecare.vocab import TICK_S


class WorkClock(SimulatedClock):
    """A simulated clock whose ``step`` work takes simulated time (to inject overruns)."""

    def __init__(self, start: float = 0.0, wake_late_s: float = 0.0) -> None:
        super().__init__(start)
        self.wake_late_s = wake_late_s

    def sleep_until(self, t: float) -> None:
        super().sleep_until(t)
        self.advance(self.wake_late_s)


def test_simulated_loop_runs_on_the_grid_with_zero_error() -> None:
    clock = SimulatedClock(start=5.0)
    seen: list[tuple[int, float]] = []

    def step(k: int, t: float) -> bool:
        seen.append((k, t))
        return k < 99

    stats = LoopRunner(TICK_S, clock, step).run()
    assert stats.ticks == 100
    assert [k for k, _ in seen] == list(range(100))
    assert [t for _, t in seen] == [5.0 + k * TICK_S for k in range(100)]
    assert stats.period_error_ms_p50 == 0.0
    assert stats.period_error_ms_p99 == 0.0
    assert stats.period_error_ms_max == 0.0
    assert stats.overruns == 0 and stats.skipped_ticks == 0
    assert clock.now() == pytest.approx(5.0 + 99 * TICK_S)


def test_max_ticks_limits_the_run() -> None:
    stats = LoopRunner(TICK_S, SimulatedClock(), lambda k, t: True).run(max_ticks=250)
    assert stats.ticks == 250


def test_overrun_skips_missed_ticks_and_keeps_the_grid() -> None:
    clock = WorkClock()
    seen: list[tuple[int, float]] = []

    def step(k: int, t: float) -> bool:
        seen.append((k, t))
        if k == 3:
            clock.advance(2.5 * TICK_S)  # ends mid-way between deadlines 5 and 6
        return len(seen) < 8

    stats = LoopRunner(TICK_S, clock, step).run()
    ks = [k for k, _ in seen]
    assert ks == [0, 1, 2, 3, 6, 7, 8, 9]  # ticks 4 and 5 skipped, no burst
    assert all(t == pytest.approx(k * TICK_S) for k, t in seen)
    assert stats.overruns == 1
    assert stats.skipped_ticks == 2
    assert stats.work_ms_max == pytest.approx(2.5 * TICK_S * 1e3)


def test_work_ending_exactly_on_the_next_deadline_is_not_an_overrun() -> None:
    clock = SimulatedClock()

    def step(k: int, t: float) -> bool:
        clock.sleep_until(t + 0.5)  # exactly one period of work (binary-exact numbers)
        return k < 9

    stats = LoopRunner(0.5, clock, step).run()
    assert stats.overruns == 0 and stats.ticks == 10


def test_late_wake_is_period_error_not_overrun() -> None:
    clock = WorkClock(wake_late_s=0.001)
    stats = LoopRunner(TICK_S, clock, lambda k, t: k < 49).run()
    assert stats.overruns == 0
    assert stats.ticks == 50
    assert stats.period_error_ms_p50 == pytest.approx(1.0, abs=0.005)
    assert stats.period_error_ms_max == pytest.approx(1.0, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=5 * TICK_S), min_size=1, max_size=60))
def test_overrun_policy_properties(work: list[float]) -> None:
    """Any work pattern: grid kept, k strictly increases, no tick starts before its deadline,
    overruns counted exactly when work ends after the next deadline."""
    clock = SimulatedClock()
    log: list[tuple[int, float, float, float]] = []  # k, scheduled, start, end

    def step(k: int, t: float) -> bool:
        start = clock.now()
        clock.advance(work[len(log)])
        log.append((k, t, start, clock.now()))
        return len(log) < len(work)

    stats = LoopRunner(TICK_S, clock, step).run()
    assert stats.ticks == len(work)
    expected_overruns = 0
    for i, (k, t, start, end) in enumerate(log):
        assert t == pytest.approx(k * TICK_S)
        assert start >= t
        if i + 1 < len(log):
            nk = log[i + 1][0]
            assert nk > k
            if end > (k + 1) * TICK_S:
                expected_overruns += 1
                assert log[i + 1][1] >= end  # never runs a deadline that already passed
            else:
                assert nk == k + 1
    assert stats.overruns == expected_overruns


def test_stop_from_another_thread_ends_the_loop() -> None:
    clock = SimulatedClock()
    started = threading.Event()
    runner: LoopRunner

    def step(k: int, t: float) -> bool:
        if k == 10:
            started.set()
        return True

    runner = LoopRunner(TICK_S, clock, step)
    result: list[int] = []
    th = threading.Thread(target=lambda: result.append(runner.run().ticks))
    th.start()
    assert started.wait(10.0)
    runner.stop()
    th.join(10.0)
    assert not th.is_alive()
    assert result and result[0] >= 11
    assert runner.stopping


def test_stop_inside_step_ends_after_that_tick() -> None:
    clock = SimulatedClock()
    runner: LoopRunner

    def step(k: int, t: float) -> bool:
        if k == 4:
            runner.stop()
        return True

    runner = LoopRunner(TICK_S, clock, step)
    assert runner.run().ticks == 5


def test_runner_runs_once_and_validates_period() -> None:
    runner = LoopRunner(TICK_S, SimulatedClock(), lambda k, t: False)
    runner.run()
    with pytest.raises(RuntimeError):
        runner.run()
    with pytest.raises(ValueError):
        LoopRunner(0.0, SimulatedClock(), lambda k, t: False)


def test_long_run_keeps_memory_bounded_and_stats_sane() -> None:
    clock = WorkClock(wake_late_s=0.0001)
    runner = LoopRunner(TICK_S, clock, lambda k, t: True)
    stats = runner.run(max_ticks=90_000)  # a 30-minute session
    assert stats.ticks == 90_000
    assert len(runner._err.counts) == len(LoopRunner(TICK_S, clock, lambda k, t: True)._err.counts)
    assert stats.period_error_ms_p99 == pytest.approx(0.1, abs=0.003)
    d = stats.as_dict()
    for key in (
        "ticks",
        "period_error_ms_p50",
        "period_error_ms_p99",
        "period_error_ms_max",
        "overruns",
        "work_ms_p99",
        "work_ms_max",
    ):
        assert key in d


def test_realtime_options_never_fail_and_are_reported() -> None:
    import gc

    opts = RealtimeOptions(
        cpus=frozenset({10_000}), fifo_priority=200, gc_freeze=True, gc_disable=True
    )
    was_enabled = gc.isenabled()
    stats = LoopRunner(TICK_S, SimulatedClock(), lambda k, t: k < 3, realtime=opts).run()
    assert stats.ticks == 4
    assert stats.realtime["affinity"].startswith("not applied")
    assert stats.realtime["sched_fifo"].startswith("not applied")
    assert gc.isenabled() == was_enabled  # restored after the run


def test_real_clock_smoke() -> None:
    """Runs a few real ticks; asserts logic only (no timing bounds)."""
    calls: list[int] = []

    def step(k: int, t: float) -> bool:
        calls.append(k)
        return len(calls) < 5  # counts calls, not k: a loaded machine may skip grid ticks

    stats = LoopRunner(0.002, MonotonicClock(), step).run()
    assert stats.ticks == 5
    assert calls == sorted(set(calls))
    assert stats.period_error_ms_min >= 0.0


def test_late_ticks_are_counted_by_threshold() -> None:
    late = {3: 0.0007, 7: 0.003, 8: 0.0015}

    class LateClock(SimulatedClock):
        def sleep_until(self, t: float) -> None:
            super().sleep_until(t)
            k = round(t / TICK_S)
            self.advance(late.get(k, 0.0))

    clock = LateClock()
    stats = LoopRunner(TICK_S, clock, lambda k, t: k < 9).run()
    assert stats.late_ticks[">0.5ms"] == 3
    assert stats.late_ticks[">1ms"] == 2
    assert stats.late_ticks[">2ms"] == 1
    assert stats.late_ticks[">5ms"] == 0
    assert stats.period_error_ms_max == pytest.approx(3.0)
