"""Causal TKEO: one-sample delay, state carried across blocks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.signals.tkeo import CausalTkeo, tkeo


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 300),
    cuts=st.lists(st.integers(0, 300), max_size=10),
)
def test_streaming_tkeo_is_offline_tkeo_delayed_by_one(seed: int, n: int, cuts: list[int]) -> None:
    x = np.random.default_rng(seed).normal(size=n)
    op = CausalTkeo()
    blocks = np.split(x, sorted({min(c, n) for c in cuts}))
    got = np.concatenate([op.process(b) for b in blocks])
    expected = np.concatenate(([0.0], tkeo(x)[:-1]))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_tkeo_of_a_sinusoid_is_amplitude_squared_times_sin_squared_omega() -> None:
    # psi[A sin(w n + p)] = A^2 sin^2(w): TKEO tracks amplitude and frequency (Kaiser 1990).
    w, a = 2 * np.pi * 120 / 1000, 7.0
    x = a * np.sin(w * np.arange(500) + 0.3)
    np.testing.assert_allclose(tkeo(x)[1:-1], a**2 * np.sin(w) ** 2, rtol=1e-9)


def test_reset_forgets_the_past() -> None:
    op = CausalTkeo()
    op.process(np.array([5.0, 6.0]))
    op.reset()
    assert op.process(np.array([1.0]))[0] == 0.0
