"""The device guard: the one object that holds the table's handle.

Everything the loop does to the table goes through here, and every write passes the safety
policy first (after ros2_control's resource manager, which alone owns the hardware [ros2-control]).
A table that raises on read or write is a fault for the policy, never an exception that leaves
the table pulling: the guard turns it into a latched fault, and the next command is the
controlled release.
"""

from __future__ import annotations

from collections.abc import Callable

from spinecare.devices.base import Device, DeviceNotActiveError
from spinecare.therapy.safety import Decision, FaultKind, SafetyPolicy
from spinecare.vocab import Command, DeviceState, Reading


class DeviceGuard:
    """Reads through the policy's checks, writes through its clamp chain; nothing else."""

    __slots__ = ("_device", "_last", "policy", "writes")

    def __init__(
        self,
        device: Device,
        policy: SafetyPolicy,
        time_source: Callable[[], float] | None = None,
    ) -> None:
        # A simulated table follows the loop's clock; a real one keeps its own time.
        bind = getattr(device, "bind_clock", None)
        if time_source is not None and callable(bind):
            bind(time_source)
        self._device = device
        self.policy = policy
        self._last: Reading | None = None
        self.writes = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Configure (simulated tables compile their physics here) and activate the table."""
        self._device.configure()
        self._device.activate()

    def shutdown(self) -> None:
        """Take the table out of service (it releases on its own); best effort at the end."""
        try:
            if self._device.state is not DeviceState.UNCONFIGURED:
                self._device.deactivate()
        except Exception:
            pass

    def acknowledge(self) -> bool:
        """Clear latched faults once their cause is gone, and bring the table back (SAF-10)."""
        if not self.policy.acknowledge():
            return False
        if self._device.state is not DeviceState.ACTIVE:
            self._device.activate()
        return True

    @property
    def device_state(self) -> DeviceState:
        return self._device.state

    @property
    def simulated(self) -> bool:
        return self._device.simulated

    # -- the tick ----------------------------------------------------------------------------
    def read(self, now: float) -> tuple[Reading, bool]:
        """Read and check (SAF-7, 8, 12); a table that cannot be read is a fault."""
        try:
            reading = self._device.read()
        except Exception as exc:
            self.policy.fault(FaultKind.DEVICE_FAULT, now, f"read failed: {exc!r}")
            last = self._last
            if last is None:
                return Reading(now, -1, 0.0, 0.0, False, DeviceState.FAULT), False
            return last, False
        fresh = self.policy.check(reading, now)
        self._last = reading
        return reading, fresh

    def write(self, proposal: Command | None, now: float) -> Decision:
        """Decide through the policy and write the result; the only ``device.write`` there is."""
        decision = self.policy.decide(proposal, now)
        try:
            self._device.write(decision.command)
            self.writes += 1
        except DeviceNotActiveError as exc:
            self.policy.fault(FaultKind.DEVICE_REFUSED, now, str(exc) or "table not active")
        except Exception as exc:
            self.policy.fault(FaultKind.DEVICE_FAULT, now, f"write failed: {exc!r}")
        return decision
