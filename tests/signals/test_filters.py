"""CausalSos and the numba SOS kernel: block-wise output equals one-shot ``sosfilt``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from spinecare.errors import InputError
from spinecare.signals.filters import (
    CausalSos,
    bandpass_sos,
    cascade,
    lowpass_sos,
    notch_sos,
    sos_block,
)

FS = 1000.0
EMG_SOS = cascade(bandpass_sos(20.0, 450.0, FS), notch_sos(50.0, FS))


def _split(x: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    edges = sorted({min(c, x.size) for c in cuts})
    return np.split(x, edges)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 600),
    cuts=st.lists(st.integers(0, 600), max_size=12),
)
def test_block_output_equals_one_shot_sosfilt(seed: int, n: int, cuts: list[int]) -> None:
    x = np.random.default_rng(seed).normal(0.0, 50.0, n)
    ref = signal.sosfilt(EMG_SOS, x)
    f = CausalSos(EMG_SOS)
    got = np.concatenate([f.process(b) for b in _split(x, cuts)])
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9)
    zi = np.zeros((EMG_SOS.shape[0], 2))
    fast = np.concatenate([sos_block(EMG_SOS, zi, b) for b in _split(x, cuts)])
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-9)


def test_reset_restarts_from_rest() -> None:
    x = np.random.default_rng(1).normal(size=200)
    f = CausalSos(lowpass_sos(10.0, FS))
    first = f.process(x)
    f.reset()
    np.testing.assert_array_equal(f.process(x), first)
    assert f.state.shape == (1, 2)


def _steady_gain(sos: np.ndarray, freq_hz: float) -> float:
    t = np.arange(4000) / FS
    y = CausalSos(sos).process(np.sin(2 * np.pi * freq_hz * t))
    return float(np.sqrt(2 * np.mean(y[2000:] ** 2)))


def test_emg_chain_removes_mains_and_keeps_the_emg_band() -> None:
    assert _steady_gain(EMG_SOS, 50.0) < 0.03  # > 30 dB down at the mains frequency
    assert _steady_gain(EMG_SOS, 5.0) < 0.01  # motion artefact band
    for f in (30.0, 100.0, 250.0, 400.0):
        assert 0.85 < _steady_gain(EMG_SOS, f) < 1.05


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: bandpass_sos(450.0, 20.0, FS), "band"),
        (lambda: bandpass_sos(20.0, 600.0, FS), "band"),
        (lambda: lowpass_sos(0.0, FS), "cutoff_hz"),
        (lambda: notch_sos(50.0, FS, q=0.0), "notch_q"),
        (lambda: CausalSos(np.zeros((2, 5))), "sos"),
        (lambda: CausalSos(lowpass_sos(5.0, FS)).process(np.zeros((2, 2))), "block"),
    ],
)
def test_bad_filter_arguments_name_the_field(call: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field
