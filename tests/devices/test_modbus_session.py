"""Whole sessions over the real protocol stack: the session service drives a ``ModbusTable``
against the simulated table served on 127.0.0.1 (TCP, and RTU over a pseudo-terminal pair).

Fast sessions share one ``SimulatedClock`` between the loop and the served table, so the
table's physics follows the loop's time as the in-process table does; the real-time session
runs both on the monotonic clock. Faults on the wire are switched on at a session time; each
must reach its safe state in its stated time (docs/safety.md) and be named in the events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spinecare.cohort.run import VirtualSession, make_table
from spinecare.devices.modbus import modbus_factory
from spinecare.devices.modbus_map import EXC_DEVICE_FAILURE, STATUS_FORCE, FaultCode
from spinecare.devices.modbus_sim import SimTableServer
from spinecare.runtime.clock import SimulatedClock
from spinecare.runtime.recorder import load_events
from spinecare.services.sessions import SessionOptions, SessionRun, session_run
from spinecare.therapy.safety import FaultKind
from spinecare.vocab import TICK_S, Region

FAULT_AT_S = 20.0  # lumbar 80 kg: the first ramp is under way
RELEASED_N = 5.0
STOP_RELEASE_S = 2.0  # SAF-6 (and every latched fault): below 5 N within 2 s
WATCHDOG_RELEASE_S = 0.1 + 4.0  # SAF-9: 100 ms without a command, then zero within 4 s
SAFETY_KEYS = ("completed", "stopped", "faulted", "limit_violations", "faults", "end_reason")


def vsession(minutes: float, seed: int = 11) -> VirtualSession:
    return VirtualSession(
        seed=seed, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=minutes
    )


def fast_over_modbus(
    vs: VirtualSession,
    out: Path | None = None,
    *,
    timeout_s: float = 0.5,
    setup: Callable[[SimTableServer], None] | None = None,
    serial: tuple[str, str] | None = None,
) -> tuple[SessionRun, SimTableServer]:
    clock = SimulatedClock()
    table = make_table(vs, clock.now)
    server = SimTableServer(
        table,
        clock.now,
        port=0,
        tick_s=None,  # on a shared simulated clock only the requests move the table
        serial_port=serial[0] if serial else None,
    )
    if setup is not None:
        setup(server)
    server.start()
    try:
        url = server.url if serial is None else server.url.replace(serial[0], serial[1])
        done = session_run(
            vs.protocol(),
            modbus_factory(url, timeout_s=timeout_s),
            options=SessionOptions(clock=clock, fsync=False),
            out_dir=out,
        )
    finally:
        server.stop()
    return done, server


def in_process(vs: VirtualSession) -> SessionRun:
    return session_run(
        vs.protocol(),
        lambda now: make_table(vs, now),
        options=SessionOptions(clock=SimulatedClock(), fsync=False),
    )


def safety(run: SessionRun) -> dict[str, Any]:
    return {k: getattr(run.summary, k) for k in SAFETY_KEYS}


def released_at(server: SimTableServer, after_s: float) -> float:
    """First time after ``after_s`` from which the true cable force stays below 5 N."""
    tr = server.table.truth.as_arrays()
    t, f = tr["t_s"], tr["harness_force_n"]
    above = np.nonzero((t >= after_s) & (f >= RELEASED_N))[0]
    last_above = t[above[-1]] if above.size else after_s
    assert t[-1] > last_above, "never released"
    return float(last_above)


@pytest.mark.slow
def test_full_session_fast_over_tcp_has_the_in_process_outcome(tmp_path: Path) -> None:
    vs = vsession(30.0)
    wire, server = fast_over_modbus(vs, tmp_path / "wire")
    local = in_process(vs)
    assert safety(wire) == safety(local) == {**safety(local), "completed": True, "faulted": False}
    s, ref = wire.summary, local.summary
    assert s.simulated is True  # the served simulator is never taken for a real table
    assert s.duration_s == pytest.approx(ref.duration_s, abs=0.5)
    # The same patient on the same protocol: the 0.1 N setpoint register moves the physics
    # only slightly.
    assert s.peak_force_n == pytest.approx(ref.peak_force_n, rel=0.03)
    assert s.force_time_integral_ns == pytest.approx(ref.force_time_integral_ns, rel=0.01)
    assert abs(s.guarding_detected - ref.guarding_detected) <= 1
    assert s.base_tension_lost_s == ref.base_tension_lost_s == 0.0
    assert server.commands >= s.timing.ticks - 5  # one command per tick reached the drive


def _faulted_at(run: SessionRun) -> tuple[FaultKind, float, str]:
    first = run.summary.faults[0]
    return FaultKind(first.kind), first.t_s, first.detail


def _mute(s: SimTableServer) -> None:
    s.mute = True


def _late(s: SimTableServer) -> None:
    s.delay_s = 0.05


def _exception(s: SimTableServer) -> None:
    s.read_exception = EXC_DEVICE_FAILURE


def _fault_code(s: SimTableServer) -> None:
    s.fault_code = FaultCode.OVERLOAD


def _implausible(s: SimTableServer) -> None:
    s.corrupt = {STATUS_FORCE: 0x7FFF}  # 3276.7 N: beyond the load cell's full scale


@pytest.mark.parametrize(
    ("change", "kinds", "detail", "detect_s", "released_by", "release_s"),
    [
        # The link is dead both ways: the readings go stale (SAF-7) and, with no command
        # arriving, the table's own watchdog releases (SAF-9).
        pytest.param(
            _mute, {FaultKind.STALE_READING}, "ms old", 3 * TICK_S, "watchdog",
            WATCHDOG_RELEASE_S, marks=pytest.mark.slow,
        ),
        # Every answer comes after the driver stopped waiting: stale readings; the commands
        # still arrive, so the policy's release does the releasing.
        pytest.param(
            _late, {FaultKind.STALE_READING}, "ms old", 3 * TICK_S, "policy", STOP_RELEASE_S,
            marks=pytest.mark.slow,
        ),
        (_exception, {FaultKind.DEVICE_FAULT}, "0x04 (server device failure)", TICK_S,
         "policy", STOP_RELEASE_S),
        (_fault_code, {FaultKind.DEVICE_FAULT}, "table fault 301 (critical)", TICK_S,
         "table", STOP_RELEASE_S),
        (_implausible, {FaultKind.OUT_OF_RANGE}, "load cell 3276.7 N", TICK_S, "policy",
         STOP_RELEASE_S),
    ],
    ids=["stops_answering", "answers_late", "exception_code", "table_fault_code", "implausible"],
)  # fmt: skip
def test_a_fault_on_the_wire_reaches_its_safe_state(
    tmp_path: Path,
    change: Callable[[SimTableServer], None],
    kinds: set[FaultKind],
    detail: str,
    detect_s: float,
    released_by: str,
    release_s: float,
) -> None:
    out = tmp_path / "session"
    # Wall-clock timeout: short where the link goes silent (each unanswered request costs the
    # test that long), generous otherwise (a loaded CI machine must not time out by itself).
    silent = change in (_mute, _late)
    run, server = fast_over_modbus(
        vsession(1.0),
        out,
        timeout_s=0.03 if silent else 0.5,
        setup=lambda s: s.at(FAULT_AT_S, change),
    )
    kind, t_s, text = _faulted_at(run)
    assert kind in kinds and detail in text, run.summary.faults
    assert FAULT_AT_S <= t_s <= FAULT_AT_S + detect_s + 1e-6
    assert run.summary.faulted and not run.summary.completed
    assert released_at(server, t_s) - t_s <= release_s
    if released_by == "watchdog":
        wd = server.table.truth.watchdog_s
        assert wd and FAULT_AT_S < wd[0] <= FAULT_AT_S + 0.1 + TICK_S + 1e-6
    events = [e for e in load_events(out) if e["kind"] == "fault"]
    assert events and events[0]["fault"] == kind.value and detail in events[0]["detail"]


# -- RTU over a pseudo-terminal pair (the rtu_pair fixture is in tests/conftest.py) ----------
@pytest.mark.slow
def test_a_session_over_rtu_on_a_pseudo_terminal_pair(
    tmp_path: Path, rtu_pair: tuple[str, str]
) -> None:
    vs = vsession(0.3)
    run, server = fast_over_modbus(vs, tmp_path / "rtu", serial=rtu_pair)
    assert safety(run) == safety(in_process(vs))
    assert run.summary.completed and not run.summary.faulted
    assert server.commands >= run.summary.timing.ticks - 5
