"""A decompression protocol: everything the controller needs to run one session.

Defaults are weight-adapted by the dosing rules of ``clinical/dosing.py`` and progress across a
course only after a tolerated session. Every field is validated here, at the edge, so an invalid
value is refused with the field, the value and the allowed range and never reaches a device.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spinecare.clinical.course import DEFAULT_TRACTION_MIN
from spinecare.clinical.dosing import (
    next_peak_force_n,
    progressed_force_n,
    protocol_max_fraction,
    round_down_force,
    weight_force_n,
)
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.vocab import SEGMENTS, G, Region, TableType, segment_normalise

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
