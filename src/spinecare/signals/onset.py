"""Streaming sEMG onset detectors, fed one block at a time (causal, stateful).

Three classic detectors share one conditioning chain (band-pass 20-450 Hz, 50 Hz notch) and one
decision stage; they differ in the detection function and the first threshold:

- ``hodges_bui``: full-wave rectified EMG low-passed at 50 Hz, threshold baseline mean + h*SD,
  active once it stays above for a minimum duration [hodges-bui1996].
- ``bonato``: double threshold. First threshold on the sample-pair energy
  (y[n-1]^2 + y[n]^2) / sigma0^2 > zeta; second: at least r0 of the last m samples above it
  [bonato1998]. Causal variant: the m-window trails the present sample instead of being
  centred.
- ``tkeo``: Teager-Kaiser energy of the band-passed EMG (one-sample delay), rectified, low-passed
  at 50 Hz, then mean + h*SD as above [li2007], [solnik2010].

Baselines are learned from an initial rest period after a short settle time (filter transients),
then track slowly (an exponential mean/variance) only while the detector is inactive and the
sample is below threshold, so slow drift of the rest level does not raise false alarms while a
contraction never teaches the detector that it is rest.

All per-sample work runs in one numba kernel (a 20-sample block costs a few microseconds).
Reported onsets are sample indices since the last reset: the first sample of the run that
confirmed activity (HB, TKEO) or the first exceedance inside the m-window (Bonato).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit

import spinecare.compiled  # noqa: F401  (numba cache keyed on every core's source)
from spinecare.errors import InputError
from spinecare.signals.filters import (
    FloatArray,
    bandpass_sos,
    cascade,
    lowpass_sos,
    notch_sos,
    sos_step,
)

Method = Literal["hodges_bui", "bonato", "tkeo"]
_METHOD_CODE: dict[str, int] = {"hodges_bui": 0, "bonato": 1, "tkeo": 2}

# float state slots
_F_Y1, _F_Y2, _F_MEAN, _F_VAR, _F_ENV, _F_DET, _F_THR = range(7)
_NF = 7
# int state slots
(_I_N, _I_ACTIVE, _I_RUN, _I_RUNSTART, _I_OFF) = range(5)
(_I_POS, _I_COUNT, _I_READY, _I_LEARN, _I_BAD) = range(5, 10)
_NI = 10
# int params
_P_METHOD, _P_SETTLE, _P_LEARN, _P_MIN_ON, _P_MIN_OFF, _P_M, _P_R0 = range(7)
# float params
_Q_H, _Q_ALPHA = range(2)


@dataclass(frozen=True, slots=True)
class OnsetConfig:
    """Parameters of one streaming detector.

    Defaults are the tuned Bonato values (the guarding detector's method); ``TUNED`` holds the
    tuned thresholds of the other two (bench/b2_emg_onset.py, tests/signals).
    """

    method: Method = "bonato"
    fs_hz: float = 1000.0  # sEMG sampling rate [hermens2000]
    band_hz: tuple[float, float] = (20.0, 450.0)  # sEMG band [hermens2000]
    # Butterworth band-pass order (engineering choice: drops motion artefact below the band with
    # a start-up transient short enough for settle_s).
    band_order: int = 4
    notch_hz: float | None = 50.0  # mains frequency in Germany [en50160]
    notch_q: float = 30.0
    detect_lp_hz: float = 50.0  # envelope low-pass of the detection function [hodges-bui1996]
    monitor_lp_hz: float = 5.0  # smoother envelope for the live monitor only
    settle_s: float = 0.25  # ignore the band-pass start-up transient
    baseline_s: float = 2.0  # initial rest period to learn the baseline from
    track_tau_s: float = 20.0  # time constant of the slow baseline tracking while inactive
    # [hodges-bui1996] used h = 1..3 on a lab signal; h = 3 false-alarms on real rest EMG
    # [data-biosppy] (tuned here).
    h: float = 5.0  # threshold = mean + h*SD (HB, TKEO)
    # [bonato1998] picks zeta, m, r0 for a false-alarm and detection probability; tuned here on
    # synthetic bursts (SNR 10-20 dB) and the real rest recording, see bench/b2_emg_onset.py.
    zeta: float = 25.0  # Bonato first threshold on pair energy / sigma0^2
    m: int = 20  # Bonato window length, samples
    r0: int = 5  # Bonato: at least r0 of m samples above zeta
    min_on_s: float = 0.010  # minimum active duration before an onset is declared
    min_off_s: float = 0.100  # below threshold this long ends an activation (hysteresis)

    def __post_init__(self) -> None:
        if self.method not in _METHOD_CODE:
            raise InputError("method", "unknown onset method", self.method)
        if self.fs_hz <= 0:
            raise InputError("fs_hz", "must be positive", self.fs_hz)
        if self.baseline_s * self.fs_hz < 50:
            raise InputError("baseline_s", "need at least 50 baseline samples", self.baseline_s)
        if not 1 <= self.r0 <= self.m:
            raise InputError("r0", "need 1 <= r0 <= m", (self.r0, self.m))
        for name in ("h", "zeta", "track_tau_s", "min_on_s", "min_off_s", "settle_s"):
            if getattr(self, name) < 0:
                raise InputError(name, "must not be negative", getattr(self, name))


@dataclass(frozen=True, slots=True)
class OnsetUpdate:
    """Result of one block: state at the block's end, and the first new onset in it, if any."""

    active: bool
    onset_index: int | None  # sample index since reset of a new onset in this block
    envelope: float  # monitor envelope (mean rectified value) at the block's end
    ready: bool  # baseline learned


@njit(cache=True, nogil=True)
def _onset_block(  # pragma: no cover - jitted
    x: FloatArray,
    sos_c: FloatArray,
    zi_c: FloatArray,
    sos_d: FloatArray,
    zi_d: FloatArray,
    sos_e: FloatArray,
    zi_e: FloatArray,
    st_f: FloatArray,
    st_i: npt.NDArray[np.int64],
    ring: npt.NDArray[np.int64],
    p_i: npt.NDArray[np.int64],
    p_f: FloatArray,
    out_y: FloatArray,
) -> int:
    """Process one block; return the first new onset index in it, or -1."""
    method = p_i[_P_METHOD]
    settle = p_i[_P_SETTLE]
    learn = p_i[_P_LEARN]
    min_on = p_i[_P_MIN_ON]
    min_off = p_i[_P_MIN_OFF]
    m = p_i[_P_M]
    r0 = p_i[_P_R0]
    h = p_f[_Q_H]
    alpha = p_f[_Q_ALPHA]
    first_onset = -1
    for i in range(x.shape[0]):
        n = st_i[_I_N]
        xi = x[i]
        if not math.isfinite(xi):
            st_i[_I_BAD] += 1
            xi = 0.0
        y = sos_step(sos_c, zi_c, xi)
        out_y[i] = y
        ay = abs(y)
        st_f[_F_ENV] = sos_step(sos_e, zi_e, ay)
        y1 = st_f[_F_Y1]
        if method == 0:
            d = sos_step(sos_d, zi_d, ay)
        elif method == 1:
            d = y * y + y1 * y1
        else:
            d = sos_step(sos_d, zi_d, abs(y1 * y1 - st_f[_F_Y2] * y))
        st_f[_F_Y2] = y1
        st_f[_F_Y1] = y
        st_f[_F_DET] = d
        st_i[_I_N] = n + 1
        if n < settle:
            continue
        if st_i[_I_READY] == 0:
            # Welford over the rest window: _F_VAR holds M2 until ready.
            k = st_i[_I_LEARN] + 1
            st_i[_I_LEARN] = k
            delta = d - st_f[_F_MEAN]
            st_f[_F_MEAN] += delta / k
            st_f[_F_VAR] += delta * (d - st_f[_F_MEAN])
            if k >= learn:
                st_f[_F_VAR] = st_f[_F_VAR] / (k - 1)
                st_i[_I_READY] = 1
            continue
        mean = st_f[_F_MEAN]
        var = st_f[_F_VAR]
        # Bonato: zeta * sigma0^2, and the mean pair energy is 2 sigma0^2.
        thr = h * 0.5 * mean if method == 1 else mean + h * math.sqrt(var)
        st_f[_F_THR] = thr
        exceed = d > thr
        active = st_i[_I_ACTIVE]
        if method == 1:
            pos = st_i[_I_POS]
            old = ring[pos]
            new = 1 if exceed else 0
            ring[pos] = new
            st_i[_I_POS] = (pos + 1) % m
            st_i[_I_COUNT] += new - old
            on = st_i[_I_COUNT] >= r0
            if active == 0 and on:
                # onset: first exceedance in the trailing window (oldest first)
                start = n - m + 1
                for j in range(m):
                    if ring[(st_i[_I_POS] + j) % m] == 1:
                        start = n - m + 1 + j
                        break
                st_i[_I_ACTIVE] = 1
                st_i[_I_OFF] = 0
                if first_onset < 0:
                    first_onset = start
            elif active == 1:
                if on:
                    st_i[_I_OFF] = 0
                else:
                    st_i[_I_OFF] += 1
                    if st_i[_I_OFF] >= min_off:
                        st_i[_I_ACTIVE] = 0
        else:
            if active == 0:
                if exceed:
                    if st_i[_I_RUN] == 0:
                        st_i[_I_RUNSTART] = n
                    st_i[_I_RUN] += 1
                    if st_i[_I_RUN] >= min_on:
                        st_i[_I_ACTIVE] = 1
                        st_i[_I_OFF] = 0
                        if first_onset < 0:
                            first_onset = st_i[_I_RUNSTART]
                else:
                    st_i[_I_RUN] = 0
            else:
                if exceed:
                    st_i[_I_OFF] = 0
                else:
                    st_i[_I_OFF] += 1
                    if st_i[_I_OFF] >= min_off:
                        st_i[_I_ACTIVE] = 0
                        st_i[_I_RUN] = 0
        if st_i[_I_ACTIVE] == 0 and not exceed:
            delta = d - mean
            st_f[_F_MEAN] = mean + alpha * delta
            st_f[_F_VAR] = var + alpha * (delta * delta - var)
    return first_onset


@dataclass(slots=True)
class _Kernel:
    sos_c: FloatArray
    sos_d: FloatArray
    sos_e: FloatArray
    zi_c: FloatArray = field(init=False)
    zi_d: FloatArray = field(init=False)
    zi_e: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.zi_c = np.zeros((self.sos_c.shape[0], 2))
        self.zi_d = np.zeros((self.sos_d.shape[0], 2))
        self.zi_e = np.zeros((self.sos_e.shape[0], 2))


class StreamingOnsetDetector:
    """One streaming onset detector (method chosen by ``config.method``)."""

    def __init__(self, config: OnsetConfig | None = None) -> None:
        cfg = config or OnsetConfig()
        self.config = cfg
        fs = cfg.fs_hz
        parts = [bandpass_sos(cfg.band_hz[0], cfg.band_hz[1], fs, cfg.band_order)]
        if cfg.notch_hz is not None:
            parts.append(notch_sos(cfg.notch_hz, fs, cfg.notch_q))
        self._k = _Kernel(
            cascade(*parts), lowpass_sos(cfg.detect_lp_hz, fs), lowpass_sos(cfg.monitor_lp_hz, fs)
        )
        self._p_i = np.array(
            [
                _METHOD_CODE[cfg.method],
                round(cfg.settle_s * fs),
                round(cfg.baseline_s * fs),
                max(1, round(cfg.min_on_s * fs)),
                max(1, round(cfg.min_off_s * fs)),
                cfg.m,
                cfg.r0,
            ],
            dtype=np.int64,
        )
        threshold = cfg.zeta if cfg.method == "bonato" else cfg.h
        self._p_f = np.array([threshold, 1.0 / (cfg.track_tau_s * fs)], dtype=np.float64)
        self._st_f = np.zeros(_NF)
        self._st_i = np.zeros(_NI, dtype=np.int64)
        self._ring = np.zeros(cfg.m, dtype=np.int64)
        self._y = np.zeros(0)

    def reset(self) -> None:
        """Forget everything: filters at rest, baseline to be learned again."""
        for z in (self._k.zi_c, self._k.zi_d, self._k.zi_e, self._st_f):
            z[...] = 0.0
        self._st_i[:] = 0
        self._ring[:] = 0

    def update(self, block: npt.ArrayLike) -> OnsetUpdate:
        """Feed one block of raw sEMG (any length); returns the state at its end."""
        x = np.ascontiguousarray(block, dtype=np.float64)
        if x.ndim != 1:
            raise InputError("block", "need a 1-D block of samples", x.shape)
        if self._y.shape[0] != x.shape[0]:
            self._y = np.empty(x.shape[0])
        k = self._k
        onset = _onset_block(
            x, k.sos_c, k.zi_c, k.sos_d, k.zi_d, k.sos_e, k.zi_e,
            self._st_f, self._st_i, self._ring, self._p_i, self._p_f, self._y,
        )  # fmt: skip
        return OnsetUpdate(
            active=bool(self._st_i[_I_ACTIVE]),
            onset_index=None if onset < 0 else int(onset),
            envelope=float(self._st_f[_F_ENV]),
            ready=bool(self._st_i[_I_READY]),
        )

    @property
    def conditioned(self) -> FloatArray:
        """The last block after band-pass and notch (a view; overwritten by the next update)."""
        return self._y

    @property
    def threshold(self) -> float:
        """Current first threshold in detection-function units (0 until ready)."""
        return float(self._st_f[_F_THR])

    @property
    def detection_value(self) -> float:
        return float(self._st_f[_F_DET])

    @property
    def samples_seen(self) -> int:
        return int(self._st_i[_I_N])

    @property
    def bad_samples(self) -> int:
        """Non-finite input samples replaced by 0 (keeps the filter state finite)."""
        return int(self._st_i[_I_BAD])


# Tuned configurations: no false alarm in 30 min of synthetic rest (with and without a 30 %
# drift of the rest level) nor in the quiet stretches of the real rest recording; see B2.
TUNED: dict[str, OnsetConfig] = {
    "hodges_bui": OnsetConfig(method="hodges_bui", h=5.0, min_on_s=0.010),
    "bonato": OnsetConfig(method="bonato", zeta=25.0, m=20, r0=5),
    "tkeo": OnsetConfig(method="tkeo", h=8.0, min_on_s=0.010),
}


def hodges_bui() -> StreamingOnsetDetector:
    """Mean + h*SD detector [hodges-bui1996] with tuned parameters."""
    return StreamingOnsetDetector(TUNED["hodges_bui"])


def bonato() -> StreamingOnsetDetector:
    """Double-threshold detector [bonato1998] (causal variant) with tuned parameters."""
    return StreamingOnsetDetector(TUNED["bonato"])


def tkeo_threshold() -> StreamingOnsetDetector:
    """TKEO-conditioned threshold detector [li2007], [solnik2010] with tuned parameters."""
    return StreamingOnsetDetector(TUNED["tkeo"])
