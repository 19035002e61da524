"""Pure signal processing: causal stateful filters, TKEO, sEMG onset detection, synthetic EMG."""

from spinecare.signals.emg import EmgConditioner, EmgGuardingDetector, EmgUpdate, adc_to_uv
from spinecare.signals.filters import CausalSos, bandpass_sos, cascade, lowpass_sos, notch_sos
from spinecare.signals.onset import TUNED, OnsetConfig, OnsetUpdate, StreamingOnsetDetector
from spinecare.signals.synthetic import SyntheticEmg, emg_bursts, emg_synthetic
from spinecare.signals.tkeo import CausalTkeo, tkeo

__all__ = [
    "TUNED",
    "CausalSos",
    "CausalTkeo",
    "EmgConditioner",
    "EmgGuardingDetector",
    "EmgUpdate",
    "OnsetConfig",
    "OnsetUpdate",
    "StreamingOnsetDetector",
    "SyntheticEmg",
    "adc_to_uv",
    "bandpass_sos",
    "cascade",
    "emg_bursts",
    "emg_synthetic",
    "lowpass_sos",
    "notch_sos",
    "tkeo",
]
