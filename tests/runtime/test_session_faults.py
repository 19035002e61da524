"""Faults on the simulated table: each reaches its safe state in its stated time, and the
telemetry up to it is kept (docs/safety.md, SAF-1, 6, 7, 8, 9, 11, 12, 14)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spinecare.cohort.run import VirtualSession, make_table
from spinecare.runtime.clock import SessionClock, SimulatedClock
from spinecare.runtime.recorder import Recorder, load_events, load_summary, load_telemetry
from spinecare.runtime.session import TELEMETRY_COLUMNS, SessionRunner
from spinecare.sim.faults import Fault, InjectedFault
from spinecare.therapy.controller import DecompressionController
from spinecare.therapy.safety import Decision, SafetyPolicy
from spinecare.therapy.safety import FaultKind as SafetyFault
from spinecare.vocab import TICK_S, Command, Reading, Region

# Lumbar, 80 kg: pretension ends near 12 s, the first hold runs from about 21 s to 81 s.
FAULT_AT_S = 40.0
RELEASE_LIMIT_S = 2.0  # SAF-6: controlled release to zero within 2 s
RELEASED_N = 5.0


def session(
    tmp_path: Path,
    faults: tuple[Fault, ...] = (),
    *,
    controller: DecompressionController | None = None,
    clock: Any = None,
    stop_at: float | None = None,
    recorder: Recorder | None = None,
    subscribers: tuple[Any, ...] = (),
) -> tuple[SessionRunner, Any, Path]:
    vs = VirtualSession(
        seed=11, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=3.0, faults=faults
    )
    session_clock = SessionClock(clock or SimulatedClock())
    table = make_table(vs, session_clock.now)
    if stop_at is not None:
        table.press_stop(at_s=stop_at)
    out = tmp_path / "session"
    runner = SessionRunner(
        vs.protocol(),
        table,
        clock=session_clock,
        recorder=recorder or Recorder(out, TELEMETRY_COLUMNS, fsync=False),
        controller=controller,
        subscribers=subscribers,
    )
    runner.run()
    return runner, table, out


def released_at(table: Any, after_s: float) -> float:
    """First time after ``after_s`` at which the true cable force stays below 5 N."""
    truth = table.truth.as_arrays()
    t, f = truth["t_s"], truth["harness_force_n"]
    idx = np.nonzero((t >= after_s) & (f < RELEASED_N))[0]
    assert idx.size, "never released"
    return float(t[idx[0]])


def assert_telemetry_kept(out: Path, until_s: float) -> None:
    tel = load_telemetry(out)
    assert tel["t_s"][0] == 0.0
    assert tel["t_s"][-1] >= until_s
    assert np.all(np.diff(tel["t_s"]) > 0)
    summary = load_summary(out)
    assert summary is not None and summary["aborted"] is True


@pytest.mark.parametrize(
    ("kind", "magnitude", "expected", "detect_within_s"),
    [
        (InjectedFault.DROPOUT, None, SafetyFault.STALE_READING, 3 * TICK_S),
        (InjectedFault.STUCK_LOAD_CELL, None, SafetyFault.STUCK_LOAD_CELL, 0.4),
        (InjectedFault.FORCE_SPIKE, None, SafetyFault.FORCE_JUMP, 2 * TICK_S),
        (InjectedFault.ENCODER_JUMP, None, SafetyFault.ENCODER_JUMP, 2 * TICK_S),
        (InjectedFault.HARNESS_SLIP, None, SafetyFault.HARNESS_SLIP, 2 * TICK_S),
    ],
    ids=["dropout", "stuck_load_cell", "force_spike", "encoder_jump", "harness_slip"],
)
def test_fault_reaches_safe_state(
    tmp_path: Path,
    kind: InjectedFault,
    magnitude: float | None,
    expected: SafetyFault,
    detect_within_s: float,
) -> None:
    runner, table, out = session(tmp_path, (Fault(kind, FAULT_AT_S, 1.0, magnitude),))
    sup = runner.policy
    assert sup.faults, "fault not detected"
    first = sup.faults[0]
    assert first.kind is expected
    assert FAULT_AT_S <= first.t_s <= FAULT_AT_S + detect_within_s + 1e-9
    assert released_at(table, first.t_s) - first.t_s <= RELEASE_LIMIT_S
    assert_telemetry_kept(out, first.t_s)
    assert any(e["kind"] == "fault" for e in load_events(out))


def test_actuator_stall_is_detected_and_released_once_the_winch_moves(tmp_path: Path) -> None:
    # A stall during the first ramp (from 14 s): the force cannot follow the setpoint.
    runner, table, out = session(tmp_path, (Fault(InjectedFault.ACTUATOR_STALL, 14.0, 3.0),))
    first = runner.policy.faults[0]
    assert first.kind is SafetyFault.ACTUATOR_STALL
    # 15 N/s ramp from ~165 N: the error passes 15% (~25 N) after ~1.7 s, then 0.5 s of
    # stillness (SAF-8).
    assert first.t_s <= 16.5
    # Once the winch moves again (17 s) the commanded release completes within 2 s.
    assert released_at(table, 17.0) - 17.0 <= RELEASE_LIMIT_S
    assert_telemetry_kept(out, first.t_s)


def test_saf6_patient_stop_on_the_simulated_table(tmp_path: Path) -> None:
    runner, table, out = session(tmp_path, stop_at=FAULT_AT_S)
    sup = runner.policy
    assert sup.stopped and not sup.faulted
    assert released_at(table, FAULT_AT_S) - FAULT_AT_S <= RELEASE_LIMIT_S
    assert_telemetry_kept(out, FAULT_AT_S)
    summary = load_summary(out)
    assert summary is not None and summary["stopped"] is True
    assert any(e["kind"] == "stop" for e in load_events(out))


class ExplodingController(DecompressionController):
    def update(self, reading: Reading, now: float, dt: float = TICK_S) -> Command:
        if now >= FAULT_AT_S:
            raise ZeroDivisionError("injected")
        return super().update(reading, now, dt)


def test_saf11_controller_exception_releases_and_keeps_telemetry(tmp_path: Path) -> None:
    vs = VirtualSession(seed=11, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=3)
    runner, table, out = session(tmp_path, controller=ExplodingController(vs.protocol()))
    first = runner.policy.faults[0]
    assert first.kind is SafetyFault.CONTROLLER_EXCEPTION
    assert released_at(table, FAULT_AT_S) - FAULT_AT_S <= RELEASE_LIMIT_S
    assert_telemetry_kept(out, FAULT_AT_S)
    events = load_events(out)
    assert any(
        e["kind"] == "controller_exception" and "ZeroDivisionError" in e["error"] for e in events
    )


class StallingClock(SimulatedClock):
    """A simulated clock in which one tick's work takes 200 ms (a loop overrun)."""

    def __init__(self) -> None:
        super().__init__()
        self.done = False

    def now(self) -> float:
        t = super().now()
        if not self.done and t >= FAULT_AT_S:
            self.done = True
            self.advance(0.2)
            return super().now()
        return t


def test_saf12_loop_overrun_faults_and_the_table_releases(tmp_path: Path) -> None:
    runner, table, out = session(tmp_path, clock=StallingClock())
    kinds = {f.kind for f in runner.policy.faults}
    assert SafetyFault.LOOP_OVERRUN in kinds
    # The table's own watchdog (SAF-9) saw 200 ms without a command and released as well.
    assert table.truth.watchdog_s
    assert released_at(table, FAULT_AT_S) - FAULT_AT_S <= 4.0
    assert_telemetry_kept(out, FAULT_AT_S)


def test_saf9_table_releases_when_commands_stop() -> None:
    vs = VirtualSession(seed=3, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=3)
    table = make_table(vs)
    table.configure()
    table.activate()
    t = 0.0
    while t < 20.0:  # pull to 200 N, then the software "hangs"
        table.advance(TICK_S)
        t += TICK_S
        table.read()
        table.write(Command(t_s=t, force_n=min(200.0, 15.0 * t), base_n=100.0))
    for _ in range(round(6.0 / TICK_S)):
        table.advance(TICK_S)
    truth = table.truth.as_arrays()
    tt, f = truth["t_s"], truth["harness_force_n"]
    near_base = f[(tt > t + 1.1) & (tt < t + 1.9)]
    assert np.all(np.abs(near_base - 100.0) < 15.0)  # at base tension after 1 s
    assert np.all(f[tt > t + 4.0] < RELEASED_N)  # and at zero after 4 s


class RecordingPolicy(SafetyPolicy):
    """The policy, remembering every command it decided."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.decided: list[Command] = []

    def decide(self, proposal: Command | None, now: float) -> Decision:
        d = super().decide(proposal, now)
        self.decided.append(d.command)
        return d


class RecordingTable:
    """A proxy in front of the simulated table that records every write reaching it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.written: list[Command] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def state(self) -> Any:
        return self.inner.state

    @property
    def simulated(self) -> bool:
        return True

    def write(self, command: Command) -> None:
        self.written.append(command)
        self.inner.write(command)


def test_saf1_no_write_reaches_the_device_without_passing_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spinecare.runtime.session as session_mod

    monkeypatch.setattr(session_mod, "SafetyPolicy", RecordingPolicy)
    vs = VirtualSession(seed=5, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=2)
    clock = SessionClock(SimulatedClock())
    proxy = RecordingTable(make_table(vs, clock.now))
    runner = SessionRunner(vs.protocol(), proxy, clock=clock)  # type: ignore[arg-type]
    runner.run()
    policy = runner.policy
    assert isinstance(policy, RecordingPolicy)
    assert len(proxy.written) > 5000
    # Every write is, object for object and in order, a command the policy decided.
    assert len(proxy.written) == len(policy.decided)
    assert all(w is d for w, d in zip(proxy.written, policy.decided, strict=True))
    # Nobody but the guard holds the device.
    for holder in (runner, runner.controller, policy):
        assert all(v is not proxy and v is not proxy.inner for v in vars(holder).values())


def _fails_from(t_fail: float, exc: Exception) -> Any:
    """A recorder whose disk fails once the session has passed ``t_fail``."""

    class FailingRecorder(Recorder):
        def append(self, t_s: float, values: Any) -> None:
            if t_s >= t_fail:
                self.error = exc
            super().append(t_s, values)

    return FailingRecorder


def test_a_recording_failure_releases_the_table_and_still_ends_with_a_summary(
    tmp_path: Path,
) -> None:
    out = tmp_path / "full"
    rec = _fails_from(FAULT_AT_S, OSError(28, "No space left on device"))(
        out, TELEMETRY_COLUMNS, fsync=False
    )
    runner, table, _ = session(tmp_path, recorder=rec)
    first = runner.policy.faults[0]
    assert first.kind is SafetyFault.TICK_EXCEPTION and "recorder" in first.detail
    assert released_at(table, FAULT_AT_S) - FAULT_AT_S <= RELEASE_LIMIT_S
    # The telemetry up to the failure reached the disk; the summary says it is incomplete.
    assert load_telemetry(out)["t_s"][-1] >= FAULT_AT_S - 1.0
    summary = load_summary(out)
    assert summary is not None and summary["telemetry_complete"] is False
    assert summary["faulted"] is True


def test_a_failing_live_view_releases_the_table(tmp_path: Path) -> None:
    def broken(view: Any) -> None:
        if view.t_s >= FAULT_AT_S:
            raise RuntimeError("display gone")

    runner, table, out = session(tmp_path, subscribers=(broken,))
    first = runner.policy.faults[0]
    assert first.kind is SafetyFault.TICK_EXCEPTION and "display gone" in first.detail
    assert released_at(table, FAULT_AT_S) - FAULT_AT_S <= RELEASE_LIMIT_S
    assert_telemetry_kept(out, FAULT_AT_S)


class FlakyTable(RecordingTable):
    def read(self) -> Reading:
        r: Reading = self.inner.read()
        if r.t_s >= FAULT_AT_S:
            raise ConnectionError("bus error")
        return r


def test_a_device_that_cannot_be_read_is_a_fault_not_a_crash(tmp_path: Path) -> None:
    vs = VirtualSession(seed=5, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=2)
    clock = SessionClock(SimulatedClock())
    table = make_table(vs, clock.now)
    runner = SessionRunner(vs.protocol(), FlakyTable(table), clock=clock)  # type: ignore[arg-type]
    result = runner.run()
    assert result.summary.faulted and not result.summary.completed
    kinds = [f.kind for f in runner.policy.faults]
    assert kinds[0] is SafetyFault.DEVICE_FAULT
    # The release commands still reached the table, then its watchdog took over.
    assert released_at(table, FAULT_AT_S) - FAULT_AT_S <= 4.0


def test_after_a_stop_telemetry_runs_until_the_table_is_slack(tmp_path: Path) -> None:
    views: list[Any] = []
    _, _, out = session(tmp_path, stop_at=FAULT_AT_S, subscribers=(views.append,))
    tel = load_telemetry(out)
    after = tel["t_s"] >= FAULT_AT_S + TICK_S
    assert set(tel["phase"][after]) == {"stopped"}
    assert tel["commanded_n"][-1] == 0.0 and tel["measured_n"][-1] < RELEASED_N
    # The monitor's last frame is the released table, not a frozen pull.
    assert views[-1].ended and views[-1].phase == "stopped" and views[-1].measured_n < RELEASED_N


def test_an_interrupt_during_the_release_does_not_end_it(tmp_path: Path) -> None:
    """SAF-6: a second Ctrl-C interrupts the loop and the release runs on a loop of its own; a
    third one, raised wherever the main thread was, used to end that release with the force
    still commanded. Now the release starts again for the ticks that are left."""
    interrupts = [FAULT_AT_S, FAULT_AT_S + 0.2, FAULT_AT_S + 0.4]

    def ctrl_c(view: Any) -> None:
        if interrupts and view.t_s >= interrupts[0]:
            interrupts.pop(0)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        session(tmp_path, subscribers=(ctrl_c,))
    assert interrupts == []  # all three landed: one in the loop, two in the release
    tel = load_telemetry(tmp_path / "session")
    assert tel["commanded_n"][-1] == 0.0 and tel["measured_n"][-1] < RELEASED_N
    assert tel["t_s"][-1] - FAULT_AT_S <= RELEASE_LIMIT_S + 1.0


def test_saf6_the_patient_gets_the_controlled_return_the_record_shows(tmp_path: Path) -> None:
    """The release commands ramp down (SAF-6); the simulated table used to drop the force at
    its winch's top speed instead (131 N to 6 N in 0.1 s), so the telemetry's commanded ramp
    was not what the patient got. It now follows the ramp, and pays out once it reaches 0."""
    _, table, out = session(tmp_path, stop_at=FAULT_AT_S)
    tel = load_telemetry(out)
    t, cmd, meas = tel["t_s"], tel["commanded_n"], tel["measured_n"]
    start = int(np.flatnonzero(t >= FAULT_AT_S)[0])
    zero = int(np.flatnonzero((t > FAULT_AT_S) & (cmd <= 0.0))[0])
    assert meas[start] > 200.0  # a real pull was under way
    lag = meas[start:zero] - cmd[start:zero]
    assert np.all(lag > -2.0) and np.all(lag < 25.0)  # follows the ramp, a little behind it
    assert released_at(table, FAULT_AT_S) - FAULT_AT_S <= RELEASE_LIMIT_S
