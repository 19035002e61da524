"""The simulated wearer: reproducible from its seed, and physically consistent (gravity read by
the accelerometer at rest, the gyroscope integrating to the scripted slump)."""

from __future__ import annotations

import numpy as np
import pytest

from spinecare.signals.posture import G_N
from spinecare.sim.posture import SlumpEvent, WearerProfile, posture_schedule, posture_simulate


def test_same_seed_same_wearer_other_seed_other_wearer() -> None:
    a, ta = posture_simulate(600.0, 25.0, random_state=5)
    b, tb = posture_simulate(600.0, 25.0, random_state=5)
    c, _ = posture_simulate(600.0, 25.0, random_state=6)
    assert np.array_equal(a.acc, b.acc) and ta.wear_periods == tb.wear_periods
    assert not np.array_equal(a.acc, c.acc)


def test_schedule_keeps_slumps_inside_wear_after_an_upright_start() -> None:
    wear, slumps, walks = posture_schedule(4 * 3600.0, random_state=1)
    assert wear and slumps
    for s in slumps:
        assert any(a + 90.0 <= s.onset_s and s.end_s <= b - 10.0 for a, b in wear)
    for w0, w1 in walks:
        assert not any(s.onset_s < w1 and w0 < s.end_s for s in slumps)


def test_signals_follow_the_scripted_trunk() -> None:
    profile = WearerProfile(thoracic_inclination_deg=20.0, gyro_bias_dps=(0.0, 0.0, 0.0))
    slump = SlumpEvent(onset_s=100.0, hold_s=30.0, angle_deg=30.0, ramp_s=2.0)
    rec, truth = posture_simulate(
        200.0, 100.0, random_state=0, wear_periods=[(20.0, 190.0)], slumps=[slump], walks=[],
        profile=profile,
    )  # fmt: skip
    # at rest the accelerometer reads gravity
    assert np.linalg.norm(rec.acc, axis=1).mean() == pytest.approx(G_N, abs=0.05)
    # the gyroscope's y axis (left) integrates to the slump angle over its ramp
    i0, i1 = np.searchsorted(rec.t_s, [99.0, 103.0])
    turned = np.sum(rec.gyr[i0:i1, 1]) / 100.0
    assert abs(turned) == pytest.approx(30.0, abs=2.0)
    assert np.nanmax(truth.forward_deg) == pytest.approx(30.0, abs=3.0)
    assert np.isnan(truth.forward_deg[rec.t_s < 20.0]).all()
