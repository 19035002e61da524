"""A scripted stand-in table for the controller's unit tests.

A linear spring behind a rate-limited drive, with knobs to break it. The physics-based
simulated table (devices/simulated.py) is used by the closed-loop tests.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from spinecare.devices.base import DeviceNotActiveError
from spinecare.vocab import Command, DeviceState, Reading


class FakeTable:
    simulated = True

    def __init__(self, stiffness_n_mm: float = 20.0) -> None:
        self.k = stiffness_n_mm
        self.t = 0.0
        self.seq = 0
        self.x = 0.0
        self.cmd = 0.0
        self._state = DeviceState.ACTIVE
        self.written: list[Command] = []
        self.freeze = False
        self.force_offset = 0.0
        self.encoder_offset = 0.0
        self.stall = False
        self.stop = False
        self.extra_force = 0.0  # counter-tension: adds force at a given winch position
        self._last: Reading | None = None
        self._noise = 0.3

    @property
    def state(self) -> DeviceState:
        return self._state

    def configure(self) -> None: ...

    def activate(self) -> None:
        self._state = DeviceState.ACTIVE

    def deactivate(self) -> None:
        self._state = DeviceState.INACTIVE

    def advance(self, dt_s: float) -> None:
        self.t += dt_s
        if not self.stall:
            goal = max(0.0, (self.cmd - self.extra_force)) / self.k
            step = 40.0 * dt_s
            self.x += max(-step, min(step, goal - self.x))

    def force(self) -> float:
        return self.k * self.x + self.extra_force

    def read(self) -> Reading:
        if self.freeze and self._last is not None:
            return self._last
        self.seq += 1
        self._noise = -self._noise
        r = Reading(
            t_s=self.t,
            seq=self.seq,
            force_n=self.force() + self._noise + self.force_offset,
            winch_mm=self.x + self.encoder_offset,
            stop_pressed=self.stop,
            state=self._state,
        )
        self._last = r
        return r

    def write(self, command: Command) -> None:
        if self._state is not DeviceState.ACTIVE:
            raise DeviceNotActiveError("table not active")
        self.cmd = command.force_n
        self.written.append(command)


@pytest.fixture
def fake_table() -> Callable[..., FakeTable]:
    return FakeTable
