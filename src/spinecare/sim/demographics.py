"""Who the virtual cohort's patients are: sex, age, height, weight, lordosis and bone status.

``virtual_patient`` (population.py) draws the physics and physiology of one patient (segment
stiffness, guarding sensitivity and pain tolerance, EMG noise); this module draws the person
around it from published distributions, so that a cohort looks like a clinic's patients and its
figures can be broken down by sex, age and bone status. Every draw comes from the generator it
is given (one per patient, spawned from the cohort's seed), in a fixed order. Pure: no I/O.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Age range of the virtual clinic, years: adults of working age to old age (clinic choice: the
# patients decompression treats; screening's own minimum is 15 [seed-spinemed]). Uniform within
# it (assumption: no published age distribution of decompression patients was found).
AGE_MIN = 30.0
AGE_MAX = 85.0
# Share of women (assumption: an even split; no published figure for decompression clinics).
FEMALE_FRACTION = 0.5
# Mean height and weight of US adults, NHANES 2015-2016 [fryar2018]: men 175.4 cm, 89.8 kg;
# women 161.7 cm, 77.4 kg. The spreads are assumptions (height SD about 7 cm; weight
# log-normal around the height-adjusted mean with a geometric SD of 20%).
HEIGHT_MEAN_CM = {"F": 161.7, "M": 175.4}
HEIGHT_SD_CM = {"F": 6.5, "M": 7.0}
WEIGHT_MEAN_KG = {"F": 77.4, "M": 89.8}
WEIGHT_LOG_SD = 0.20
# The simulator's weight span (sim/population.py): lighter or heavier draws are clipped to it.
WEIGHT_MIN_KG = 45.0
WEIGHT_MAX_KG = 140.0
# Lordosis: people differ from the mean segmental lordosis [harrison1998] by about +/-10 deg
# (cervical C2-C7 SD 9.7 deg [openmed2021]; the lumbar SD is assumed the same). Drawn as an
# offset of the whole curve, spread over its segments in proportion to their share.
LORDOSIS_SD_DEG = 9.7
LORDOSIS_CLIP_DEG = 25.0
# Bone status at 50 and over, NHANES 2017-2018 [sarafrazi2021]: osteoporosis (T <= -2.5) in
# 19.6% of women and 4.4% of men, low bone mass (-2.5 < T < -1) in 51.5% and 33.5%. Below 50,
# assumption: a quarter of those rates (bone loss accelerates after the menopause).
OSTEOPOROSIS_50 = {"F": 0.196, "M": 0.044}
LOW_BONE_MASS_50 = {"F": 0.515, "M": 0.335}
UNDER_50_FACTOR = 0.25
# T-score classes [who1994]; within a class the T-score is uniform (assumption). The lowest
# osteoporotic T-score drawn is -4.0.
T_NORMAL = (-1.0, 1.5)
T_LOW = (-2.5, -1.0)
T_OSTEOPOROSIS = (-4.0, -2.5)


class BoneStatus(enum.StrEnum):
    NORMAL = "normal"
    LOW_BONE_MASS = "low_bone_mass"
    OSTEOPOROSIS = "osteoporosis"


@dataclass(frozen=True, slots=True)
class PatientProfile:
    """The person: drawn once per patient, the same in every session of the course."""

    sex: str  # "F" or "M"
    age_years: float
    height_cm: float
    weight_kg: float
    lordosis_offset_deg: float  # + more lordotic than the mean curve, - flatter
    t_score: float
    bone_status: BoneStatus

    @property
    def bmi(self) -> float:
        return self.weight_kg / (self.height_cm / 100.0) ** 2

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bone_status"] = self.bone_status.value
        d["bmi"] = round(self.bmi, 1)
        return d


def profile_draw(rng: np.random.Generator) -> PatientProfile:
    """One person; always consumes the same number of draws from ``rng``."""
    u = rng.random(4)
    z = rng.standard_normal(3)
    sex = "F" if u[0] < FEMALE_FRACTION else "M"
    age = AGE_MIN + (AGE_MAX - AGE_MIN) * float(u[1])
    height = HEIGHT_MEAN_CM[sex] + HEIGHT_SD_CM[sex] * float(z[0])
    # Heavier with height: the mean weight at the mean BMI for this height.
    w_mean = WEIGHT_MEAN_KG[sex] * (height / HEIGHT_MEAN_CM[sex]) ** 2
    weight = w_mean * math.exp(WEIGHT_LOG_SD * float(z[1]) - 0.5 * WEIGHT_LOG_SD**2)
    weight = round(min(WEIGHT_MAX_KG, max(WEIGHT_MIN_KG, weight)), 1)
    lordosis = max(-LORDOSIS_CLIP_DEG, min(LORDOSIS_CLIP_DEG, LORDOSIS_SD_DEG * float(z[2])))
    scale = 1.0 if age >= 50.0 else UNDER_50_FACTOR
    p_op = OSTEOPOROSIS_50[sex] * scale
    p_low = LOW_BONE_MASS_50[sex] * scale
    if u[2] < p_op:
        status, (lo, hi) = BoneStatus.OSTEOPOROSIS, T_OSTEOPOROSIS
    elif u[2] < p_op + p_low:
        status, (lo, hi) = BoneStatus.LOW_BONE_MASS, T_LOW
    else:
        status, (lo, hi) = BoneStatus.NORMAL, T_NORMAL
    t_score = lo + (hi - lo) * float(u[3])
    return PatientProfile(
        sex=sex,
        age_years=round(age, 1),
        height_cm=round(height, 1),
        weight_kg=weight,
        lordosis_offset_deg=round(lordosis, 1),
        t_score=round(t_score, 2),
        bone_status=status,
    )
