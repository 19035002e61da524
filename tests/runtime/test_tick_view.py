"""What the live monitor is told each tick besides the forces: the patient's hand switch as the
table reports it, the latched faults in order, the EMG channel's state."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.test_session_faults import FAULT_AT_S, session

from spinecare.runtime.session import TickView
from spinecare.sim.faults import Fault, InjectedFault
from spinecare.therapy.controller import EMG_NONE


def test_the_view_shows_the_hand_switch_from_the_table_and_no_fault(tmp_path: Path) -> None:
    views: list[TickView] = []
    runner, _, _ = session(tmp_path, stop_at=30.0, subscribers=(views.append,))
    before = [v for v in views if v.t_s < 30.0 - 0.05]
    after = [v for v in views if v.t_s >= 30.0 + 0.05 and not v.ended]
    assert before and after
    assert not any(v.stop_pressed for v in before)
    assert all(v.stop_pressed for v in after)  # held down: the table reports it every tick
    assert {v.phase for v in after} == {"stopped"}
    assert all(v.faults == () for v in views)  # a stop is no fault
    assert views[-1].ended and views[-1].stop_pressed
    assert {v.emg_status for v in views} == {EMG_NONE}
    assert runner.policy.stopped


def test_the_view_lists_latched_faults_in_order_from_the_tick_they_latch(tmp_path: Path) -> None:
    views: list[TickView] = []
    fault = Fault(InjectedFault.STUCK_LOAD_CELL, FAULT_AT_S, 1.0, None)
    runner, _, _ = session(tmp_path, (fault,), subscribers=(views.append,))
    latched = runner.policy.faults
    assert latched
    kinds = tuple(f.kind.value for f in latched)
    first_t = latched[0].t_s
    assert all(v.faults == () for v in views if v.t_s < first_t - 1e-9)
    shown = [v for v in views if v.t_s >= first_t - 1e-9]
    assert shown[0].faults == kinds[:1]
    assert views[-1].faults == kinds and views[-1].ended
    assert not any(v.stop_pressed for v in views)
    # The tuple is built once per change, not every tick.
    assert len({id(v.faults) for v in shown}) <= len(kinds)
