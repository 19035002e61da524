"""Pure signal processing: causal stateful filters, TKEO, sEMG onset detection, synthetic EMG.

Nothing is imported until a name is used (PEP 562): the detectors pull in numba and scipy, which
a CLI start-up or a web request that never touches EMG should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spinecare.signals.detector import DetectorConfig, EmgStatus, GuardingEmgDetector
    from spinecare.signals.emg import (
        EmgConditioner,
        EmgGuardingDetector,
        EmgUpdate,
        adc_to_uv,
    )
    from spinecare.signals.filters import (
        CausalSos,
        bandpass_sos,
        cascade,
        lowpass_sos,
        notch_sos,
    )
    from spinecare.signals.onset import TUNED, OnsetConfig, OnsetUpdate, StreamingOnsetDetector
    from spinecare.signals.replay import replay
    from spinecare.signals.synthetic import SyntheticEmg, emg_bursts, emg_synthetic, emg_tone
    from spinecare.signals.tkeo import CausalTkeo, tkeo

_WHERE: dict[str, str] = {
    "DetectorConfig": "detector",
    "EmgStatus": "detector",
    "GuardingEmgDetector": "detector",
    "EmgConditioner": "emg",
    "EmgGuardingDetector": "emg",
    "EmgUpdate": "emg",
    "adc_to_uv": "emg",
    "CausalSos": "filters",
    "bandpass_sos": "filters",
    "cascade": "filters",
    "lowpass_sos": "filters",
    "notch_sos": "filters",
    "TUNED": "onset",
    "OnsetConfig": "onset",
    "OnsetUpdate": "onset",
    "StreamingOnsetDetector": "onset",
    "replay": "replay",
    "SyntheticEmg": "synthetic",
    "emg_bursts": "synthetic",
    "emg_synthetic": "synthetic",
    "emg_tone": "synthetic",
    "CausalTkeo": "tkeo",
    "tkeo": "tkeo",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'spinecare.signals' has no attribute {name!r}")
    return getattr(importlib.import_module(f"spinecare.signals.{module}"), name)


__all__ = [
    "TUNED",
    "CausalSos",
    "CausalTkeo",
    "DetectorConfig",
    "EmgConditioner",
    "EmgGuardingDetector",
    "EmgStatus",
    "EmgUpdate",
    "GuardingEmgDetector",
    "OnsetConfig",
    "OnsetUpdate",
    "StreamingOnsetDetector",
    "SyntheticEmg",
    "adc_to_uv",
    "bandpass_sos",
    "cascade",
    "emg_bursts",
    "emg_synthetic",
    "emg_tone",
    "lowpass_sos",
    "notch_sos",
    "replay",
    "tkeo",
]
