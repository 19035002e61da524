"""The Device protocol every traction table implements (simulated or real).

The controller never talks to a device: the runtime's device guard (``runtime/guard.py``) is
the one holder of the handle. It reads a ``Reading``, checks it against the safety policy, asks
the controller for a proposal, clamps it and writes the ``Command``. A table accepts commands
only while ACTIVE, and its own watchdog releases to base tension and then to zero when no fresh
command arrives within ``COMMAND_TIMEOUT_S`` (vocab).

Time is not part of this protocol: a real table lives on the wall clock, and the simulated
table is moved by the simulated clock that drives the loop (``devices/simulated.py``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from spinecare.vocab import Command, DeviceState, Reading


@runtime_checkable
class Device(Protocol):
    """A traction table. Simulated and real tables implement exactly this."""

    @property
    def state(self) -> DeviceState: ...

    @property
    def simulated(self) -> bool: ...

    def configure(self) -> None: ...

    def activate(self) -> None: ...

    def deactivate(self) -> None: ...

    def read(self) -> Reading: ...

    def write(self, command: Command) -> None: ...


class DeviceNotActiveError(RuntimeError):
    """A command was written to a table that is not ACTIVE."""
