"""A mode's target curve ahead of time, drawn by the controller itself.

The curve is what ``DecompressionController`` commands tick by tick on a table that follows every
command exactly and a patient who never tenses: the same code, the same phase changes on the same
ticks, so what a therapist is shown before the session is what the controller will follow (until
counter-tension interrupts it; then it releases to base, waits, rebuilds and continues the
curve). Pure: no clock, no device, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinecare.therapy.controller import ControllerSettings, DecompressionController
from spinecare.therapy.profile import Phase
from spinecare.therapy.protocol import Protocol
from spinecare.therapy.segments import recommend_angle, segment_transfer
from spinecare.vocab import TICK_S, Reading

# The ideal table's stiffness, N/mm: only the winch column of the readings depends on it, and
# the never-tense detector ignores them (any positive value draws the same curve).
_IDEAL_STIFFNESS_N_MM = 10.0
# A session ends with the final release; this bounds the loop for any valid protocol (45 min of
# traction, the longest allowed, plus pretension and the release).
_MAX_S = 60.0 * 60.0


@dataclass(frozen=True, slots=True)
class CurveCycle:
    """One pull of the programme, at tick resolution: when its ramp began, its hold (a cyclic
    peak lasts a tick), its stage and the level it pulled to."""

    stage: str
    ramp_start_s: float
    hold_start_s: float
    hold_end_s: float
    level_n: float

    def as_dict(self) -> dict[str, float | str]:
        return {
            "stage": self.stage,
            "ramp_start_s": round(self.ramp_start_s, 2),
            "hold_start_s": round(self.hold_start_s, 2),
            "hold_s": round(self.hold_end_s - self.hold_start_s, 2),
            "level_n": round(self.level_n, 1),
        }


@dataclass(frozen=True, slots=True)
class TargetCurve:
    """The target force over session time, with the phase and the programme's stage, and the
    force the segment model estimates at the target segment for it (model, not measured)."""

    protocol: Protocol
    t_s: npt.NDArray[np.float64]
    target_n: npt.NDArray[np.float64]
    segment_n: npt.NDArray[np.float64]
    phase: tuple[str, ...]
    stage: tuple[str, ...]
    step_s: float
    pull_angle_deg: float
    cycles: tuple[CurveCycle, ...]
    max_rise_n_s: float  # the steepest rise of the target between two ticks

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1]) if len(self.t_s) else 0.0

    def at(self, t_s: float) -> tuple[str, float]:
        """Phase and target at session time ``t_s`` (the sample at or before it)."""
        i = int(np.searchsorted(self.t_s, t_s, side="right")) - 1
        i = min(max(i, 0), len(self.t_s) - 1)
        return self.phase[i], float(self.target_n[i])

    def as_dict(self) -> dict[str, object]:
        p = self.protocol
        return {
            "region": p.region.value,
            "mode": p.mode.value,
            "ramp_shape": p.ramp_shape.value,
            "progressive_steps": p.progressive_steps,
            "regressive_steps": p.regressive_steps,
            "oscillation_amplitude_n": p.oscillation_amplitude_n,
            "oscillation_hz": p.oscillation_hz,
            "peak_force_n": p.peak_force_n,
            "base_force_n": p.base_force_n,
            "segment": p.segment,
            "pull_angle_deg": self.pull_angle_deg,
            "duration_s": round(self.duration_s, 2),
            "max_rise_n_s": round(self.max_rise_n_s, 2),
            "cycles": [c.as_dict() for c in self.cycles],
            "step_s": self.step_s,
            "t_s": [round(float(t), 3) for t in self.t_s],
            "target_n": [round(float(f), 2) for f in self.target_n],
            "segment_n": [round(float(f), 2) for f in self.segment_n],
            "phase": list(self.phase),
            "stage": list(self.stage),
        }


def target_curve(
    protocol: Protocol, step_s: float = TICK_S, *, settings: ControllerSettings | None = None
) -> TargetCurve:
    """The target every ``step_s`` (a whole number of ticks) from the first tick to the end of
    the final release. The controller runs every tick; the samples are taken from it."""
    every = max(1, round(step_s / TICK_S))
    # A patient who never tenses: the force path never alarms.
    ctrl = DecompressionController(protocol, settings=settings, force_path=False)
    t: list[float] = []
    target: list[float] = []
    phase: list[str] = []
    stage: list[str] = []
    cycles: list[CurveCycle] = []
    ramp_start = hold_start = 0.0
    before = Phase.PRETENSION
    force = max_rise = 0.0
    k = 0
    while k * TICK_S <= _MAX_S:
        now = k * TICK_S
        reading = Reading(now, k + 1, force, force / _IDEAL_STIFFNESS_N_MM, False)
        new = ctrl.update(reading, now, TICK_S).force_n
        max_rise = max(max_rise, (new - force) / TICK_S)
        force = new
        ph = ctrl.phase
        if ph is not before:
            if ph is Phase.RAMP_UP:
                ramp_start = now
            elif ph is Phase.HOLD:
                hold_start = now
            if before is Phase.HOLD:
                cycles.append(
                    CurveCycle(ctrl.cycle.stage.value, ramp_start, hold_start, now, ctrl.level_n)
                )
            before = ph
        if k % every == 0 or ctrl.done:
            t.append(now)
            target.append(ctrl.target_n)
            phase.append(ph.value)
            stage.append(ctrl.stage.value)
        if ctrl.done:
            break
        k += 1
    angle = protocol.pull_angle_deg
    if angle is None:  # as the session runner chooses it
        angle = round(
            recommend_angle(
                protocol.segment, protocol.region, protocol.body_weight_kg, protocol.table
            ),
            1,
        )
    transfer = segment_transfer(
        protocol.region, protocol.body_weight_kg, angle, protocol.table, protocol.segment
    )
    return TargetCurve(
        protocol=protocol,
        t_s=np.asarray(t, dtype=np.float64),
        target_n=np.asarray(target, dtype=np.float64),
        segment_n=np.asarray([transfer.axial_n(max(0.0, f)) for f in target], dtype=np.float64),
        phase=tuple(phase),
        stage=tuple(stage),
        step_s=every * TICK_S,
        pull_angle_deg=angle,
        cycles=tuple(cycles),
        max_rise_n_s=max_rise,
    )
