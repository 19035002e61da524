"""What the outcome records accept: scores are whole numbers in their scale, never true/false."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spinecare.services.outcomes import NrsRecord, OdiRecord


@pytest.mark.parametrize("value", [True, False, 1.5, 11, -1])
def test_a_pain_score_is_a_whole_number_from_0_to_10(value: object) -> None:
    with pytest.raises(ValidationError, match="nrs_before"):
        NrsRecord.model_validate({"nrs_before": value})
    assert NrsRecord.model_validate({"nrs_before": 0}).nrs_before == 0


def test_odi_answers_are_not_true_or_false() -> None:
    with pytest.raises(ValidationError, match="answers"):
        OdiRecord.model_validate({"answers": [True] * 10})
    assert OdiRecord.model_validate({"answers": [1] * 10}).answers == [1] * 10
