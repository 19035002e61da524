"""The intermittent force profile: phases and the ramp arithmetic they share.

pretension to base -> ramp up -> hold -> ramp down to base -> rest -> ... -> final release.
Base tension is kept throughout until the final release (seed: "a basic tension is always
maintained").
"""

from __future__ import annotations

import enum


class Phase(enum.StrEnum):
    PRETENSION = "pretension"
    RAMP_UP = "ramp_up"
    HOLD = "hold"
    RAMP_DOWN = "ramp_down"
    REST = "rest"
    GUARD_RELEASE = "guard_release"  # counter-tension: back to base at the release rate
    GUARD_WAIT = "guard_wait"  # at base until the muscles have relaxed
    REBUILD = "rebuild"  # slower ramp back to the (possibly lowered) peak
    FINAL_RELEASE = "final_release"
    DONE = "done"


# Phases in which the patient is being distracted above base tension.
DISTRACTING = frozenset({Phase.RAMP_UP, Phase.HOLD, Phase.REBUILD})
# Phases in which base tension must be held (base_tension_lost_s counts only these).
BASE_HELD = frozenset(
    {
        Phase.RAMP_UP,
        Phase.HOLD,
        Phase.RAMP_DOWN,
        Phase.REST,
        Phase.GUARD_RELEASE,
        Phase.GUARD_WAIT,
        Phase.REBUILD,
    }
)


def ramp_toward(current: float, goal: float, rate_per_s: float, dt_s: float) -> float:
    """Move ``current`` toward ``goal`` by at most ``rate_per_s * dt_s``."""
    step = rate_per_s * dt_s
    if goal > current:
        return min(goal, current + step)
    return max(goal, current - step)
