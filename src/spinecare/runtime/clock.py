"""Clocks for the runtime: the real monotonic clock and a simulated one.

Everything above the runtime receives time as an argument; only this module reads the wall
clock. The loop runner asks a ``Clock`` for ``now()`` and to ``sleep_until(t)`` an absolute
deadline, so the same loop runs in real time (``MonotonicClock``) or as fast as the CPU allows
(``SimulatedClock``).
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

# How long before a deadline MonotonicClock stops sleeping and starts spinning. time.sleep on a
# loaded Linux box overshoots by 0.1-3 ms (measured here with the other core busy: p99 0.74 ms,
# max 3.5 ms for a plain sleep); spinning the last 1.5 ms brought p99 to ~5 us and max to ~0.13
# ms at the price of ~1.5 ms of busy CPU per 20 ms tick (7.5% of one core). See bench/README.md.
DEFAULT_SPIN_S = 0.0015


@runtime_checkable
class Clock(Protocol):
    """A source of time in seconds and a way to wait for an absolute deadline."""

    def now(self) -> float: ...

    def sleep_until(self, t: float) -> None: ...


class MonotonicClock:
    """The real clock: ``time.perf_counter`` (monotonic, never steps with NTP).

    ``sleep_until`` sleeps coarsely with ``time.sleep`` until ``spin_s`` before the deadline,
    then spins on the clock, because the kernel's wake-up latency under load is far larger than
    the 0.5 ms period-error budget. ``spin_s=0`` gives a pure sleep (cheapest, least precise).
    """

    __slots__ = ("spin_s",)

    def __init__(self, spin_s: float = DEFAULT_SPIN_S) -> None:
        if spin_s < 0:
            raise ValueError(f"spin_s must be >= 0, got {spin_s}")
        self.spin_s = spin_s

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, t: float) -> None:
        clock = time.perf_counter
        remaining = t - clock()
        if remaining <= 0:
            return
        if remaining > self.spin_s:
            time.sleep(remaining - self.spin_s)
        while clock() < t:
            pass


class SimulatedClock:
    """Simulated time: starts at ``start`` and moves only when told to.

    ``sleep_until(t)`` jumps straight to ``t`` (never backwards), so a loop driven by it runs as
    fast as its work allows and its period error is zero by construction.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def sleep_until(self, t: float) -> None:
        if t > self._now:
            self._now = t

    def advance(self, dt: float) -> None:
        """Let ``dt`` seconds pass (e.g. to model work that takes simulated time)."""
        if dt < 0:
            raise ValueError(f"cannot advance by a negative time: {dt}")
        self._now += dt


class PacedClock:
    """Simulated session time, paced to ``speed`` times the wall clock (for demonstrations).

    Session time moves only by the loop's own deadlines, exactly as with ``SimulatedClock``,
    so a hiccup of the host (a garbage collection, a busy core) can never look like a loop
    overrun of ``speed`` times its length; the wall clock only sets how fast those deadlines
    come: ``speed=20`` shows a 30-minute session in 90 s.
    """

    __slots__ = ("_now", "_speed", "_t0", "_wall")

    def __init__(self, speed: float, wall: MonotonicClock | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._speed = float(speed)
        self._wall = wall or MonotonicClock(spin_s=0.0)
        self._t0 = self._wall.now()
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def sleep_until(self, t: float) -> None:
        if t > self._now:
            self._now = t
        self._wall.sleep_until(self._t0 + t / self._speed)


class SessionClock:
    """A clock whose zero is the start of a session: telemetry, events, the policy and the
    table's readings all speak seconds since the first tick, whatever the underlying clock.

    ``zero()`` is called just before the loop starts, after the table has been configured (a
    simulated table compiles its physics there), so the start-up time is not session time.
    """

    __slots__ = ("_base", "_offset")

    def __init__(self, base: Clock) -> None:
        self._base = base
        self._offset = base.now()

    @property
    def base(self) -> Clock:
        return self._base

    def zero(self) -> None:
        self._offset = self._base.now()

    def now(self) -> float:
        return self._base.now() - self._offset

    def sleep_until(self, t: float) -> None:
        self._base.sleep_until(t + self._offset)
