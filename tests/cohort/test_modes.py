"""Every treatment mode in closed loop against the simulated table (docs/modes.md).

The same seeded virtual patients (45-140 kg, lumbar and cervical, with the surface-EMG channel
and the force path together, as the acceptance cohort of tests/cohort/test_closed_loop.py) run
10-minute fast sessions in each mode. Every mode must keep the limits (no violation, no clamp by
the policy), keep base tension, and detect counter-tension as well as the intermittent profile
does on the same patients, with as few false stops. (The force path alone misses more in cyclic
mode, which spends a third of its time releasing, where that path is less sensitive by design:
docs/modes.md.)
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from spinecare.cohort.run import VirtualSession, cohort_report, cohort_sessions, run_virtual_session
from spinecare.therapy.profile import oscillation_room_n
from spinecare.therapy.protocol import Protocol
from spinecare.therapy.safety import MAX_RISE_N_S

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cohort")]

PATIENTS = 8
MINUTES = 10.0
EMG = True
OSCILLATION = "largest"  # the largest amplitude the protocol accepts (90% of it)
MODES: dict[str, dict[str, Any]] = {
    "intermittent": {},
    "static": {"mode": "static"},
    "cyclic": {"mode": "cyclic"},
    "steps": {"progressive_steps": 2, "regressive_steps": 2},
    "logarithmic": {"ramp_shape": "logarithmic"},
    "oscillation": {"oscillation_amplitude_n": OSCILLATION},
    "combined": {
        "mode": "static",
        "progressive_steps": 1,
        "regressive_steps": 1,
        "ramp_shape": "logarithmic",
        "oscillation_amplitude_n": OSCILLATION,
    },
}


def mode_protocol(vs: VirtualSession, name: str) -> Protocol:
    p = vs.protocol()
    changes = dict(MODES[name])
    if changes.get("oscillation_amplitude_n") == OSCILLATION:
        top = min(
            oscillation_room_n(p.peak_force_n, p.base_force_n),
            MAX_RISE_N_S[p.region] / (2 * math.pi * p.oscillation_hz),
        )
        changes["oscillation_amplitude_n"] = math.floor(9 * top) / 10
    return Protocol.model_validate({**p.model_dump(), **changes})


def _run(item: tuple[str, VirtualSession]) -> dict[str, Any]:
    name, vs = item
    result = run_virtual_session(vs, protocol=mode_protocol(vs, name))
    result["mode_name"] = name
    return result


@pytest.fixture(scope="module")
def by_mode() -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    sessions = cohort_sessions(PATIENTS, seed=15, minutes=MINUTES, emg=EMG)
    items = [(name, vs) for name in MODES for vs in sessions]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run, items))
    out = {}
    for name in MODES:
        rs = [r for r in results if r["mode_name"] == name]
        out[name] = (rs, cohort_report(rs))
    return out


@pytest.mark.parametrize("name", list(MODES))
def test_each_mode_ran_its_programme_and_kept_the_limits(
    by_mode: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]], name: str
) -> None:
    results, report = by_mode[name]
    assert all(r["completed"] for r in results)
    mode = MODES[name].get("mode", "intermittent")
    assert all(r["protocol"]["mode"] == mode for r in results)
    assert report["limit_violations"] == 0
    assert all(r["clamps"] == {} for r in results)  # the policy never had to cut a mode's curve
    assert all(r["peak_force_n"] <= r["hard_limit_n"] + 5.0 for r in results)


@pytest.mark.parametrize("name", list(MODES))
def test_each_mode_keeps_base_tension(
    by_mode: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]], name: str
) -> None:
    results, _ = by_mode[name]
    # SAF-13, with the closed-loop cohort's tolerance (tests/cohort/test_closed_loop.py).
    assert all(r["base_tension_lost_s"] <= 5.0 for r in results)


@pytest.mark.parametrize("name", [n for n in MODES if n != "intermittent"])
def test_each_mode_detects_counter_tension_as_well_as_intermittent(
    by_mode: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]], name: str
) -> None:
    _, ref = by_mode["intermittent"]
    _, report = by_mode[name]
    assert report["guarding_true"] >= 10  # the mode really exercised the detector
    # At most one more miss than the intermittent profile (measured: none or one per mode).
    missed = report["guarding_true"] - report["guarding_detected_true"]
    ref_missed = ref["guarding_true"] - ref["guarding_detected_true"]
    assert missed <= ref_missed + 1
    assert report["detection_rate"] >= 0.9
    # Few false stops, as in the closed-loop cohort (<= 1 per session).
    assert report["false_stops_per_session"] <= 1.0


@pytest.mark.parametrize("name", [n for n in MODES if n != "cyclic"])
def test_the_force_tracks_the_target_in_every_hold(
    by_mode: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]], name: str
) -> None:
    _, report = by_mode[name]
    assert report["hold_within_10pct_min"] >= 0.95
