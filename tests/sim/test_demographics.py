"""The virtual cohort's people follow the published distributions they cite."""

from __future__ import annotations

import numpy as np

from spinecare.sim.demographics import (
    AGE_MAX,
    AGE_MIN,
    LOW_BONE_MASS_50,
    OSTEOPOROSIS_50,
    WEIGHT_MAX_KG,
    WEIGHT_MIN_KG,
    BoneStatus,
    PatientProfile,
    profile_draw,
)

N = 4000


def _people(seed: int = 1) -> list[PatientProfile]:
    rng = np.random.default_rng(seed)
    return [profile_draw(rng) for _ in range(N)]


def test_ranges_and_reproducibility() -> None:
    people = _people()
    assert all(AGE_MIN <= p.age_years <= AGE_MAX for p in people)
    assert all(WEIGHT_MIN_KG <= p.weight_kg <= WEIGHT_MAX_KG for p in people)
    assert people[:50] == _people()[:50]
    men = [p for p in people if p.sex == "M"]
    women = [p for p in people if p.sex == "F"]
    assert 0.45 < len(women) / N < 0.55
    # Men taller and heavier on average (NHANES means, [fryar2018]).
    assert np.mean([p.height_cm for p in men]) > np.mean([p.height_cm for p in women]) + 10
    assert np.mean([p.weight_kg for p in men]) > np.mean([p.weight_kg for p in women]) + 8


def test_bone_status_at_50_and_over_follows_nhanes() -> None:
    old_women = [p for p in _people(2) if p.sex == "F" and p.age_years >= 50]
    op = np.mean([p.bone_status is BoneStatus.OSTEOPOROSIS for p in old_women])
    low = np.mean([p.bone_status is BoneStatus.LOW_BONE_MASS for p in old_women])
    assert abs(op - OSTEOPOROSIS_50["F"]) < 0.04
    assert abs(low - LOW_BONE_MASS_50["F"]) < 0.05
    for p in old_women:
        if p.bone_status is BoneStatus.OSTEOPOROSIS:
            assert p.t_score <= -2.5
        elif p.bone_status is BoneStatus.NORMAL:
            assert p.t_score >= -1.0
