"""Osteoporosis follow-up beside the orthosis: the DVO work-up, calcium and vitamin D guidance,
the seed's risk factors, the treating physician's drug therapy as recorded, fractures and height
loss over time.

The system records drug therapy; it never proposes a drug or a dose. Where the DVO T-score
threshold for drug treatment is reached (``clinical/bone.py``), it says so for the physician to
discuss, nothing more.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spinecare.clinical.bone import SEED_RISK_FACTORS, NutritionGuidance, nutrition_guidance
from spinecare.clinical.findings import Fracture

RISK_FACTOR_CODES = tuple(r.code for r in SEED_RISK_FACTORS)

# Height loss that points to vertebral fractures and calls for spine imaging: 4 cm or more
# against the tallest adult height (historical), 2 cm or more between follow-ups (prospective)
# [nof2014].
HISTORICAL_HEIGHT_LOSS_CM = 4.0
PROSPECTIVE_HEIGHT_LOSS_CM = 2.0
HEIGHT_RANGE_CM = (100.0, 230.0)  # input check


class DrugClass(enum.StrEnum):
    """Classes of osteoporosis drug therapy, for recording what the treating physician
    prescribed (the names a German DVO work-up uses [dvo2017])."""

    BISPHOSPHONATE = "bisphosphonate"
    DENOSUMAB = "denosumab"
    TERIPARATIDE = "teriparatide"
    ROMOSOZUMAB = "romosozumab"
    SERM = "serm"  # e.g. raloxifene
    HORMONE_THERAPY = "hormone_therapy"
    CALCIUM_VITAMIN_D = "calcium_vitamin_d"
    OTHER = "other"


class DrugTherapy(BaseModel):
    """A therapy as the treating physician prescribed it (recorded, not prescribed here)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    drug_class: DrugClass
    substance: str = Field(min_length=1, max_length=120)
    dose: str | None = Field(default=None, max_length=120)  # as written by the prescriber
    started_on: dt.date
    stopped_on: dt.date | None = None
    prescriber: str = Field(min_length=1, max_length=200)  # the treating physician

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.stopped_on is not None and self.stopped_on < self.started_on:
            raise ValueError("stopped_on: before started_on")
        return self

    def active_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.stopped_on is None or day <= self.stopped_on)


class HeightRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    measured_on: dt.date
    height_cm: float = Field(ge=HEIGHT_RANGE_CM[0], le=HEIGHT_RANGE_CM[1])
    # "measured" at a visit, or the tallest adult height the patient recalls (or a document)
    kind: Literal["measured", "recalled_adult"] = "measured"


class HeightLoss(BaseModel):
    model_config = ConfigDict(frozen=True)

    latest_cm: float | None
    historical_loss_cm: float | None  # tallest recalled or measured adult height - latest
    prospective_loss_cm: float | None  # tallest measured at a visit - latest measured
    imaging_indicated: bool
    reasons: list[str]


def height_loss(records: Sequence[HeightRecord]) -> HeightLoss:
    """Historical and prospective height loss and whether they call for spine imaging."""
    measured = sorted((r for r in records if r.kind == "measured"), key=lambda r: r.measured_on)
    if not measured:
        return HeightLoss(
            latest_cm=None, historical_loss_cm=None, prospective_loss_cm=None,
            imaging_indicated=False, reasons=[],
        )  # fmt: skip
    latest = measured[-1]
    tallest = max(r.height_cm for r in records)
    historical = round(tallest - latest.height_cm, 1)
    earlier = [r.height_cm for r in measured[:-1]]
    prospective = round(max(earlier) - latest.height_cm, 1) if earlier else None
    reasons = []
    if historical >= HISTORICAL_HEIGHT_LOSS_CM:
        reasons.append(f"height loss {historical:g} cm since the tallest adult height (>= 4 cm)")
    if prospective is not None and prospective >= PROSPECTIVE_HEIGHT_LOSS_CM:
        reasons.append(f"height loss {prospective:g} cm between follow-ups (>= 2 cm)")
    return HeightLoss(
        latest_cm=latest.height_cm,
        historical_loss_cm=historical,
        prospective_loss_cm=prospective,
        imaging_indicated=bool(reasons),
        reasons=reasons,
    )


class RiskFactorAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    present: bool | None  # None: asked, not known
    recorded_on: dt.date
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _known(self) -> Self:
        if self.code not in RISK_FACTOR_CODES:
            raise ValueError(f"code: unknown risk factor (allowed: {', '.join(RISK_FACTOR_CODES)})")
        return self


class RiskFactorStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    text: str
    present: bool | None  # None: never asked or not known
    recorded_on: dt.date | None


class WorkupItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    text: str
    status: Literal["done", "open", "indicated", "not_indicated"]
    detail: str


class OsteoporosisFollowUp(BaseModel):
    model_config = ConfigDict(frozen=True)

    on: dt.date
    workup: list[WorkupItem]
    nutrition: NutritionGuidance
    risk_factors: list[RiskFactorStatus]
    drug_therapy: list[DrugTherapy]
    drug_therapy_note: str
    fractures: list[Fracture]
    heights: list[HeightRecord]
    height_loss: HeightLoss


DRUG_NOTE = (
    "Drug therapy is recorded as the treating physician prescribed it; spinecare does not "
    "prescribe or suggest a drug."
)


def risk_factor_status(answers: Sequence[RiskFactorAnswer]) -> list[RiskFactorStatus]:
    """Every seed risk factor with its newest answer [seed-osteoporosis]."""
    newest: dict[str, RiskFactorAnswer] = {}
    for a in sorted(answers, key=lambda a: a.recorded_on):
        newest[a.code] = a
    return [
        RiskFactorStatus(
            code=r.code,
            text=r.text,
            present=newest[r.code].present if r.code in newest else None,
            recorded_on=newest[r.code].recorded_on if r.code in newest else None,
        )
        for r in SEED_RISK_FACTORS
    ]


def osteoporosis_followup(
    *,
    on: dt.date,
    age: int,
    risk_answers: Sequence[RiskFactorAnswer],
    therapies: Sequence[DrugTherapy],
    fractures: Sequence[Fracture],
    heights: Sequence[HeightRecord],
    last_dxa_on: dt.date | None,
) -> OsteoporosisFollowUp:
    """The DVO basic work-up [dvo2023-basis] as done, open or indicated from what is recorded,
    with nutrition guidance [dvo2017] [nof2014] and the recorded history."""
    risks = risk_factor_status(risk_answers)
    asked = sum(r.present is not None for r in risks)
    loss = height_loss(heights)
    vertebral = [f for f in fractures if f.vertebral]
    workup = [
        WorkupItem(
            code="history",
            text="History with fracture risk factors",
            status="done" if asked == len(risks) else "open",
            detail=f"{asked} of {len(risks)} risk factors answered",
        ),
        WorkupItem(
            code="examination",
            text="Clinical examination (height, kyphosis, signs of fractures)",
            status="done" if any(h.kind == "measured" for h in heights) else "open",
            detail="height measured" if heights else "no height measured",
        ),
        WorkupItem(
            code="dxa",
            text="DXA bone densitometry (lumbar spine and hip)",
            status="done" if last_dxa_on is not None else "open",
            detail=f"last DXA {last_dxa_on.isoformat()}" if last_dxa_on else "no DXA recorded",
        ),
        WorkupItem(
            code="laboratory",
            text="Basic laboratory (after a fracture, to exclude secondary causes)",
            status="indicated" if fractures else "not_indicated",
            detail="results are kept in the laboratory system, not here",
        ),
        WorkupItem(
            code="spine_imaging",
            text="Spine imaging when there are clinical signs of vertebral fractures",
            status="indicated" if loss.imaging_indicated else "not_indicated",
            detail="; ".join(loss.reasons)
            or (
                f"{len(vertebral)} vertebral fracture(s) on record"
                if vertebral
                else "no height loss on record that calls for it"
            ),
        ),
    ]
    return OsteoporosisFollowUp(
        on=on,
        workup=workup,
        nutrition=nutrition_guidance(age),
        risk_factors=risks,
        drug_therapy=sorted(therapies, key=lambda t: t.started_on),
        drug_therapy_note=DRUG_NOTE,
        fractures=sorted(fractures, key=lambda f: f.date),
        heights=sorted(heights, key=lambda h: h.measured_on),
        height_loss=loss,
    )
