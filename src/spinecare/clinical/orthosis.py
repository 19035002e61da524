"""The Spinomed-type orthosis pathway for osteoporotic vertebral fractures, with its evidence.

Spinal decompression is contraindicated with severe osteoporosis or a recent compression
fracture (seed CI-04, CI-12 [seed-spinemed]); such patients are offered a thoraco-lumbar orthosis
instead, as the DVO guideline suggests [dvo2017] [seed-spinomed]. The trial results are kept as
data, with who paid for them and the trial that found no difference, so a report can show the
evidence honestly.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from spinecare.clinical.findings import Fracture
from spinecare.clinical.vocab import FractureKind

# The DVO guideline [dvo2017], quoted in the orthosis seed [seed-spinomed].
DVO2017_ORTHOSIS_QUOTE = (
    "In order to allow for low-pain mobilisation, the supply of a spinal orthosis should be "
    "considered."
)
DVO2017_DESIGN_QUOTE = (
    "Individual orthoses of identical design are not explicitly superior to others; semi-rigid "
    "flexible orthoses tend to be considered (thoraco-lumbar orthoses, TLOs)."
)
DEVICE = "activating thoraco-lumbar orthosis (Spinomed-type TLO)"


class TrialEvidence(BaseModel):
    """One trial; ``results`` are percent changes after the intervention, as published."""

    model_config = ConfigDict(frozen=True)

    key: str
    citation: str
    design: str
    n: int | None
    duration_months: int
    arm: str
    funding: str
    results: dict[str, float]
    between_group_difference: bool | None
    summary: str


# Pfeifer et al. [pfeifer2004]: RCT, 62 women, 6 months; percent changes as summarised by the
# maker [seed-spinomed].
PFEIFER_2004 = TrialEvidence(
    key="pfeifer2004",
    citation="Pfeifer M et al. Am J Phys Med Rehabil 2004;83(3):177-186",
    design="randomised controlled trial, orthosis vs no orthosis",
    n=62,
    duration_months=6,
    arm="Spinomed",
    funding="funded by the manufacturer (medi)",
    results={
        "back_extensor_strength": 73.0,
        "abdominal_flexor_strength": 58.0,
        "kyphosis_angle": -11.0,
        "body_sway": -25.0,
        "pain": -38.0,
        "well_being": 15.0,
        "limitations_of_daily_living": -27.0,
    },
    between_group_difference=True,
    summary="improvements in the orthosis group after 6 months",
)
# Pfeifer et al. [pfeifer2011]: Spinomed vs Spinomed active; percent changes as summarised by
# the maker [seed-spinomed]. Participant number not recorded in our sources.
PFEIFER_2011_SPINOMED = TrialEvidence(
    key="pfeifer2011_spinomed",
    citation="Pfeifer M et al. Am J Phys Med Rehabil 2011;90:805-815",
    design="randomised trial comparing two orthoses",
    n=None,
    duration_months=6,
    arm="Spinomed",
    funding="funded by the manufacturer (medi)",
    results={
        "back_extensor_strength": 72.0,
        "abdominal_flexor_strength": 44.0,
        "kyphosis_angle": -11.0,
        "body_sway": -23.0,
        "pain": -41.0,
    },
    between_group_difference=False,
    summary="both orthoses improved; no significant difference between the two models",
)
PFEIFER_2011_ACTIVE = PFEIFER_2011_SPINOMED.model_copy(
    update={
        "key": "pfeifer2011_spinomed_active",
        "arm": "Spinomed active",
        "results": {
            "back_extensor_strength": 64.0,
            "abdominal_flexor_strength": 56.0,
            "kyphosis_angle": -11.0,
            "body_sway": -20.0,
            "pain": -47.0,
        },
    }
)
# Kaijser Alin et al. [kaijser-alin2019]: 113 women >= 60 y with osteoporosis and back pain;
# orthosis vs equipment training vs control, 6 months.
KAIJSER_ALIN_2019 = TrialEvidence(
    key="kaijseralin2019",
    citation="Kaijser Alin C et al. Arch Osteoporos 2019;14(1):5",
    design="randomised controlled trial, orthosis vs training vs control (3 arms)",
    n=113,
    duration_months=6,
    arm="Spinomed (activating orthosis)",
    funding="academic trial (Karolinska Institutet primary care), not run by the maker",
    results={"back_extensor_strength": 26.9},
    between_group_difference=False,
    summary=(
        "no significant difference between groups in back pain, back extensor strength or "
        "kyphosis index after 6 months (ITT and per protocol); within-group back extensor "
        "strength +26.9% orthosis, +22.1% training, +9.9% control"
    ),
)

EVIDENCE: tuple[TrialEvidence, ...] = (
    PFEIFER_2004,
    PFEIFER_2011_SPINOMED,
    PFEIFER_2011_ACTIVE,
    KAIJSER_ALIN_2019,
)

EVIDENCE_SUMMARY = (
    "Two maker-funded randomised trials (Pfeifer 2004, 2011) report gains in trunk "
    "strength and reductions in pain, kyphosis and sway over 6 months; an independent three-arm "
    "trial (Kaijser Alin 2019, n=113) found no difference against training or no treatment. "
    "DVO 2017 suggests considering an orthosis for low-pain mobilisation."
)


class OutcomeMeasure(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    name: str
    unit: str
    how: str


# What to record before and after 6 months of wearing the orthosis: the outcomes the trials used.
OUTCOME_MEASURES: tuple[OutcomeMeasure, ...] = (
    OutcomeMeasure(
        key="back_extensor_strength",
        name="Back extensor strength",
        unit="N",
        how="isometric maximum, best of three (dynamometer)",
    ),
    OutcomeMeasure(
        key="abdominal_flexor_strength",
        name="Abdominal flexor strength",
        unit="N",
        how="isometric maximum, best of three (dynamometer)",
    ),
    OutcomeMeasure(key="pain", name="Back pain", unit="NRS 0-10", how="average over the last week"),
    OutcomeMeasure(
        key="kyphosis_angle",
        name="Thoracic kyphosis angle",
        unit="deg",
        how="kyphometer or flexicurve, standing",
    ),
    OutcomeMeasure(
        key="body_sway",
        name="Body sway",
        unit="mm",
        how="posturography or sway meter, eyes open, standing",
    ),
)


class OrthosisRecommendation(BaseModel):
    model_config = ConfigDict(frozen=True)

    recommended: bool
    reasons: list[str]
    device: str
    guideline: str
    evidence_summary: str
    evidence: list[TrialEvidence]
    measures: list[OutcomeMeasure]


def osteoporotic_vertebral_fractures(fractures: Sequence[Fracture] | None) -> list[Fracture]:
    return [f for f in fractures or () if f.vertebral and f.kind is FractureKind.OSTEOPOROTIC]


def orthosis_recommendation(
    fractures: Sequence[Fracture] | None, *, osteoporosis: bool = False
) -> OrthosisRecommendation:
    """Recommend the orthosis for an osteoporotic vertebral fracture [dvo2017], or for a
    vertebral compression fracture in a patient with densitometric osteoporosis."""
    reasons = [
        f"osteoporotic vertebral fracture {f.level} ({f.date.isoformat()})"
        for f in osteoporotic_vertebral_fractures(fractures)
    ]
    if osteoporosis:
        reasons += [
            f"vertebral compression fracture {f.level} ({f.date.isoformat()}) with osteoporosis"
            for f in fractures or ()
            if f.vertebral and f.compression and f.kind is not FractureKind.OSTEOPOROTIC
        ]
    return OrthosisRecommendation(
        recommended=bool(reasons),
        reasons=reasons or ["no osteoporotic vertebral fracture recorded"],
        device=DEVICE,
        guideline=f"DVO 2017: {DVO2017_ORTHOSIS_QUOTE}",
        evidence_summary=EVIDENCE_SUMMARY,
        evidence=list(EVIDENCE),
        measures=list(OUTCOME_MEASURES),
    )
