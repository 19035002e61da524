"""Weight-adapted traction dosing and its progression over a course: pure arithmetic on floats.

These are clinical rules (how much force for whom, and when to add more), so they live in the
clinical layer where the course planner can use them without importing the therapy layer;
``therapy/protocol.py`` builds validated session protocols on top of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.vocab import G, Region

# One pound-force in newtons.
LBF_N = 4.448222

# --- Lumbar dosing -------------------------------------------------------------------------
# Start near 1/3 of body weight: the traditional lumbar traction dose [judovich1957]
# [kennedy-kdt].
LUMBAR_START_FRACTION = 1.0 / 3.0
# Never above 1/2 body weight in a protocol: about 50% is what decompression protocols use
# [shealy-borgmeyer1997] [eyerman1998] and 40-50% is needed for separation on a friction-free
# surface [saunders2004].
LUMBAR_PROTOCOL_MAX_FRACTION = 0.5
# Progress 5-10 lb per tolerated session [kennedy-kdt]; we take the lower end, which reaches
# 1/2 body weight after about 6-8 sessions, when the seed expects the improvement to show
# [seed-spinemed].
LUMBAR_STEP_N = 5.0 * LBF_N

# --- Cervical dosing -----------------------------------------------------------------------
# 7-10% of body weight starts separation, 10% is optimal [akinbo2006]; at most 15% in a
# protocol (below the traditional 1/6 body weight [akinbo2006]).
CERVICAL_START_FRACTION = 0.07
CERVICAL_TARGET_FRACTION = 0.10
CERVICAL_PROTOCOL_MAX_FRACTION = 0.15
# Engineering choice mirroring the lumbar pace: +1% body weight per tolerated session reaches the
# 10% optimum by the fourth session.
CERVICAL_STEP_FRACTION = 0.01


def protocol_max_fraction(region: Region) -> float:
    """The most of body weight any protocol may pull; a clinician cannot go above it."""
    if region is Region.LUMBAR:
        return LUMBAR_PROTOCOL_MAX_FRACTION
    return CERVICAL_PROTOCOL_MAX_FRACTION


def progression_ceiling_fraction(region: Region) -> float:
    """Where automatic progression stops; a clinician may set more, up to the protocol max."""
    return LUMBAR_PROTOCOL_MAX_FRACTION if region is Region.LUMBAR else CERVICAL_TARGET_FRACTION


def weight_force_n(weight_kg: float, fraction: float) -> float:
    """``fraction`` of the body weight as a force, since every dose is stated per body weight."""
    return weight_kg * G * fraction


def progression_ceiling_n(region: Region, weight_kg: float) -> float:
    """Where automatic progression stops, never above the device's hard limit."""
    return min(weight_force_n(weight_kg, progression_ceiling_fraction(region)), DEVICE_MAX_FORCE_N)


def start_force_n(region: Region, weight_kg: float) -> float:
    """The first session's peak force, before any progression."""
    frac = LUMBAR_START_FRACTION if region is Region.LUMBAR else CERVICAL_START_FRACTION
    return weight_force_n(weight_kg, frac)


def progression_step_n(region: Region, weight_kg: float) -> float:
    """What one tolerated session adds: a fixed 5 lb lumbar, 1% body weight cervical."""
    if region is Region.LUMBAR:
        return LUMBAR_STEP_N
    return weight_force_n(weight_kg, CERVICAL_STEP_FRACTION)


def progressed_force_n(region: Region, weight_kg: float, tolerated_sessions: int) -> float:
    """Peak force after ``tolerated_sessions`` tolerated sessions, capped by the ceiling."""
    step = progression_step_n(region, weight_kg)
    ceiling = progression_ceiling_n(region, weight_kg)
    return min(start_force_n(region, weight_kg) + step * max(0, tolerated_sessions), ceiling)


def round_down_force(force_n: float) -> float:
    """Forces are shown to 0.1 N; rounding down keeps a capped force under its cap."""
    return math.floor(force_n * 10.0 + 1e-9) / 10.0


def next_peak_force_n(
    region: Region, weight_kg: float, previous_peak_n: float, tolerated: bool
) -> float:
    """The next session's peak: one step up only after a tolerated session, never down, and
    never past the progression ceiling (a clinician's higher peak is kept, not raised)."""
    if not tolerated:
        return previous_peak_n
    ceiling = progression_ceiling_n(region, weight_kg)
    step = progression_step_n(region, weight_kg)
    return round_down_force(max(previous_peak_n, min(previous_peak_n + step, ceiling)))


def course_force_plan(region: Region, weight_kg: float, tolerated: Sequence[bool]) -> list[float]:
    """Peak force for each session given which earlier sessions were tolerated.

    One entry more than ``tolerated``: session 1 starts at the start dose, and each following
    session applies :func:`next_peak_force_n` to the one before.
    """
    peak = round_down_force(progressed_force_n(region, weight_kg, 0))
    plan = [peak]
    for ok in tolerated:
        peak = next_peak_force_n(region, weight_kg, peak, ok)
        plan.append(peak)
    return plan
