"""Weight-adapted dosing and progression as pure rules (clinical/dosing.py)."""

from __future__ import annotations

import ast
import datetime as dt
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import spinecare.clinical
from spinecare.clinical.course import plan_course
from spinecare.clinical.dosing import (
    LBF_N,
    course_force_plan,
    next_peak_force_n,
    progressed_force_n,
    protocol_max_fraction,
    start_force_n,
)
from spinecare.errors import InputError
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.therapy.protocol import default_protocol, next_session_protocol
from spinecare.vocab import G, Region

REGIONS = st.sampled_from(list(Region))
WEIGHTS = st.floats(40, 200)

# Layers the clinical rules must never reach (DESIGN.md section 2: the pure core imports only the
# vocabulary and the quantities).
FORBIDDEN = ("therapy", "devices", "runtime", "sim", "store", "services", "cli", "web", "cohort")


def test_clinical_imports_no_layer_above_it() -> None:
    root = Path(next(iter(spinecare.clinical.__path__)))
    offenders: list[str] = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.split(".")[:2] in (["spinecare", layer] for layer in FORBIDDEN)
            ]
    assert offenders == []


def test_start_doses() -> None:
    assert start_force_n(Region.LUMBAR, 90) == pytest.approx(90 * G / 3)
    assert start_force_n(Region.CERVICAL, 70) == pytest.approx(0.07 * 70 * G)


def test_lumbar_step_is_five_pounds_and_stops_at_half_body_weight() -> None:
    plan = course_force_plan(Region.LUMBAR, 80, [True] * 19)
    assert plan[1] - plan[0] == pytest.approx(5 * LBF_N, abs=0.11)
    assert max(plan) == pytest.approx(0.5 * 80 * G, abs=0.1)


def test_untolerated_session_holds_the_force() -> None:
    plan = course_force_plan(Region.LUMBAR, 80, [True, False, False, True])
    assert plan[1] == plan[2] == plan[3] < plan[4]


@given(weight=WEIGHTS, region=REGIONS, tolerated=st.lists(st.booleans(), max_size=25))
def test_plan_never_falls_and_never_passes_the_caps(
    weight: float, region: Region, tolerated: list[bool]
) -> None:
    plan = course_force_plan(region, weight, tolerated)
    assert len(plan) == len(tolerated) + 1
    assert all(b >= a for a, b in itertools.pairwise(plan))
    cap = min(weight * G * protocol_max_fraction(region), DEVICE_MAX_FORCE_N)
    assert max(plan) <= cap + 1e-9
    assert max(plan) <= progressed_force_n(region, weight, sum(tolerated)) + 1e-9


@given(weight=WEIGHTS, region=REGIONS, tolerated=st.lists(st.booleans(), max_size=20))
def test_protocols_follow_the_same_progression(
    weight: float, region: Region, tolerated: list[bool]
) -> None:
    """The session protocols the table runs and the course plan agree to the 0.1 N."""
    seg = "L4/5" if region is Region.LUMBAR else "C5/6"
    proto = default_protocol(region, weight, seg)
    peaks = [proto.peak_force_n]
    for ok in tolerated:
        proto = next_session_protocol(proto, ok)
        peaks.append(proto.peak_force_n)
    assert peaks == course_force_plan(region, weight, tolerated)


def test_a_clinician_peak_above_the_ceiling_is_kept_not_raised() -> None:
    high = 0.12 * 70 * G  # above the 10% cervical progression ceiling
    assert next_peak_force_n(Region.CERVICAL, 70, high, tolerated=True) == pytest.approx(
        high, abs=0.1
    )


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"body_weight_kg": 30.0}, "body_weight_kg"), ({"body_weight_kg": float("nan")},
     "body_weight_kg"), ({"segment": "C5/6"}, "segment")],
)  # fmt: skip
def test_course_refuses_what_no_protocol_allows(kw: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"region": "lumbar", "body_weight_kg": 80.0, "segment": "L4/5", **kw}
    with pytest.raises(InputError) as err:
        plan_course(dt.date(2027, 2, 1), **args)  # type: ignore[arg-type]
    assert err.value.field == field
