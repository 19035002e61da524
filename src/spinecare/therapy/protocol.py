"""A decompression protocol: everything the controller needs to run one session.

Defaults are weight-adapted by the dosing rules of ``clinical/dosing.py`` and progress across a
course only after a tolerated session. Every field is validated here, at the edge, so an invalid
value is refused with the field, the value and the allowed range and never reaches a device.
"""

from __future__ import annotations

import math
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
from spinecare.therapy.profile import (
    ModeProfile,
    RampShape,
    TractionMode,
    oscillation_max_rise_n_s,
    oscillation_room_n,
    step_fraction,
)
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
# A logarithmic ramp starts twice as steep as its mean rate: half the rise is done in the first
# 35% of the ramp, the "quick rise, then logarithmic" of [vaxd-patent]. Engineering choice from
# the simulated cohort: 2 x the default 15 N/s lumbar and 4 N/s cervical ramps (30 and 8 N/s)
# stay below the stretch-reflex thresholds of the simulated paraspinals (40-90 and 12-25 N/s,
# sim/population.py); a start three times steeper provoked reflexes that stopped the
# distraction in one session in two. The policy's rise limit (50 and 15 N/s) bounds the factor.
DEFAULT_LOG_RAMP_FACTOR = 2.0
# Hold oscillation: a period of 5 s (engineering choice; no published frequency [busch2023]):
# in the simulated cohort faster swings of the same size made the force path stop the
# distraction without counter-tension (docs/modes.md).
DEFAULT_OSCILLATION_HZ = 0.2


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
    # Treatment mode (therapy/profile.py, docs/modes.md). The defaults are the intermittent
    # profile, so a protocol stored before modes existed means what it meant.
    mode: TractionMode = TractionMode.INTERMITTENT
    progressive_steps: int = _range(Q.PROGRESSIVE_STEPS, default=0)
    regressive_steps: int = _range(Q.REGRESSIVE_STEPS, default=0)
    ramp_shape: RampShape = RampShape.LINEAR
    log_ramp_factor: float = _range(Q.LOG_RAMP_FACTOR, default=DEFAULT_LOG_RAMP_FACTOR)
    oscillation_amplitude_n: float = _range(Q.OSCILLATION_AMPLITUDE, default=0.0)
    oscillation_hz: float = _range(Q.OSCILLATION_FREQUENCY, default=DEFAULT_OSCILLATION_HZ)

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
        self._check_mode()
        return self

    def _check_mode(self) -> None:
        """The mode's parameters against each other, the peak, the base and the drive's rise
        limit: the safety policy would clamp a curve that rises faster than its limit, so such a
        curve is refused here, with the field and the allowed range, before anything moves."""
        # Imported here: the policy module imports this one.
        from spinecare.therapy.safety import MAX_RISE_N_S

        limit = MAX_RISE_N_S[self.region]
        where = f"the rise limit of {limit:g} N/s ({self.region.value})"
        if self.ramp_shape is RampShape.LOGARITHMIC:
            start = self.log_ramp_factor * self.ramp_up_n_s
            if start > limit + 1e-9:
                raise ValueError(
                    f"log_ramp_factor: a logarithmic ramp starts at {self.log_ramp_factor:g} x "
                    f"{self.ramp_up_n_s:g} N/s = {start:g} N/s, above {where}; with this ramp "
                    f"rate it must be at most {limit / self.ramp_up_n_s:.2f}"
                )
        amp = self.oscillation_amplitude_n
        if amp > 0.0:
            if self.mode is TractionMode.CYCLIC:
                raise ValueError(
                    "oscillation_amplitude_n: cyclic mode has no hold to oscillate in "
                    "(must be 0 for cyclic)"
                )
            rise = oscillation_max_rise_n_s(amp, self.oscillation_hz)
            if rise > limit + 1e-9:
                raise ValueError(
                    f"oscillation_amplitude_n: {amp:g} N at {self.oscillation_hz:g} Hz rises at "
                    f"up to {rise:.1f} N/s, above {where}; at {self.oscillation_hz:g} Hz it must "
                    f"be at most {limit / (2 * math.pi * self.oscillation_hz):.1f} N"
                )
            room = oscillation_room_n(self.peak_force_n, self.base_force_n)
            if amp > room + 1e-9:
                raise ValueError(
                    f"oscillation_amplitude_n: {amp:g} N swings the hold down by {2 * amp:g} N; "
                    f"it must be at most {room:.1f} N (the trough stays within 10% of the peak "
                    "and in the upper half between base and peak)"
                )
        steps = self.progressive_steps + self.regressive_steps
        if steps:
            need = self._steps_s()
            if need > self.traction_minutes * 60.0:
                raise ValueError(
                    f"progressive_steps: {self.progressive_steps} + {self.regressive_steps} "
                    f"regressive steps take {need / 60:.1f} min, more than the traction time of "
                    f"{self.traction_minutes:g} min"
                )

    def _steps_s(self) -> float:
        """How long the progressive and regressive step cycles take together."""
        prof = ModeProfile.of(self)
        base, span = self.base_force_n, self.peak_force_n - self.base_force_n
        total = 0.0
        for n in (self.progressive_steps, self.regressive_steps):
            for k in range(1, n + 1):
                level = base + step_fraction(k, n) * span
                total += prof.cycle_s(level, base, hold_s=prof.hold_s, rest_s=prof.rest_s)
        return total

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
