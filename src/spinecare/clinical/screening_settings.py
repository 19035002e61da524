"""The clinic's screening thresholds, and the seed's limits they may only tighten.

The seed [seed-spinemed] states three contraindications with numbers: patients under
15 years, more than 45% bone loss, compression fractures within one year. A clinic may be
stricter (a higher minimum age, a lower bone-loss threshold, a longer fracture window) but never
more lenient: a setting that would let a patient the seed excludes onto the table is refused with
the field and the reason when the settings are read, not discovered at the table.

The other thresholds operationalise words the seed leaves open ("fresh", "recent", "severe",
"high-grade"); a clinic may move them within the ranges below. This module imports only pydantic,
so reading the application settings stays cheap.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Seed: "Patients under 15 years of age" [seed-spinemed].
SEED_MIN_AGE_YEARS = 15
# Seed: "Severe osteoporosis with more than 45% bone loss" [seed-spinemed] (bone loss = 100 -
# %young-adult mean).
SEED_MAX_BONE_LOSS_PERCENT = 45.0
# Seed: "Compression fractures of the spine within one year" = 365 days [seed-spinemed].
SEED_COMPRESSION_FRACTURE_DAYS = 365


class ScreeningSettings(BaseModel):
    """How the seed's words ("fresh", "recent", "severe", "high-grade") are operationalised.

    Defaults and their sources are in docs/screening.md; a clinic may change them, but the seed's
    numbered limits only towards excluding more patients. Unknown keys are refused, so no rule
    can be switched off by a setting.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Seed: "Patients under 15 years of age". A clinic may raise it (up to 30), never lower it.
    min_age_years: int = Field(default=SEED_MIN_AGE_YEARS, le=30)
    # Seed: "more than 45% bone loss" (bone loss = 100 - %young-adult mean). A clinic may lower
    # it, never raise it.
    max_bone_loss_percent: float = Field(default=SEED_MAX_BONE_LOSS_PERCENT, gt=0.0)
    # "Fresh" vertebral fracture: <= 90 days. Clinic choice: acute osteoporotic vertebral
    # fractures consolidate and their MRI marrow oedema usually fades within about 3 months.
    fresh_vertebral_fracture_days: int = Field(default=90, ge=1, le=730)
    # Seed: "Compression fractures of the spine within one year" = 365 days. A clinic may
    # lengthen it (up to three years), never shorten it.
    compression_fracture_days: int = Field(default=SEED_COMPRESSION_FRACTURE_DAYS, le=1095)
    # "Fresh preliminary surgery": <= 365 days. Clinic choice: spinal fusion consolidates over
    # 6-12 months; we take the conservative end (a surgeon's written release may shorten it).
    recent_surgery_days: int = Field(default=365, ge=1, le=1095)
    # "Severe scoliosis": Cobb >= 40 deg (curves above 40-45 deg are severe/surgical
    # [srs-glossary]; clinic choice of the lower bound).
    severe_scoliosis_cobb_deg: float = Field(default=40.0, ge=10.0, le=90.0)
    # "Severe sliding vertebrae": Meyerding grade >= II (slip > 25%) [meyerding1932].
    min_meyerding_grade: int = Field(default=2, ge=1, le=5)
    # "Severe instability": sagittal translation on flexion-extension films above the limits of
    # [white-panjabi1990], lumbar 4.5 mm, cervical 3.5 mm.
    instability_translation_mm_lumbar: float = Field(default=4.5, gt=0.0, le=20.0)
    instability_translation_mm_cervical: float = Field(default=3.5, gt=0.0, le=20.0)
    # "High-grade bony stenosis": absolute stenosis, canal AP diameter < 10 mm [verbiest1954]
    # (lumbar; the same 10 mm is the usual absolute limit for the cervical canal).
    stenosis_canal_ap_mm: float = Field(default=10.0, gt=0.0, le=20.0)
    # Pregnancy is asked of women 12-55 unless child-bearing potential is recorded (clinic choice).
    childbearing_age_min: int = Field(default=12, ge=8, le=20)
    childbearing_age_max: int = Field(default=55, ge=40, le=65)

    @field_validator("min_age_years")
    @classmethod
    def _not_younger_than_the_seed(cls, v: int) -> int:
        if v < SEED_MIN_AGE_YEARS:
            raise ValueError(
                f"may only tighten the seed's contraindication: patients under "
                f"{SEED_MIN_AGE_YEARS} are never treated, so the minimum age cannot be lower"
            )
        return v

    @field_validator("max_bone_loss_percent")
    @classmethod
    def _not_more_bone_loss_than_the_seed(cls, v: float) -> float:
        if not v <= SEED_MAX_BONE_LOSS_PERCENT:  # also refuses NaN
            raise ValueError(
                f"may only tighten the seed's contraindication: more than "
                f"{SEED_MAX_BONE_LOSS_PERCENT:g}% bone loss is never treated, so the threshold "
                "cannot be higher"
            )
        return v

    @field_validator("compression_fracture_days")
    @classmethod
    def _not_shorter_than_a_year(cls, v: int) -> int:
        if v < SEED_COMPRESSION_FRACTURE_DAYS:
            raise ValueError(
                "may only tighten the seed's contraindication: compression fractures within "
                f"one year ({SEED_COMPRESSION_FRACTURE_DAYS} days) are never treated, so the "
                "window cannot be shorter"
            )
        return v
