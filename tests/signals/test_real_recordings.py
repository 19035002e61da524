"""The guarding detector on the real recordings in tests/data, against their offline references.

``tests/data/emg-references.json`` keeps, per channel, the quiet stretch picked by eye and the
reference activations built from it (``signals.reference``; regenerate and draw them with
``python -m bench.b2_emg_real --write-references`` / ``--plot DIR``). The full figures, with
NeuroKit2 and the previous detector for comparison, are benchmark B2 (bench/b2_emg_real.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spinecare.signals.evaluate import RealScore, score_real
from spinecare.signals.reference import (
    ReferenceParams,
    reference_bursts,
    reference_envelope,
    tone_stretches,
)
from spinecare.signals.replay import replay
from spinecare.signals.textfile import column, parse_table

DATA = Path(__file__).resolve().parents[1] / "data"
REFS: list[dict[str, Any]] = json.loads((DATA / "emg-references.json").read_text())["recordings"]
NAMES = [r["name"] for r in REFS]


@cache
def _signal(file: str, col: int) -> np.ndarray:
    return column(parse_table((DATA / file).read_text(encoding="utf-8")), col)


def _activations(ref: dict[str, Any]) -> list[tuple[float, float, str]]:
    acts = [(b["onset_s"], b["offset_s"], b["grade"]) for b in ref["bursts"]]
    return acts + [(a, b, "tone") for a, b in ref["tone_s"]]


@cache
def _score(name: str) -> RealScore:
    ref = next(r for r in REFS if r["name"] == name)
    rp = replay(_signal(ref["file"], ref["column"]), ref["rate_hz"])
    dets = [(b.onset_s, b.reported_s, b.offset_s) for b in rp.bursts]
    return score_real(_activations(ref), dets, rp.duration_s)


@pytest.mark.parametrize("name", ["rest", "biceps", "uci-st", "pyomeca-biceps"])
def test_stored_reference_is_what_the_method_gives(name: str) -> None:
    ref = next(r for r in REFS if r["name"] == name)
    x = _signal(ref["file"], ref["column"])
    params = ReferenceParams(quiet_s=tuple(ref["quiet_s"]))  # type: ignore[arg-type]
    bursts, _ = reference_bursts(x, ref["rate_hz"], params)
    assert [b.as_dict() for b in bursts] == ref["bursts"]
    tone = tone_stretches(x, ref["rate_hz"], params, bursts)
    assert [[round(a, 3), round(b, 3)] for a, b in tone] == ref["tone_s"]


def test_the_references_hold_what_the_files_are_known_for() -> None:
    clear = {r["name"]: sum(b["grade"] == "clear" for b in r["bursts"]) for r in REFS}
    assert clear["rest"] == 0  # rest with low-level tone only
    assert clear["biceps"] == 9  # nine contractions [data-biosignalsnotebooks]
    assert clear["uci-st"] == 5  # five semitendinosus bursts [data-uci-lowerlimb]
    rest = next(r for r in REFS if r["name"] == "rest")
    assert sum(b - a for a, b in rest["tone_s"]) > 10.0  # tone near 36-41 s and 50-58 s


@pytest.mark.parametrize("name", NAMES)
def test_every_clear_burst_is_caught(name: str) -> None:
    sc = _score(name)
    assert sc.missed == 0, name


def test_rest_and_its_tone_raise_no_alarm() -> None:
    sc = _score("rest")
    assert sc.quiet_alarms == 0 and sc.tone_alarms == 0
    assert sc.quiet_min > 1.2 and sc.tone_min > 0.15


def test_onsets_agree_with_the_references() -> None:
    errors = np.concatenate([_score(n).errors_ms for n in NAMES])
    assert errors.size >= 40
    # the refined onset is the reference's own rule on the reference's own conditioning
    assert np.median(np.abs(errors)) <= 5.0
    # Slow rises that hover near the threshold are where threshold methods disagree most: there
    # the detector's quiet level (its first quiet stretch) and the one picked by eye give
    # onsets 50-240 ms apart (B2 lists them, with the reference's own spread).
    assert np.mean(np.abs(errors) <= 40.0) >= 0.85
    alarms = sum(_score(n).quiet_alarms for n in NAMES)
    assert alarms <= 1


def test_on_another_labs_recordings_every_onset_is_within_40_ms() -> None:
    # The 13 shoulder channels (2 kHz, [data-pyomeca]). Estimated at the confirmation only,
    # through the causal band-pass and a fixed group delay, the latissimus onset came 101 ms
    # early: its spectrum lies low, where the band-pass delays more than at the band's centre.
    shoulder = [n for n in NAMES if n.startswith("pyomeca-")]
    errors = np.concatenate([_score(n).errors_ms for n in shoulder])
    assert len(shoulder) == 13 and errors.size >= 20
    assert np.max(np.abs(errors)) <= 40.0
    assert np.median(np.abs(errors)) <= 5.0


@pytest.mark.parametrize("name", ["biceps", "uci-st", "uci-bf"])
def test_a_recording_that_begins_mid_contraction_is_not_ready_while_it_lasts(name: str) -> None:
    # Replayed from the middle of each clear burst: 0.2 s of a contraction under way look as
    # homogeneous as rest, so the first baseline may be the contraction. Ready on it would be a
    # detector deaf to the next burst while it says it watches; it says it is calibrating until
    # the contraction has ended and a lower baseline has been confirmed.
    ref = next(r for r in REFS if r["name"] == name)
    x, fs = _signal(ref["file"], ref["column"]), ref["rate_hz"]
    clear = [b for b in ref["bursts"] if b["grade"] == "clear"]
    for burst in clear[:-1]:
        start = 0.5 * (burst["onset_s"] + burst["offset_s"])
        rp = replay(x[round(start * fs) :], fs)
        assert rp.ready_s is None or rp.ready_s > burst["offset_s"] - start, (name, start)
        assert rp.calibrations[0].quiet_level > 2.0 * rp.calibrations[-1].quiet_level


def test_an_onset_where_tone_ends_and_a_burst_begins_belongs_to_the_burst() -> None:
    # tone (1 s RMS windows, edges blurred) ends at 1.57 s, the clear burst begins at 1.571 s
    acts = [(0.579, 1.57, "tone"), (1.571, 1.887, "clear")]
    on_time = score_real(acts, [(1.570, 1.74, 1.9)], 5.0)
    assert (on_time.detected, on_time.missed, on_time.tone_alarms) == (1, 0, 0)
    # back-dated 0.2 s into the tone: an onset error of -200 ms, not a miss and a tone alarm
    early = score_real(acts, [(1.371, 1.74, 1.9)], 5.0)
    assert early.detected == 1 and early.tone_alarms == 0
    assert early.errors_ms[0] == pytest.approx(-200.0)
    # an onset in tone far from any burst is still a tone alarm
    assert score_real(acts, [(0.9, 1.0, 1.1)], 5.0).tone_alarms == 1


def test_an_onset_dated_far_ahead_of_a_burst_it_stopped_in_is_an_onset_error() -> None:
    acts = [(2.0, 3.0, "clear")]
    # back-dated 0.4 s, beyond the 0.3 s window, reported (the table stopped) inside the burst
    far = score_real(acts, [(1.6, 2.08, 2.9)], 5.0)
    assert (far.detected, far.missed, far.quiet_alarms) == (1, 0, 0)
    assert far.errors_ms[0] == pytest.approx(-400.0)
    # reported before the burst began: the table stopped in quiet
    quiet = score_real(acts, [(1.5, 1.62, 1.8)], 5.0)
    assert (quiet.detected, quiet.missed, quiet.quiet_alarms) == (0, 1, 1)


def _hum(x: np.ndarray, fs: float, times_quiet_rms: float, hz: float, start_s: float = 0.0) -> Any:
    """``x`` with a mains line of the given RMS (a multiple of the quiet lead-in's) added."""
    y, _ = reference_envelope(x, fs, ReferenceParams(quiet_s=(0.05, 0.25)))
    rms = float(np.sqrt(np.mean(y[round(0.05 * fs) : round(0.25 * fs)] ** 2)))
    t = np.arange(x.size) / fs
    line = times_quiet_rms * rms * np.sqrt(2.0) * np.sin(2.0 * np.pi * hz * t + 0.4)
    line[t < start_s] = 0.0
    return x + line


@pytest.mark.parametrize("times", [1.0, 3.0, 10.0])
def test_a_60_hz_grid_gets_its_notch_and_the_detector_stays_sensitive(times: float) -> None:
    # A recording from a 60 Hz grid (or a loose ground): before, the hum raised the quiet level
    # several-fold and bursts went unseen while the detector said it was ready.
    for name in ("biceps", "uci-st"):
        ref = next(r for r in REFS if r["name"] == name)
        rp = replay(_hum(_signal(ref["file"], ref["column"]), ref["rate_hz"], times, 60.0),
                    ref["rate_hz"])  # fmt: skip
        assert [f for f, _ in rp.mains_notches] == [60.0]
        assert rp.mains_notches[0][1] < 0.5  # found in the first quiet stretch
        sc = score_real(_activations(ref), [(b.onset_s, b.reported_s, b.offset_s)
                                             for b in rp.bursts], rp.duration_s)  # fmt: skip
        assert sc.missed == 0 and sc.quiet_alarms == 0, name
        # the wide new notch and the hum's residual cost onset accuracy (clean: 5 ms median)
        assert float(np.median(np.abs(sc.errors_ms))) <= 100.0, name


def test_no_notch_is_added_to_a_clean_recording_or_for_rest_tone() -> None:
    for name in ("rest", "biceps", "uci-st"):
        ref = next(r for r in REFS if r["name"] == name)
        assert replay(_signal(ref["file"], ref["column"]), ref["rate_hz"]).mains_notches == []


def test_hum_that_starts_during_rest_is_notched_without_an_alarm() -> None:
    ref = next(r for r in REFS if r["name"] == "rest")
    x = _signal(ref["file"], ref["column"])
    rp = replay(_hum(x, ref["rate_hz"], 3.0, 60.0, start_s=10.0), ref["rate_hz"])
    assert [f for f, _ in rp.mains_notches] == [60.0]
    assert 10.0 < rp.mains_notches[0][1] < 11.0
    assert rp.bursts == []


def _against_reference(x: np.ndarray, quiet_s: tuple[float, float]) -> RealScore:
    """A recording the stored references do not hold: its reference built here, from the
    quiet stretch given, and the replay scored against it from the first sample."""
    refs, _ = reference_bursts(x, 1000.0, ReferenceParams(quiet_s=quiet_s))
    rp = replay(x, 1000.0)
    return score_real(
        [(r.onset_s, r.offset_s, r.grade) for r in refs],
        [(b.onset_s, b.reported_s, b.offset_s) for b in rp.bursts],
        rp.duration_s,
        skip_s=0.0,
    )


def test_cyclic_contractions_until_fatigue_each_get_their_own_onset() -> None:
    # [data-biosignalsnotebooks]: biceps flexion-extension until fatigue, 32 contractions whose
    # pauses stay at 3-8x rest. Before the release relative to the contraction's peak, one
    # detection held across most pauses and 17 contractions had no onset of their own.
    sc = _against_reference(_signal("emg-biceps-fatigue-bsnb-1khz.txt", 0), (121.5, 126.5))
    assert sc.clear == 32 and sc.missed == 0
    assert sc.detected >= 27 and sc.covered <= 4  # 15 and 17 before
    assert sc.quiet_alarms == 0 and sc.retriggers == 0
    assert float(np.median(np.abs(sc.errors_ms))) <= 20.0


def test_gesture_trials_with_heavy_hum_every_burst_caught_and_rest_stays_quiet() -> None:
    # [data-biosignalsnotebooks] gesture trials: rest is 70-98 % a 50 Hz line. Five trials at
    # rest (10 channels) raise no alarm; every clear burst of the 15 gesture trials is caught.
    clear = missed = quiet = 0
    for path in sorted((DATA / "emg-gestures-bsnb").glob("*.txt")):
        table = parse_table(path.read_text(encoding="utf-8"))
        for col in (0, 1):
            sc = _against_reference(column(table, col), (0.1, 0.5))
            clear, missed, quiet = clear + sc.clear, missed + sc.missed, quiet + sc.quiet_alarms
            if path.name.startswith("rest-"):
                assert sc.clear == 0 and sc.quiet_alarms == 0, (path.name, col)
    # 35 clear with the line notched out of the reference's rest (28 while it counted the hum)
    assert clear == 35 and missed == 0 and quiet == 0
