from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from spinecare.clinical.contraindications import (
    RULES,
    Decision,
    Scope,
    ScreeningSettings,
    screen,
)
from spinecare.clinical.findings import PatientFindings
from spinecare.errors import InputError
from tests.clinical.conftest import (
    ALL_CODES,
    ON,
    clean_patient,
    days_before,
    drop_finding,
    set_finding,
)


def run(p: dict[str, Any], region: str = "lumbar", on: dt.date = ON, **settings: Any) -> Any:
    return screen(PatientFindings.model_validate(p), region, on, ScreeningSettings(**settings))


def codes(result: Any) -> set[str]:
    return {c.code for c in result.contraindications}


def test_rules_table_covers_the_seed_list() -> None:
    assert [r.code for r in RULES] == ALL_CODES
    assert {r.code for r in RULES if r.scope is Scope.TREATMENT_SECTION} == {"CI-09", "CI-13"}
    assert all(r.wording and r.reads for r in RULES)


def test_all_findings_absent_is_eligible(patient: dict[str, Any]) -> None:
    r = run(patient)
    assert r.decision is Decision.ELIGIBLE
    assert r.contraindications == [] and r.missing == []


TRIGGERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "CI-01": lambda p: set_finding(p, "CI-01", present=True),
    "CI-02": lambda p: p.update(pregnant=True),
    "CI-03": lambda p: p.update(birth_date="2014-01-01"),
    "CI-04": lambda p: p.update(bmd=[{"site": "femoral_neck", "bmd_g_cm2": 0.45}]),
    "CI-05": lambda p: set_finding(p, "CI-05", present=False, canal_ap_diameter_mm=8),
    "CI-06": lambda p: set_finding(p, "CI-06", present=False, meyerding_grade=2),
    "CI-07": lambda p: set_finding(p, "CI-07", present=True),
    "CI-08": lambda p: set_finding(p, "CI-08", present=False, cobb_angle_deg=45),
    "CI-09": lambda p: set_finding(p, "CI-09", present=True, region="lumbar"),
    "CI-10": lambda p: set_finding(p, "CI-10", present=True, detail="scleroderma"),
    "CI-11": lambda p: set_finding(p, "CI-11", present=True, date=days_before(30)),
    "CI-12": lambda p: p.update(
        fractures=[
            {"level": "L2", "date": days_before(200), "kind": "traumatic", "compression": True}
        ]
    ),
    "CI-13": lambda p: set_finding(p, "CI-13", present=True, region="lumbar"),
}


@pytest.mark.parametrize("code", ALL_CODES)
def test_each_contraindication_alone_excludes(code: str) -> None:
    p = clean_patient()
    TRIGGERS[code](p)
    r = run(p)
    assert r.decision is Decision.NOT_ELIGIBLE
    assert codes(r) == {code}
    hit = r.contraindications[0]
    assert hit.finding and hit.wording == next(x.wording for x in RULES if x.code == code)


@pytest.mark.parametrize("code", ["CI-01", "CI-05", "CI-06", "CI-07", "CI-08", "CI-09",
                                  "CI-10", "CI-11", "CI-13"])  # fmt: skip
def test_unanswered_finding_is_incomplete(code: str) -> None:
    r = run(drop_finding(clean_patient(), code))
    assert r.decision is Decision.INCOMPLETE
    assert [m.code for m in r.missing] == [code]


def test_present_none_counts_as_missing() -> None:
    r = run(set_finding(clean_patient(), "CI-10", present=None))
    assert r.decision is Decision.INCOMPLETE and r.missing[0].code == "CI-10"


def test_missing_bone_data_is_incomplete() -> None:
    p = drop_finding(clean_patient(), "CI-04")
    p["bmd"] = None
    r = run(p)
    assert r.decision is Decision.INCOMPLETE
    assert ("CI-04", "bmd") in {(m.code, m.field) for m in r.missing}


def test_missing_fracture_history_is_incomplete() -> None:
    p = drop_finding(drop_finding(clean_patient(), "CI-12"), "CI-04")
    p["fractures"] = None
    r = run(p)
    assert {(m.code, m.field) for m in r.missing} == {
        ("CI-04", "fractures"),
        ("CI-12", "fractures"),
    }


def test_physician_answer_replaces_dxa() -> None:
    p = clean_patient()
    p["bmd"] = None
    assert run(p).decision is Decision.ELIGIBLE  # CI-04 answered absent by the physician


def test_not_eligible_wins_over_missing_and_lists_it() -> None:
    p = drop_finding(set_finding(clean_patient(), "CI-01", present=True), "CI-07")
    r = run(p)
    assert r.decision is Decision.NOT_ELIGIBLE
    assert codes(r) == {"CI-01"}
    assert [m.code for m in r.missing] == ["CI-07"]


def test_pregnancy_not_asked_of_men() -> None:
    p = drop_finding(clean_patient(), "CI-02")
    p.update(sex="M", pregnant=None)
    assert run(p).decision is Decision.ELIGIBLE


def test_pregnancy_asked_of_women_of_childbearing_age() -> None:
    p = drop_finding(clean_patient(), "CI-02")
    p["pregnant"] = None
    r = run(p)
    assert r.decision is Decision.INCOMPLETE and r.missing[0].field == "pregnant"
    p["birth_date"] = "1950-01-01"  # 76: no child-bearing potential by default
    p["bmd"] = None
    assert run(p).decision is Decision.ELIGIBLE


@pytest.mark.parametrize(("birth", "excluded"), [("2011-12-01", False), ("2011-12-02", True)])
def test_age_boundary_on_session_date(birth: str, excluded: bool) -> None:
    p = clean_patient()
    p["birth_date"] = birth  # 15 on 2026-12-01 / one day short of 15
    r = run(p)
    assert ("CI-03" in codes(r)) is excluded
    if excluded:
        assert r.contraindications[0].rescreen_on == dt.date(2026, 12, 2)


@pytest.mark.parametrize(("days", "excluded"), [(364, True), (365, True), (366, False)])
def test_compression_fracture_within_one_year(days: int, excluded: bool) -> None:
    p = clean_patient()
    p["fractures"] = [
        {"level": "T12", "date": days_before(days), "kind": "traumatic", "compression": True}
    ]
    r = run(p)
    assert ("CI-12" in codes(r)) is excluded
    assert r.decision is (Decision.NOT_ELIGIBLE if excluded else Decision.ELIGIBLE)


def test_fresh_vertebral_fracture_is_ci04() -> None:
    p = clean_patient()
    p["fractures"] = [{"level": "L1", "date": days_before(20), "kind": "osteoporotic"}]
    r = run(p)
    assert codes(r) == {"CI-04", "CI-12"}


def test_bone_exclusion_recommends_orthosis_and_workup() -> None:
    p = clean_patient()
    p["birth_date"] = "1950-01-01"
    p["fractures"] = [
        {"level": "L1", "date": days_before(120), "kind": "osteoporotic", "compression": True}
    ]
    r = run(p)
    assert codes(r) == {"CI-12"}
    assert r.orthosis is not None and r.orthosis.recommended
    text = " ".join(r.recommendations)
    assert "Spinomed" in text and "Osteoporosis work-up" in text
    assert r.earliest_rescreen == dt.date.fromisoformat(days_before(120)) + dt.timedelta(366)


def test_section_bound_rule_respects_region() -> None:
    p = set_finding(clean_patient(), "CI-13", present=True, region="cervical")
    assert run(p, "lumbar").decision is Decision.ELIGIBLE
    assert codes(run(p, "cervical")) == {"CI-13"}
    p = set_finding(clean_patient(), "CI-13", present=True)
    r = run(p)
    assert r.decision is Decision.INCOMPLETE and r.missing[0].field == "findings.CI-13.region"


def test_old_surgery_is_not_recent_and_settings_change_it() -> None:
    p = set_finding(clean_patient(), "CI-11", present=True, date=days_before(200))
    assert "CI-11" in codes(run(p))
    assert run(p, recent_surgery_days=180).decision is Decision.ELIGIBLE


def test_scoliosis_threshold_setting() -> None:
    p = set_finding(clean_patient(), "CI-08", present=False, cobb_angle_deg=35)
    assert run(p).decision is Decision.ELIGIBLE
    assert "CI-08" in codes(run(p, severe_scoliosis_cobb_deg=30))


def test_birth_date_after_session_date_is_refused() -> None:
    p = clean_patient()
    p["birth_date"] = "2027-01-01"
    with pytest.raises(InputError) as err:
        run(p)
    assert err.value.field == "birth_date"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sex": "X"}, "sex"),
        ({"weight_kg": 10}, "weight_kg"),
        ({"findings": [{"code": "CI-99", "present": True}]}, "findings"),
        ({"bmd": [{"site": "femoral_neck", "bmd_g_cm2": 0}]}, "bmd"),
        (
            {"fractures": [{"level": "L9", "date": "2026-01-01", "kind": "osteoporotic"}]},
            "fractures",
        ),
    ],
)
def test_bad_input_names_the_field(change: dict[str, Any], field: str) -> None:
    p = clean_patient()
    p.update(change)
    with pytest.raises(ValidationError) as err:
        PatientFindings.model_validate(p)
    assert err.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(
    ("fracture", "on", "excluded"),
    [
        ("2023-03-01", dt.date(2024, 3, 1), True),  # 366 days over 29 Feb: still one year
        ("2023-03-01", dt.date(2024, 3, 2), False),
        ("2024-02-29", dt.date(2025, 2, 28), True),  # a year from 29 Feb ends on 28 Feb
        ("2024-02-29", dt.date(2025, 3, 1), False),
    ],
)
def test_within_one_year_is_a_calendar_year(fracture: str, on: dt.date, excluded: bool) -> None:
    p = clean_patient()
    p["fractures"] = [{"level": "T12", "date": fracture, "kind": "traumatic", "compression": True}]
    for m in p.get("bmd") or ():
        m["date"] = (on - dt.timedelta(days=30)).isoformat()
    r = run(p, on=on)
    assert ("CI-12" in codes(r)) is excluded
    if excluded:
        assert r.contraindications[0].rescreen_on == on + dt.timedelta(days=1)
