"""The Modbus driver against the simulated table served on 127.0.0.1: the Device protocol,
what it refuses before anything moves, and how each failure on the wire surfaces."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from spinecare.cohort.run import VirtualSession, make_table
from spinecare.devices.base import Device, DeviceNotActiveError
from spinecare.devices.modbus import (
    DeviceUrl,
    ModbusLinkError,
    ModbusTable,
    TableExceptionError,
    TableFaultError,
    TableLimitError,
    device_url_parse,
    table_probe,
)
from spinecare.devices.modbus_map import EXC_DEVICE_FAILURE, FaultCode
from spinecare.devices.modbus_sim import SimTableServer, sim_identity
from spinecare.errors import InputError
from spinecare.runtime.clock import SimulatedClock
from spinecare.vocab import Command, DeviceState, Region

FAST_TIMEOUT_S = 0.5  # wall-clock timeout on a simulated clock (the loop's time does not pass)


def served(
    clock: SimulatedClock, *, emg: bool = False, max_force_n: float | None = None
) -> SimTableServer:
    vs = VirtualSession(seed=5, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", emg=emg)
    table = make_table(vs, clock.now)
    limit = {"max_force_n": max_force_n} if max_force_n else {}
    ident = sim_identity(emg=emg, serial="SIM-5", **limit)
    return SimTableServer(table, clock.now, port=0, tick_s=None, identity=ident).start()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock()


@pytest.fixture
def server(clock: SimulatedClock) -> Iterator[SimTableServer]:
    srv = served(clock, emg=True)
    yield srv
    srv.stop()


def driver(server: SimTableServer, clock: SimulatedClock, **kw: object) -> ModbusTable:
    return ModbusTable(server.url, clock.now, timeout_s=FAST_TIMEOUT_S, **kw)  # type: ignore[arg-type]


def ticks(t: ModbusTable, clock: SimulatedClock, n: int, force: float, base: float) -> None:
    for _ in range(n):
        clock.advance(0.02)
        t.read()
        t.write(Command(clock.now(), force, base))


def test_is_a_device_with_the_lifecycle_of_the_simulated_one(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    t = driver(server, clock)
    assert isinstance(t, Device)
    assert t.state is DeviceState.UNCONFIGURED
    with pytest.raises(DeviceNotActiveError):
        t.activate()
    t.configure()
    assert t.state is DeviceState.INACTIVE
    assert t.simulated is True  # the served simulator says so (SAF-16)
    assert t.identity is not None and t.identity.serial == "SIM-5" and t.max_force_n == 890.0
    with pytest.raises(DeviceNotActiveError):
        t.write(Command(0.0, 10.0, 5.0))  # not active: refused before the wire
    t.activate()
    assert t.state is DeviceState.ACTIVE
    # The table itself is activated with the first command (its watchdog counts from then).
    clock.advance(0.5)
    assert t.read().state is DeviceState.INACTIVE and server.table.state is DeviceState.INACTIVE
    ticks(t, clock, 150, 120.0, 60.0)
    assert server.table.state is DeviceState.ACTIVE
    r = t.read()
    assert r.t_s == clock.now()  # stamped on the loop's clock when the registers were read
    assert r.state is DeviceState.ACTIVE and r.force_n > 50.0 and r.winch_mm > 0.0
    assert r.emg_uv is not None and r.emg_uv.shape == (20,)
    assert t.read().seq == r.seq + 1  # every read is a new sample
    assert server.commands == 150
    t.deactivate()
    assert t.state is DeviceState.INACTIVE
    assert server.table.state is DeviceState.INACTIVE  # released and out of service


def test_probe_reads_identity_and_limits(server: SimTableServer) -> None:
    ident = table_probe(server.url)
    assert ident == server.identity
    assert ident.watchdog_s == 0.1 and ident.emg and ident.simulated


def test_a_table_whose_limit_is_below_the_session_is_refused_before_it_moves(
    clock: SimulatedClock,
) -> None:
    srv = served(clock, max_force_n=250.0)
    try:
        t = driver(srv, clock, required_force_n=300.0)
        with pytest.raises(InputError, match="force limit is 250 N, below the 300 N"):
            t.configure()
        assert srv.table.state is DeviceState.UNCONFIGURED or srv.commands == 0
        # Within its limit the table runs; a command above it never reaches the drive.
        t = driver(srv, clock, required_force_n=250.0)
        t.configure()
        t.activate()
        with pytest.raises(TableLimitError, match="above the table's limit of 250 N"):
            t.write(Command(0.0, 260.0, 100.0))
        assert srv.commands == 0
    finally:
        srv.stop()


def test_another_table_than_the_one_probed_is_refused(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    other = sim_identity(emg=True, serial="SIM-6")
    with pytest.raises(InputError, match="not the table checked before"):
        driver(server, clock, expected=other).configure()


def test_nothing_listening_is_an_input_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = ModbusTable(f"modbus://127.0.0.1:{port}", time.monotonic, connect_timeout_s=0.2)
    with pytest.raises(InputError, match="cannot connect"):
        t.configure()


def test_commands_refused_after_the_watchdog_released(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    t = driver(server, clock)
    t.configure()
    t.activate()
    ticks(t, clock, 50, 100.0, 50.0)
    clock.advance(0.3)  # no command for 300 ms: the table's own watchdog releases (SAF-9)
    # The driver has not read since, so the command goes out and the table answers "busy".
    with pytest.raises(DeviceNotActiveError, match="refuses commands"):
        t.write(Command(clock.now(), 100.0, 50.0))
    with pytest.raises(TableFaultError, match="101 \\(general\\): command watchdog"):
        t.read()
    r = t.read()  # named once; then readings go on, with the table's state
    assert r.state is DeviceState.RELEASING
    # Activating again clears it.
    t.activate()
    ticks(t, clock, 5, 50.0, 25.0)


def test_no_answer_gives_back_the_previous_reading_for_the_policy_to_age(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    t = ModbusTable(server.url, clock.now, timeout_s=0.05)
    t.configure()
    t.activate()
    ticks(t, clock, 10, 80.0, 40.0)
    last = t.read()
    server.mute = True
    clock.advance(0.06)
    again = t.read()
    assert again is last and again.t_s < clock.now() - 0.04  # stale: SAF-7 will see its age
    t.write(Command(clock.now(), 80.0, 40.0))  # unanswered: not raised at once
    assert t.stats.missed_reads == 1 and t.stats.missed_writes == 1
    server.mute = False
    assert t.read().seq == last.seq + 1


def test_commands_that_never_arrive_are_raised_from_the_read(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    t = driver(server, clock)
    t.configure()
    t.activate()
    ticks(t, clock, 3, 80.0, 40.0)
    server.ignore_commands = True
    for _ in range(4):
        t.write(Command(clock.now(), 80.0, 40.0))
    with pytest.raises(ModbusLinkError, match="has not taken the last 4 commands"):
        t.read()


def test_exception_codes_and_fault_codes_are_named(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    t = driver(server, clock)
    t.configure()
    t.activate()
    ticks(t, clock, 3, 80.0, 40.0)
    server.read_exception = EXC_DEVICE_FAILURE
    with pytest.raises(TableExceptionError, match="0x04 \\(server device failure\\)"):
        t.read()
    server.read_exception = None
    server.fault_code = FaultCode.OVERLOAD
    with pytest.raises(TableFaultError, match="301 \\(critical\\)"):
        t.read()
    assert t.read().state is DeviceState.FAULT
    assert server.table.state is not DeviceState.ACTIVE  # the table released itself


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("modbus://127.0.0.1:5020", DeviceUrl("modbus", host="127.0.0.1", port=5020)),
        ("modbus://localhost", DeviceUrl("modbus", host="localhost", port=502)),
        ("modbus://h:1502?unit=3&timeout_ms=5", DeviceUrl("modbus", host="h", port=1502, unit=3,
                                                          timeout_s=0.005)),
        ("rtu:///dev/ttyUSB0?baud=57600", DeviceUrl("rtu", serial_port="/dev/ttyUSB0", baud=57600)),
        ("rtu:///dev/ttyS1?parity=e&stopbits=2", DeviceUrl("rtu", serial_port="/dev/ttyS1",
                                                           parity="E", stopbits=2)),
    ],
)  # fmt: skip
def test_device_urls(text: str, expected: DeviceUrl) -> None:
    assert device_url_parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tcp://x:1", "must be modbus://"),
        ("modbus://:502", "needs a host"),
        ("modbus://h:99999", "port"),
        ("modbus://h?unit=0", "unit must be within"),
        ("modbus://h?timeout_ms=50", "timeout_ms must be within"),
        ("modbus://h?colour=red", "unknown option"),
        ("rtu://", "needs a serial device"),
        ("rtu:///dev/ttyS0?baud=fast", "baud must be a number"),
        ("rtu:///dev/ttyS0?parity=X", "parity must be"),
    ],
)
def test_bad_device_urls_name_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        device_url_parse(text)


def test_a_baud_rate_too_slow_for_the_tick_is_refused() -> None:
    ident = sim_identity(emg=True, serial="x")
    t = ModbusTable("rtu:///dev/null?baud=9600", time.monotonic, emg=True)
    t._status_len = 30
    with pytest.raises(TableLimitError, match="more than the 16 ms"):
        t._tick_timeout(ident)
    fast = ModbusTable("rtu:///dev/null?baud=230400", time.monotonic, emg=True)
    fast._status_len = 30
    assert fast._tick_timeout(ident) < 0.008


@pytest.fixture(params=["tcp", "rtu"])
def link(request: pytest.FixtureRequest, clock: SimulatedClock) -> Iterator[SimTableServer]:
    """A served table on TCP, or on RTU over a pseudo-terminal pair (socat)."""
    if request.param == "tcp":
        srv = served(clock, emg=True)
    else:
        table_end, pc_end = request.getfixturevalue("rtu_pair")
        vs = VirtualSession(seed=5, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5")
        srv = SimTableServer(
            make_table(vs, clock.now), clock.now, serial_port=table_end, baudrate=115200,
            tick_s=None, identity=sim_identity(emg=False, serial="SIM-5"),
        ).start()  # fmt: skip
        srv.pc_end = pc_end  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def _url(srv: SimTableServer) -> str:
    pc_end = getattr(srv, "pc_end", None)
    return srv.url if pc_end is None else f"rtu://{pc_end}?baud=115200"


def test_a_late_answer_is_a_lost_one_not_the_answer_to_the_next_request(
    link: SimTableServer, clock: SimulatedClock
) -> None:
    # RTU frames carry no request id: a status block that arrives while the command waits
    # would otherwise be taken for the command's answer and end the session.
    # Margins of 100 ms: this runs beside a loaded test suite, whose stalls of the client's or
    # the server's thread reach tens of milliseconds.
    t = ModbusTable(_url(link), clock.now, timeout_s=0.2)
    t.configure()
    t.activate()
    ticks(t, clock, 5, 80.0, 40.0)
    last = t.read()
    # The read's answer leaves 300 ms late: the read gives up at 200 ms, and its answer comes
    # in during the command's wait. The command's own answer leaves 700 ms late, well after
    # the command gave up however the client counts its wait (a client that restarts its
    # timeout on the foreign answer at 300 ms waits until 500 ms; with the command's answer
    # due then too, the outcome was a race under load).
    link.delay_s = 0.3
    clock.advance(0.02)
    assert t.read() is last  # no answer in time: the previous reading, to age (SAF-7)
    link.delay_s = 0.7
    t.write(Command(clock.now(), 80.0, 40.0))  # a lost answer, not a broken link
    link.delay_s = 0.0
    time.sleep(1.0)  # every late answer has arrived
    for _ in range(3):  # then every request gets its own answer again
        clock.advance(0.02)
        fresh = t.read()
        assert fresh is not last and fresh.seq > last.seq
        last = fresh
        t.write(Command(clock.now(), 80.0, 40.0))
    assert t.stats.missed_reads == 1 and t.stats.missed_writes == 1


def test_a_lost_answer_to_a_hand_shake_is_asked_again(
    link: SimTableServer, clock: SimulatedClock
) -> None:
    server = link
    t = ModbusTable(_url(link), clock.now, timeout_s=0.05)
    t.configure()
    t.activate()
    server.lose_answers = 2  # the activation's answer and the next try's are lost
    clock.advance(0.02)
    t.write(Command(clock.now(), 50.0, 25.0))  # activates first, then commands
    assert t.read().state is DeviceState.ACTIVE
    server.lose_answers = 3  # all of them: the link is gone, said as such
    with pytest.raises(ModbusLinkError, match="no answer to deactivate"):
        t.deactivate()


def test_one_table_runs_one_session_at_a_time(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    """Two masters on one table would each command their own force: the second driver is
    refused before anything moves, under any name for the table, until the first lets go."""
    first = driver(server, clock)
    first.configure()
    port = server.url.rsplit(":", 1)[1]
    for url in (server.url, f"modbus://localhost:{port}"):
        second = ModbusTable(url, clock.now, timeout_s=FAST_TIMEOUT_S)
        with pytest.raises(InputError, match=r"driven by another session \(process \d+\)"):
            second.configure()
        assert second.state is DeviceState.UNCONFIGURED
    first.activate()
    clock.advance(0.02)
    first.write(Command(clock.now(), 60.0, 30.0))
    first.deactivate()  # the session's end closes the link and frees the table
    second.configure()
    second.close()


def test_a_table_locked_by_a_process_that_died_is_free(
    server: SimTableServer, clock: SimulatedClock
) -> None:
    import subprocess
    import sys

    code = (
        "import os, sys; from spinecare.devices.table_lock import TableLock\n"
        "TableLock(sys.argv[1], 'x').acquire(); os._exit(0)"  # no release: the process ends
    )
    t = driver(server, clock)
    t.configure()
    key = t._lock_key()
    t.close()
    subprocess.run([sys.executable, "-c", code, key], check=True, timeout=60)
    t = driver(server, clock)
    t.configure()
    t.close()
