"""What a finished session leaves on record: complete guarding episodes in events.jsonl, the
typed summary, and no cycle that the end of the traction time would cut short."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spinecare.cohort.run import VirtualSession, run_virtual_session
from spinecare.runtime.recorder import load_events, load_telemetry
from spinecare.runtime.summary import summary_read
from spinecare.vocab import TICK_S, Region


def test_events_hold_each_guarding_episode_complete(tmp_path: Path) -> None:
    out = tmp_path / "s"
    vs = VirtualSession(seed=3, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=4)
    run_virtual_session(vs, out_dir=out)
    events = load_events(out)
    onsets = [e for e in events if e["kind"] == "guarding_onset"]
    episodes = [e for e in events if e["kind"] == "guarding"]
    assert len(onsets) == len(episodes) >= 1
    for ep in episodes:
        assert ep["relaxed_s"] is not None and ep["time_to_relax_s"] > 0
        assert ep["ramp_after_n_s"] is not None and ep["peak_after_n"] is not None
        assert (
            ep["relaxed_s"] - ep["t_s"] == ep["time_to_relax_s"]
            or abs(ep["relaxed_s"] - ep["t_s"] - ep["time_to_relax_s"]) < 2e-3
        )
    summary = summary_read(out)
    assert [g.onset_s for g in summary.guarding_events] == [e["t_s"] for e in episodes]


def test_no_cycle_starts_that_the_end_of_traction_would_cut_short(tmp_path: Path) -> None:
    out = tmp_path / "s"
    # 4 min: after the cycles that fit, the time left is too short for ramp + 60 s hold.
    vs = VirtualSession(seed=7, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=4)
    summary = run_virtual_session(vs, out_dir=out)
    assert summary["completed"] and summary["guarding_detected"] == 0
    tel = load_telemetry(out)
    phase = tel["phase"]
    traction_end = vs.minutes * 60.0
    hold = phase == "hold"
    # Each hold runs its full length (no guarding in this session), and the last one ends
    # before the final release begins.
    starts = np.flatnonzero(hold[1:] & ~hold[:-1]) + 1
    ends = np.flatnonzero(hold[:-1] & ~hold[1:])
    assert len(starts) == len(ends) >= 1
    for a, b in zip(starts, ends, strict=True):
        assert (b - a + 1) * TICK_S >= 60.0 - 2 * TICK_S
    assert tel["t_s"][ends[-1]] <= traction_end
    # No ramp above base tension after the last hold: the rest stays at base until the end.
    last_ramp = np.flatnonzero(phase == "ramp_up")
    assert tel["t_s"][last_ramp[-1]] < tel["t_s"][starts[-1]]


def test_pause_holds_the_force_and_stops_the_clock(tmp_path: Path) -> None:
    from spinecare.cohort.run import make_table
    from spinecare.runtime.clock import SessionClock, SimulatedClock
    from spinecare.runtime.recorder import Recorder
    from spinecare.runtime.session import TELEMETRY_COLUMNS, SessionRunner, TickView

    vs = VirtualSession(seed=7, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=2)
    clock = SessionClock(SimulatedClock())
    out = tmp_path / "p"
    runner: SessionRunner

    def press(view: TickView) -> None:  # the monitor's PAUSE during the hold, released 10 s later
        if 30.0 <= view.t_s < 40.0:
            runner.request_pause(True)
        elif view.t_s >= 40.0:
            runner.request_pause(False)

    runner = SessionRunner(
        vs.protocol(),
        make_table(vs, clock.now),
        clock=clock,
        recorder=Recorder(out, TELEMETRY_COLUMNS, fsync=False),
        subscribers=(press,),
    )
    result = runner.run()
    assert result.summary.completed
    tel = load_telemetry(out)
    paused = tel["phase"] == "paused"
    assert 9.5 <= paused.sum() * TICK_S <= 10.5
    held = tel["commanded_n"][paused]
    assert held.max() - held.min() < 1e-6  # the force is held, not ramped
    # The traction clock stood still: the session ends about 10 s later than without a pause.
    plain = run_virtual_session(vs)
    assert abs(result.summary.duration_s - plain["duration_s"] - 10.0) < 0.5


def test_the_record_says_when_the_table_ran_on_the_force_path_alone(tmp_path: Path) -> None:
    out = tmp_path / "e"
    vs = VirtualSession(
        seed=3, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=0.5, emg=True
    )
    summary = run_virtual_session(vs, out_dir=out)
    status = [e for e in load_events(out) if e["kind"] == "emg_status"]
    # Not ready first, with a reason in words; then live, and the summary ends on it.
    assert status[0]["status"] != "active" and status[0]["reason"]
    assert status[-1]["status"] == "active" and summary["emg_status"] == "active"


def test_a_session_whose_table_refuses_leaves_its_directory_unused(tmp_path: Path) -> None:
    """A table that refuses at configure (still loaded, SAF-18; wrong limits) used to leave a
    header-only telemetry.csv and an empty events.jsonl: the directory then counted as used."""
    import pytest

    from spinecare.cohort.run import make_table
    from spinecare.runtime.clock import SessionClock, SimulatedClock
    from spinecare.runtime.recorder import Recorder
    from spinecare.runtime.session import TELEMETRY_COLUMNS, SessionRunner

    class Refusing:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def configure(self) -> None:
            raise ConnectionError("the table still holds 131 N")

    vs = VirtualSession(seed=1, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=1)
    clock = SessionClock(SimulatedClock())
    out = tmp_path / "s"
    runner = SessionRunner(
        vs.protocol(),
        Refusing(make_table(vs, clock.now)),  # type: ignore[arg-type]
        clock=clock,
        recorder=Recorder(out, TELEMETRY_COLUMNS, fsync=False),
    )
    with pytest.raises(ConnectionError):
        runner.run()
    assert list(out.iterdir()) == []
