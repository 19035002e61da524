"""Input models for screening and bone assessment: what the clinic records about a patient.

These are the edge: every field is validated here, so the rules in ``contraindications`` and
``bone`` only ever see plausible data. A list that is ``None`` was never asked; an empty list is
an answer ("none known"). Missing data is never read as "no contraindication".
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spinecare.clinical.vocab import BmdSite, FractureKind, Sex
from spinecare.vocab import Region

# The seed's thirteen contraindications (spinemed-decompression.txt), codes CI-01 .. CI-13.
CI_CODES: tuple[str, ...] = tuple(f"CI-{i:02d}" for i in range(1, 14))

# Plausible BMD range for adult DXA, g/cm2: 0 is no measurement; real adult values lie
# roughly 0.3-1.6 g/cm2 and nothing reaches 3 (ISCD/NHANES III ranges; an input check only).
BMD_MAX_G_CM2 = 3.0

_VERTEBRA = re.compile(r"^(C[1-7]|T([1-9]|1[0-2])|L[1-5]|S[1-5])$")
# Non-vertebral fragility fracture sites that count for "severe osteoporosis" (WHO: a fragility
# fracture of any major site) but not as spinal findings.
NON_VERTEBRAL_SITES: tuple[str, ...] = ("hip", "wrist", "forearm", "humerus", "pelvis", "rib")


def is_vertebral_level(level: str) -> bool:
    return bool(_VERTEBRA.match(level))


class Finding(BaseModel):
    """One answered contraindication question (a row of the screening form).

    ``present`` is the examining physician's answer to the seed item itself; ``None`` means
    asked but not yet known (counts as missing). Structured details let the rules apply the
    clinic's thresholds (``ScreeningSettings``) even when ``present`` was left false.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(description="CI-01 .. CI-13")
    present: bool | None
    date: dt.date | None = Field(default=None, description="date of the event (surgery, fracture)")
    region: Region | None = Field(default=None, description="lumbar or cervical, if localised")
    detail: str | None = Field(default=None, max_length=500)
    cobb_angle_deg: float | None = Field(default=None, ge=0.0, le=180.0)
    meyerding_grade: int | None = Field(default=None, ge=0, le=5)
    translation_mm: float | None = Field(default=None, ge=0.0, le=50.0)
    canal_ap_diameter_mm: float | None = Field(default=None, gt=0.0, le=40.0)

    @field_validator("code")
    @classmethod
    def _known_code(cls, v: str) -> str:
        code = v.strip().upper()
        if code not in CI_CODES:
            raise ValueError("unknown contraindication code (allowed: CI-01 .. CI-13)")
        return code


class BmdMeasurement(BaseModel):
    """One DXA result as printed on the report: BMD and/or the device's T-score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: BmdSite
    bmd_g_cm2: float | None = Field(default=None, gt=0.0, lt=BMD_MAX_G_CM2)
    t_score: float | None = Field(default=None, ge=-10.0, le=10.0)
    z_score: float | None = Field(default=None, ge=-10.0, le=10.0)
    date: dt.date | None = None
    device: str | None = Field(default=None, max_length=100)
    valid: bool = Field(default=True, description="false if the site was excluded (artefact)")

    @model_validator(mode="after")
    def _has_a_value(self) -> Self:
        if self.bmd_g_cm2 is None and self.t_score is None:
            raise ValueError("a BMD measurement needs bmd_g_cm2 or t_score")
        return self


class Fracture(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: str = Field(description="vertebra (C1-C7, T1-T12, L1-L5, S1-S5) or a site such as hip")
    date: dt.date
    kind: FractureKind
    compression: bool = False

    @field_validator("level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        t = v.strip()
        up = t.upper()
        if is_vertebral_level(up):
            return up
        if t.lower() in NON_VERTEBRAL_SITES:
            return t.lower()
        raise ValueError(
            "unknown fracture level: a vertebra C1-C7, T1-T12, L1-L5, S1-S5 or one of "
            + ", ".join(NON_VERTEBRAL_SITES)
        )

    @property
    def vertebral(self) -> bool:
        return is_vertebral_level(self.level)


class PatientFindings(BaseModel):
    """Everything screening reads about one patient (``examples/patient.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    birth_date: dt.date
    sex: Sex
    weight_kg: float = Field(ge=30.0, le=250.0)
    pregnant: bool | None = None
    childbearing_potential: bool | None = Field(
        default=None, description="None: inferred from age (ScreeningSettings)"
    )
    premenopausal: bool | None = Field(
        default=None, description="None: women under 50 count as premenopausal (bone.py)"
    )
    findings: list[Finding] = Field(default_factory=list)
    bmd: list[BmdMeasurement] | None = Field(default=None, description="None: no DXA on file")
    fractures: list[Fracture] | None = Field(
        default=None, description="None: fracture history not taken; []: none"
    )

    @field_validator("findings")
    @classmethod
    def _unique_codes(cls, v: list[Finding]) -> list[Finding]:
        seen: set[str] = set()
        for f in v:
            if f.code in seen:
                raise ValueError(f"{f.code} is listed twice")
            seen.add(f.code)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.sex is Sex.MALE and self.pregnant:
            raise ValueError("pregnant: a male patient cannot be recorded as pregnant")
        return self

    def finding(self, code: str) -> Finding | None:
        for f in self.findings:
            if f.code == code:
                return f
        return None

    def age_on(self, on: dt.date) -> int:
        return age_years(self.birth_date, on)


def age_years(birth: dt.date, on: dt.date) -> int:
    """Completed years on ``on``: the birthday counts on the day itself (29 Feb: from 1 Mar)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years
