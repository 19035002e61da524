"""Osteoporosis follow-up: height loss thresholds, the work-up from what is recorded, the risk
factors of the seed, drug therapy recorded (never proposed)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from spinecare.clinical.findings import Fracture
from spinecare.clinical.osteoporosis_followup import (
    RISK_FACTOR_CODES,
    DrugClass,
    DrugTherapy,
    HeightRecord,
    RiskFactorAnswer,
    height_loss,
    osteoporosis_followup,
)
from spinecare.clinical.vocab import FractureKind

D = dt.date(2026, 12, 1)


def h(days: int, cm: float, kind: str = "measured") -> HeightRecord:
    return HeightRecord.model_validate(
        {"measured_on": D + dt.timedelta(days=days), "height_cm": cm, "kind": kind}
    )


def test_height_loss_thresholds() -> None:
    assert not height_loss([h(0, 160.0), h(90, 158.1)]).imaging_indicated  # 1.9 cm
    two = height_loss([h(0, 160.0), h(90, 158.0)])
    assert two.prospective_loss_cm == 2.0 and two.imaging_indicated
    hist = height_loss([h(-20000, 165.0, "recalled_adult"), h(0, 161.0)])
    assert hist.historical_loss_cm == 4.0 and hist.prospective_loss_cm is None
    assert hist.imaging_indicated and "tallest" in hist.reasons[0]
    assert not height_loss([]).imaging_indicated
    with pytest.raises(ValidationError):
        h(0, 20.0)


def test_followup_from_the_records() -> None:
    answers = [RiskFactorAnswer(code=c, present=False, recorded_on=D) for c in RISK_FACTOR_CODES]
    answers.append(RiskFactorAnswer(code="smoking", present=True, recorded_on=D))
    therapy = DrugTherapy(
        drug_class=DrugClass.BISPHOSPHONATE, substance="alendronate", dose="70 mg weekly",
        started_on=D, prescriber="Dr. Hausarzt",
    )  # fmt: skip
    frac = Fracture(level="T12", date=D, kind=FractureKind.OSTEOPOROTIC, compression=True)
    f = osteoporosis_followup(
        on=D, age=72, risk_answers=answers, therapies=[therapy], fractures=[frac],
        heights=[h(-200, 160.0), h(0, 157.5)], last_dxa_on=D,
    )  # fmt: skip
    items = {w.code: w.status for w in f.workup}
    assert items == {
        "history": "done", "examination": "done", "dxa": "done",
        "laboratory": "indicated", "spine_imaging": "indicated",
    }  # fmt: skip
    assert {r.code: r.present for r in f.risk_factors}["smoking"] is True  # newest answer
    assert f.nutrition.calcium_mg_per_day == (1000, 1200)
    assert f.nutrition.vitamin_d_iu_per_day == (800, 1000)
    assert f.drug_therapy[0].active_on(D) and "does not prescribe" in f.drug_therapy_note
    empty = osteoporosis_followup(
        on=D, age=45, risk_answers=[], therapies=[], fractures=[], heights=[], last_dxa_on=None
    )
    assert {w.code: w.status for w in empty.workup}["dxa"] == "open"
    assert empty.nutrition.vitamin_d_iu_per_day is None  # under 50


def test_unknown_risk_factor_and_therapy_order_are_refused() -> None:
    with pytest.raises(ValidationError, match="code"):
        RiskFactorAnswer(code="astrology", present=True, recorded_on=D)
    with pytest.raises(ValidationError, match="stopped_on"):
        DrugTherapy(
            drug_class=DrugClass.DENOSUMAB, substance="denosumab", started_on=D,
            stopped_on=D - dt.timedelta(days=1), prescriber="Dr. X",
        )  # fmt: skip
