"""Faults the simulated table can be told to develop, for testing the safety supervisor.

Sensor faults change only what ``read()`` reports; physical faults (harness slip, actuator stall)
change the physics. The table's ground truth records when each fault began.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class InjectedFault(enum.StrEnum):
    """A failure the simulated table can be told to develop (the cause; the safety policy's
    ``FaultKind`` names what it detects)."""

    DROPOUT = "dropout"  # read() repeats the previous Reading (same seq and t_s)
    STUCK_LOAD_CELL = "stuck_load_cell"  # force_n frozen at its last value
    FORCE_SPIKE = "force_spike"  # one sample + magnitude N
    ENCODER_JUMP = "encoder_jump"  # winch_mm offset by magnitude mm, no motion
    HARNESS_SLIP = "harness_slip"  # the harness slides magnitude mm along the body
    ACTUATOR_STALL = "actuator_stall"  # the winch cannot move


# Physical faults act on the physics; the rest only on the reported reading.
PHYSICAL = frozenset({InjectedFault.HARNESS_SLIP, InjectedFault.ACTUATOR_STALL})

# Defaults when no magnitude is given: a spike the size of a knocked cable, a few encoder counts
# worth of mm, a harness sliding by a centimetre (engineering choices for tests).
DEFAULT_MAGNITUDE = {
    InjectedFault.DROPOUT: 0.0,
    InjectedFault.STUCK_LOAD_CELL: 0.0,
    InjectedFault.FORCE_SPIKE: 150.0,
    InjectedFault.ENCODER_JUMP: 5.0,
    InjectedFault.HARNESS_SLIP: 10.0,
    InjectedFault.ACTUATOR_STALL: 0.0,
}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault starting at device time ``at_s`` and lasting ``duration_s`` (inf = for good).

    ``force_spike`` and ``harness_slip`` are instantaneous; their duration is ignored.
    """

    kind: InjectedFault
    at_s: float
    duration_s: float = 1.0
    magnitude: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", InjectedFault(self.kind))
        if not (math.isfinite(self.at_s) and self.at_s >= 0.0):
            raise ValueError(f"fault at_s must be finite and >= 0, got {self.at_s}")
        if not self.duration_s > 0.0:
            raise ValueError(f"fault duration_s must be > 0, got {self.duration_s}")

    @property
    def size(self) -> float:
        return DEFAULT_MAGNITUDE[self.kind] if self.magnitude is None else float(self.magnitude)

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s
