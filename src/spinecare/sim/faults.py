"""Faults the simulated table can be told to develop, for testing the safety supervisor.

Sensor faults change only what ``read()`` reports; physical faults (harness slip, actuator stall)
change the physics. The table's ground truth records when each fault began.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class FaultKind(enum.StrEnum):
    DROPOUT = "dropout"  # read() repeats the previous Reading (same seq and t_s)
    STUCK_LOAD_CELL = "stuck_load_cell"  # force_n frozen at its last value
    FORCE_SPIKE = "force_spike"  # one sample + magnitude N
    ENCODER_JUMP = "encoder_jump"  # winch_mm offset by magnitude mm, no motion
    HARNESS_SLIP = "harness_slip"  # the harness slides magnitude mm along the body
    ACTUATOR_STALL = "actuator_stall"  # the winch cannot move


# Physical faults act on the physics; the rest only on the reported reading.
PHYSICAL = frozenset({FaultKind.HARNESS_SLIP, FaultKind.ACTUATOR_STALL})

# Defaults when no magnitude is given: a spike the size of a knocked cable, a few encoder counts
# worth of mm, a harness sliding by a centimetre (engineering choices for tests).
DEFAULT_MAGNITUDE = {
    FaultKind.DROPOUT: 0.0,
    FaultKind.STUCK_LOAD_CELL: 0.0,
    FaultKind.FORCE_SPIKE: 150.0,
    FaultKind.ENCODER_JUMP: 5.0,
    FaultKind.HARNESS_SLIP: 10.0,
    FaultKind.ACTUATOR_STALL: 0.0,
}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault starting at device time ``at_s`` and lasting ``duration_s`` (inf = for good).

    ``force_spike`` and ``harness_slip`` are instantaneous; their duration is ignored.
    """

    kind: FaultKind
    at_s: float
    duration_s: float = 1.0
    magnitude: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FaultKind(self.kind))
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
