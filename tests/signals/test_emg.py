"""The guarding detector the controller calls: what it hands the controller and the monitor.

Real data: tests/data/emg-real-1khz.txt (BioSPPy example, BSD-3-Clause, LICENSE-BioSPPy.txt),
100 s at 1 kHz, 12-bit counts, converted with the BITalino EMG transfer function (``adc_to_uv``).
Rest about 1.3 uV RMS, with low-level tone (up to 2.5x rest on a 250 ms RMS) near 36-41 s and
50-58 s and a blip at 95.8 s: tone, which must never stop the distraction.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from spinecare.signals.detector import EmgStatus
from spinecare.signals.emg import EmgGuardingDetector, EmgUpdate, adc_to_uv
from spinecare.signals.synthetic import emg_synthetic
from spinecare.vocab import EMG_BLOCK

DATA = Path(__file__).resolve().parents[1] / "data" / "emg-real-1khz.txt"
TONE_S = [(35.0, 42.0), (49.5, 58.5), (95.2, 96.5)]


@cache
def _real_uv() -> np.ndarray:
    return adc_to_uv(np.loadtxt(DATA, comments="#"))


def _run(x: np.ndarray, det: EmgGuardingDetector | None = None) -> list[EmgUpdate]:
    det = det or EmgGuardingDetector()
    return [det.update(x[i : i + EMG_BLOCK]) for i in range(0, x.size - EMG_BLOCK + 1, EMG_BLOCK)]


def test_adc_conversion_follows_the_bitalino_transfer_function() -> None:
    assert adc_to_uv(2048.0) == 0.0
    assert float(adc_to_uv(2049.0)) == pytest.approx(3.3 / 4096 / 1009 * 1e6)  # 0.80 uV/count


def test_real_rest_with_tone_never_raises_an_onset() -> None:
    ups = _run(_real_uv())
    assert not any(u.onset or u.active for u in ups)
    # ready after 2.22 s: one settle tick, 0.2 s quiet, then 2 s without a lower stretch
    assert not any(u.ready for u in ups[:110]) and all(u.ready for u in ups[111:])
    assert {u.status for u in ups[1:110]} == {EmgStatus.CALIBRATING}
    env = np.array([u.envelope_uv for u in ups])
    assert np.all(np.isfinite(env)) and env.max() < 10.0
    # the monitor shows the tone: the level rises above the quiet band inside the tone stretches
    level = np.array([u.level for u in ups])
    t = np.arange(len(ups)) * 0.02
    in_tone = np.zeros(len(ups), dtype=bool)
    for a, b in TONE_S:
        in_tone |= (t >= a) & (t <= b)
    assert level[in_tone].max() > 1.5 * np.median(level[~in_tone])


def test_what_the_controller_gets_over_a_synthetic_session() -> None:
    s = emg_synthetic(8.0, [4.0], 1.0, snr_db=26.0, rise_s=0.03, seed=5)
    ups = _run(s.signal_uv)
    assert not ups[0].ready and ups[0].reason and ups[0].status is EmgStatus.SETTLING
    assert ups[-1].ready and ups[-1].reason == ""
    onsets = [i for i, u in enumerate(ups) if u.onset]
    assert len(onsets) == 1
    k = onsets[0]
    u = ups[k]
    assert u.active and u.onset_index is not None and u.onset_lag_s is not None
    assert abs(u.onset_index - 4000) <= 20  # back-dated to the start of the 30 ms rise
    assert u.onset_lag_s == pytest.approx(((k + 1) * EMG_BLOCK - u.onset_index) / 1000.0)
    assert u.level > 5.0 and ups[k - 5].level < 2.0
    assert ups[k + 20].envelope_uv > 5 * ups[k - 5].envelope_uv  # the monitor sees the burst
    assert not ups[-1].active  # relaxed again


def test_bad_samples_are_held_counted_and_reported() -> None:
    det = EmgGuardingDetector()
    x = np.random.default_rng(0).normal(0, 3, 2000)
    _run(x, det)
    block = np.full(EMG_BLOCK, np.nan)
    block[::2] = np.inf
    ups = [det.update(block) for _ in range(6)]
    assert all(np.isfinite(u.envelope_uv) for u in ups)
    assert det.bad_samples == 6 * EMG_BLOCK
    assert not ups[-1].ready and ups[-1].status is EmgStatus.BAD_INPUT and ups[-1].reason
    ups = _run(np.random.default_rng(1).normal(0, 3, 2500), det)
    assert ups[-1].ready  # re-calibrated on the valid signal and confirmed for 2 s


def test_update_is_frozen_and_reset_relearns() -> None:
    det = EmgGuardingDetector()
    det.warm_up()
    x = np.random.default_rng(0).normal(0, 3, 3000)
    last = _run(x, det)[-1]
    assert last.ready and det.quiet_level_uv > 0.0
    with pytest.raises(AttributeError):
        last.active = True  # type: ignore[misc]
    det.reset()
    assert not det.update(x[:EMG_BLOCK]).ready
