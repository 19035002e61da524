"""The Device protocol every traction table implements (simulated or real).

The controller never talks to a device directly: the runner reads a ``Reading``, the safety
supervisor checks it, the controller proposes a ``Command``, the supervisor clamps it and the
runner writes it. A table accepts commands only while ACTIVE, and its own watchdog releases to
base tension and then to zero when no fresh command arrives within ``COMMAND_TIMEOUT_S``.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

# Loop rate of the biofeedback loop: "the tension is automatically adjusted every 20 ms" (seed
# spinemed-decompression.txt).
TICK_S = 0.020
# Device-side command expiry: 5 missed ticks (issue 2, safety supervisor).
COMMAND_TIMEOUT_S = 0.100
# Surface EMG: 1 kHz sampling (DESIGN.md 4, sEMG practice), delivered in 20-sample blocks.
EMG_RATE_HZ = 1000
EMG_BLOCK = int(EMG_RATE_HZ * TICK_S)


class DeviceState(enum.Enum):
    """Lifecycle (after ros2_control): commands are accepted only when ACTIVE."""

    UNCONFIGURED = "unconfigured"
    INACTIVE = "inactive"
    ACTIVE = "active"
    RELEASING = "releasing"  # the table's own watchdog or stop path is releasing tension
    FAULT = "fault"
    FINISHED = "finished"


class Reading(NamedTuple):
    """One sample of every sensor, taken at device time ``t_s`` (seconds).

    A NamedTuple rather than a frozen dataclass: immutable as well, and five times cheaper to
    build, which matters 90 000 times per simulated session.
    """

    t_s: float
    seq: int
    force_n: float  # load cell in the traction cable, N
    winch_mm: float  # winch encoder: cable drawn in, mm (grows as the pull rises)
    stop_pressed: bool  # patient stop button (hand-held)
    state: DeviceState = DeviceState.ACTIVE
    emg_uv: npt.NDArray[np.float64] | None = None  # raw sEMG block, microvolts, EMG_BLOCK samples


class Command(NamedTuple):
    """What the table's drive is asked to do until the next command.

    ``force_n`` is the force setpoint the drive's inner force loop tracks; ``base_n`` is the
    tension the table's watchdog falls back to if commands stop arriving.
    """

    t_s: float
    force_n: float
    base_n: float
    release: bool = False  # a release to zero (final release, patient stop, fault)
    flags: tuple[str, ...] = ()


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

    def advance(self, dt_s: float) -> None:
        """Let device time pass. A real table ignores it (its time is the wall clock)."""
        ...


class DeviceNotActiveError(RuntimeError):
    """A command was written to a table that is not ACTIVE."""
