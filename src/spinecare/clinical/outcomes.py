"""Patient-reported outcomes over a course: pain NRS per session and the Oswestry Disability
Index, scored, banded and turned into chart series (and a PNG, rendered in memory)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# --- Oswestry Disability Index v2.1a [fairbank-pynsent2000] --------------------------------
ODI_SECTIONS = 10
ODI_SECTION_MAX = 5
# If a section is missed, divide the total by 5 x the number of answered sections
# [fairbank-pynsent2000]. Fairbank and Pynsent describe one missing section; we allow at most
# two (clinic choice, common registry practice) and give no score when three or more are blank.
ODI_MAX_BLANK_SECTIONS = 2

ODI_SECTION_NAMES: tuple[str, ...] = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)


class DisabilityBand(enum.StrEnum):
    """Interpretation bands of [fairbank-pynsent2000] (upper bounds inclusive)."""

    MINIMAL = "minimal"  # 0-20 %
    MODERATE = "moderate"  # 21-40 %
    SEVERE = "severe"  # 41-60 %
    CRIPPLED = "crippled"  # 61-80 %
    BED_BOUND = "bed_bound"  # 81-100 %


_BANDS: tuple[tuple[float, DisabilityBand], ...] = (
    (20.0, DisabilityBand.MINIMAL),
    (40.0, DisabilityBand.MODERATE),
    (60.0, DisabilityBand.SEVERE),
    (80.0, DisabilityBand.CRIPPLED),
    (100.0, DisabilityBand.BED_BOUND),
)


def odi_band(percent: float) -> DisabilityBand:
    for upper, band in _BANDS:
        if percent <= upper:
            return band
    return DisabilityBand.BED_BOUND


class OdiResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: int
    answered: int
    blank_sections: list[str]
    percent: float | None = Field(description="None when more than 2 sections are blank")
    band: DisabilityBand | None


def odi_score(sections: Sequence[int | None]) -> OdiResult:
    """Score the ten ODI sections (each 0-5, ``None`` = left blank).

    percent = total / (5 x answered sections) x 100, one decimal; bands from the percentage.
    """
    if len(sections) != ODI_SECTIONS:
        raise ValueError(f"the ODI has {ODI_SECTIONS} sections, got {len(sections)}")
    for i, v in enumerate(sections):
        if v is not None and (isinstance(v, bool) or not 0 <= v <= ODI_SECTION_MAX):
            raise ValueError(f"ODI section {ODI_SECTION_NAMES[i]} must be 0-5, got {v!r}")
    answered = [v for v in sections if v is not None]
    blank = [ODI_SECTION_NAMES[i] for i, v in enumerate(sections) if v is None]
    total = sum(answered)
    if len(blank) > ODI_MAX_BLANK_SECTIONS:
        return OdiResult(
            total=total, answered=len(answered), blank_sections=blank, percent=None, band=None
        )
    pct = round(100.0 * total / (ODI_SECTION_MAX * len(answered)), 1)
    return OdiResult(
        total=total, answered=len(answered), blank_sections=blank, percent=pct, band=odi_band(pct)
    )


# --- Session outcomes ------------------------------------------------------------------------
class SessionOutcome(BaseModel):
    """What is recorded at one session: NRS-11 (integer 0-10) before and after, ODI optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_number: int = Field(ge=1, le=40)
    date: dt.date
    nrs_before: int = Field(ge=0, le=10)
    nrs_after: int | None = Field(default=None, ge=0, le=10)
    odi_sections: list[int | None] | None = Field(default=None, min_length=10, max_length=10)

    @model_validator(mode="after")
    def _odi_valid(self) -> Self:
        if self.odi_sections is not None:
            odi_score(self.odi_sections)  # raises with the section name
        return self

    @property
    def odi(self) -> OdiResult | None:
        return None if self.odi_sections is None else odi_score(self.odi_sections)


# --- Clinically important pain improvement ---------------------------------------------------
# Farrar et al. [farrar2001] and IMMPACT [dworkin2008]: a reduction of about 2 points or 30% on
# the 0-10 NRS is clinically important.
IMPROVEMENT_POINTS = 2
IMPROVEMENT_FRACTION = 0.30


def pain_improved(baseline: int, current: int) -> bool:
    """Improved = NRS down by >= 2 points or >= 30% from baseline [farrar2001] [dworkin2008]."""
    drop = baseline - current
    if drop <= 0:
        return False
    return drop >= IMPROVEMENT_POINTS or drop >= IMPROVEMENT_FRACTION * baseline - 1e-9


# --- Chart data ------------------------------------------------------------------------------
class CourseChart(BaseModel):
    """Series ready for plotting; ODI points only where an ODI was scored."""

    model_config = ConfigDict(frozen=True)

    session_numbers: list[int]
    dates: list[dt.date]
    nrs_before: list[int]
    nrs_after: list[int | None]
    odi_session_numbers: list[int]
    odi_percent: list[float]
    odi_bands: list[DisabilityBand]


def course_chart_data(outcomes: Sequence[SessionOutcome]) -> CourseChart:
    ordered = sorted(outcomes, key=lambda o: o.session_number)
    numbers = [o.session_number for o in ordered]
    if len(set(numbers)) != len(numbers):
        raise ValueError("session numbers must be unique")
    odi_n: list[int] = []
    odi_p: list[float] = []
    odi_b: list[DisabilityBand] = []
    for o in ordered:
        r = o.odi
        if r is not None and r.percent is not None and r.band is not None:
            odi_n.append(o.session_number)
            odi_p.append(r.percent)
            odi_b.append(r.band)
    return CourseChart(
        session_numbers=numbers,
        dates=[o.date for o in ordered],
        nrs_before=[o.nrs_before for o in ordered],
        nrs_after=[o.nrs_after for o in ordered],
        odi_session_numbers=odi_n,
        odi_percent=odi_p,
        odi_bands=odi_b,
    )
