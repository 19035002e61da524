"""Closed loop against the simulated table: seeded virtual patients (45-140 kg, lumbar and
cervical), full 30-minute sessions in fast mode (issue 2 acceptance criteria).

The acceptance cohort runs with the surface-EMG channel (the device's biofeedback sensor) and
the force path together; a second cohort shows what the force path alone achieves.
"""

from __future__ import annotations

from typing import Any

import pytest

from spinecare.cohort.run import cohort_report, cohort_sessions, run_cohort

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cohort")]


@pytest.fixture(scope="module")
def emg_cohort() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    results = run_cohort(cohort_sessions(50, seed=2026, minutes=30.0, emg=True), workers=2)
    return results, cohort_report(results)


@pytest.fixture(scope="module")
def force_cohort() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    results = run_cohort(cohort_sessions(30, seed=7, minutes=30.0, emg=False), workers=2)
    return results, cohort_report(results)


def test_cohort_covers_weights_and_regions(emg_cohort: tuple[list[dict[str, Any]], Any]) -> None:
    results, _ = emg_cohort
    weights = [r["weight_kg"] for r in results]
    assert min(weights) >= 45 and max(weights) <= 140 and max(weights) - min(weights) > 60
    assert {r["region"] for r in results} == {"lumbar", "cervical"}
    assert all(r["completed"] for r in results)
    assert all(r["duration_s"] >= 30 * 60 for r in results)


def test_no_clamp_violations(emg_cohort: tuple[list[dict[str, Any]], Any]) -> None:
    results, report = emg_cohort
    assert report["limit_violations"] == 0
    assert all(r["peak_force_n"] <= r["hard_limit_n"] + 5.0 for r in results)


def test_force_tracks_target_during_hold(emg_cohort: tuple[list[dict[str, Any]], Any]) -> None:
    results, _ = emg_cohort
    # Force within +/-10% of target for at least 95% of hold time outside guarding, per session.
    assert all(r["hold_within_10pct"] >= 0.95 for r in results)


def test_guarding_detected_with_few_false_stops(
    emg_cohort: tuple[list[dict[str, Any]], Any],
) -> None:
    _, report = emg_cohort
    assert report["guarding_true"] >= 100  # the cohort really exercised the detector
    assert report["detection_rate"] >= 0.99
    assert report["false_stops_per_session"] <= 1.0


def test_base_tension_kept(emg_cohort: tuple[list[dict[str, Any]], Any]) -> None:
    results, _ = emg_cohort
    # SAF-13: never lost outside the final release, a stop or a fault (tolerance: transient dips
    # below 80% of base while a relaxing patient springs forward, at most 5 s per session).
    assert all(r["base_tension_lost_s"] <= 5.0 for r in results)


def test_force_path_alone(force_cohort: tuple[list[dict[str, Any]], Any]) -> None:
    """Without EMG the force path detects at least 99% of significant counter-tension with at
    most one false stop per session (the goal; measured on this cohort: 215 of 216, 0.9 false
    stops per session; bench/b2 over 180 sessions: 99.1%)."""
    _, report = force_cohort
    assert report["limit_violations"] == 0
    assert report["guarding_true"] >= 150  # enough events for a 1% resolution
    assert report["detection_rate"] >= 0.99
    assert report["false_stops_per_session"] <= 1.0
    assert report["hold_within_10pct_min"] >= 0.95
