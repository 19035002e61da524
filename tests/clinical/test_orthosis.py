from __future__ import annotations

import datetime as dt

from spinecare.clinical.findings import Fracture
from spinecare.clinical.orthosis import EVIDENCE, OUTCOME_MEASURES, orthosis_recommendation
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
