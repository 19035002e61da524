"""Plausibility of weight and height for a child's age against the CDC 2000 growth reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.clinical.growth import (
    _HEIGHT,
    _WEIGHT,
    _at_z,
    _lms,
    implausible_for_age,
    modified_z,
)
from spinecare.clinical.vocab import Sex


def test_the_named_case_a_3_year_old_of_80_kg() -> None:
    found = implausible_for_age(Sex.MALE, 36.5, weight_kg=80.0, height_cm=95.0)
    assert [f.field for f in found] == ["weight_kg"]
    assert "3-year-old" in found[0].reason


@pytest.mark.parametrize("sex", list(Sex))
def test_the_median_child_and_every_adult_are_plausible(sex: Sex) -> None:
    for months in range(24, 240, 6):
        lms_w, lms_h = _lms(_WEIGHT[sex], months), _lms(_HEIGHT[sex], months)
        assert implausible_for_age(sex, months, weight_kg=lms_w[1], height_cm=lms_h[1]) == []
    assert implausible_for_age(sex, 240.0, weight_kg=250.0, height_cm=100.0) == []


@pytest.mark.parametrize("sex", list(Sex))
def test_the_reference_percentiles_are_reproduced(sex: Sex) -> None:
    """z = 0 is the median; the published P97 of a 10-year-old lies at z = 1.88."""
    lms = _lms(_WEIGHT[sex], 120.5)
    assert _at_z(lms, 0.0) == pytest.approx(lms[1])
    p97 = {Sex.MALE: 49.415, Sex.FEMALE: 51.429}[sex]  # CDC wtage.csv, 120.5 months
    assert _at_z(lms, 1.8808) == pytest.approx(p97, rel=2e-3)


@given(
    sex=st.sampled_from(Sex),
    months=st.floats(24.0, 239.0),
    weight=st.floats(5.0, 300.0),
)
@settings(max_examples=80, deadline=None)
def test_heavier_is_never_more_plausible_above_the_median(
    sex: Sex, months: float, weight: float
) -> None:
    lms = _lms(_WEIGHT[sex], months)
    assert modified_z(lms, weight * 1.1) >= modified_z(lms, weight)
