"""The device guard (runtime/guard.py): the one holder of the table, every read through the
policy's checks and every write through its chain; a table that raises is a fault, never an
exception that leaves it pulling (docs/safety.md, SAF-1, 6, 10, 11)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from spinecare.devices.base import DeviceNotActiveError
from spinecare.runtime.guard import DeviceGuard
from spinecare.therapy.protocol import default_protocol
from spinecare.therapy.safety import FaultKind, SafetyPolicy
from spinecare.vocab import Command, DeviceState, Reading

TICK = 0.020  # [seed-spinemed]


@dataclass
class ScriptedTable:
    """A Device whose reads and writes the test scripts; it records every call."""

    state: DeviceState = DeviceState.UNCONFIGURED
    simulated: bool = True
    force_n: float = 50.0
    stop: bool = False
    read_error: Exception | None = None
    write_error: Exception | None = None
    deactivate_error: Exception | None = None
    seq: int = 0
    now: float = 0.0
    calls: list[str] = field(default_factory=list)
    written: list[Command] = field(default_factory=list)

    def configure(self) -> None:
        self.calls.append("configure")
        self.state = DeviceState.INACTIVE

    def activate(self) -> None:
        self.calls.append("activate")
        self.state = DeviceState.ACTIVE

    def deactivate(self) -> None:
        self.calls.append("deactivate")
        if self.deactivate_error is not None:
            raise self.deactivate_error
        self.state = DeviceState.INACTIVE

    def read(self) -> Reading:
        if self.read_error is not None:
            raise self.read_error
        self.seq += 1
        noise = 0.3 if self.seq % 2 else -0.3
        return Reading(self.now, self.seq, self.force_n + noise, 10.0 + 0.01 * self.seq, self.stop)

    def write(self, command: Command) -> None:
        if self.write_error is not None:
            raise self.write_error
        self.written.append(command)


def guarded(clinician: float | None = None) -> tuple[DeviceGuard, ScriptedTable, SafetyPolicy]:
    table = ScriptedTable()
    policy = SafetyPolicy(default_protocol("lumbar", 80.0, "L4/5"), clinician_max_force_n=clinician)
    guard = DeviceGuard(table, policy)
    guard.start()
    return guard, table, policy


def tick(guard: DeviceGuard, table: ScriptedTable, k: int, proposal_n: float | None) -> Command:
    """One loop tick as the session runs it: read, propose only on a fresh reading, write."""
    now = k * TICK
    table.now = now
    _, fresh = guard.read(now)
    proposal = Command(now, proposal_n, 0.0) if fresh and proposal_n is not None else None
    return guard.write(proposal, now).command


def test_start_configures_then_activates() -> None:
    guard, table, _ = guarded()
    assert table.calls == ["configure", "activate"]
    assert guard.device_state is DeviceState.ACTIVE
    assert guard.simulated is True


def test_saf1_every_write_is_the_policys_decision_object() -> None:
    guard, table, _policy = guarded(clinician=120.0)
    decisions = []
    for k in range(400):
        table.now = k * TICK
        guard.read(k * TICK)
        d = guard.write(Command(k * TICK, 5000.0, 5000.0), k * TICK)
        decisions.append(d.command)
    assert len(table.written) == guard.writes == 400
    assert all(w is d for w, d in zip(table.written, decisions, strict=True))
    assert max(w.force_n for w in table.written) == 120.0  # the clinician's limit
    assert table.written[0].force_n == 1.0  # the rise limit from the first tick on


def test_saf1_a_repeated_reading_gets_no_proposal_and_the_hold_is_written() -> None:
    guard, table, _policy = guarded()
    for k in range(30):
        tick(guard, table, k, 30.0)
    table.now = 30 * TICK
    reading = guard.read(30 * TICK)[0]

    def same() -> Reading:
        return reading

    table.read = same  # type: ignore[method-assign]
    r, fresh = guard.read(31 * TICK)
    assert r is reading and not fresh
    cmd = guard.write(None, 31 * TICK).command
    assert table.written[-1] is cmd and cmd.force_n == 30.0 and not cmd.release


def test_saf11_a_table_that_cannot_be_read_is_a_fault() -> None:
    guard, table, policy = guarded()
    table.read_error = ConnectionError("bus error")
    r, fresh = guard.read(0.0)
    assert not fresh
    assert r == Reading(0.0, -1, 0.0, 0.0, False, DeviceState.FAULT)
    assert [f.kind for f in policy.faults] == [FaultKind.DEVICE_FAULT]
    assert policy.faults[0].detail == "read failed: ConnectionError('bus error')"
    cmd = guard.write(Command(0.0, 100.0, 50.0), 0.0).command
    assert cmd.release and cmd.force_n == 0.0 and table.written == [cmd]


def test_saf11_a_failed_read_after_good_ones_returns_the_last_reading_as_not_fresh() -> None:
    guard, table, policy = guarded()
    for k in range(60):
        tick(guard, table, k, 60.0)
    last = guard.read(60 * TICK)[0]
    table.read_error = OSError("gone")
    r, fresh = guard.read(61 * TICK)
    assert r is last and not fresh
    assert policy.releasing and policy.faults[0].kind is FaultKind.DEVICE_FAULT
    before = table.written[-1].force_n
    cmd = guard.write(Command(61 * TICK, 60.0, 30.0), 61 * TICK).command
    assert cmd.release and cmd.flags == ("fault",) and cmd.force_n < before


@pytest.mark.parametrize(
    ("error", "kind", "detail"),
    [
        (DeviceNotActiveError("watchdog tripped"), FaultKind.DEVICE_REFUSED, "watchdog tripped"),
        (DeviceNotActiveError(), FaultKind.DEVICE_REFUSED, "table not active"),
        (TimeoutError("no ack"), FaultKind.DEVICE_FAULT, "write failed: TimeoutError('no ack')"),
    ],
)
def test_saf11_a_write_the_table_refuses_or_fails_is_a_fault_then_a_release(
    error: Exception, kind: FaultKind, detail: str
) -> None:
    guard, table, policy = guarded()
    for k in range(50):
        tick(guard, table, k, 50.0)
    written = guard.writes
    table.write_error = error
    tick(guard, table, 50, 50.0)
    assert [f.kind for f in policy.faults] == [kind]
    assert policy.faults[0].detail == detail
    assert guard.writes == written  # nothing was counted as written
    table.write_error = None
    cmd = tick(guard, table, 51, 50.0)
    assert table.written[-1] is cmd and cmd.release and cmd.force_n < 50.0
    assert guard.writes == written + 1


def test_saf6_a_stop_on_the_table_is_released_through_the_guard() -> None:
    guard, table, policy = guarded()
    for k in range(100):
        tick(guard, table, k, 100.0)
    table.stop = True
    out = [tick(guard, table, k, 100.0) for k in range(100, 160)]
    assert policy.stopped and all(c.release and c.flags == ("stop",) for c in out)
    assert out[0].force_n == 98.0 and out[-1].force_n == 0.0  # 100 N/s from 100 N
    assert [c is w for c, w in zip(out, table.written[-60:], strict=True)] == [True] * 60


def test_saf10_acknowledge_reactivates_the_table_only_when_the_policy_agrees() -> None:
    guard, table, policy = guarded()
    table.stop = True
    tick(guard, table, 0, 10.0)
    table.state = DeviceState.INACTIVE  # the table's watchdog took it out of service
    calls = len(table.calls)
    assert not guard.acknowledge()  # the button is still held
    assert len(table.calls) == calls and policy.stopped
    table.stop = False
    table.now = TICK
    guard.read(TICK)
    assert guard.acknowledge()
    assert table.calls[calls:] == ["activate"] and not policy.releasing
    assert guard.acknowledge()  # already active: not activated twice
    assert table.calls[calls:] == ["activate"]


def test_shutdown_takes_the_table_out_of_service_and_never_raises() -> None:
    guard, table, _ = guarded()
    guard.shutdown()
    assert table.calls[-1] == "deactivate" and table.state is DeviceState.INACTIVE
    guard, table, _ = guarded()
    table.deactivate_error = RuntimeError("bus gone")
    guard.shutdown()  # best effort at the end: no exception
    assert table.calls[-1] == "deactivate"
    table = ScriptedTable()  # never configured: nothing to deactivate
    DeviceGuard(table, SafetyPolicy(default_protocol("lumbar", 80.0, "L4/5"))).shutdown()
    assert table.calls == []
