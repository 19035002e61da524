"""The force-path counter-tension detector on open-loop force/winch traces with known truth.

The closed-loop figures (detection rate, false stops, response from measurable) are benchmark B2
(bench/b2_guarding_response.py) and tests/cohort; these tests pin the rules a user relies on.
"""

from __future__ import annotations

import numpy as np

from spinecare.therapy.guarding import ForceGuardingDetector

SIGMA = 0.8  # load-cell noise, N
K = 15.0  # passive stiffness, N/mm


def _learned(rng: np.random.Generator) -> tuple[ForceGuardingDetector, float, float]:
    """A detector after pretension at 100 N (noise learned) and a ramp to 200 N (stiffness)."""
    det = ForceGuardingDetector()
    f, x = 100.0, 5.0
    for _ in range(250):  # 5 s at base: learn the noise
        det.update(f + rng.normal(0, SIGMA), x)
        det.observe_noise()
    det.reset_learning_window()
    for _ in range(300):  # ramp at 15 N/s: the drive draws in 1 mm/s
        f += 0.3
        x += 0.3 / K
        fx = f + rng.normal(0, SIGMA)
        det.update(fx, x)
        if det.quiet:
            det.learn_stiffness(fx, x)
    return det, f, x


def test_learns_noise_and_stiffness() -> None:
    det, _, _ = _learned(np.random.default_rng(1))
    assert det.noise_learned
    assert abs(det.noise_sd_n - SIGMA) < 0.25 * SIGMA
    assert abs(det.stiffness_n_mm - K) < 0.15 * K


def test_no_false_alarm_over_a_30_minute_hold_with_creep() -> None:
    rng = np.random.default_rng(2)
    det, f, x = _learned(rng)
    alarms = 0
    for _ in range(90_000):
        x += 0.0004  # creep: the spine lengthens, the drive draws in without a force rise
        alarms += det.update(f + rng.normal(0, SIGMA), x).alarm
    assert alarms == 0


def test_a_contraction_at_hold_alarms_within_two_ticks_of_measurable() -> None:
    rng = np.random.default_rng(3)
    det, f, x = _learned(rng)
    for _ in range(100):
        det.update(f + rng.normal(0, SIGMA), x)
    # The patient pulls back: the unexplained force rises 1.5 SD per tick and the drive, holding
    # its target, pays out 0.02 mm per tick (so the cable force itself barely rises).
    contribution = 0.0
    measurable: int | None = None
    for tick in range(1, 20):
        contribution += 1.5 * SIGMA
        x -= 0.02
        r = det.update(f + contribution - K * 0.02 * tick + rng.normal(0, SIGMA), x)
        if measurable is None and contribution >= 3 * SIGMA:
            measurable = tick
        if r.alarm:
            assert measurable is not None and tick - measurable <= 2
            return
    raise AssertionError("no alarm")


def test_a_steady_creep_never_counts_as_paying_out() -> None:
    rng = np.random.default_rng(5)
    det, f, x = _learned(rng)
    alarms = 0
    for i in range(5000):
        # the drive draws in for creep and, now and then, gives back a quantum (0.01 mm)
        x += 0.0004 if i % 50 else -0.01
        alarms += det.update(f + rng.normal(0, SIGMA), round(x, 2)).alarm
    assert alarms == 0


def test_lowering_the_pull_is_less_sensitive_but_not_deaf() -> None:
    rng = np.random.default_rng(4)
    det, f, x = _learned(rng)
    alarms = 0
    for _ in range(500):  # ramp down at 30 N/s, softer on the way down
        f -= 0.6
        x -= 0.6 / (0.8 * K)
        fx = f + rng.normal(0, SIGMA)
        alarms += det.update(fx, x, 1.6).alarm
        det.learn_unloading(fx, x)
    assert alarms == 0
    hit = False
    for _ in range(10):  # a large contraction while unloading
        f += 4.0
        hit |= det.update(f + rng.normal(0, SIGMA), x, 1.6).alarm
    assert hit
