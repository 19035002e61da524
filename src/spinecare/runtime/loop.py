"""The fixed-rate loop runner: absolute deadlines, overrun accounting, timing statistics.

Timing policy (why it is shaped this way):

* **Absolute deadlines.** Tick ``k`` is due at ``t0 + k * period``. The runner sleeps until that
  deadline, never for "period minus work time", so errors do not accumulate into drift.
* **Overrun.** A tick overruns when its work ends after the *next* deadline. A late wake-up
  that still finishes in time is period error, not an overrun.
* **Catch-up: skip, keep the grid, never burst.** After an overrun the runner does not run
  the missed ticks back to back (a burst would hand the table several commands within
  microseconds and make the controller's dt meaningless). It skips to the first grid deadline
  still in the future; ``k`` passed to ``step`` jumps accordingly, so ``scheduled_t`` stays on
  the grid and ``step`` can see how many ticks were lost (``skipped_ticks`` in the stats).
* **Period error** is ``actual wake time - scheduled time`` of each tick; **work time** is the
  time ``step`` took. Both go into fixed-size histograms (2 us bins up to 50 ms plus exact max),
  so memory stays constant however long the session runs (90 000 ticks is 30 minutes).
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from spinecare.runtime.clock import Clock

StepFn = Callable[[int, float], bool]

_BIN_S = 2e-6  # histogram resolution: 2 us, well below the 0.5 ms p99 goal
_RANGE_S = 0.050  # histogram range: values above go to an overflow bin (exact max kept apart)
_NBINS = round(_RANGE_S / _BIN_S)
_LATE_MS = (0.5, 1.0, 2.0, 5.0, 20.0)  # thresholds for TimingStats.late_ticks


class _Histogram:
    """Streaming histogram of non-negative durations (seconds) with an exact max and min."""

    __slots__ = ("counts", "max_s", "min_s", "n")

    def __init__(self) -> None:
        self.counts = [0] * (_NBINS + 1)  # last bin: overflow
        self.n = 0
        self.max_s = 0.0
        self.min_s = math.inf

    def add(self, x: float) -> None:
        i = int(x * (1.0 / _BIN_S)) if x > 0 else 0
        self.counts[i if i < _NBINS else _NBINS] += 1
        self.n += 1
        if x > self.max_s:
            self.max_s = x
        if x < self.min_s:
            self.min_s = x

    def count_over(self, x: float) -> int:
        """How many values exceeded ``x`` (to bin resolution: whole bins above ``x``)."""
        i = min(_NBINS, max(0, math.ceil(x / _BIN_S)))
        return sum(self.counts[i:])

    def quantile(self, q: float) -> float:
        """Upper edge of the bin holding quantile ``q`` (conservative), capped at the max."""
        if self.n == 0:
            return 0.0
        target = max(1, math.ceil(q * self.n))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= target:
                if i == _NBINS:
                    return self.max_s
                return min((i + 1) * _BIN_S, self.max_s)
        return self.max_s


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    """Best-effort tweaks applied for the duration of ``LoopRunner.run``.

    Each is tried and its outcome reported in ``TimingStats.realtime``; none ever fails the run
    (containers and unprivileged users usually may not use SCHED_FIFO).
    """

    cpus: frozenset[int] | None = None  # pin the loop thread to these CPUs
    fifo_priority: int | None = None  # SCHED_FIFO priority (1-99) for the loop thread
    gc_freeze: bool = True  # move existing objects out of the collector's sight (cheaper GCs)
    gc_disable: bool = False  # no automatic GC during the loop (only for bounded-allocation work)


@dataclass(frozen=True, slots=True)
class TimingStats:
    """Timing of one loop run, in milliseconds."""

    ticks: int
    period_error_ms_p50: float
    period_error_ms_p99: float
    period_error_ms_max: float
    overruns: int
    work_ms_p99: float
    work_ms_max: float
    skipped_ticks: int = 0
    work_ms_p50: float = 0.0
    period_error_ms_min: float = 0.0  # < 0 only if a clock woke the loop early (a clock bug)
    period_s: float = 0.0
    late_ticks: dict[str, int] = field(default_factory=dict)  # ticks late by more than N ms
    realtime: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LoopRunner:
    """Runs ``step(k, scheduled_t)`` on the grid ``t0 + k * period_s`` until it returns False.

    ``t0`` is the clock's time when ``run`` starts, so tick 0 runs at once. ``stop()`` may be
    called from any thread; the loop ends after the tick in progress (or before the next one).
    A runner runs once; make a new one for another session.
    """

    def __init__(
        self,
        period_s: float,
        clock: Clock,
        step: StepFn,
        *,
        realtime: RealtimeOptions | None = None,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.period_s = float(period_s)
        self.clock = clock
        self.step = step
        self.realtime = realtime
        self._stop = threading.Event()
        self._err = _Histogram()
        self._work = _Histogram()
        self._ticks = 0
        self._overruns = 0
        self._skipped = 0
        self._rt_report: dict[str, str] = {}
        self._ran = False

    def stop(self) -> None:
        """Ask the loop to end after the current tick (thread-safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, max_ticks: int | None = None) -> TimingStats:
        """Run until ``step`` returns False, ``stop()`` is called or ``max_ticks`` steps ran."""
        if self._ran:
            raise RuntimeError("a LoopRunner runs once; create a new one")
        self._ran = True
        restore = _apply_realtime(self.realtime, self._rt_report) if self.realtime else None
        try:
            self._run(max_ticks)
        finally:
            if restore is not None:
                restore()
        return self.stats()

    def _run(self, max_ticks: int | None) -> None:
        clock, step, period = self.clock, self.step, self.period_s
        now, sleep_until = clock.now, clock.sleep_until
        err_add, work_add = self._err.add, self._work.add
        stop_is_set = self._stop.is_set
        limit = math.inf if max_ticks is None else max_ticks
        t0 = now()
        k = 0
        ticks = 0
        try:
            while ticks < limit and not stop_is_set():
                scheduled = t0 + k * period
                sleep_until(scheduled)
                woke = now()
                go_on = step(k, scheduled)
                end = now()
                ticks += 1
                err_add(woke - scheduled)
                work_add(end - woke)
                if not go_on:
                    break
                nxt = k + 1
                if end > t0 + nxt * period:
                    # Overrun: skip to the first deadline still ahead, keeping the grid.
                    self._overruns += 1
                    first_ahead = math.floor((end - t0) / period) + 1
                    self._skipped += first_ahead - nxt
                    nxt = first_ahead
                k = nxt
        finally:  # an interrupted run still counts the ticks it ran
            self._ticks = ticks

    def stats(self) -> TimingStats:
        err, work = self._err, self._work
        ms = 1e3
        return TimingStats(
            ticks=self._ticks,
            period_error_ms_p50=err.quantile(0.50) * ms,
            period_error_ms_p99=err.quantile(0.99) * ms,
            period_error_ms_max=err.max_s * ms,
            overruns=self._overruns,
            work_ms_p99=work.quantile(0.99) * ms,
            work_ms_max=work.max_s * ms,
            skipped_ticks=self._skipped,
            work_ms_p50=work.quantile(0.50) * ms,
            period_error_ms_min=(err.min_s if err.n else 0.0) * ms,
            period_s=self.period_s,
            late_ticks={f">{ms:g}ms": err.count_over(ms / 1e3) for ms in _LATE_MS},
            realtime=dict(self._rt_report),
        )


def _apply_realtime(opts: RealtimeOptions, report: dict[str, str]) -> Callable[[], None]:
    """Apply what is permitted, record what happened, return a function that undoes it."""
    undo: list[Callable[[], None]] = []

    if opts.cpus is not None:
        try:
            before = os.sched_getaffinity(0)
            os.sched_setaffinity(0, opts.cpus)
            undo.append(lambda: os.sched_setaffinity(0, before))
            report["affinity"] = ",".join(str(c) for c in sorted(opts.cpus))
        except (OSError, AttributeError, ValueError) as exc:
            report["affinity"] = f"not applied: {exc}"

    if opts.fifo_priority is not None:
        try:
            policy = os.sched_getscheduler(0)
            param = os.sched_getparam(0)
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(opts.fifo_priority))
            undo.append(lambda: os.sched_setscheduler(0, policy, param))
            report["sched_fifo"] = str(opts.fifo_priority)
        except (OSError, AttributeError, ValueError) as exc:
            report["sched_fifo"] = f"not applied: {exc}"

    if opts.gc_freeze:
        gc.collect()
        gc.freeze()
        undo.append(gc.unfreeze)
        report["gc_freeze"] = "yes"
    if opts.gc_disable and gc.isenabled():
        gc.disable()
        undo.append(gc.enable)
        report["gc_disable"] = "yes"

    def restore() -> None:
        for fn in reversed(undo):
            with contextlib.suppress(OSError, ValueError):  # best effort, as when applying
                fn()

    return restore
