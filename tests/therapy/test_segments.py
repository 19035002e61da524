"""The segment model: invariants a user of the estimate depends on."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.errors import InputError
from spinecare.therapy.segments import (
    ANGLE_RANGE_DEG,
    MODEL_ASSUMPTIONS,
    recommend_angle,
    segment_forces,
    segment_transfer,
    transmission,
)
from spinecare.vocab import SEGMENTS, Region, TableType

EPS = 1e-9
weights = st.floats(40.0, 200.0)
forces = st.floats(0.0, 890.0)
tables = st.sampled_from(list(TableType))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Region, float, float, float, TableType]:
    region = draw(st.sampled_from(list(Region)))
    lo, hi = ANGLE_RANGE_DEG[region]
    return region, draw(forces), draw(st.floats(lo, hi)), draw(weights), draw(tables)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_axial_within_transmitted_within_cable_and_vector_magnitude(
    case: tuple[Region, float, float, float, TableType],
) -> None:
    region, force, angle, weight, table = case
    trans = transmission(force, angle, region, weight, table)
    assert 0.0 <= trans.transmitted_n <= force + EPS
    assert math.isclose(trans.transmitted_n + trans.friction_n, force, abs_tol=1e-9)
    rows = segment_forces(force, angle, region, weight, table)
    assert [r.segment for r in rows] == list(SEGMENTS[region])
    for r in rows:
        assert 0.0 <= r.axial_n <= trans.transmitted_n + EPS
        assert math.isclose(math.hypot(r.axial_n, r.shear_n), trans.transmitted_n, abs_tol=1e-6)
        assert 0.0 <= r.share_of_cable <= 1.0 + EPS


@settings(max_examples=100, deadline=None)
@given(cases(), st.floats(0.0, 200.0))
def test_monotone_in_force(
    case: tuple[Region, float, float, float, TableType], more: float
) -> None:
    region, force, angle, weight, table = case
    higher = min(890.0, force + more)
    low = segment_forces(force, angle, region, weight, table)
    high = segment_forces(higher, angle, region, weight, table)
    for a, b in zip(low, high, strict=True):
        assert b.axial_n >= a.axial_n - EPS


@settings(max_examples=100, deadline=None)
@given(cases())
def test_fixed_table_transmits_less_than_split(
    case: tuple[Region, float, float, float, TableType],
) -> None:
    region, force, angle, weight, _ = case
    split_t = transmission(force, angle, region, weight, TableType.SPLIT)
    split = split_t.transmitted_n
    fixed = transmission(force, angle, region, weight, TableType.FIXED).transmitted_n
    assert fixed <= split
    # strictly less whenever the moving part still rests on the table and something arrives
    if split > 0.0 and split_t.normal_load_n > 0.0:
        assert fixed < split


@settings(max_examples=100, deadline=None)
@given(cases(), st.data())
def test_transfer_agrees_with_segment_forces(
    case: tuple[Region, float, float, float, TableType], data: st.DataObject
) -> None:
    region, force, angle, weight, table = case
    segment = data.draw(st.sampled_from(SEGMENTS[region]))
    transfer = segment_transfer(region, weight, angle, table, segment)
    row = next(
        r for r in segment_forces(force, angle, region, weight, table) if r.segment == segment
    )
    assert math.isclose(transfer.axial_n(force), row.axial_n, rel_tol=1e-12, abs_tol=1e-9)


@settings(max_examples=25, deadline=None)
@given(cases(), st.data())
def test_recommended_angle_maximises_target_axial_force(
    case: tuple[Region, float, float, float, TableType], data: st.DataObject
) -> None:
    region, force, other_angle, weight, table = case
    segment = data.draw(st.sampled_from(SEGMENTS[region]))
    best = recommend_angle(segment, region, weight, table, force)
    lo, hi = ANGLE_RANGE_DEG[region]
    assert lo <= best <= hi
    at_best = segment_transfer(region, weight, best, table, segment).axial_n(force)
    elsewhere = segment_transfer(region, weight, other_angle, table, segment).axial_n(force)
    # 0.1 deg grid: the smooth curve can rise by at most ~1e-5 of the force between grid points
    assert at_best >= elsewhere - 1e-4 * max(force, 1.0)


def test_cervical_recommendations_follow_hseuh_trend() -> None:
    """Hseuh 1991: larger angles for lower segments (30 deg C4-6, 35 deg C6-T1)."""
    angles = [recommend_angle(s, Region.CERVICAL, 80.0) for s in SEGMENTS[Region.CERVICAL]]
    assert angles == sorted(angles)
    mid = max(recommend_angle(s, Region.CERVICAL, 80.0) for s in ("C4/5", "C5/6"))
    low = min(recommend_angle(s, Region.CERVICAL, 80.0) for s in ("C6/7", "C7/T1"))
    assert low > mid


def test_lumbar_recommendations_rise_for_upper_segments_on_split_table() -> None:
    angles = [recommend_angle(s, Region.LUMBAR, 80.0) for s in SEGMENTS[Region.LUMBAR]]
    assert angles == sorted(angles, reverse=True)
    assert angles[0] > angles[-1]


def test_worked_example_80kg_300n_15deg() -> None:
    trans = transmission(300.0, 15.0, Region.LUMBAR, 80.0, TableType.SPLIT)
    assert trans.transmitted_n == pytest.approx(284.3, abs=0.1)
    fixed = transmission(300.0, 15.0, Region.LUMBAR, 80.0, TableType.FIXED)
    assert fixed.transmitted_n == pytest.approx(142.7, abs=0.1)
    l45 = next(r for r in segment_forces(300.0, 15.0, "lumbar", 80.0) if r.segment == "L4/5")
    assert l45.axial_n == pytest.approx(279.1, abs=0.1)


def test_below_friction_nothing_arrives() -> None:
    rows = segment_forces(50.0, 0.0, Region.LUMBAR, 80.0, TableType.FIXED)
    assert all(r.axial_n == 0.0 and r.shear_n == 0.0 for r in rows)


def test_assumptions_say_it_is_an_estimate() -> None:
    assert "not a measurement" in MODEL_ASSUMPTIONS[0]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: segment_forces(-1.0, 10.0, "lumbar", 80.0), "cable_force_n"),
        (lambda: segment_forces(900.0, 10.0, "lumbar", 80.0), "cable_force_n"),
        (lambda: segment_forces(300.0, 31.0, "lumbar", 80.0), "angle_deg"),
        (lambda: segment_forces(80.0, 10.0, "cervical", 80.0), "angle_deg"),
        (lambda: segment_forces(300.0, math.nan, "lumbar", 80.0), "angle_deg"),
        (lambda: segment_forces(300.0, 10.0, "lumbar", 39.0), "body_weight_kg"),
        (lambda: segment_forces(300.0, 10.0, "thoracic", 80.0), "region"),
        (lambda: recommend_angle("C5/6", "lumbar", 80.0), "segment"),
        (lambda: segment_transfer("lumbar", 80.0, 10.0, "split", "L7/8"), "segment"),
    ],
)
def test_invalid_input_names_the_field(call: object, field: str) -> None:
    with pytest.raises(InputError) as err:
        call()  # type: ignore[operator]
    assert err.value.field == field


def test_segment_names_are_normalised() -> None:
    assert recommend_angle("l4-l5", None, 80.0) == recommend_angle("L4/5", "lumbar", 80.0)
