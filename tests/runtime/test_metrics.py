"""Scoring a simulated session against its truth: what counts as a miss and a false stop."""

from __future__ import annotations

from dataclasses import dataclass, field

from spinecare.runtime.metrics import score_against_truth
from spinecare.therapy.controller import GuardingEvent


@dataclass
class _Event:
    onset_s: float
    measurable_s: float | None
    end_s: float | None


@dataclass
class _Truth:
    events: list[_Event]
    t_s: list[float] = field(default_factory=list)
    muscle_contribution_n: list[float] = field(default_factory=list)


def _det(t: float) -> GuardingEvent:
    return GuardingEvent(t, "hold", "force", 300.0, 300.0, 320.0)


def test_a_detection_matches_its_contraction_and_an_unmatched_one_is_a_false_stop() -> None:
    truth = _Truth([_Event(10.0, 10.05, 11.0)])
    s = score_against_truth([_det(10.08), _det(40.0)], truth)
    assert (s["guarding_true"], s["guarding_true_detected"], s["false_stops"]) == (1, 1, 1)


def test_nothing_from_the_end_of_the_pull_on_is_scored() -> None:
    """After a stop or a fault the table releases: a contraction then cannot be missed, and a
    detection then (a sensor fault's spike read as force) is not a false stop."""
    truth = _Truth([_Event(10.0, 10.05, 11.0), _Event(50.5, 50.55, 51.0)])
    s = score_against_truth([_det(10.08), _det(50.0)], truth, session_end_s=50.0)
    assert (s["guarding_true"], s["guarding_true_detected"], s["false_stops"]) == (1, 1, 0)
    s = score_against_truth([_det(10.08), _det(49.98)], truth, session_end_s=50.0)
    assert s["false_stops"] == 1  # one tick before the end still counts
