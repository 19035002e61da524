"""A decompression protocol: everything the controller needs to run one session.

Defaults are weight-adapted from published dosing (DESIGN.md section 4) and progress across a
course only after a tolerated session. Every field is validated here, at the edge, so an invalid
value is refused with the field, the value and the allowed range and never reaches a device.
"""

from __future__ import annotations

import math
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.vocab import SEGMENTS, G, Region, TableType, segment_normalise

# One pound-force in newtons.
LBF_N = 4.448222

# --- Lumbar dosing -------------------------------------------------------------------------
# Start near 1/3 of body weight: the traditional lumbar traction dose (Judovich; Kennedy
# technique, DESIGN.md 4).
LUMBAR_START_FRACTION = 1.0 / 3.0
# Never above 1/2 body weight in a protocol: about 50% is what decompression protocols use
# (Shealy; Eyerman) and 40-50% is needed for separation on a friction-free surface (Saunders).
LUMBAR_PROTOCOL_MAX_FRACTION = 0.5
# Progress 5-10 lb per tolerated session (Kennedy technique); we take the lower end, which reaches
# 1/2 body weight after about 6-8 sessions, when the seed expects the improvement to show.
LUMBAR_STEP_N = 5.0 * LBF_N

# --- Cervical dosing -----------------------------------------------------------------------
# 7-10% of body weight starts separation, 10% is optimal (Akinbo 2008); at most 15% in a
# protocol (below the traditional 1/6 body weight, DESIGN.md 4).
CERVICAL_START_FRACTION = 0.07
CERVICAL_TARGET_FRACTION = 0.10
CERVICAL_PROTOCOL_MAX_FRACTION = 0.15
# Engineering choice mirroring the lumbar pace: +1% body weight per tolerated session reaches the
# 10% optimum by the fourth session.
CERVICAL_STEP_FRACTION = 0.01

# Base tension about 50% of peak (VAX-D patent profile; DRX case report, DESIGN.md 4).
BASE_FRACTION = 0.5

# Intermittent cycles: 60 s tension / 30 s relaxation as in DRX9000 and Triton DTS lumbar
# programmes; Ramos & Martin 1994 (J Neurosurg 81:350) used 60 s cycles. The seed asks for
# "short intervals".
DEFAULT_HOLD_S = 60.0
DEFAULT_REST_S = 30.0
# Ramps: engineering choice, slow enough to stay below the stretch-reflex threshold of the
# simulated paraspinals (sim/patient_model.py) and to reach peak in about 10 s.
LUMBAR_RAMP_UP_N_S = 15.0
LUMBAR_RAMP_DOWN_N_S = 30.0
CERVICAL_RAMP_UP_N_S = 4.0
CERVICAL_RAMP_DOWN_N_S = 8.0
# Traction time 30 min in a 45 min slot (seed spinemed-decompression.txt).
DEFAULT_TRACTION_MIN = 30.0
# Courses of 15-20 sessions (seed).
COURSE_MIN_SESSIONS = 15
COURSE_MAX_SESSIONS = 20


def protocol_max_fraction(region: Region) -> float:
    if region is Region.LUMBAR:
        return LUMBAR_PROTOCOL_MAX_FRACTION
    return CERVICAL_PROTOCOL_MAX_FRACTION


def progression_ceiling_fraction(region: Region) -> float:
    """Where automatic progression stops; a clinician may set more, up to the protocol max."""
    return LUMBAR_PROTOCOL_MAX_FRACTION if region is Region.LUMBAR else CERVICAL_TARGET_FRACTION


def weight_force_n(weight_kg: float, fraction: float) -> float:
    return weight_kg * G * fraction


def progression_ceiling_n(region: Region, weight_kg: float) -> float:
    """Where automatic progression stops, never above the device's hard limit."""
    return min(weight_force_n(weight_kg, progression_ceiling_fraction(region)), DEVICE_MAX_FORCE_N)


class Protocol(BaseModel):
    """One session's settings. Immutable; derive a new one with ``model_copy(update=...)``."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    region: Region
    body_weight_kg: float = Field(ge=40.0, le=200.0, description="patient body weight, kg")
    segment: str
    pull_angle_deg: float | None = Field(
        default=None, ge=-10.0, le=45.0, description="cable angle above the table plane"
    )
    table: TableType = TableType.SPLIT
    peak_force_n: float = Field(gt=0.0, le=DEVICE_MAX_FORCE_N)
    base_force_n: float = Field(ge=0.0, le=DEVICE_MAX_FORCE_N)
    hold_s: float = Field(default=DEFAULT_HOLD_S, ge=5.0, le=300.0)
    rest_s: float = Field(default=DEFAULT_REST_S, ge=5.0, le=300.0)
    ramp_up_n_s: float = Field(gt=0.5, le=100.0)
    ramp_down_n_s: float = Field(gt=0.5, le=200.0)
    traction_minutes: float = Field(default=DEFAULT_TRACTION_MIN, gt=0.0, le=45.0)
    session_number: int = Field(default=1, ge=1, le=40)

    @field_validator("segment")
    @classmethod
    def _canonical_segment(cls, v: str) -> str:
        return segment_normalise(v)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        allowed = SEGMENTS[self.region]
        if self.segment not in allowed:
            raise ValueError(
                f"segment: {self.segment!r} is not a {self.region.value} segment "
                f"(allowed: {', '.join(allowed)})"
            )
        cap = weight_force_n(self.body_weight_kg, protocol_max_fraction(self.region))
        if self.peak_force_n > cap + 1e-9:
            raise ValueError(
                f"peak_force_n: {self.peak_force_n:.0f} N exceeds the protocol maximum of "
                f"{protocol_max_fraction(self.region):.0%} body weight = {cap:.0f} N"
            )
        if self.base_force_n >= self.peak_force_n:
            raise ValueError(
                f"base_force_n: {self.base_force_n:.0f} N must be below peak_force_n "
                f"{self.peak_force_n:.0f} N"
            )
        return self

    @property
    def body_weight_n(self) -> float:
        return self.body_weight_kg * G

    @property
    def peak_fraction(self) -> float:
        return self.peak_force_n / self.body_weight_n


def _round_down(force_n: float) -> float:
    """Forces are shown to 0.1 N; rounding down keeps a capped force under its cap."""
    return math.floor(force_n * 10.0 + 1e-9) / 10.0


def _ramps(region: Region) -> tuple[float, float]:
    if region is Region.LUMBAR:
        return LUMBAR_RAMP_UP_N_S, LUMBAR_RAMP_DOWN_N_S
    return CERVICAL_RAMP_UP_N_S, CERVICAL_RAMP_DOWN_N_S


def start_force_n(region: Region, weight_kg: float) -> float:
    frac = LUMBAR_START_FRACTION if region is Region.LUMBAR else CERVICAL_START_FRACTION
    return weight_force_n(weight_kg, frac)


def progressed_force_n(region: Region, weight_kg: float, tolerated_sessions: int) -> float:
    """Peak force after ``tolerated_sessions`` tolerated sessions, capped by the ceiling."""
    step = (
        LUMBAR_STEP_N
        if region is Region.LUMBAR
        else weight_force_n(weight_kg, CERVICAL_STEP_FRACTION)
    )
    ceiling = progression_ceiling_n(region, weight_kg)
    return min(start_force_n(region, weight_kg) + step * max(0, tolerated_sessions), ceiling)


def default_protocol(
    region: Region | str,
    body_weight_kg: float,
    segment: str,
    *,
    table: TableType | str = TableType.SPLIT,
    session_number: int = 1,
    tolerated_sessions: int | None = None,
    traction_minutes: float = DEFAULT_TRACTION_MIN,
    pull_angle_deg: float | None = None,
) -> Protocol:
    """The weight-adapted protocol for a session of a course.

    ``tolerated_sessions`` counts earlier sessions that were tolerated; by default every earlier
    session is assumed tolerated (``session_number - 1``).
    """
    reg = Region(region)
    tolerated = session_number - 1 if tolerated_sessions is None else tolerated_sessions
    peak = progressed_force_n(reg, body_weight_kg, tolerated)
    up, down = _ramps(reg)
    return Protocol(
        region=reg,
        body_weight_kg=body_weight_kg,
        segment=segment,
        pull_angle_deg=pull_angle_deg,
        table=TableType(table),
        peak_force_n=_round_down(peak),
        base_force_n=_round_down(peak * BASE_FRACTION),
        ramp_up_n_s=up,
        ramp_down_n_s=down,
        traction_minutes=traction_minutes,
        session_number=session_number,
    )


def next_session_protocol(previous: Protocol, tolerated: bool) -> Protocol:
    """The next session's protocol: one progression step only if the last one was tolerated."""
    if not tolerated:
        return previous.model_copy(update={"session_number": previous.session_number + 1})
    step = (
        LUMBAR_STEP_N
        if previous.region is Region.LUMBAR
        else weight_force_n(previous.body_weight_kg, CERVICAL_STEP_FRACTION)
    )
    ceiling = progression_ceiling_n(previous.region, previous.body_weight_kg)
    peak = max(previous.peak_force_n, min(previous.peak_force_n + step, ceiling))
    return Protocol.model_validate(
        {
            **previous.model_dump(),
            "peak_force_n": _round_down(peak),
            "base_force_n": _round_down(peak * BASE_FRACTION),
            "session_number": previous.session_number + 1,
        }
    )


def course_force_plan(
    region: Region | str, body_weight_kg: float, tolerated: list[bool], segment: str
) -> list[float]:
    """Peak force for each session given which earlier sessions were tolerated."""
    proto = default_protocol(region, body_weight_kg, segment)
    plan = [proto.peak_force_n]
    for ok in tolerated:
        proto = next_session_protocol(proto, ok)
        plan.append(proto.peak_force_n)
    return plan
