"""The offline reference: onsets where the ground truth puts them, grades by amplitude."""

from __future__ import annotations

import numpy as np
import pytest

from spinecare.errors import InputError
from spinecare.signals.reference import (
    ReferenceParams,
    onset_reproducibility,
    onset_sensitivity,
    quiet_parts,
    reference_bursts,
)
from spinecare.signals.synthetic import emg_synthetic


def test_reference_onsets_on_synthetic_bursts() -> None:
    s = emg_synthetic(12.0, [3.0, 6.0, 9.0], 1.0, snr_db=20.0, rise_s=0.01, seed=2)
    bursts, stats = reference_bursts(s.signal_uv, 1000.0, ReferenceParams(quiet_s=(0.5, 2.5)))
    assert [b.grade for b in bursts] == ["clear"] * 3
    onsets = np.array([b.onset_s for b in bursts])
    np.testing.assert_allclose(onsets, [3.0, 6.0, 9.0], atol=0.01)  # zero-phase: a bit early
    # 20 dB on the plateau; its loudest 100 ms lie a little above that (mains notched out)
    assert all(10.0 <= b.peak_ratio <= 14.0 for b in bursts)
    assert stats["threshold"] > stats["quiet_mean"]


def test_low_bursts_are_graded_tone() -> None:
    s = emg_synthetic(8.0, [4.0], 1.5, snr_db=8.0, seed=3)  # 2.5x rest: tone, not guarding
    bursts, _ = reference_bursts(s.signal_uv, 1000.0, ReferenceParams(quiet_s=(0.5, 3.5)))
    assert bursts and {b.grade for b in bursts} == {"tone"}


def test_quiet_stretch_must_lie_in_the_recording() -> None:
    x = np.zeros(1000)
    with pytest.raises(InputError):
        reference_bursts(x, 1000.0, ReferenceParams(quiet_s=(0.9, 1.5)))


def test_a_slow_rise_makes_the_reference_onset_uncertain_and_a_fast_one_does_not() -> None:
    params = ReferenceParams(quiet_s=(0.5, 2.5))
    fast = emg_synthetic(12.0, [4.0, 8.0], 1.5, snr_db=20.0, rise_s=0.01, seed=5)
    slow = emg_synthetic(12.0, [4.0, 8.0], 1.5, snr_db=20.0, rise_s=0.8, seed=5)
    s_fast = onset_sensitivity(fast.signal_uv, 1000.0, params)
    s_slow = onset_sensitivity(slow.signal_uv, 1000.0, params)
    assert len(s_fast) == len(s_slow) == 2
    assert max(s_fast.values()) <= 10.0  # a 10 ms rise: the threshold hardly matters
    assert max(s_slow.values()) >= 40.0  # an 0.8 s rise: it can move by more than the goal


def test_quiet_parts_are_the_first_and_last_halves_and_never_shorter_than_the_minimum() -> None:
    assert quiet_parts((1.0, 3.0)) == [(1.0, 2.0), (2.0, 3.0)]
    assert quiet_parts((0.05, 0.3)) == [(0.05, 0.25), (0.1, 0.3)]  # 0.2 s each, overlapping
    assert quiet_parts((0.27, 0.47)) == [(0.27, 0.47), (0.27, 0.47)]  # exactly 0.2 s
    with pytest.raises(InputError):
        quiet_parts((0.0, 0.15))


def test_another_part_of_the_same_rest_moves_a_fast_onset_little_and_a_slow_one_more() -> None:
    params = ReferenceParams(quiet_s=(0.5, 3.5))
    fast = emg_synthetic(12.0, [5.0, 9.0], 1.5, snr_db=20.0, rise_s=0.01, seed=7).signal_uv
    slow = emg_synthetic(12.0, [5.0, 9.0], 1.5, snr_db=20.0, rise_s=1.0, seed=7).signal_uv
    for x in (fast, slow):  # real rest is not stationary: its second half is 40 % louder
        x[2000:3500] *= 1.4
    r_fast = onset_reproducibility(fast, 1000.0, params)
    r_slow = onset_reproducibility(slow, 1000.0, params)
    assert len(r_fast) == 2 and r_slow  # (the louder quiet grades one slow burst ambiguous)
    assert all(len(v) == 2 for v in r_fast.values())  # one shift per part
    fast_shifts = [s for v in r_fast.values() for s in v if s is not None]
    slow_shifts = [s for v in r_slow.values() for s in v if s is not None]
    assert max(fast_shifts) <= 10.0  # a 10 ms rise: the quiet stretch hardly matters
    assert max(slow_shifts) >= 40.0  # a 1 s rise: the observer's choice moves it past the goal


@pytest.mark.parametrize(
    ("quiet_s", "fs"), [((0.05, 0.35), 1000.0), ((1.0, 2.5), 1000.0), ((0.05, 0.35), 1024.0)]
)
def test_mains_hum_in_the_quiet_stretch_does_not_set_the_threshold(
    quiet_s: tuple[float, float], fs: float
) -> None:
    # 50 Hz at 10x the rest RMS (the gesture trials of tests/data hold up to 98 % of their rest
    # power in the line): the threshold is the muscle's rest, from the first sample on, also
    # where a period of the line is not a whole number of samples (1024 Hz: 20.48)
    params = ReferenceParams(quiet_s=quiet_s)
    kw = {"snr_db": 20.0, "rise_s": 0.01, "seed": 4, "fs_hz": fs}
    clean = emg_synthetic(8.0, [3.0, 6.0], 1.0, mains_uv=0.0, **kw)
    hum = emg_synthetic(8.0, [3.0, 6.0], 1.0, mains_uv=30.0, **kw)
    _, s_clean = reference_bursts(clean.signal_uv, fs, params)
    b_hum, s_hum = reference_bursts(hum.signal_uv, fs, params)
    assert s_hum["threshold"] == pytest.approx(s_clean["threshold"], rel=0.1)
    assert [b.grade for b in b_hum] == ["clear", "clear"]
    np.testing.assert_allclose([b.onset_s for b in b_hum], [3.0, 6.0], atol=0.01)


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_a_strong_burst_is_not_dated_before_it_began(seed: int) -> None:
    # 40 dB over rest with mains: a zero-phase notch rings ahead of it (0.46 s at seed 7)
    s = emg_synthetic(8.0, [4.0], 1.5, snr_db=40.0, rise_s=0.01, mains_uv=10.0, seed=seed)
    bursts, _ = reference_bursts(s.signal_uv, 1000.0, ReferenceParams(quiet_s=(0.5, 3.0)))
    assert bursts[0].onset_s == pytest.approx(4.0, abs=0.015)  # zero-phase: a little early
