"""The orthosis evidence chart: the patient's bar says which visit it comes from."""

from __future__ import annotations

from spinecare.clinical.orthosis import (
    EvidenceRow,
    FollowUpMeasures,
    evidence_comparison,
    outcome_changes,
)
from spinecare.reports.orthosis_report import evidence_figure


def _legend(fig: object) -> list[str]:
    return [t.get_text() for t in fig.legends[0].get_texts()]  # type: ignore[attr-defined]


def _rows() -> list[EvidenceRow]:
    changes = outcome_changes(FollowUpMeasures(pain=6.0), FollowUpMeasures(pain=3.0))
    return list(evidence_comparison(changes))


def test_patient_bar_names_its_visit_beside_six_month_trials() -> None:
    rows = _rows()
    assert "this patient (after 3 months)" in _legend(evidence_figure(rows, "en", 3))
    assert "Patient/in (nach 6 Monaten)" in _legend(evidence_figure(rows, "de", 6))


def test_patient_bar_without_a_visit_is_plain() -> None:
    rows = _rows()
    assert "this patient" in _legend(evidence_figure(rows, "en"))
