"""A decompression protocol: everything the controller needs to run one session.

Defaults are weight-adapted by the dosing rules of ``clinical/dosing.py`` and progress across a
course only after a tolerated session. Every field is validated here, at the edge, so an invalid
value is refused with the field, the value and the allowed range and never reaches a device.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spinecare.clinical.course import DEFAULT_TRACTION_MIN
from spinecare.clinical.dosing import (
    next_peak_force_n,
    progressed_force_n,
    protocol_max_fraction,
    round_down_force,
    weight_force_n,
)
from spinecare.quantities import REGISTRY, Q, Quantity
from spinecare.vocab import SEGMENTS, G, Region, TableType, segment_normalise

# Base tension about 50% of peak [vaxd-patent] [pergolizzi-drx].
BASE_FRACTION = 0.5

# Intermittent cycles: 60 s tension / 30 s relaxation as in DRX9000 and Triton DTS lumbar
# programmes [drx9000-manual] [triton-dts-manual]; Ramos & Martin used 60 s cycles
# [ramos-martin1994]. The seed asks for "short intervals" [seed-spinemed].
DEFAULT_HOLD_S = 60.0
DEFAULT_REST_S = 30.0
# Ramps: engineering choice, slow enough to stay below the stretch-reflex threshold of the
# simulated paraspinals (sim/patient_model.py) and to reach peak in about 10 s.
LUMBAR_RAMP_UP_N_S = 15.0
LUMBAR_RAMP_DOWN_N_S = 30.0
CERVICAL_RAMP_UP_N_S = 4.0
CERVICAL_RAMP_DOWN_N_S = 8.0


def _range(q: Q, **kw: Any) -> Any:
    """A pydantic Field whose bounds are the quantities registry's safe range (stated once)."""
    quantity: Quantity = REGISTRY[q]
    low = "gt" if quantity.safe_min_exclusive else "ge"
    bounds = {low: quantity.safe_min, "le": quantity.safe_max}
    return Field(**bounds, **kw)  # type: ignore[call-overload]


class Protocol(BaseModel):
    """One session's settings. Immutable; derive a new one with ``model_copy(update=...)``."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    region: Region
    body_weight_kg: float = _range(Q.BODY_WEIGHT, description="patient body weight, kg")
    segment: str
    pull_angle_deg: float | None = _range(
        Q.PULL_ANGLE, default=None, description="cable angle above the table plane"
    )
    table: TableType = TableType.SPLIT
    peak_force_n: float = _range(Q.PEAK_FORCE)
    base_force_n: float = _range(Q.BASE_FORCE)
    hold_s: float = _range(Q.HOLD_TIME, default=DEFAULT_HOLD_S)
    rest_s: float = _range(Q.REST_TIME, default=DEFAULT_REST_S)
    ramp_up_n_s: float = _range(Q.RAMP_UP_RATE)
    ramp_down_n_s: float = _range(Q.RAMP_DOWN_RATE)
    traction_minutes: float = _range(Q.SESSION_MINUTES, default=DEFAULT_TRACTION_MIN)
    session_number: int = _range(Q.SESSION_NUMBER, default=1)

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


def _ramps(region: Region) -> tuple[float, float]:
    if region is Region.LUMBAR:
        return LUMBAR_RAMP_UP_N_S, LUMBAR_RAMP_DOWN_N_S
    return CERVICAL_RAMP_UP_N_S, CERVICAL_RAMP_DOWN_N_S


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
        peak_force_n=round_down_force(peak),
        base_force_n=round_down_force(peak * BASE_FRACTION),
        ramp_up_n_s=up,
        ramp_down_n_s=down,
        traction_minutes=traction_minutes,
        session_number=session_number,
    )


def next_session_protocol(previous: Protocol, tolerated: bool) -> Protocol:
    """The next session's protocol: one progression step only if the last one was tolerated."""
    if not tolerated:
        return previous.model_copy(update={"session_number": previous.session_number + 1})
    peak = next_peak_force_n(
        previous.region, previous.body_weight_kg, previous.peak_force_n, tolerated=True
    )
    return Protocol.model_validate(
        {
            **previous.model_dump(),
            "peak_force_n": peak,
            "base_force_n": round_down_force(peak * BASE_FRACTION),
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
