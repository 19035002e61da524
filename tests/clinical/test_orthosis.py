from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from spinecare.clinical.findings import Fracture
from spinecare.clinical.orthosis import (
    EVIDENCE,
    OUTCOME_MEASURES,
    FollowUpMeasures,
    FollowUpVisit,
    WearingPlan,
    add_months,
    evidence_comparison,
    followup_schedule,
    orthosis_recommendation,
    outcome_changes,
    percent_change,
    wearing_hours,
)
from spinecare.clinical.vocab import FractureKind


def test_recommended_for_osteoporotic_vertebral_fracture_only() -> None:
    d = dt.date(2026, 9, 1)
    osteo = Fracture(level="L1", date=d, kind=FractureKind.OSTEOPOROTIC, compression=True)
    wrist = Fracture(level="wrist", date=d, kind=FractureKind.OSTEOPOROTIC)
    trauma = Fracture(level="T12", date=d, kind=FractureKind.TRAUMATIC, compression=True)
    assert orthosis_recommendation([osteo]).recommended
    assert not orthosis_recommendation([wrist]).recommended
    assert not orthosis_recommendation([trauma]).recommended
    assert orthosis_recommendation([trauma], osteoporosis=True).recommended
    assert not orthosis_recommendation(None).recommended


def test_evidence_is_shown_honestly() -> None:
    keys = {e.key: e for e in EVIDENCE}
    assert keys["pfeifer2004"].results["back_extensor_strength"] == 73.0
    assert all("manufacturer" in keys[k].funding for k in keys if k.startswith("pfeifer"))
    kaijser = keys["kaijseralin2019"]
    assert kaijser.n == 113 and kaijser.between_group_difference is False
    measures = {m.key for m in OUTCOME_MEASURES}
    assert {"back_extensor_strength", "abdominal_flexor_strength", "pain", "kyphosis_angle",
            "body_sway"} <= measures  # fmt: skip


# --- the pathway ---------------------------------------------------------------------------------


def test_outcome_changes_against_hand_computed_cases() -> None:
    base = FollowUpMeasures(
        back_extensor_strength=200.0, abdominal_flexor_strength=150.0, kyphosis_angle=60.0,
        body_sway=40.0, pain=5.0, well_being=50.0, limitations_of_daily_living=40.0,
    )  # fmt: skip
    later = FollowUpMeasures(
        back_extensor_strength=346.0, abdominal_flexor_strength=150.0, kyphosis_angle=53.4,
        body_sway=30.0, pain=3.1, well_being=57.5, limitations_of_daily_living=44.0,
    )  # fmt: skip
    got = {c.key: c for c in outcome_changes(base, later)}
    # (346 - 200) / 200 = +73.0 % (Pfeifer 2004's figure), better
    assert got["back_extensor_strength"].percent == 73.0
    assert got["back_extensor_strength"].change == 146.0 and got["back_extensor_strength"].improved
    assert got["abdominal_flexor_strength"].percent == 0.0
    assert got["abdominal_flexor_strength"].improved is None
    # (53.4 - 60) / 60 = -11.0 %: lower kyphosis is better
    assert got["kyphosis_angle"].percent == -11.0 and got["kyphosis_angle"].improved
    assert got["body_sway"].percent == -25.0 and got["body_sway"].improved
    assert got["pain"].percent == -38.0 and got["pain"].improved  # (3.1 - 5) / 5
    assert got["well_being"].percent == 15.0 and got["well_being"].improved
    # more limitations is worse
    assert got["limitations_of_daily_living"].percent == 10.0
    assert got["limitations_of_daily_living"].improved is False


def test_missing_measures_and_a_zero_baseline() -> None:
    changes = outcome_changes(FollowUpMeasures(pain=0.0), FollowUpMeasures(pain=2.0, body_sway=3.0))
    (pain,) = changes
    assert pain.percent is None and pain.change == 2.0 and pain.improved is False
    assert percent_change(0.0, 0.0) is None


@given(st.floats(1.0, 1000.0), st.floats(0.0, 1000.0))
def test_percent_change_reverses_to_the_value(baseline: float, value: float) -> None:
    p = percent_change(baseline, value)
    assert p is not None
    assert baseline * (1 + p / 100) == pytest.approx(value, abs=baseline * 0.0005 + 1e-9)


def test_measures_outside_their_range_are_refused() -> None:
    with pytest.raises(ValidationError, match="pain"):
        FollowUpMeasures(pain=11.0)
    with pytest.raises(ValidationError, match="kyphosis_angle"):
        FollowUpMeasures(kyphosis_angle=-5.0)


def test_evidence_beside_the_patient_shows_funding_and_the_null_trial() -> None:
    rows = {r.key: r for r in evidence_comparison(
        outcome_changes(FollowUpMeasures(pain=5.0), FollowUpMeasures(pain=4.0))
    )}  # fmt: skip
    assert rows["pain"].patient_percent == -20.0
    assert rows["back_extensor_strength"].patient_percent is None
    labels = {p.label: p for p in rows["back_extensor_strength"].published}
    assert labels["Pfeifer 2004, Spinomed"].percent == 73.0
    assert labels["Pfeifer 2004, Spinomed"].maker_funded
    assert labels["Pfeifer 2011, Spinomed active"].percent == 64.0
    kaijser = labels["Kaijser Alin 2019, Spinomed (activating orthosis)"]
    assert kaijser.percent == 26.9 and not kaijser.maker_funded
    assert kaijser.between_group_difference is False
    assert labels["Kaijser Alin 2019, control"].percent == 9.9
    assert {p.percent for p in rows["well_being"].published} == {15.0}


def test_wearing_plan_builds_up_to_two_hours() -> None:
    plan = WearingPlan()
    fitted = dt.date(2026, 12, 1)
    assert wearing_hours(plan, fitted, dt.date(2026, 11, 30)) == 0.0
    assert wearing_hours(plan, None, fitted) == 0.0
    assert wearing_hours(plan, fitted, fitted) == 1.0
    assert wearing_hours(plan, fitted, dt.date(2026, 12, 8)) == 1.5
    assert wearing_hours(plan, fitted, dt.date(2026, 12, 15)) == 2.0
    assert wearing_hours(plan, fitted, dt.date(2027, 5, 1)) == 2.0
    with pytest.raises(ValidationError, match="start_hours"):
        WearingPlan(start_hours=3.0, target_hours=2.0)
    with pytest.raises(ValidationError, match="step_hours"):
        WearingPlan(start_hours=1.0, target_hours=2.0, step_hours=0.0)


def test_followups_at_baseline_three_and_six_months() -> None:
    s = followup_schedule(dt.date(2026, 8, 31))
    assert s[FollowUpVisit.BASELINE] == dt.date(2026, 8, 31)
    assert s[FollowUpVisit.MONTH_3] == dt.date(2026, 11, 30)  # November has 30 days
    assert s[FollowUpVisit.MONTH_6] == dt.date(2027, 2, 28)
    assert add_months(dt.date(2027, 12, 15), 3) == dt.date(2028, 3, 15)
