"""Virtual patients: reproducible, within the published/brief ranges, stable across sessions."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.sim import virtual_patient, virtual_population
from spinecare.sim.patient_model import G
from spinecare.vocab import Region


@given(st.integers(min_value=0, max_value=2**63 - 1))
@settings(max_examples=60, deadline=None)
def test_patients_are_reproducible_and_in_range(seed: int) -> None:
    p = virtual_patient(seed)
    assert p == virtual_patient(seed)
    bw = p.weight_kg * G
    assert 45.0 <= p.weight_kg <= 140.0
    assert 0.020 <= p.muscle_rise_tau_s <= 0.040
    assert 0.150 <= p.muscle_relax_tau_s <= 0.400
    if p.region is Region.LUMBAR:
        assert p.segment_mass_kg == pytest.approx(0.5 * p.weight_kg)
        assert 15.0 <= p.harness_k_n_mm <= 40.0
        assert 0.25 * bw <= p.muscle_max_n <= 0.40 * bw
        assert 40.0 <= p.reflex_rate_threshold_n_s <= 90.0
        assert 0.30 * bw <= p.pain_tolerance_n <= 0.60 * bw
        assert 0.5 <= p.load_cell_sigma_n <= 2.0
    else:
        assert p.segment_mass_kg == pytest.approx(0.081 * p.weight_kg)
        assert p.harness_k_n_mm < 15.0 + 1e-9
        assert 0.08 * bw <= p.muscle_max_n <= 0.12 * bw
        assert 12.0 <= p.reflex_rate_threshold_n_s <= 25.0
        assert 0.08 * bw <= p.pain_tolerance_n <= 0.16 * bw
        assert 0.3 <= p.load_cell_sigma_n <= 1.0
    assert 180.0 <= p.spine_creep_tau_s <= 480.0
    assert 0.1 <= p.spontaneous_per_min <= 0.4


def test_same_person_across_sessions_and_overrides() -> None:
    base = virtual_patient(42, region="lumbar", weight_kg=80.0)
    later = virtual_patient(42, region="lumbar", weight_kg=80.0, session_number=8)
    assert later.pain_tolerance_n > base.pain_tolerance_n
    rise_bw = (later.pain_tolerance_n - base.pain_tolerance_n) / (80.0 * G) / 7
    assert 0.015 <= rise_bw <= 0.03  # a few % BW per session
    same = {f.name for f in dataclasses.fields(base)} - {
        "session_number",
        "pain_tolerance_n",
        "pain_hysteresis_n",
    }
    assert all(getattr(base, n) == getattr(later, n) for n in same)
    # Overriding the weight changes weight-scaled values only, not the drawn shape parameters.
    heavier = virtual_patient(42, region="lumbar", weight_kg=100.0)
    assert heavier.muscle_relax_tau_s == base.muscle_relax_tau_s
    assert heavier.spine_creep_tau_s == base.spine_creep_tau_s


def test_population_is_distinct_and_reproducible() -> None:
    pop = virtual_population(20, seed=7)
    assert pop == virtual_population(20, seed=7)
    assert len({p.seed for p in pop}) == 20
    assert {p.region for p in pop} == {Region.LUMBAR, Region.CERVICAL}
    assert all(virtual_patient(p.seed) == p for p in pop)
    assert all(p.region is Region.CERVICAL for p in virtual_population(5, 1, region="cervical"))
