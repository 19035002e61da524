"""Clinic screening settings may tighten the seed's contraindications, never loosen them."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from spinecare.clinical.contraindications import ScreeningSettings, screen
from spinecare.clinical.findings import PatientFindings
from spinecare.errors import InputError, describe_validation_error
from spinecare.settings import ClinicSettings
from tests.clinical.conftest import ON, clean_patient, days_before

# The seed's limits (spinemed-decompression.txt), restated here so a changed constant fails.
SEED_AGE, SEED_LOSS, SEED_DAYS = 15, 45.0, 365


def refused_field(**values: Any) -> tuple[str, str]:
    """The field pydantic names and the one line the CLI would print."""
    with pytest.raises(ValidationError) as err:
        ScreeningSettings(**values)
    [first, *_] = err.value.errors()
    return str(first["loc"][0]), describe_validation_error(err.value)


@given(st.integers(max_value=SEED_AGE - 1))
def test_a_lower_minimum_age_is_refused(age: int) -> None:
    field, line = refused_field(min_age_years=age)
    assert field == "min_age_years"
    assert line.startswith("min_age_years: may only tighten") and "15" in line


@given(st.one_of(st.floats(min_value=SEED_LOSS, exclude_min=True), st.just(math.nan)))
def test_a_higher_bone_loss_threshold_is_refused(loss: float) -> None:
    field, line = refused_field(max_bone_loss_percent=loss)
    assert field == "max_bone_loss_percent"
    assert line.startswith("max_bone_loss_percent:")


@given(st.integers(max_value=SEED_DAYS - 1))
def test_a_shorter_fracture_window_is_refused(days: int) -> None:
    field, line = refused_field(compression_fracture_days=days)
    assert field == "compression_fracture_days"
    assert line.startswith("compression_fracture_days:")


@pytest.mark.parametrize(
    "key", ["disabled_rules", "ci03_enabled", "min_age_enabled", "rules", "CI-12"]
)
def test_no_setting_switches_a_rule_off(key: str) -> None:
    with pytest.raises(ValidationError) as err:
        ScreeningSettings.model_validate({key: False})
    assert err.value.errors()[0]["type"] == "extra_forbidden"


def test_the_clinic_settings_carry_the_same_rule() -> None:
    assert ClinicSettings().screening == ScreeningSettings()
    with pytest.raises(ValidationError) as err:
        ClinicSettings.model_validate({"screening": {"min_age_years": "14"}})
    assert describe_validation_error(err.value).startswith("screening.min_age_years:")


TIGHTER = st.builds(
    ScreeningSettings,
    min_age_years=st.integers(SEED_AGE, 30),
    max_bone_loss_percent=st.floats(1.0, SEED_LOSS),
    compression_fracture_days=st.integers(SEED_DAYS, 1095),
)


def _excluded(p: dict[str, Any], code: str, settings: ScreeningSettings) -> bool:
    r = screen(PatientFindings.model_validate(p), "lumbar", ON, settings)
    return code in {c.code for c in r.contraindications}


@given(TIGHTER)
def test_every_accepted_setting_still_excludes_whom_the_seed_excludes(
    s: ScreeningSettings,
) -> None:
    """A patient one day short of 15, with 46% bone loss, or a compression fracture 365 days
    ago is excluded under every setting the clinic may choose."""
    young = clean_patient()
    young["birth_date"] = (ON.replace(year=ON.year - SEED_AGE) + dt.timedelta(days=1)).isoformat()
    assert _excluded(young, "CI-03", s)

    porous = clean_patient()
    porous["birth_date"] = "1960-01-01"
    # Femoral neck reference 0.858 g/cm2 (NHANES III): 0.46 g/cm2 is 46.4% bone loss.
    porous["bmd"] = [{"site": "femoral_neck", "bmd_g_cm2": 0.46, "date": "2026-10-01"}]
    assert _excluded(porous, "CI-04", s)

    fractured = clean_patient()
    fractured["fractures"] = [
        {"level": "T12", "date": days_before(SEED_DAYS), "kind": "traumatic", "compression": True}
    ]
    assert _excluded(fractured, "CI-12", s)


def test_tightening_excludes_more() -> None:
    p = clean_patient()
    p["birth_date"] = (ON.replace(year=ON.year - 16)).isoformat()
    assert not _excluded(p, "CI-03", ScreeningSettings())
    assert _excluded(p, "CI-03", ScreeningSettings(min_age_years=18))
    p = clean_patient()
    p["fractures"] = [
        {"level": "T12", "date": days_before(500), "kind": "traumatic", "compression": True}
    ]
    assert not _excluded(p, "CI-12", ScreeningSettings())
    assert _excluded(p, "CI-12", ScreeningSettings(compression_fracture_days=730))


@pytest.mark.parametrize(
    "loosened",
    [
        {"min_age_years": 10},
        {"max_bone_loss_percent": 60.0},
        {"max_bone_loss_percent": math.nan},
        {"compression_fracture_days": 30},
    ],
)
@pytest.mark.parametrize("build", ["model_copy", "model_construct"])
def test_settings_built_past_the_validators_are_refused_where_they_decide(
    loosened: dict[str, Any], build: str
) -> None:
    """``model_copy(update=)`` and ``model_construct`` skip the validators: a loosened seed
    limit made that way is refused by the screening itself, naming the field, and no decision
    is made with it."""
    if build == "model_copy":
        s = ScreeningSettings().model_copy(update=loosened)
    else:
        s = ScreeningSettings.model_construct(**loosened)
    [name] = loosened
    with pytest.raises(InputError) as err:
        screen(PatientFindings.model_validate(clean_patient()), "lumbar", ON, s)
    assert err.value.field == "clinic.screening" and name in err.value.reason
