"""The guarding detector the controller calls, on a real rest recording and on synthetic bursts.

Real data: tests/data/emg-real-1khz.txt (BioSPPy example, BSD-3-Clause, LICENSE-BioSPPy.txt),
100 s at 1 kHz, 12-bit counts, converted with the BITalino EMG transfer function (``adc_to_uv``).
Its rest level is about 1.3 uV RMS. Low-level activity (250 ms RMS above 1.5x the median RMS)
occurs only inside ``ACTIVITY_S``: about 36-41 s (up to 1.7x), 50-58 s (up to 2.4x) and a blip
at 95.7-95.9 s (1.9x). Everything else is a quiet stretch, where the detector must stay silent.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from spinecare.signals.emg import EmgGuardingDetector, EmgUpdate, adc_to_uv
from spinecare.vocab import EMG_BLOCK

DATA = Path(__file__).resolve().parents[1] / "data" / "emg-real-1khz.txt"
ACTIVITY_S = [(35.0, 42.0), (49.5, 58.5), (95.2, 96.5)]  # with >= 0.5 s margin
MAX_ONSETS_IN_QUIET = 0


@cache
def _real_uv() -> np.ndarray:
    return adc_to_uv(np.loadtxt(DATA, comments="#"))


def _in_activity(t_s: float) -> bool:
    return any(a <= t_s <= b for a, b in ACTIVITY_S)


def _run(x: np.ndarray) -> list[EmgUpdate]:
    det = EmgGuardingDetector()
    return [det.update(x[i : i + EMG_BLOCK]) for i in range(0, x.size - EMG_BLOCK + 1, EMG_BLOCK)]


def test_adc_conversion_follows_the_bitalino_transfer_function() -> None:
    assert adc_to_uv(2048.0) == 0.0
    assert float(adc_to_uv(2049.0)) == pytest.approx(3.3 / 4096 / 1009 * 1e6)  # 0.80 uV/count


def test_documented_activity_segments_hold_every_active_stretch() -> None:
    # offline (non-causal is fine for ground truth): 250 ms RMS of the band-passed signal
    from scipy import signal

    x = _real_uv()
    y = signal.sosfiltfilt(signal.butter(4, [20, 450], "bandpass", fs=1000, output="sos"), x)
    rms = np.sqrt(np.convolve(y**2, np.ones(250) / 250, mode="same"))
    loud = np.flatnonzero(rms > 1.5 * np.median(rms)) / 1000.0
    assert loud.size > 0
    assert all(_in_activity(t) for t in loud)


def test_real_recording_stays_finite_and_bounded() -> None:
    x = _real_uv()
    ups = _run(x)
    env = np.array([u.envelope_uv for u in ups])
    assert np.all(np.isfinite(env))
    assert env.max() < 10.0  # raw amplitude never exceeds 15 uV around its mean
    assert env[200:].min() > 0.1


def test_no_false_alarm_in_the_quiet_stretches_of_real_rest_emg() -> None:
    ups = _run(_real_uv())
    onsets_s = [u.onset_index / 1000.0 for u in ups if u.onset_index is not None]
    quiet = [t for t in onsets_s if not _in_activity(t)]
    assert len(quiet) <= MAX_ONSETS_IN_QUIET, quiet
    # and the detector is not deaf: the strongest real activity (50-58 s, 2.4x rest) shows up
    assert any(49.5 <= t <= 58.5 for t in onsets_s)
    active_s = [i * 0.02 for i, u in enumerate(ups) if u.active]
    assert all(_in_activity(t) or _in_activity(t - 0.5) for t in active_s)


def test_onset_flags_and_ready_over_a_synthetic_session() -> None:
    from spinecare.signals.synthetic import emg_synthetic

    s = emg_synthetic(8.0, [4.0], 1.0, snr_db=20.0, seed=5)
    ups = _run(s.signal_uv)
    assert not ups[0].ready and ups[-1].ready
    onsets = [i for i, u in enumerate(ups) if u.onset]
    assert len(onsets) == 1
    k = onsets[0]
    assert ups[k].active and 0 <= ups[k].onset_index - 4000 <= 20  # type: ignore[operator]
    assert ups[k + 20].envelope_uv > 5 * ups[k - 5].envelope_uv  # monitor sees the burst
    assert not ups[-1].active  # relaxed again


def test_bad_samples_do_not_poison_the_filters() -> None:
    det = EmgGuardingDetector()
    block = np.full(EMG_BLOCK, np.nan)
    block[::2] = np.inf
    u = det.update(block)
    assert np.isfinite(u.envelope_uv) and det.bad_samples == EMG_BLOCK
    u = det.update(np.ones(EMG_BLOCK))
    assert np.isfinite(u.envelope_uv)


def test_update_is_frozen_and_reset_relearns() -> None:
    det = EmgGuardingDetector()
    x = np.random.default_rng(0).normal(0, 3, 3000)
    last = [det.update(x[i : i + EMG_BLOCK]) for i in range(0, 3000, EMG_BLOCK)][-1]
    assert last.ready
    with pytest.raises(dataclasses.FrozenInstanceError):
        last.active = True  # type: ignore[misc]
    det.reset()
    assert not det.update(x[:EMG_BLOCK]).ready
