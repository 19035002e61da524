"""The force profiles: phases, treatment modes and the arithmetic the controller and the target
curve share.

pretension to base -> ramp up -> hold -> ramp down to base -> rest -> ... -> final release.
Base tension is kept throughout until the final release (seed: "a basic tension is always
maintained").

Treatment modes (docs/modes.md). The main phase of a session is one of the traction types peer
tables offer [triton-dts-manual] [spinemed-k030060] [atp9-k992733]:

- **static**: one sustained pull, ramped from base and released to base;
- **intermittent**: pull, hold, release to base, rest, repeated (the default);
- **cyclic**: ramps up and down without holds or rests [smartrac-manual].

Around it, progressive steps (the first cycles pull to rising levels) and regressive steps (the
last cycles to falling levels) are intermittent cycles, as in the Triton's progressive and
regressive phases [triton-dts-manual]. Each ramp up is linear or logarithmic (a fast start that
slows toward the peak; the release stays linear [vaxd-patent] [axiom-bearings]), and a hold may
carry a small oscillation below its level [busch2023]. Everything here is a pure function of
its arguments: the controller follows it tick by tick and ``therapy/curve.py`` draws it ahead of
time from the same controller.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the protocol imports this module for its enums
    from spinecare.therapy.protocol import Protocol


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


class TractionMode(enum.StrEnum):
    """The main phase of a session (the traction type of peer tables [triton-dts-manual])."""

    STATIC = "static"
    INTERMITTENT = "intermittent"
    CYCLIC = "cyclic"


class RampShape(enum.StrEnum):
    LINEAR = "linear"
    LOGARITHMIC = "logarithmic"


class Stage(enum.StrEnum):
    """Where a session is in its programme: rising steps, the main phase, falling steps."""

    PROGRESSIVE = "progressive"
    MAIN = "main"
    REGRESSIVE = "regressive"


def ramp_toward(current: float, goal: float, rate_per_s: float, dt_s: float) -> float:
    """Move ``current`` toward ``goal`` by at most ``rate_per_s * dt_s``."""
    step = rate_per_s * dt_s
    if goal > current:
        return min(goal, current + step)
    return max(goal, current - step)


def step_fraction(step: int, steps: int) -> float:
    """Level of progressive step ``step`` (1..steps) as a fraction of the way from base to peak.

    The steps divide the span evenly and stay below the peak, which the main phase reaches
    (after the Smartrac's progressive traction, whose steps together make up the traction force
    [smartrac-manual]); regressive steps use the same levels in reverse.
    """
    return step / (steps + 1)


def log_curvature(factor: float) -> float:
    """The curvature ``k`` of ``ln(1 + k x) / ln(1 + k)`` whose start is ``factor`` times steeper
    than its mean slope (``k / ln(1 + k) = factor``; 1 is the straight line)."""
    if factor <= 1.0:
        return 0.0
    lo, hi = 1e-9, 1e6
    for _ in range(200):  # bisection: k / ln(1 + k) rises monotonically from 1
        mid = math.sqrt(lo * hi)
        if mid / math.log1p(mid) < factor:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def log_ramp(start_n: float, goal_n: float, elapsed_s: float, duration_s: float, k: float) -> float:
    """A logarithmic rise from ``start_n`` to ``goal_n`` over ``duration_s``: steepest at the
    start, flattening toward the goal [vaxd-patent]. ``k = 0`` is the linear ramp."""
    if elapsed_s >= duration_s or duration_s <= 0.0:
        return goal_n
    x = max(0.0, elapsed_s) / duration_s
    shape = x if k <= 0.0 else math.log1p(k * x) / math.log1p(k)
    return start_n + (goal_n - start_n) * shape


def oscillation_dip(amplitude_n: float, hz: float, elapsed_s: float) -> float:
    """How far below its level a hold is at ``elapsed_s``: ``A (1 - cos 2 pi f t)``, from 0 to
    2A. It starts at the level with zero slope (no jerk when the hold begins), and its steepest
    rise is ``2 pi f A``, which the protocol keeps within the policy's rise limit."""
    if amplitude_n <= 0.0 or hz <= 0.0:
        return 0.0
    return amplitude_n * (1.0 - math.cos(2.0 * math.pi * hz * elapsed_s))


def oscillation_max_rise_n_s(amplitude_n: float, hz: float) -> float:
    return 2.0 * math.pi * hz * amplitude_n


# A *small* oscillation: its trough (2A below the level) stays within 10% of the level, so the
# hold remains a hold (engineering choice from the simulated cohort: deeper swings at the same
# rate made the force path stop the distraction without counter-tension, the reversals of the
# viscoelastic spine looking like it), and in the upper half of the span above base (a dip to
# base would be a release).
OSCILLATION_LEVEL_FRACTION = 0.05
OSCILLATION_SPAN_FRACTION = 0.25


def oscillation_room_n(level_n: float, base_n: float) -> float:
    """The largest amplitude a hold at ``level_n`` above ``base_n`` may carry."""
    return max(
        0.0,
        min(OSCILLATION_LEVEL_FRACTION * level_n, OSCILLATION_SPAN_FRACTION * (level_n - base_n)),
    )


@dataclass(frozen=True, slots=True)
class ModeProfile:
    """One protocol's mode, steps, ramp shape and oscillation, with the durations they imply."""

    mode: TractionMode
    progressive_steps: int
    regressive_steps: int
    hold_s: float
    rest_s: float
    ramp_up_n_s: float
    ramp_down_n_s: float
    log_k: float = 0.0  # 0: linear ramps
    oscillation_n: float = 0.0
    oscillation_hz: float = 0.0

    @classmethod
    def of(cls, p: Protocol) -> ModeProfile:
        log = p.ramp_shape is RampShape.LOGARITHMIC
        return cls(
            mode=p.mode,
            progressive_steps=p.progressive_steps,
            regressive_steps=p.regressive_steps,
            hold_s=0.0 if p.mode is TractionMode.CYCLIC else p.hold_s,
            rest_s=0.0 if p.mode is TractionMode.CYCLIC else p.rest_s,
            ramp_up_n_s=p.ramp_up_n_s,
            ramp_down_n_s=p.ramp_down_n_s,
            log_k=log_curvature(p.log_ramp_factor) if log else 0.0,
            oscillation_n=p.oscillation_amplitude_n,
            oscillation_hz=p.oscillation_hz,
        )

    def rise_s(self, from_n: float, to_n: float) -> float:
        """Duration of a ramp up: both shapes take as long as the linear ramp (the protocol's
        ramp rate is the mean rate)."""
        return rise_seconds(from_n, to_n, self.ramp_up_n_s)

    def fall_s(self, from_n: float, to_n: float) -> float:
        return fall_seconds(from_n, to_n, self.ramp_down_n_s)

    def rise(self, start_n: float, goal_n: float, elapsed_s: float) -> float:
        """The logarithmic ramp's target ``elapsed_s`` after it began at ``start_n``."""
        return log_ramp(start_n, goal_n, elapsed_s, self.rise_s(start_n, goal_n), self.log_k)

    def hold_target(self, level_n: float, base_n: float, elapsed_s: float) -> float:
        """The target ``elapsed_s`` into a hold at ``level_n``: the level, or below it by the
        oscillation (its amplitude shrunk where a step or a lowered peak leaves less room)."""
        return hold_level(level_n, base_n, elapsed_s, self.oscillation_n, self.oscillation_hz)

    def cycle_s(self, level_n: float, base_n: float, *, hold_s: float, rest_s: float) -> float:
        """One whole cycle from base: ramp up, hold, ramp down, rest."""
        return self.rise_s(base_n, level_n) + hold_s + self.fall_s(level_n, base_n) + rest_s

    def regressive_s(self, done: int, base_n: float, peak_n: float, margin_s: float) -> float:
        """Time the regressive steps not yet begun need (the last one up to the end of its hold):
        the main phase ends early enough to leave it."""
        return regressive_seconds(
            self.regressive_steps,
            done,
            base_n,
            peak_n,
            margin_s,
            self.hold_s,
            self.rest_s,
            self.ramp_up_n_s,
            self.ramp_down_n_s,
        )


# The arithmetic below is plain scalar Python so that the controller's compiled core
# (therapy/controller_core.py) compiles these very functions: one implementation of the profile
# for ``ModeProfile``, the controller and the target curve.


def rise_seconds(from_n: float, to_n: float, ramp_up_n_s: float) -> float:
    return max(0.0, to_n - from_n) / ramp_up_n_s


def fall_seconds(from_n: float, to_n: float, ramp_down_n_s: float) -> float:
    return max(0.0, from_n - to_n) / ramp_down_n_s


def hold_level(
    level_n: float, base_n: float, elapsed_s: float, oscillation_n: float, oscillation_hz: float
) -> float:
    """``ModeProfile.hold_target`` on scalars."""
    if oscillation_n <= 0.0:
        return level_n
    room = oscillation_room_n(level_n, base_n)
    return level_n - oscillation_dip(min(oscillation_n, room), oscillation_hz, elapsed_s)


def regressive_seconds(
    steps: int,
    done: int,
    base_n: float,
    peak_n: float,
    margin_s: float,
    hold_s: float,
    rest_s: float,
    ramp_up_n_s: float,
    ramp_down_n_s: float,
) -> float:
    """``ModeProfile.regressive_s`` on scalars."""
    total = 0.0
    for j in range(steps - done, 0, -1):
        level = base_n + step_fraction(j, steps) * (peak_n - base_n)
        total += rise_seconds(base_n, level, ramp_up_n_s) + hold_s + margin_s
        if j > 1:
            total += fall_seconds(level, base_n, ramp_down_n_s) + rest_s
    return total
