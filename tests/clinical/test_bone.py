from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinecare.clinical.bone import (
    FEMORAL_NECK_NHANES3,
    SEED_RISK_FACTORS,
    WHO_SEVERITY,
    BoneClass,
    Reference,
    assess_bone,
    bone_loss_percent,
    classify,
    dvo2017_treatment_threshold_t,
    nutrition_guidance,
    ost_index,
    ost_risk,
    percent_young_adult_mean,
    reference_from_report,
    round_score,
    seed_threshold_t,
    t_score,
    uses_z_score,
    who_class,
    z_class,
)
from spinecare.clinical.findings import BmdMeasurement
from spinecare.clinical.vocab import BmdSite
from spinecare.errors import InputError


def test_reference_case_femoral_neck() -> None:
    a = classify("femoral_neck", sex="F", age=70, bmd=0.558)
    assert a.t_score == -2.5
    assert a.who_class is BoneClass.OSTEOPOROSIS
    assert round(a.percent_young_adult_mean or 0) == 65
    assert a.bone_loss_percent == pytest.approx(35.0)
    assert not a.exceeds_seed_bone_loss_threshold


@pytest.mark.parametrize(
    ("t", "cls"),
    [
        (0.3, BoneClass.NORMAL),
        (-1.0, BoneClass.NORMAL),
        (-1.04, BoneClass.NORMAL),  # reports -1.0
        (-1.05, BoneClass.OSTEOPENIA),  # reports -1.1
        (-2.4, BoneClass.OSTEOPENIA),
        (-2.5, BoneClass.OSTEOPOROSIS),
        (-2.45, BoneClass.OSTEOPOROSIS),  # reports -2.5
        (-3.9, BoneClass.OSTEOPOROSIS),
    ],
)
def test_who_boundaries(t: float, cls: BoneClass) -> None:
    assert who_class(t) is cls


def test_boundaries_from_bmd_despite_float_noise() -> None:
    ref = FEMORAL_NECK_NHANES3
    assert t_score(ref.mean_g_cm2 - ref.sd_g_cm2, "femoral_neck") == -1.0
    assert who_class(t_score(0.738, "femoral_neck")) is BoneClass.NORMAL
    assert who_class(t_score(0.558, "femoral_neck")) is BoneClass.OSTEOPOROSIS


def test_fragility_fracture_makes_osteoporosis_severe() -> None:
    assert who_class(-2.5, fragility_fracture=True) is BoneClass.SEVERE_OSTEOPOROSIS
    assert who_class(-2.0, fragility_fracture=True) is BoneClass.OSTEOPENIA


def test_seed_threshold_is_about_minus_3_2_at_femoral_neck() -> None:
    assert seed_threshold_t("femoral_neck") == -3.2
    a = classify("femoral_neck", sex="F", age=75, bmd=0.46)
    assert a.bone_loss_percent == pytest.approx(46.4)
    assert a.exceeds_seed_bone_loss_threshold


@pytest.mark.parametrize(
    ("sex", "age", "pre", "z"),
    [
        ("F", 35, True, True),
        ("F", 45, None, True),
        ("F", 45, False, False),
        ("F", 60, None, False),
        ("M", 49, None, True),
        ("M", 50, None, False),
    ],
)
def test_z_score_population(sex: str, age: int, pre: bool | None, z: bool) -> None:
    assert uses_z_score(sex, age, pre) is z


def test_z_score_used_for_young_men_and_premenopausal_women() -> None:
    a = classify("lumbar_spine", sex="M", age=40, bmd=0.80, z_score=-2.1)
    assert a.score_used == "Z" and a.who_class is BoneClass.BELOW_EXPECTED_RANGE
    b = classify("femoral_neck", sex="F", age=38, bmd=0.60, z_score=-1.5, premenopausal=True)
    assert b.score_used == "Z" and b.who_class is BoneClass.WITHIN_EXPECTED_RANGE
    c = classify("femoral_neck", sex="M", age=40, bmd=0.60)
    assert c.who_class is None and c.notes  # Z needed, not guessed
    assert z_class(-2.0) is BoneClass.BELOW_EXPECTED_RANGE


def test_lowest_central_site_decides_and_radius_only_as_fallback() -> None:
    ms = [
        BmdMeasurement(site=BmdSite.LUMBAR_SPINE, t_score=-1.2),
        BmdMeasurement(site=BmdSite.TOTAL_HIP, bmd_g_cm2=0.62),
        BmdMeasurement(site=BmdSite.RADIUS_33, t_score=-3.5),
    ]
    a = assess_bone(ms, sex="F", age=68)
    assert a.decisive_site is BmdSite.TOTAL_HIP and a.t_score == -2.6
    b = assess_bone([ms[2]], sex="F", age=68)
    assert b.decisive_site is BmdSite.RADIUS_33 and b.who_class is BoneClass.OSTEOPOROSIS
    invalid = BmdMeasurement(site=BmdSite.FEMORAL_NECK, bmd_g_cm2=0.4, valid=False)
    assert assess_bone([*ms, invalid], sex="F", age=68).decisive_site is BmdSite.TOTAL_HIP


def test_percent_yam_and_loss() -> None:
    assert percent_young_adult_mean(0.858, "femoral_neck") == 100.0
    assert bone_loss_percent(0.429, "femoral_neck") == 50.0


def test_reference_from_report() -> None:
    ref = reference_from_report(0.85, -1.8, percent_young_adult=81.0)
    assert t_score(0.85, "lumbar_spine", ref) == -1.8
    ref2 = reference_from_report(0.85, -1.8, sd_g_cm2=0.11)
    assert ref2.mean_g_cm2 == pytest.approx(1.048)


def test_ost_and_bands() -> None:
    assert ost_index(64, 70) == -1  # trunc(-1.2) toward zero
    assert ost_index(50, 80) == -6
    assert ost_risk(-6, "F") == "high"
    assert ost_risk(-4, "F") == "moderate" and ost_risk(-1, "F") == "moderate"
    assert ost_risk(0, "F") == "low"
    assert ost_risk(-6, "M") is None


@pytest.mark.parametrize(
    ("sex", "age", "t"),
    [("F", 49, None), ("F", 50, -4.0), ("F", 64, -3.5), ("F", 70, -2.5), ("F", 80, -2.0),
     ("M", 59, None), ("M", 60, -4.0), ("M", 84, -2.5), ("M", 90, -2.0)],
)  # fmt: skip
def test_dvo2017_thresholds(sex: str, age: int, t: float | None) -> None:
    assert dvo2017_treatment_threshold_t(sex, age) == t


def test_guidance_and_risk_factors() -> None:
    assert nutrition_guidance(65).vitamin_d_iu_per_day == (800, 1000)
    assert nutrition_guidance(40).vitamin_d_iu_per_day is None
    assert nutrition_guidance(40).calcium_mg_per_day == (1000, 1200)
    assert len(SEED_RISK_FACTORS) == 10


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bmd": 0.0}, "bmd"),
        ({"bmd": 3.0}, "bmd"),
        ({"bmd": 5.0}, "bmd"),
        ({"bmd": 0.7, "age": 19}, "age"),
        ({"bmd": 0.7, "age": 111}, "age"),
        ({"bmd": 0.7, "site": "hip"}, "site"),
        ({"bmd": 0.7, "site": "radius_33"}, "t_score"),
    ],
)
def test_refusals_name_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"site": "femoral_neck", "sex": "F", "age": 70, **kwargs}
    site = args.pop("site")
    with pytest.raises(InputError) as err:
        classify(site, **args)  # type: ignore[arg-type]
    assert err.value.field == field


def test_reference_refuses_nonsense() -> None:
    with pytest.raises(InputError):
        Reference(0.9, 0.0, "x")


@given(st.floats(0.05, 2.9), st.floats(0.05, 2.9))
def test_t_monotone_in_bmd(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    for site in ("femoral_neck", "total_hip", "lumbar_spine"):
        assert t_score(lo, site) <= t_score(hi, site)


@given(st.floats(-8, 5), st.floats(-8, 5), st.booleans())
def test_classification_is_a_total_order(a: float, b: float, fracture: bool) -> None:
    lo, hi = sorted((a, b))
    assert WHO_SEVERITY[who_class(lo, fracture)] >= WHO_SEVERITY[who_class(hi, fracture)]


@given(st.floats(-10, 10))
def test_round_score_is_one_decimal(x: float) -> None:
    r = round_score(x)
    assert abs(r - x) <= 0.05 + 1e-9 and round(r * 10) == pytest.approx(r * 10)


def test_bone_loss_is_compared_unrounded() -> None:
    """45.01 % is more than the seed's 45 %, though it shows as 45.0 %."""
    from spinecare.clinical.bone import classify, reference_for

    mean = reference_for("femoral_neck").mean_g_cm2
    r = classify("femoral_neck", sex="F", age=70, bmd=mean * (1 - 0.4501))
    assert r.max_bone_loss_percent == 45.0 and r.exceeds_seed_bone_loss_threshold
    r = classify("femoral_neck", sex="F", age=70, bmd=mean * (1 - 0.4499))
    assert r.max_bone_loss_percent == 45.0 and not r.exceeds_seed_bone_loss_threshold
