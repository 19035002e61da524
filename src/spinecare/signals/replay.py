"""Replay the guarding detector over a whole recording, tick by tick, as the 50 Hz loop would.

Used by ``spinecare emg detect`` and benchmark B2: the same ``GuardingEmgDetector`` the
controller calls, fed from the first sample in 20 ms blocks. Each burst is reported with the
detector's back-dated onset (refined ``refine_s`` after the confirmation, as the loop's record
of the episode is), the end of the tick in which the controller would have acted, and the offset
(where the detector released, or the end of the recording).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from spinecare.errors import InputError
from spinecare.signals.detector import (
    STATUS_TEXT,
    Calibration,
    DetectorConfig,
    EmgStatus,
    GuardingEmgDetector,
)


@dataclass(frozen=True, slots=True)
class DetectedBurst:
    """One burst as the loop would have seen it; seconds from the first sample."""

    onset_s: float  # back-dated start of the rise
    reported_s: float  # end of the tick in which the onset was confirmed
    offset_s: float  # the detector released (or the recording ended while active)

    def as_dict(self) -> dict[str, float]:
        return {
            "onset_s": round(self.onset_s, 4),
            "reported_s": round(self.reported_s, 4),
            "offset_s": round(self.offset_s, 4),
        }


@dataclass(slots=True)
class Replay:
    """The detector's view of a recording."""

    rate_hz: float
    duration_s: float
    bursts: list[DetectedBurst]
    calibrations: list[Calibration]
    ready_s: float | None  # first tick with a valid baseline
    not_ready_s: float  # time without a valid baseline, from the first sample
    tone_s: float  # time with tone (background above the quiet band) while inactive
    bad_samples: int
    status_s: dict[str, float] = field(default_factory=dict)  # time spent in each status
    final_status: EmgStatus = EmgStatus.SETTLING
    mains_notches: list[tuple[float, float]] = field(default_factory=list)  # (Hz, added at s)
    active: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    level: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    @property
    def final_reason(self) -> str:
        return STATUS_TEXT[self.final_status]


def replay(x: npt.ArrayLike, rate_hz: float, config: DetectorConfig | None = None) -> Replay:
    """Feed ``x`` from its first sample in tick-sized blocks; collect bursts and calibration."""
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1:
        raise InputError("signal", "need one channel", v.shape)
    cfg = config or DetectorConfig(fs_hz=rate_hz)
    if cfg.fs_hz != rate_hz:
        raise InputError("rate", "differs from the detector's configuration", rate_hz)
    det = GuardingEmgDetector(cfg)
    tick = det.tick_len
    n_ticks = v.size // tick
    if n_ticks < 1:
        raise InputError("signal", f"need at least one tick ({tick} samples)", v.size)
    bursts: list[DetectedBurst] = []
    open_onset: tuple[float, float] | None = None
    confirmed: dict[int, int] = {}  # confirming sample -> its burst's place (open: len(bursts))
    active = np.zeros(n_ticks, dtype=bool)
    level = np.zeros(n_ticks)
    status_ticks: dict[EmgStatus, int] = {}
    ready_s: float | None = None
    tone_ticks = 0
    was_active = False
    for k in range(n_ticks):
        end = (k + 1) * tick
        u = det.update(v[k * tick : end])
        if u.refined_onset_index is not None and u.refined_confirm_index is not None:
            at = confirmed.pop(u.refined_confirm_index, None)
            onset_s = u.refined_onset_index / rate_hz
            if at is not None and at < len(bursts):
                bursts[at] = replace(bursts[at], onset_s=onset_s)
            elif at is not None and open_onset is not None:
                open_onset = (onset_s, open_onset[1])
        status_ticks[u.status] = status_ticks.get(u.status, 0) + 1
        if u.ready and ready_s is None:
            ready_s = end / rate_hz
        if u.onset_index is not None:
            if open_onset is not None:  # released and re-triggered within one tick
                bursts.append(DetectedBurst(*open_onset, offset_s=k * tick / rate_hz))
            open_onset = (u.onset_index / rate_hz, end / rate_hz)
            if u.confirm_index is not None:
                confirmed[u.confirm_index] = len(bursts)
        elif was_active and not u.active and open_onset is not None:
            bursts.append(DetectedBurst(*open_onset, offset_s=det.last_offset_index / rate_hz))
            open_onset = None
        if u.tone and not u.active:
            tone_ticks += 1
        active[k] = u.active
        level[k] = u.level
        was_active = u.active
    if open_onset is not None:
        bursts.append(DetectedBurst(*open_onset, offset_s=n_ticks * tick / rate_hz))
    tick_s = tick / rate_hz
    return Replay(
        rate_hz=rate_hz,
        duration_s=v.size / rate_hz,
        bursts=bursts,
        calibrations=det.calibrations,
        ready_s=ready_s,
        not_ready_s=sum(c for s, c in status_ticks.items() if s is not EmgStatus.READY) * tick_s,
        tone_s=tone_ticks * tick_s,
        bad_samples=det.bad_samples,
        status_s={s.name.lower(): round(c * tick_s, 3) for s, c in status_ticks.items()},
        final_status=u.status,
        mains_notches=[(f, at / rate_hz) for f, at in det.mains_notches],
        active=active,
        level=level,
    )
