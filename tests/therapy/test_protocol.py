"""Protocol defaults, progression and validation (SAF-15)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from spinecare.therapy.protocol import (
    BASE_FRACTION,
    G,
    Protocol,
    course_force_plan,
    default_protocol,
    next_session_protocol,
)


def test_lumbar_defaults_are_weight_adapted() -> None:
    p = default_protocol("lumbar", 90, "L4/5")
    assert p.peak_force_n == pytest.approx(90 * G / 3, abs=0.1)
    assert p.base_force_n == pytest.approx(p.peak_force_n * BASE_FRACTION, abs=0.1)
    assert p.traction_minutes == 30.0 and p.session_number == 1


def test_cervical_defaults_are_weight_adapted() -> None:
    p = default_protocol("cervical", 70, "C5/6")
    assert p.peak_force_n == pytest.approx(0.07 * 70 * G, abs=0.1)


@given(weight=st.floats(40, 200), region=st.sampled_from(["lumbar", "cervical"]))
def test_progression_never_passes_the_protocol_maximum(weight: float, region: str) -> None:
    seg = "L5/S1" if region == "lumbar" else "C6/7"
    plan = course_force_plan(region, weight, [True] * 25, seg)
    cap = (0.5 if region == "lumbar" else 0.10) * weight * G
    assert all(b >= a for a, b in itertools.pairwise(plan))
    assert max(plan) <= cap + 0.1


def test_progression_only_after_a_tolerated_session() -> None:
    p1 = default_protocol("lumbar", 80, "L4/5")
    same = next_session_protocol(p1, tolerated=False)
    more = next_session_protocol(p1, tolerated=True)
    assert same.peak_force_n == p1.peak_force_n and same.session_number == 2
    assert more.peak_force_n > p1.peak_force_n
    assert more.base_force_n == pytest.approx(more.peak_force_n * BASE_FRACTION, abs=0.1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"body_weight_kg": 20}, "body_weight_kg"),
        ({"peak_force_n": -5}, "peak_force_n"),
        ({"traction_minutes": 90}, "traction_minutes"),
        ({"segment": "C5/6"}, "segment"),
        ({"peak_force_n": 500}, "peak_force_n"),
        ({"base_force_n": 300}, "base_force_n"),
        ({"pull_angle_deg": 80}, "pull_angle_deg"),
    ],
)
def test_invalid_values_are_refused_with_the_field(change: dict[str, object], field: str) -> None:
    p = default_protocol("lumbar", 80, "L4/5")
    with pytest.raises(ValidationError) as err:
        Protocol.model_validate({**p.model_dump(), **change})
    assert field in str(err.value)


def test_segment_spellings_are_normalised() -> None:
    assert default_protocol("lumbar", 80, "l4-l5").segment == "L4/5"
    assert default_protocol("lumbar", 80, "L5-S1").segment == "L5/S1"
