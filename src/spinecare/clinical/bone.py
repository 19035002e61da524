"""Bone density assessment: T/Z-scores, WHO class, %YAM, bone loss, OST, DVO thresholds.

Pure functions over DXA numbers. Scores are rounded to one decimal exactly as DXA reports print
them (half away from zero, after removing binary noise), and the class is read from the rounded
score, so T = -1.0 is normal and T = -2.5 is osteoporosis on the boundary itself.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from spinecare.clinical.findings import BMD_MAX_G_CM2, BmdMeasurement
from spinecare.clinical.vocab import BmdSite, Sex
from spinecare.errors import InputError

# --- WHO and ISCD classification thresholds [who1994] [iscd2019] [seed-osteoporosis] ---------
WHO_NORMAL_MIN_T = -1.0  # normal: T >= -1.0
WHO_OSTEOPOROSIS_MAX_T = -2.5  # osteoporosis: T <= -2.5 (severe with a fragility fracture)
# ISCD Official Positions: Z <= -2.0 is "below the expected range for age" [iscd2019].
ISCD_Z_BELOW_EXPECTED = -2.0
# Z-scores (not T) for premenopausal women and for men under 50 [iscd2019].
ISCD_MALE_Z_AGE_LIMIT = 50
# Our default when menopausal status is not recorded: women under 50 count as premenopausal
# (mean age of natural menopause about 51; clinic choice, documented in docs/bone.md).
DEFAULT_PREMENOPAUSAL_AGE_LIMIT = 50
# "Severe osteoporosis with more than 45% bone loss" [seed-spinemed].
SEED_BONE_LOSS_THRESHOLD_PERCENT = 45.0
# Ages for adult DXA interpretation: peak bone mass is reached by about 20 (young-adult reference
# is 20-29, NHANES III [looker1998]); above 110 there is no reference data. Input check only.
AGE_MIN_YEARS = 20
AGE_MAX_YEARS = 110


class BoneClass(enum.StrEnum):
    NORMAL = "normal"
    OSTEOPENIA = "osteopenia"
    OSTEOPOROSIS = "osteoporosis"
    SEVERE_OSTEOPOROSIS = "severe_osteoporosis"
    BELOW_EXPECTED_RANGE = "below_expected_range"
    WITHIN_EXPECTED_RANGE = "within_expected_range"


# Severity order of the WHO classes (higher = worse); used by tests and by callers that compare.
WHO_SEVERITY: Mapping[BoneClass, int] = {
    BoneClass.NORMAL: 0,
    BoneClass.OSTEOPENIA: 1,
    BoneClass.OSTEOPOROSIS: 2,
    BoneClass.SEVERE_OSTEOPOROSIS: 3,
}


@dataclass(frozen=True)
class Reference:
    """Young-adult reference (mean and SD of BMD, g/cm2) that turns BMD into a T-score."""

    mean_g_cm2: float
    sd_g_cm2: float
    source: str

    def __post_init__(self) -> None:
        if not 0.0 < self.mean_g_cm2 < BMD_MAX_G_CM2:
            raise InputError("reference_mean", "must be between 0 and 3 g/cm2", self.mean_g_cm2)
        if not 0.0 < self.sd_g_cm2 < 1.0:
            raise InputError("reference_sd", "must be between 0 and 1 g/cm2", self.sd_g_cm2)


# NHANES III femoral neck, non-Hispanic white women 20-29 [looker1998]. ISCD: use it for the
# T-scores of both women and men [iscd2019].
FEMORAL_NECK_NHANES3 = Reference(
    0.858, 0.120, "NHANES III femoral neck, white women 20-29 (Looker 1998)"
)
# NHANES III total femur (total hip), non-Hispanic white women 20-29 [looker1998], the
# reference the International Committee for Standards in Bone Measurement chose for the hip.
TOTAL_HIP_NHANES3 = Reference(0.942, 0.122, "NHANES III total hip, white women 20-29 (Looker 1998)")
# Lumbar spine L1-L4: each manufacturer has its own reference. Default: the Hologic QDR female
# L1-L4 reference as commonly quoted (1.047 +/- 0.110 g/cm2) [hologic-ref]. Not verified against
# Hologic's documentation here: prefer a reference derived from the patient's own report
# (``reference_from_report``) or the T-score the device printed.
LUMBAR_SPINE_HOLOGIC = Reference(
    1.047, 0.110, "Hologic female L1-L4 (commonly quoted; prefer the device report)"
)

DEFAULT_REFERENCES: Mapping[BmdSite, Reference] = {
    BmdSite.FEMORAL_NECK: FEMORAL_NECK_NHANES3,
    BmdSite.TOTAL_HIP: TOTAL_HIP_NHANES3,
    BmdSite.LUMBAR_SPINE: LUMBAR_SPINE_HOLOGIC,
}

# The lowest of L1-L4, femoral neck and total hip decides; 33% radius only when those cannot be
# used [iscd2019].
CENTRAL_SITES: tuple[BmdSite, ...] = (
    BmdSite.LUMBAR_SPINE,
    BmdSite.FEMORAL_NECK,
    BmdSite.TOTAL_HIP,
)


def round_score(x: float) -> float:
    """One decimal, half away from zero, as DXA reports print scores.

    ``round(x, 9)`` first removes binary noise, so (0.558 - 0.858) / 0.120, which is
    -2.4999999999999996 in floating point, reports as -2.5 as it does on paper.
    """
    d = Decimal(repr(round(x, 9))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return float(d)


def site_of(value: BmdSite | str) -> BmdSite:
    try:
        return BmdSite(value)
    except ValueError:
        allowed = ", ".join(s.value for s in BmdSite)
        raise InputError("site", f"unknown site (allowed: {allowed})", value) from None


def check_bmd(bmd: float) -> float:
    if not math.isfinite(bmd) or bmd <= 0.0 or bmd >= BMD_MAX_G_CM2:
        raise InputError("bmd", "must be above 0 and below 3 g/cm2", bmd)
    return bmd


def check_age(age: int) -> int:
    if not AGE_MIN_YEARS <= age <= AGE_MAX_YEARS:
        raise InputError(
            "age", f"must be {AGE_MIN_YEARS}-{AGE_MAX_YEARS} years for adult DXA reference", age
        )
    return age


def reference_for(site: BmdSite | str, reference: Reference | None = None) -> Reference:
    """The reference to use at ``site``: the caller's, else the documented default."""
    s = site_of(site)
    if reference is not None:
        return reference
    if s not in DEFAULT_REFERENCES:
        raise InputError(
            "reference",
            f"no default reference for {s.value}: pass the report's T-score or a reference",
        )
    return DEFAULT_REFERENCES[s]


def reference_from_report(
    bmd: float,
    t_score: float,
    *,
    percent_young_adult: float | None = None,
    sd_g_cm2: float | None = None,
    source: str = "derived from the DXA report",
) -> Reference:
    """Recover a device's reference from one report line.

    One BMD/T pair fixes only ``mean - T*sd``: give either the printed %young-adult (then
    mean = BMD / %YA) or the reference SD (then mean = BMD - T*SD).
    """
    check_bmd(bmd)
    if percent_young_adult is not None:
        if not 10.0 <= percent_young_adult <= 200.0:
            raise InputError("percent_young_adult", "must be 10-200 %", percent_young_adult)
        mean = bmd * 100.0 / percent_young_adult
        if t_score == 0.0:
            raise InputError("t_score", "a T-score of 0 does not determine the SD", t_score)
        return Reference(mean, (bmd - mean) / t_score, source)
    if sd_g_cm2 is None:
        raise InputError("percent_young_adult", "give it or the reference SD to derive a reference")
    return Reference(bmd - t_score * sd_g_cm2, sd_g_cm2, source)


def t_score(bmd: float, site: BmdSite | str, reference: Reference | None = None) -> float:
    """T = (BMD - young-adult mean) / young-adult SD, rounded to one decimal."""
    ref = reference_for(site, reference)
    return round_score((check_bmd(bmd) - ref.mean_g_cm2) / ref.sd_g_cm2)


def bmd_from_t(t: float, site: BmdSite | str, reference: Reference | None = None) -> float:
    ref = reference_for(site, reference)
    return ref.mean_g_cm2 + t * ref.sd_g_cm2


def percent_young_adult_mean(
    bmd: float, site: BmdSite | str, reference: Reference | None = None
) -> float:
    """%YAM = 100 * BMD / young-adult mean, one decimal."""
    ref = reference_for(site, reference)
    return round_score(100.0 * check_bmd(bmd) / ref.mean_g_cm2)


def bone_loss_percent(bmd: float, site: BmdSite | str, reference: Reference | None = None) -> float:
    """Bone loss = 100 - %YAM (the "bone loss" of [seed-spinemed]), one decimal."""
    return round_score(100.0 - percent_young_adult_mean(bmd, site, reference))


def seed_threshold_t(site: BmdSite | str, reference: Reference | None = None) -> float:
    """The T-score at which bone loss reaches the seed's 45% (about -3.2 at the femoral neck)."""
    ref = reference_for(site, reference)
    return round_score(-SEED_BONE_LOSS_THRESHOLD_PERCENT / 100.0 * ref.mean_g_cm2 / ref.sd_g_cm2)


def who_class(t: float, fragility_fracture: bool = False) -> BoneClass:
    """WHO class of a (rounded) T-score [who1994]; a fragility fracture makes it severe."""
    t = round_score(t)
    if t >= WHO_NORMAL_MIN_T:
        return BoneClass.NORMAL
    if t > WHO_OSTEOPOROSIS_MAX_T:
        return BoneClass.OSTEOPENIA
    return BoneClass.SEVERE_OSTEOPOROSIS if fragility_fracture else BoneClass.OSTEOPOROSIS


def z_class(z: float) -> BoneClass:
    """ISCD wording for Z-scores: below / within the expected range for age [iscd2019]."""
    if round_score(z) <= ISCD_Z_BELOW_EXPECTED:
        return BoneClass.BELOW_EXPECTED_RANGE
    return BoneClass.WITHIN_EXPECTED_RANGE


def uses_z_score(sex: Sex | str, age: int, premenopausal: bool | None = None) -> bool:
    """Z-scores for premenopausal women and men under 50, T-scores for everyone else [iscd2019]."""
    if Sex(sex) is Sex.MALE:
        return age < ISCD_MALE_Z_AGE_LIMIT
    if premenopausal is None:
        return age < DEFAULT_PREMENOPAUSAL_AGE_LIMIT
    return premenopausal


# --- Osteoporosis Self-assessment Tool [koh2001] --------------------------------------------
OSTRisk = Literal["high", "moderate", "low"]


def ost_index(weight_kg: float, age: int) -> int:
    """OST = trunc(0.2 * (weight kg - age years)) (toward zero) [koh2001]."""
    if not 30.0 <= weight_kg <= 250.0:
        raise InputError("weight", "must be 30-250 kg", weight_kg)
    return math.trunc(0.2 * (weight_kg - age))


def ost_risk(ost: int, sex: Sex | str) -> OSTRisk | None:
    """Women: < -4 high, -4..-1 moderate, > -1 low [koh2001]. Men: not banded here."""
    if Sex(sex) is not Sex.FEMALE:
        return None
    if ost < -4:
        return "high"
    if ost <= -1:
        return "moderate"
    return "low"


# --- DVO 2017 drug-treatment T-score thresholds [dvo2017] ----------------------------------
# (lower age inclusive, upper age exclusive, T threshold). Men's bands are the women's + 10 y.
# Base thresholds without additional risk factors; DVO raises them by 0.5-1.0 for some risk
# factors, which is not modelled here (docs/bone.md).
_DVO2017_WOMEN: tuple[tuple[int, int, float], ...] = (
    (50, 60, -4.0),
    (60, 65, -3.5),
    (65, 70, -3.0),
    (70, 75, -2.5),
    (75, 200, -2.0),
)
_DVO2017_MEN: tuple[tuple[int, int, float], ...] = tuple(
    (lo + 10, hi + 10, t) for lo, hi, t in _DVO2017_WOMEN
)


def dvo2017_treatment_threshold_t(sex: Sex | str, age: int) -> float | None:
    """T-score at or below which [dvo2017] suggests drug treatment; None below the age bands."""
    table = _DVO2017_WOMEN if Sex(sex) is Sex.FEMALE else _DVO2017_MEN
    for lo, hi, t in table:
        if lo <= age < hi:
            return t
    return None


# --- Basic measures [dvo2017] [nof2014] ----------------------------------------------------
class NutritionGuidance(BaseModel):
    model_config = ConfigDict(frozen=True)

    calcium_mg_per_day: tuple[int, int]
    calcium_note: str
    vitamin_d_iu_per_day: tuple[int, int] | None
    vitamin_d_note: str


# Calcium 1000-1200 mg/day total intake, from food first [dvo2017] [nof2014]. The osteoporosis
# seed says 1200-1500 mg [seed-osteoporosis]: we follow the guideline. Vitamin D 800-1000 IU/day
# from 50 [dvo2017] [nof2014].
CALCIUM_MG_PER_DAY = (1000, 1200)
VITAMIN_D_IU_PER_DAY = (800, 1000)
VITAMIN_D_FROM_AGE = 50


def nutrition_guidance(age: int) -> NutritionGuidance:
    over = age >= VITAMIN_D_FROM_AGE
    return NutritionGuidance(
        calcium_mg_per_day=CALCIUM_MG_PER_DAY,
        calcium_note="total intake, from food first; supplement only the shortfall (DVO; NOF)",
        vitamin_d_iu_per_day=VITAMIN_D_IU_PER_DAY if over else None,
        vitamin_d_note=(
            "800-1000 IU/day from age 50 (DVO; NOF)"
            if over
            else "no routine supplement under 50; sunlight exposure (DVO)"
        ),
    )


# --- Risk factors named in the osteoporosis seed [seed-osteoporosis] -----------------------
@dataclass(frozen=True)
class RiskFactor:
    code: str
    text: str


SEED_RISK_FACTORS: tuple[RiskFactor, ...] = (
    RiskFactor("family_history", "Family history of the disease"),
    RiskFactor("hormone_deficiency", "Deficiency in the production of hormones"),
    RiskFactor(
        "medication",
        "Use of medications based on cortisone, heparin and epilepsy treatment",
    ),
    RiskFactor("low_calcium_vitamin_d", "Diet deficient in calcium and vitamin D"),
    RiskFactor("low_sunlight", "Low exposure to sunlight"),
    RiskFactor("immobilisation", "Prolonged immobilization and rest"),
    RiskFactor("sedentary", "Sedentary lifestyle"),
    RiskFactor("smoking", "Smoking"),
    RiskFactor("alcohol", "Excessive alcohol consumption"),
    RiskFactor("rheumatic_endocrine_liver", "Some rheumatological, endocrine and liver diseases"),
)


# --- Per-site and overall assessment ---------------------------------------------------------
class SiteResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: BmdSite
    bmd_g_cm2: float | None
    t_score: float | None
    t_score_source: Literal["report", "computed"] | None
    z_score: float | None
    percent_young_adult_mean: float | None
    bone_loss_percent: float | None
    reference_source: str | None
    # Unrounded: thresholds compare this one (45.01 % is more than 45 %); the rounded value
    # above is for display only.
    bone_loss_percent_exact: float | None = None


class BoneAssessment(BaseModel):
    """The result a report or the screening rules read; ``who_class`` is None only when a
    Z-score is required (premenopausal women, men under 50) but was not supplied."""

    model_config = ConfigDict(frozen=True)

    sex: Sex
    age: int
    score_used: Literal["T", "Z"]
    decisive_site: BmdSite
    t_score: float | None
    z_score: float | None
    who_class: BoneClass | None
    percent_young_adult_mean: float | None
    bone_loss_percent: float | None
    max_bone_loss_percent: float | None
    exceeds_seed_bone_loss_threshold: bool
    # The unrounded maximum the thresholds compare (the rounded one is shown).
    max_bone_loss_percent_exact: float | None = None
    seed_threshold_t: float | None
    fragility_fracture: bool
    dvo2017_treatment_threshold_t: float | None
    dvo2017_drug_treatment_suggested: bool | None
    ost: int | None
    ost_risk: OSTRisk | None
    nutrition: NutritionGuidance
    sites: list[SiteResult]
    notes: list[str]


def assess_site(m: BmdMeasurement, reference: Reference | None = None) -> SiteResult:
    """Scores for one measurement; the device's printed T-score wins over a computed one."""
    ref: Reference | None
    try:
        ref = reference_for(m.site, reference)
    except InputError:
        ref = None  # 33% radius without a reference: only the printed T-score is usable
    t: float | None = None
    source: Literal["report", "computed"] | None = None
    if m.t_score is not None:
        t, source = round_score(m.t_score), "report"
    elif m.bmd_g_cm2 is not None and ref is not None:
        t, source = t_score(m.bmd_g_cm2, m.site, ref), "computed"
    bmd = m.bmd_g_cm2
    if bmd is None and t is not None and ref is not None:
        bmd = bmd_from_t(t, m.site, ref)
    yam = percent_young_adult_mean(bmd, m.site, ref) if bmd is not None and ref else None
    exact = 100.0 - 100.0 * check_bmd(bmd) / ref.mean_g_cm2 if bmd is not None and ref else None
    return SiteResult(
        site=m.site,
        bmd_g_cm2=m.bmd_g_cm2,
        t_score=t,
        t_score_source=source,
        z_score=None if m.z_score is None else round_score(m.z_score),
        percent_young_adult_mean=yam,
        bone_loss_percent=None if exact is None else round_score(exact),
        reference_source=None if ref is None else ref.source,
        bone_loss_percent_exact=exact,
    )


def _site_rank(site: BmdSite) -> int:
    return CENTRAL_SITES.index(site) if site in CENTRAL_SITES else len(CENTRAL_SITES)


def _latest_per_site(measurements: Sequence[BmdMeasurement]) -> list[BmdMeasurement]:
    """Most recent valid measurement per site (undated ones only when nothing is dated)."""
    best: dict[BmdSite, BmdMeasurement] = {}
    for m in measurements:
        if not m.valid:
            continue
        cur = best.get(m.site)
        if cur is None or (m.date is not None and (cur.date is None or m.date > cur.date)):
            best[m.site] = m
    return [best[s] for s in BmdSite if s in best]


def assess_bone(
    measurements: Sequence[BmdMeasurement],
    *,
    sex: Sex | str,
    age: int,
    premenopausal: bool | None = None,
    fragility_fracture: bool = False,
    weight_kg: float | None = None,
    references: Mapping[BmdSite, Reference] | None = None,
) -> BoneAssessment:
    """Assess all DXA sites: the lowest valid central site decides [iscd2019]."""
    sx = Sex(sex)
    check_age(age)
    refs = references or {}
    chosen = _latest_per_site(measurements)
    if not chosen:
        raise InputError("bmd", "no valid BMD measurement")
    results = [assess_site(m, refs.get(m.site)) for m in chosen]
    notes: list[str] = []
    central = [r for r in results if r.site in CENTRAL_SITES and r.t_score is not None]
    pool = central or [r for r in results if r.t_score is not None]
    if not central and pool:
        notes.append("33% radius used: no valid lumbar spine or hip measurement (ISCD)")
    use_z = uses_z_score(sx, age, premenopausal)
    decisive: SiteResult
    z: float | None = None
    if use_z:
        with_z = [r for r in results if r.z_score is not None]
        z_pool = [r for r in with_z if r.site in CENTRAL_SITES] or with_z
        if z_pool:
            decisive = min(z_pool, key=lambda r: (r.z_score or 0.0, _site_rank(r.site)))
            z = decisive.z_score
        else:
            decisive = pool[0] if pool else results[0]
            notes.append(
                "Z-score required (ISCD: premenopausal women, men under 50) but none given: "
                "no class assigned"
            )
    else:
        if not pool:
            raise InputError("t_score", "no T-score: give BMD with a reference or the T-score")
        decisive = min(
            pool,
            key=lambda r: (r.t_score if r.t_score is not None else 0.0, _site_rank(r.site)),
        )
    t = decisive.t_score
    cls: BoneClass | None
    if use_z:
        cls = None if z is None else z_class(z)
    else:
        assert t is not None
        cls = who_class(t, fragility_fracture)
    exact = [r.bone_loss_percent_exact for r in results if r.bone_loss_percent_exact is not None]
    max_exact = max(exact) if exact else None
    max_loss = None if max_exact is None else round_score(max_exact)
    # The unrounded value against the seed's "more than 45%" (45.01 counts) [seed-spinemed].
    exceeds = max_exact is not None and max_exact > SEED_BONE_LOSS_THRESHOLD_PERCENT
    dvo_t = None if use_z else dvo2017_treatment_threshold_t(sx, age)
    dvo_flag = None if dvo_t is None or t is None else t <= dvo_t
    ost = ost_index(weight_kg, age) if weight_kg is not None else None
    for m in chosen:
        if m.t_score is not None and m.bmd_g_cm2 is not None:
            try:
                computed = t_score(m.bmd_g_cm2, m.site, refs.get(m.site))
            except InputError:
                continue
            if abs(computed - m.t_score) > 0.2:
                notes.append(
                    f"{m.site.value}: printed T {m.t_score:+.1f} differs from {computed:+.1f} "
                    "computed with the default reference; the printed value is used"
                )
    seed_t: float | None
    try:
        seed_t = seed_threshold_t(decisive.site, refs.get(decisive.site))
    except InputError:
        seed_t = None
    return BoneAssessment(
        sex=sx,
        age=age,
        score_used="Z" if use_z else "T",
        decisive_site=decisive.site,
        t_score=t,
        z_score=z,
        who_class=cls,
        percent_young_adult_mean=decisive.percent_young_adult_mean,
        bone_loss_percent=decisive.bone_loss_percent,
        max_bone_loss_percent=max_loss,
        max_bone_loss_percent_exact=max_exact,
        exceeds_seed_bone_loss_threshold=exceeds,
        seed_threshold_t=seed_t,
        fragility_fracture=fragility_fracture,
        dvo2017_treatment_threshold_t=dvo_t,
        dvo2017_drug_treatment_suggested=dvo_flag,
        ost=ost,
        ost_risk=None if ost is None else ost_risk(ost, sx),
        nutrition=nutrition_guidance(age),
        sites=results,
        notes=notes,
    )


def classify(
    site: BmdSite | str,
    *,
    sex: Sex | str,
    age: int,
    bmd: float | None = None,
    t_score: float | None = None,
    z_score: float | None = None,
    premenopausal: bool | None = None,
    fragility_fracture: bool = False,
    weight_kg: float | None = None,
    reference: Reference | None = None,
) -> BoneAssessment:
    """One-site shortcut for the CLI and forms (same rules as ``assess_bone``)."""
    s = site_of(site)
    if bmd is None and t_score is None:
        raise InputError(
            "bmd",
            "give --bmd or --t-score from the DXA report (and --z-score where the Z-score"
            " decides: a premenopausal woman, a man under 50)",
        )
    if bmd is not None:
        check_bmd(bmd)
    m = BmdMeasurement(site=s, bmd_g_cm2=bmd, t_score=t_score, z_score=z_score)
    refs = {s: reference} if reference is not None else None
    return assess_bone(
        [m],
        sex=sex,
        age=age,
        premenopausal=premenopausal,
        fragility_fracture=fragility_fracture,
        weight_kg=weight_kg,
        references=refs,
    )
