"""Scoring a simulated session against the virtual patient's ground truth.

Only tests, benchmarks and the simulated CLI use this: the controller never sees the truth.
A detection counts for a true guarding event when it falls between the event's onset (minus one
tick) and its end (plus the muscles' relaxation, 1 s); any other detection is a false stop.
A true event that begins while an earlier detection still holds the patient at base (between
its onset and the relaxation) counts as covered: the distraction is already stopped.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from spinecare.therapy.controller import GuardingEvent
from spinecare.vocab import TICK_S

# After a contraction ends, the muscles need up to ~1 s to relax (relax tau 150-400 ms,
# sim/patient_model.py): a detection in that tail still belongs to the event.
MATCH_TAIL_S = 1.0


class TrueEvent(Protocol):
    @property
    def onset_s(self) -> float: ...

    @property
    def measurable_s(self) -> float | None: ...

    @property
    def end_s(self) -> float | None: ...


class Truth(Protocol):
    @property
    def events(self) -> Sequence[TrueEvent]: ...

    # Per tick: lists (the simulated table), or arrays (the cohort's batch mode).
    @property
    def t_s(self) -> Sequence[float] | npt.NDArray[np.float64]: ...

    @property
    def muscle_contribution_n(self) -> Sequence[float] | npt.NDArray[np.float64]: ...


# Counter-tension the force path must catch: the muscles' share of the cable force peaks at 5 or
# more load-cell SDs. Smaller events (3-5 SD: "measurable" but within the noise band a detector
# can separate without false stops) are scored separately as marginal. Engineering definition,
# docs/controller.md.
SIGNIFICANT_SD = 5.0


def peak_contribution_n(truth: Truth, onset_s: float, end_s: float | None) -> float:
    """The largest muscle share of the cable force between an event's onset and end."""
    t = truth.t_s
    c = truth.muscle_contribution_n
    if len(t) == 0 or len(c) != len(t):
        return float("inf")  # no per-tick truth recorded: treat every event as significant
    i = bisect.bisect_left(t, onset_s)
    j = bisect.bisect_right(t, end_s if end_s is not None else t[-1])
    return max(c[i : j + 1], default=0.0)


def _quantile(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def score_against_truth(
    detections: Sequence[GuardingEvent],
    truth: Truth,
    *,
    session_end_s: float | None = None,
    noise_sd_n: float | None = None,
) -> dict[str, Any]:
    """Detection rate, false stops and response latency of one session.

    With ``noise_sd_n`` (the load cell's SD), events are split into significant ones (counted in
    ``guarding_true``) and marginal ones (``guarding_marginal``); detections of either are not
    false stops.

    ``session_end_s`` is when the pull began to end: the planned end, a stop or a fault. From
    then on the table is releasing, so neither a contraction nor a detection is scored: a
    force spike that a sensor fault puts into the reading is the fault's (the policy ends the
    session on it), not a false stop, and a contraction during the release cannot be missed.
    """
    if session_end_s is not None:
        detections = [d for d in detections if d.onset_s < session_end_s]
    measurable = [
        e
        for e in truth.events
        if e.measurable_s is not None and (session_end_s is None or e.onset_s < session_end_s)
    ]
    true_events: list[TrueEvent] = []
    marginal: list[TrueEvent] = []
    for e in measurable:
        big = (
            noise_sd_n is None
            or peak_contribution_n(truth, e.onset_s, e.end_s) >= SIGNIFICANT_SD * noise_sd_n
        )
        (true_events if big else marginal).append(e)
    matched_true: set[int] = set()
    covered_true: set[int] = set()
    false_stops = 0
    latencies_from_onset: list[float] = []
    latencies_from_measurable: list[float] = []
    for d in detections:
        hit = None
        for i, e in enumerate(true_events):
            end = (e.end_s if e.end_s is not None else float("inf")) + MATCH_TAIL_S
            if e.onset_s - TICK_S <= d.onset_s <= end:
                hit = i
                break
        if hit is None:
            if not any(
                e.onset_s - TICK_S <= d.onset_s <= (e.end_s or float("inf")) + MATCH_TAIL_S
                for e in marginal
            ):
                false_stops += 1
            continue
        if hit not in matched_true:
            matched_true.add(hit)
            e = true_events[hit]
            latencies_from_onset.append(d.onset_s - e.onset_s)
            if e.measurable_s is not None:
                latencies_from_measurable.append(d.onset_s - e.measurable_s)
    # A true event that begins while the controller is already back at base waiting for the
    # muscles to relax (after an earlier detection) finds the distraction stopped: covered.
    for i, e in enumerate(true_events):
        if i in matched_true:
            continue
        for d in detections:
            relaxed = d.relaxed_s if d.relaxed_s is not None else float("inf")
            if d.onset_s <= e.onset_s <= relaxed:
                covered_true.add(i)
                break
    n_true = len(true_events)
    marginal_hit = sum(
        1
        for e in marginal
        if any(
            e.onset_s - TICK_S <= d.onset_s <= (e.end_s or float("inf")) + MATCH_TAIL_S
            for d in detections
        )
    )
    ms = 1000.0
    return {
        "guarding_marginal": len(marginal),
        "guarding_marginal_detected": marginal_hit,
        "guarding_true": n_true,
        "guarding_true_detected": len(matched_true) + len(covered_true),
        "guarding_true_covered": len(covered_true),
        "guarding_detection_rate": (
            (len(matched_true) + len(covered_true)) / n_true if n_true else None
        ),
        "false_stops": false_stops,
        "response_ms_from_onset_median": _scaled(_quantile(latencies_from_onset, 0.5), ms),
        "response_ms_from_measurable_median": _scaled(
            _quantile(latencies_from_measurable, 0.5), ms
        ),
        "response_ms_from_measurable_p95": _scaled(_quantile(latencies_from_measurable, 0.95), ms),
        "response_from_onset_s": [round(x, 4) for x in latencies_from_onset],
        "response_from_measurable_s": [round(x, 4) for x in latencies_from_measurable],
    }


def _scaled(x: float | None, k: float) -> float | None:
    return None if x is None else round(x * k, 2)
