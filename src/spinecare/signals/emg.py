"""Surface-EMG path for the 50 Hz biofeedback controller: paraspinal counter-tension detection.

``EmgGuardingDetector`` is what the controller calls, once per 20 ms tick with the tick's
20 raw samples in microvolts. It wraps ``signals.detector.GuardingEmgDetector``, built for real
sEMG: gradual onsets, low-level tone at rest, recordings that begin mid-contraction (benchmark B2
on the recordings in tests/data). The classic detectors of ``signals.onset`` ([hodges-bui1996],
[bonato1998], TKEO [solnik2010]) stay as the comparison: the double-threshold detector used here
before raised onsets on rest tone and could take a contraction in its calibration window for rest.

``EmgConditioner`` is the plain scipy reference of the conditioning chain (band-pass, notch,
rectification, envelope) built from ``CausalSos``; the detector's fused kernel is tested against it.
"""

from __future__ import annotations

from typing import NamedTuple

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
from spinecare.signals.filters import (
    CausalSos,
    FloatArray,
    bandpass_sos,
    cascade,
    lowpass_sos,
    notch_sos,
)
from spinecare.signals.onset import OnsetConfig

# BITalino EMG sensor transfer function [plux-emg] (BioSPPy's example recordings [data-biosppy]
# come from PLUX/BITalino hardware): EMG(V) = (ADC / 2^n - 1/2) * VCC / G_EMG, VCC = 3.3 V,
# G_EMG = 1009. At 12 bits one count is 0.80 uV. This is an assumption about the recording in
# tests/data: the detector itself is gain-invariant (thresholds are relative to the baseline).
BITALINO_VCC_V = 3.3
BITALINO_EMG_GAIN = 1009.0


def adc_to_uv(
    counts: npt.ArrayLike,
    resolution_bits: int = 12,
    vcc_v: float = BITALINO_VCC_V,
    gain: float = BITALINO_EMG_GAIN,
) -> FloatArray:
    """ADC counts to microvolts with the BITalino EMG transfer function."""
    if resolution_bits < 1 or gain <= 0:
        raise InputError("resolution_bits", "need >= 1 bit and a positive gain", resolution_bits)
    c = np.asarray(counts, dtype=np.float64)
    return np.asarray((c / 2.0**resolution_bits - 0.5) * vcc_v / gain * 1e6, dtype=np.float64)


class EmgConditioner:
    """Reference conditioning chain with scipy ``sosfilt``: returns (conditioned, envelope).

    Band-pass 20-450 Hz (4th-order Butterworth), 50 Hz notch, full-wave rectification, 5 Hz
    2nd-order low-pass: the envelope is the mean rectified value in microvolts.
    """

    def __init__(self, config: OnsetConfig | None = None) -> None:
        cfg = config or OnsetConfig()
        parts = [bandpass_sos(cfg.band_hz[0], cfg.band_hz[1], cfg.fs_hz, cfg.band_order)]
        if cfg.notch_hz is not None:
            parts.append(notch_sos(cfg.notch_hz, cfg.fs_hz, cfg.notch_q))
        self.band = CausalSos(cascade(*parts))
        self.envelope = CausalSos(lowpass_sos(cfg.monitor_lp_hz, cfg.fs_hz))

    def reset(self) -> None:
        self.band.reset()
        self.envelope.reset()

    def process(self, block: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        y = self.band.process(block)
        return y, self.envelope.process(np.abs(y))


class EmgUpdate(NamedTuple):
    """What the controller and the live monitor get per tick (a NamedTuple: cheap, immutable).

    The controller acts on ``onset``/``active`` only while ``ready``; otherwise it runs on the
    force path alone and shows ``reason`` (never silently deaf).
    """

    active: bool  # a guarding contraction is under way at the block's end
    onset: bool  # a new contraction confirmed in this block (the trigger to stop distraction)
    envelope_uv: float  # mean rectified EMG (5 Hz low-pass), microvolts, for the monitor
    ready: bool  # a valid quiet baseline: detection is live
    onset_index: int | None = None  # back-dated start of the rise, samples since reset
    status: EmgStatus = EmgStatus.READY
    reason: str = ""  # why not ready (empty when ready), one line for events and the monitor
    level: float = 0.0  # sustained level in multiples of the quiet level ("x rest")
    tone: bool = False  # low-level tone present (shown, never acted on)
    onset_lag_s: float | None = None  # the rise began this long before the block's end
    confirm_index: int | None = None  # the sample that confirmed this block's onset
    # An earlier onset estimated again once the signal after it is in (signals/detector.py,
    # ``refine_s``): which confirmation, and how long before this block's end its rise began.
    refined_confirm_index: int | None = None
    refined_lag_s: float | None = None


# Rest sEMG with good skin contact is a few microvolts: the quiet stretches of the surface
# channels in tests/data ([data-biosppy], [data-biosignalsnotebooks], [data-uci-lowerlimb],
# [data-pyomeca]) measure 1-17 uV mean rectified. A homogeneous stretch above 40 uV is a held
# contraction (a session that starts with the patient tense) or a poor contact, never a baseline
# (engineering choice).
MAX_QUIET_UV = 40.0


class EmgGuardingDetector:
    """Streaming counter-tension detector over raw sEMG blocks (1 kHz, microvolts).

    ``signals.detector.GuardingEmgDetector`` does the work (module docstring there: calibration,
    tone versus guarding, back-dating). Call ``warm_up`` before the first tick: it compiles the
    numba kernel. ``update`` never raises on bad samples: they are held, counted in
    ``bad_samples`` and, if they persist, reported as not ready.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self._det = GuardingEmgDetector(config or DetectorConfig(max_quiet=MAX_QUIET_UV))
        self._fs = self._det.config.fs_hz

    @property
    def config(self) -> DetectorConfig:
        return self._det.config

    @property
    def bad_samples(self) -> int:
        return self._det.bad_samples

    @property
    def quiet_level_uv(self) -> float:
        """Mean rectified EMG of the quiet baseline (0 until calibrated)."""
        return self._det.quiet_level

    @property
    def calibrations(self) -> list[Calibration]:
        return self._det.calibrations

    def warm_up(self) -> None:
        """Compile the kernel off the clock (the runtime calls this before the first tick)."""
        self._det.warm_up()

    def reset(self) -> None:
        self._det.reset()

    def update(self, block_uv: npt.NDArray[np.float64]) -> EmgUpdate:
        r = self._det.update(block_uv)
        onset = r.onset_index
        seen = self._det.samples_seen
        lag = None if onset is None else (seen - onset) / self._fs
        refined = r.refined_onset_index
        return EmgUpdate(
            r.active,
            onset is not None,
            r.envelope,
            r.ready,
            onset,
            r.status,
            "" if r.ready else STATUS_TEXT[r.status],
            r.level,
            r.tone,
            lag,
            r.confirm_index,
            r.refined_confirm_index,
            None if refined is None else (seen - refined) / self._fs,
        )
