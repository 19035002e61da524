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
from spinecare.therapy.guarding import ForceGuardingDetector, ForceGuardingUpdate
from spinecare.therapy.protocol import Protocol
from spinecare.vocab import TICK_S, Reading

# The ideal table's stiffness, N/mm: only the winch column of the readings depends on it, and
# the never-tense detector ignores them (any positive value draws the same curve).
_IDEAL_STIFFNESS_N_MM = 10.0
# A session ends with the final release; this bounds the loop for any valid protocol (45 min of
# traction, the longest allowed, plus pretension and the release).
_MAX_S = 60.0 * 60.0


class _NeverTense(ForceGuardingDetector):
    """The force path of a patient who never tenses: no alarm, ever."""

    def update(
        self, force_n: float, winch_mm: float, unloading_scale: float | None = None
    ) -> ForceGuardingUpdate:
        return ForceGuardingUpdate(False, 0.0)


@dataclass(frozen=True, slots=True)
class TargetCurve:
    """The target force over session time, with the phase and the programme's stage."""

    protocol: Protocol
    t_s: npt.NDArray[np.float64]
    target_n: npt.NDArray[np.float64]
    phase: tuple[str, ...]
    stage: tuple[str, ...]
    step_s: float

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1]) if len(self.t_s) else 0.0

    def at(self, t_s: float) -> tuple[str, float]:
        """Phase and target at session time ``t_s`` (the sample at or before it)."""
        i = int(np.searchsorted(self.t_s, t_s, side="right")) - 1
        i = min(max(i, 0), len(self.t_s) - 1)
        return self.phase[i], float(self.target_n[i])

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.protocol.mode.value,
            "step_s": self.step_s,
            "t_s": [round(float(t), 3) for t in self.t_s],
            "target_n": [round(float(f), 2) for f in self.target_n],
            "phase": list(self.phase),
            "stage": list(self.stage),
        }


def target_curve(
    protocol: Protocol, step_s: float = TICK_S, *, settings: ControllerSettings | None = None
) -> TargetCurve:
    """The target every ``step_s`` (a whole number of ticks) from the first tick to the end of
    the final release. The controller runs every tick; the samples are taken from it."""
    every = max(1, round(step_s / TICK_S))
    ctrl = DecompressionController(protocol, settings=settings)
    ctrl.force_detector = _NeverTense(ctrl.s.force)
    t: list[float] = []
    target: list[float] = []
    phase: list[str] = []
    stage: list[str] = []
    force = 0.0
    k = 0
    while k * TICK_S <= _MAX_S:
        now = k * TICK_S
        reading = Reading(now, k + 1, force, force / _IDEAL_STIFFNESS_N_MM, False)
        force = ctrl.update(reading, now, TICK_S).force_n
        if k % every == 0 or ctrl.done:
            t.append(now)
            target.append(ctrl.target_n)
            phase.append(ctrl.phase.value)
            stage.append(ctrl.stage.value)
        if ctrl.done:
            break
        k += 1
    return TargetCurve(
        protocol=protocol,
        t_s=np.asarray(t, dtype=np.float64),
        target_n=np.asarray(target, dtype=np.float64),
        phase=tuple(phase),
        stage=tuple(stage),
        step_s=every * TICK_S,
    )
