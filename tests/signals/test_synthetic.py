"""The synthetic sEMG generator: seeded, and its SNR and onsets are what was asked for."""

from __future__ import annotations

import numpy as np
import pytest

from spinecare.errors import InputError
from spinecare.signals.synthetic import emg_bursts, emg_synthetic


def test_same_seed_same_signal_and_ground_truth() -> None:
    a, b = emg_bursts(5, seed=4), emg_bursts(5, seed=4)
    np.testing.assert_array_equal(a.signal_uv, b.signal_uv)
    np.testing.assert_array_equal(a.onsets, b.onsets)
    assert not np.array_equal(a.signal_uv, emg_bursts(5, seed=5).signal_uv)


def test_snr_is_burst_rms_over_rest_rms() -> None:
    s = emg_synthetic(20.0, [5.0], 10.0, snr_db=20.0, rest_rms_uv=3.0, mains_uv=0.0, seed=2)
    rest = s.signal_uv[1000:4900]
    burst = s.signal_uv[6000:14000]
    assert np.sqrt(np.mean(rest**2)) == pytest.approx(3.0, rel=0.1)
    ratio_db = 10 * np.log10(np.mean(burst**2) / np.mean(rest**2))
    # burst samples also contain rest noise: 10*log10(1 + 10^2) = 20.04 dB
    assert ratio_db == pytest.approx(20.0, abs=0.7)


def test_activation_starts_at_the_onsets() -> None:
    s = emg_bursts(4, seed=1)
    assert np.all(s.activation[s.onsets - 1] == 0.0)
    assert np.all(s.activation[s.onsets + 20] == 1.0)
    assert np.all(s.offsets > s.onsets)


def test_burst_outside_the_recording_is_refused() -> None:
    with pytest.raises(InputError):
        emg_synthetic(1.0, [0.8], 0.5)
