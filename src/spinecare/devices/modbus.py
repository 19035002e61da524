"""A traction table on Modbus TCP or RTU: the ``Device`` protocol over the register map of
``devices/modbus_map.py`` (reference: docs/modbus.md).

One batched request per direction and tick: ``read`` fetches the whole status block (function
4), ``write`` sends the whole command block (function 16). Each waits at most ``timeout_s``
(8 ms on TCP by default; on RTU the frame's time on the wire plus 4 ms), so a read and a write
that both time out still leave the 20 ms tick a margin. Everything slow happens in
``configure``: connecting, reading the table's identity and limits, checking them, and waiting
(bounded) for a table still loaded by an earlier session to release on its own (SAF-18).

How failures reach the safety policy (the runtime's device guard turns any exception into a
latched fault and the controlled release):

* no answer in time to a read: the previous reading is returned unchanged, with its own time
  stamp, so the policy sees it age (SAF-7: one missed sample is tolerated, two are a fault);
  the table's own watchdog releases if the commands stop reaching it (SAF-9);
* no answer to a write: not raised at once (the table's watchdog tolerates 100 ms); every read
  checks that the table has taken the commands sent (``CMD_ACK``) and raises when more than
  ``max_unacked`` are missing;
* a Modbus exception response: raised, naming the code (``DeviceNotActiveError`` for a command
  the table refuses because it is not active, as the simulated table does);
* a fault code in the status block: raised once, naming the code; the readings after it carry
  the table's FAULT state and its real force, so the release can be followed;
* a lost connection, a malformed answer, an unknown state code: raised.

An answer that arrives after its request timed out is a lost answer, not a broken link. pymodbus
drops what waits on a serial line before it sends, and on TCP it tells answers apart by their
transaction id; but on RTU an answer that comes in while the next request waits is taken for
that request's answer (RTU frames carry no id). The driver knows it by its function code and
counts it as late: for a read, the previous reading stays (stale); for a command, a missed
write. The hand-shakes (activate, deactivate, the status read confirming them) are idempotent
and are sent again, up to ``HANDSHAKE_ATTEMPTS`` times, when an answer is lost; the per-tick
read and command are never repeated (their loss is the policy's and the table's watchdog's to
judge).

Readings are stamped with the session clock's ``now`` at the moment the status request is sent
(the registers are sampled after that, so the stamp never makes a reading look fresher than it
is). Values outside a sensor's range are passed on unchanged: plausibility is the policy's.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from spinecare.devices import modbus_map as mm
from spinecare.devices.base import Device, DeviceNotActiveError
from spinecare.devices.table_lock import TableLock
from spinecare.errors import InputError
from spinecare.vocab import COMMAND_TIMEOUT_S, EMG_BLOCK, EMG_RATE_HZ, Command, DeviceState, Reading

# pymodbus logs every late or skipped frame; the driver reports those itself (as exceptions the
# guard records, or as stale readings), so the library stays quiet unless an application
# configures logging.
logging.getLogger("pymodbus").addHandler(logging.NullHandler())

# Per-request timeout on TCP: a read and a write that both time out take 16 ms and leave 4 ms
# of the 20 ms tick (engineering choice; loopback round trips are about 0.1 ms, measured in
# bench/b5_modbus.py).
TCP_TIMEOUT_S = 0.008
# On RTU: the frame's time on the wire plus this margin for the slave's turnaround.
RTU_MARGIN_S = 0.004
# The two requests of a tick must fit here, even when both time out (engineering choice).
TICK_IO_BUDGET_S = 0.016
# Sends of an idempotent hand-shake request (activate, deactivate, the status read confirming
# them) before its loss ends the session: one lost frame on a serial line is noise, not a
# broken link (engineering choice; the first tick may then run long once, which the loop's
# gap check tolerates up to 2 ticks).
HANDSHAKE_ATTEMPTS = 3
# Modbus function codes the driver uses (an answer carries its request's) [modbus-app]: read
# input registers, write single register, write multiple registers.
FC_READ_INPUT = 4
FC_WRITE_SINGLE = 6
FC_WRITE_MULTIPLE = 16
# Connecting and reading the identity happen before the first tick and may take longer.
CONNECT_TIMEOUT_S = 1.0
# Commands the table may miss in a row (its watchdog releases after 100 ms = 5 commands).
MAX_UNACKED = 3
DEFAULT_UNIT = 1
DEFAULT_BAUD = 115200
DEFAULT_TCP_PORT = 502  # the Modbus/TCP port [modbus-tcp]
# Bits on the wire per RTU character: start, 8 data, parity or second stop, stop [modbus-serial].
RTU_BITS_PER_CHAR = 11
# Taking over a table (SAF-18). A table is slack when its load cell and its drive's own setpoint
# are both at most this: the force the runtime calls released (runtime/session.py RELEASED_N,
# SAF-6 "below 5 N"; the load cell's noise is 0.3-2 N), restated here because the devices layer
# does not import the runtime.
SLACK_N = 5.0
# How long ``configure`` waits for a loaded table's own release before it refuses: the watchdog's
# 100 ms plus its release to zero "within 4 s" (docs/modbus.md, docs/safety.md SAF-9: released
# within 4.1 s), plus 0.9 s margin for a real drive's slower pay-out (engineering choice; the
# same 5 s the runtime gives a released table, runtime/session.py RELEASE_TIMEOUT_S).
TAKEOVER_WAIT_S = 5.0
# Status reads while waiting: 20 per second, well inside the release's 0.5 s steps (engineering
# choice; one read costs well under 1 ms on TCP).
TAKEOVER_POLL_S = 0.05
# Once slack, the table must stay slack this long before the session takes it: a cable still
# paying out can dip below the threshold for a sample (engineering choice, the runtime's
# RELEASED_HOLD_S).
TAKEOVER_SLACK_HOLD_S = 0.2


class TableError(Exception):
    """Every error this driver raises about the table (its link, its answers, its limits, its
    state): the table is not usable as it is, which is no defect of spinecare. Before the
    first tick (``configure``, ``table_probe``) the faces turn any of them into one line and
    exit status 2; during a session the device guard turns them into a latched fault."""


class ModbusLinkError(TableError, ConnectionError):
    """The table cannot be reached, or what came back is not an answer of this map."""


class TableExceptionError(TableError, RuntimeError):
    """The table answered with a Modbus exception code.

    ``table`` (the URL) and ``hint`` word it for a user before the session (the identity read
    of a probe); without them it is the short form the session's events carry."""

    def __init__(self, what: str, code: int, *, table: str = "", hint: str = "") -> None:
        self.code = code
        text = mm.EXCEPTION_TEXT.get(code, "unknown exception")
        if table:
            message = (
                f"the table at {table} answered with Modbus exception {code:#04x} ({text}) {what}"
            )
        else:
            message = f"{what}: Modbus exception {code:#04x} ({text})"
        super().__init__(message + (f": {hint}" if hint else ""))


class TableFaultError(TableError, RuntimeError):
    """The table reports a fault code in its status block."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"table fault {mm.fault_describe(code)}")


class TableLimitError(TableError, ValueError):
    """The table cannot do what the session asks of it, or is not the table expected."""


class TableLoadedError(TableError):
    """The table still holds a force from an earlier session (SAF-18): not taken over."""


class _NoAnswer(Exception):
    """No answer within the timeout (handled inside the driver)."""


# --- where the table is ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeviceUrl:
    """``modbus://HOST:PORT`` (TCP) or ``rtu:///dev/ttyUSB0?baud=115200`` (serial RTU).

    Query options (both): ``unit`` (Modbus unit id, default 1), ``timeout_ms`` (per request);
    RTU also ``parity`` (N, E, O) and ``stopbits`` (1, 2).
    """

    scheme: str
    host: str = ""
    port: int = DEFAULT_TCP_PORT
    serial_port: str = ""
    baud: int = DEFAULT_BAUD
    parity: str = "N"
    stopbits: int = 1
    unit: int = DEFAULT_UNIT
    timeout_s: float | None = None
    text: str = field(default="", compare=False)

    @property
    def tcp(self) -> bool:
        return self.scheme == "modbus"

    def __str__(self) -> str:
        return self.text or (
            f"modbus://{self.host}:{self.port}"
            if self.tcp
            else f"rtu://{self.serial_port}?baud={self.baud}"
        )


def device_url_parse(text: str, field_name: str = "device") -> DeviceUrl:
    """Parse a device URL; anything wrong is an InputError naming ``field_name``."""
    try:
        parts = urlsplit(text.strip())
    except ValueError as exc:
        raise InputError(field_name, f"not a URL ({exc})", text) from None
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}

    def number(name: str, default: float, lo: float, hi: float) -> float:
        raw = query.pop(name, None)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InputError(field_name, f"{name} must be a number", raw) from None
        if not lo <= value <= hi:
            raise InputError(field_name, f"{name} must be within {lo:g}-{hi:g}", raw)
        return value

    unit = int(number("unit", DEFAULT_UNIT, 1, 247))  # Modbus unit ids 1-247 [modbus-serial]
    timeout_ms = query.get("timeout_ms")
    timeout_s = None
    if timeout_ms is not None:
        timeout_s = number("timeout_ms", 0.0, 1.0, 1000.0 * TICK_IO_BUDGET_S / 2) / 1000.0
    if parts.scheme == "modbus":
        if not parts.hostname:
            raise InputError(field_name, "modbus://HOST:PORT needs a host", text)
        try:
            port = parts.port or DEFAULT_TCP_PORT
        except ValueError:
            raise InputError(field_name, "the port must be a number 1-65535", text) from None
        _no_more(query, field_name, text)
        return DeviceUrl("modbus", host=parts.hostname, port=port, unit=unit,
                         timeout_s=timeout_s, text=text)  # fmt: skip
    if parts.scheme == "rtu":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path:
            raise InputError(field_name, "rtu:///dev/ttyX needs a serial device", text)
        baud = int(number("baud", DEFAULT_BAUD, 1200, 4_000_000))
        parity = query.pop("parity", "N").upper()
        if parity not in ("N", "E", "O"):
            raise InputError(field_name, "parity must be N, E or O", parity)
        stopbits = int(number("stopbits", 1, 1, 2))
        _no_more(query, field_name, text)
        return DeviceUrl("rtu", serial_port=path, baud=baud, parity=parity, stopbits=stopbits,
                         unit=unit, timeout_s=timeout_s, text=text)  # fmt: skip
    raise InputError(
        field_name, "must be modbus://HOST:PORT or rtu:///dev/ttyX?baud=N (or 'simulated')", text
    )


def _no_more(query: dict[str, str], field_name: str, text: str) -> None:
    query.pop("timeout_ms", None)
    if query:
        raise InputError(field_name, f"unknown option(s): {', '.join(sorted(query))}", text)


def rtu_frame_s(baud: int, n_bytes: int) -> float:
    """Time ``n_bytes`` take on an RTU line, plus the 3.5-character silence that ends a frame
    [modbus-serial]."""
    return (n_bytes + 3.5) * RTU_BITS_PER_CHAR / baud


# --- the driver --------------------------------------------------------------------------------
@dataclass(slots=True)
class WireStats:
    """What the link did: request counts, misses and (optionally) every round trip."""

    reads: int = 0
    writes: int = 0
    missed_reads: int = 0
    missed_writes: int = 0
    repeated_samples: int = 0
    late_answers: int = 0  # another request's answer, come after its timeout
    read_rtt_s: list[float] = field(default_factory=list)
    write_rtt_s: list[float] = field(default_factory=list)


class ModbusTable:
    """A real (or served) table on Modbus. Implements ``devices.base.Device``.

    ``now`` is the session clock (the device factory receives it). ``timeout_s`` overrides the
    per-request timeout and its check against the tick (for a served simulator on a simulated
    clock, where a wall-clock wait costs the loop no time). ``required_force_n``: the
    highest force the session may command; ``configure`` refuses a table whose own limit is
    lower. ``expected``: the identity a probe saw before (``table_probe``); ``configure``
    refuses a different table. ``emg``: read the EMG block (default: when the table has one).
    ``takeover_wait_s`` and ``sleep``: how long, and with what, ``configure`` waits for a table
    still loaded by an earlier session to release on its own (SAF-18; a test on a simulated
    clock passes the clock's ``advance``).
    """

    def __init__(
        self,
        url: DeviceUrl | str,
        now: Callable[[], float],
        *,
        timeout_s: float | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        required_force_n: float | None = None,
        expected: mm.TableIdentity | None = None,
        emg: bool | None = None,
        max_unacked: int = MAX_UNACKED,
        record_rtt: bool = False,
        takeover_wait_s: float = TAKEOVER_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url if isinstance(url, DeviceUrl) else device_url_parse(url)
        self._now = now
        self._timeout_req = timeout_s if timeout_s is not None else self.url.timeout_s
        self._explicit_timeout = timeout_s is not None
        self.connect_timeout_s = connect_timeout_s
        self.required_force_n = required_force_n
        self._expected = expected
        self._want_emg = emg
        self.max_unacked = max_unacked
        self._record = record_rtt
        self.takeover_wait_s = takeover_wait_s
        self._sleep = sleep
        self.waited_for_release_s = 0.0  # how long configure() waited for an earlier load
        self.stats = WireStats()
        self.identity: mm.TableIdentity | None = expected
        self.timeout_s = 0.0
        self._client: Any = None
        self._lock: TableLock | None = None
        self._state = DeviceState.UNCONFIGURED
        self._status_len = mm.STATUS_FIXED_LEN
        self._seq = 0
        self._cmd_seq = 0
        self._table_seq: int | None = None
        self._last: Reading | None = None
        self._fault_reported = 0
        self._activate_pending = False
        self._first_activation = True
        self.last_status: mm.Status | None = None

    # ---------------------------------------------------------------- Device protocol ------
    @property
    def state(self) -> DeviceState:
        return self._state

    @property
    def simulated(self) -> bool:
        """What the table says of itself: a served simulator is never taken for a real table
        (SAF-16). Known from the probe before ``configure``, or from ``configure``."""
        return self.identity.simulated if self.identity is not None else False

    @property
    def max_force_n(self) -> float | None:
        """The table's own force limit (None until its identity is known)."""
        return self.identity.max_force_n if self.identity is not None else None

    def configure(self) -> None:
        """Connect, read and check the identity and limits; the table has not moved."""
        if self._state not in (DeviceState.UNCONFIGURED, DeviceState.INACTIVE):
            raise RuntimeError(f"configure() in state {self._state.value}")
        try:
            self._connect()
            self._lock = TableLock(self._lock_key(), str(self.url))
            self._lock.acquire()  # one table, one session: before anything is read or moves
            ident = self._read_identity()
            self._check(ident)
            self.identity = ident
            want = ident.emg if self._want_emg is None else (self._want_emg and ident.emg)
            self._status_len = mm.STATUS_LEN if want else mm.STATUS_FIXED_LEN
            self.timeout_s = self._tick_timeout(ident)
            self._client.comm_params.timeout_connect = self.timeout_s
            # SAF-18: never take over a loaded table (before the first tick, with the lock held).
            status = self._await_slack(self._read_status_blocking())
        except TableError as exc:
            # Before the first tick nothing has moved (this session's): one line for the
            # user, not a trace.
            self.close()
            raise InputError("device", str(exc)) from None
        except BaseException:
            self.close()
            raise
        self.last_status = status
        self._state = DeviceState.INACTIVE  # the table moves only once activated
        self._table_seq = None
        self._first_activation = True
        # A fault code the table shows at bring-up is its past (e.g. the watchdog of the last
        # session), acknowledged by the activation: the table is slack by now (SAF-18), so
        # nothing of that past is left on the cable. Its state still reaches the policy with
        # every reading.
        self._fault_reported = status.fault_code

    def activate(self) -> None:
        """Accept commands from now on; the table holds the force the cable has now.

        The first activation after ``configure`` goes to the table together with the first
        command: the table's watchdog counts from its activation, and what the runtime does
        between bringing the table up and its first tick (collecting garbage before freezing
        it, asking for real-time priority) must not look like commands that stopped. A later
        activation (acknowledging a fault, SAF-10) is sent at once."""
        if self._state is DeviceState.UNCONFIGURED:
            raise DeviceNotActiveError("configure() the table before activate()")
        if self._client is None:
            self.configure()
        if self._first_activation:
            self._first_activation = False
            self._state = DeviceState.ACTIVE
            self._activate_pending = True
            return
        self._activate_now()

    def _activate_now(self) -> None:
        self._control(mm.Control.ACTIVATE)
        status = self._read_status_blocking()
        self._activate_pending = False
        if status.state is not DeviceState.ACTIVE:
            self._state = status.state
            raise DeviceNotActiveError(f"the table stayed {status.state.value} on activate")
        self._state = DeviceState.ACTIVE
        self._fault_reported = 0  # activating clears the table's fault code
        self._cmd_seq = status.cmd_ack

    def deactivate(self) -> None:
        """Release to zero, stop accepting commands, close the link (best effort)."""
        if self._state is DeviceState.UNCONFIGURED:
            return
        try:
            if self._client is not None:
                self._control(mm.Control.DEACTIVATE)
        finally:
            self._state = DeviceState.INACTIVE
            self._activate_pending = False
            self.close()

    def read(self) -> Reading:
        if self._client is None:
            raise DeviceNotActiveError(f"no link to the table ({self._state.value})")
        t = self._now()
        try:
            regs = self._request_status()
        except _NoAnswer:
            self.stats.missed_reads += 1
            if self._last is None:
                raise ModbusLinkError(f"{self.url}: no answer to the first read") from None
            return self._last  # stale: the policy judges its age (SAF-7)
        status = mm.status_of(regs)
        self.last_status = status
        if not self._activate_pending:  # until the first command the table is still inactive
            self._state = status.state
        code = status.fault_code
        if code and code != self._fault_reported:
            self._fault_reported = code
            raise TableFaultError(code)
        lag = mm.seq_newer(self._cmd_seq, status.cmd_ack)
        if (
            status.state is DeviceState.ACTIVE
            and not self._activate_pending
            and self.max_unacked < lag < 0x8000
        ):
            raise ModbusLinkError(f"the table has not taken the last {lag} commands")
        last = self._last
        if last is not None and status.seq == self._table_seq:
            self.stats.repeated_samples += 1
            return last  # the table has not sampled since: not fresh
        self._table_seq = status.seq
        self._seq += 1
        emg = np.asarray(status.emg_uv, dtype=np.float64) if status.emg_uv is not None else None
        reading = Reading(
            t, self._seq, status.force_n, status.winch_mm, status.stop_pressed, status.state, emg
        )
        self._last = reading
        return reading

    def write(self, command: Command) -> None:
        if self._state is not DeviceState.ACTIVE:
            raise DeviceNotActiveError(f"table is {self._state.value}, not active")
        ident = self.identity
        f, b = command.force_n, command.base_n
        if not (math.isfinite(f) and math.isfinite(b)):
            raise ValueError("command force_n and base_n must be finite")
        if ident is not None and f > ident.max_force_n + 1e-6:
            raise TableLimitError(
                f"setpoint {f:.1f} N above the table's limit of {ident.max_force_n:g} N"
            )
        if self._activate_pending:
            self._activate_now()
        seq = (self._cmd_seq + 1) & mm.U16
        regs = mm.command_regs(seq, max(0.0, f), max(0.0, min(b, f)), command.release)
        self._cmd_seq = seq
        client = self._client
        t0 = time.perf_counter()
        try:
            rr = client.write_registers(mm.COMMAND_ADDR, regs, device_id=self.url.unit)
        except _IO_ERRORS as exc:
            self._io_failed(exc)
            self.stats.missed_writes += 1
            return  # the read path checks that commands arrive (CMD_ACK)
        if not rr.isError() and getattr(rr, "function_code", None) != FC_WRITE_MULTIPLE:
            # An earlier request's late answer (RTU): this command's answer is lost; the read
            # checks that the command arrived (CMD_ACK).
            self.stats.late_answers += 1
            self.stats.missed_writes += 1
            return
        if self._record:
            self.stats.write_rtt_s.append(time.perf_counter() - t0)
        self.stats.writes += 1
        if rr.isError():
            code = int(getattr(rr, "exception_code", 0))
            if code == mm.EXC_DEVICE_BUSY:
                raise DeviceNotActiveError(
                    f"the table refuses commands (exception {code:#04x}: not active)"
                )
            raise TableExceptionError("command", code)

    # ---------------------------------------------------------------- lifecycle helpers ----
    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a broken link: nothing left
                client.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def __enter__(self) -> ModbusTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- internals ------------
    def _connect(self) -> None:
        from pymodbus.client import ModbusSerialClient, ModbusTcpClient

        u = self.url
        if u.tcp:
            client: Any = ModbusTcpClient(
                u.host, port=u.port, timeout=self.connect_timeout_s, retries=0,
                reconnect_delay=0.0,
            )  # fmt: skip
        else:
            client = ModbusSerialClient(
                u.serial_port, baudrate=u.baud, parity=u.parity, stopbits=u.stopbits,
                timeout=self.connect_timeout_s, retries=0, reconnect_delay=0.0,
            )  # fmt: skip
        if not client.connect():
            client.close()
            raise ModbusLinkError(f"cannot connect to the table at {u}")
        sock = getattr(client, "socket", None)
        if u.tcp and sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client

    def _lock_key(self) -> str:
        """The table as connected: the peer's address (whatever name reached it) or the serial
        device's real path, and the unit behind it."""
        u = self.url
        if u.tcp:
            sock = getattr(self._client, "socket", None)
            peer = sock.getpeername() if sock is not None else (u.host, u.port)
            return f"tcp:{peer[0]}:{peer[1]}/{u.unit}"
        return f"rtu:{os.path.realpath(u.serial_port)}/{u.unit}"

    def _read_identity(self) -> mm.TableIdentity:
        try:
            regs = self._read_regs(mm.IDENTITY_ADDR, mm.IDENTITY_LEN, "identity")
        except TableExceptionError as exc:
            # The first request a table gets: an exception here is mostly a wrong unit id
            # (a gateway or a server without that unit answers 0x04, 0x0A or 0x0B) or a device
            # that does not serve this register map (0x01, 0x02).
            other_map = exc.code in (0x01, mm.EXC_ILLEGAL_ADDRESS)
            hint = (
                "is it a table of this register map (docs/modbus.md)?"
                if other_map
                else f"check the unit id (unit={self.url.unit})"
            )
            raise TableExceptionError(
                "reading its identity", exc.code, table=str(self.url), hint=hint
            ) from None
        try:
            return mm.identity_of(regs)
        except ValueError as exc:
            raise TableLimitError(f"{self.url}: {exc}") from None

    def _check(self, ident: mm.TableIdentity) -> None:
        exp = self._expected
        if exp is not None and (exp.vendor, exp.model, exp.serial, exp.simulated) != (
            ident.vendor, ident.model, ident.serial, ident.simulated,
        ):  # fmt: skip
            raise TableLimitError(
                f"{self.url} is now {ident.vendor} {ident.model} #{ident.serial}, "
                f"not the table checked before ({exp.vendor} {exp.model} #{exp.serial})"
            )
        table_limit_check(ident, self.required_force_n)

    def _await_slack(self, status: mm.Status) -> mm.Status:
        """SAF-18: a session takes only a slack table.

        Activating makes the drive hold "the force the cable has now", and the session's first
        commands are its own small pretension: taking over a table that still holds an earlier
        session's force (a session killed before its release, whose load the table's watchdog
        now holds at base tension and then releases, SAF-9) would step that force down within
        a few ticks, a release nobody controls or records. So before the session's first tick:
        a table whose load cell or drive setpoint is above ``SLACK_N`` is left to finish its
        own release, for at most ``takeover_wait_s``, and is taken once it has stayed slack for
        ``TAKEOVER_SLACK_HOLD_S``; a table still loaded then is refused (``TableLoadedError``).
        A slack table is taken at once, whatever stale fault code it shows.
        """
        if not table_loaded(status):
            return status
        first = loaded = status
        waited = slack_for = 0.0
        while waited < self.takeover_wait_s - 1e-9:
            self._sleep(TAKEOVER_POLL_S)
            waited += TAKEOVER_POLL_S
            status = self._read_status_blocking()
            if table_loaded(status):
                loaded, slack_for = status, 0.0
                continue
            if slack_for >= TAKEOVER_SLACK_HOLD_S - 1e-9:
                self.waited_for_release_s = waited
                return status
            slack_for += TAKEOVER_POLL_S
        # Still loaded, or slack for less than the hold: refused, nothing of this session moved.
        held = max(loaded.force_n, loaded.drive_setpoint_n)
        fault = f", fault code {loaded.fault_code}" if loaded.fault_code else ""
        raise TableLoadedError(
            f"the table at {self.url} still holds {held:.0f} N from an earlier session "
            f"({first.force_n:.0f} N when asked, state {loaded.state.value}{fault}; waited "
            f"{waited:.1f} s for its own release): wait for it to release, then start again"
        )

    def _tick_timeout(self, ident: mm.TableIdentity) -> float:
        u = self.url
        if u.tcp:
            timeout = self._timeout_req or TCP_TIMEOUT_S
            wire = 0.0
        else:
            n = self._status_len
            wire = max(
                rtu_frame_s(u.baud, 8) + rtu_frame_s(u.baud, 5 + 2 * n),  # status read
                rtu_frame_s(u.baud, 9 + 2 * mm.COMMAND_LEN) + rtu_frame_s(u.baud, 8),  # command
            )
            timeout = self._timeout_req or wire + RTU_MARGIN_S
        # An explicit ``timeout_s`` is the caller's (a table on a simulated clock, where wall
        # time does not pass for the loop); the time on the wire is physics either way.
        worst = wire if self._explicit_timeout else max(timeout, wire)
        if 2 * worst > TICK_IO_BUDGET_S + 1e-9:
            raise TableLimitError(
                f"{u}: a tick's two requests need {2000 * worst:.1f} ms on this "
                f"link, more than the {1000 * TICK_IO_BUDGET_S:g} ms a 20 ms tick allows "
                "(raise the baud rate or read without EMG)"
            )
        return timeout

    def _control(self, value: mm.Control) -> None:
        rr = self._handshake(
            lambda: self._client.write_register(
                mm.CONTROL_ADDR, int(value), device_id=self.url.unit
            ),
            FC_WRITE_SINGLE,
            f"no answer to {value.name.lower()}",
        )
        if rr.isError():
            raise TableExceptionError(value.name.lower(), int(getattr(rr, "exception_code", 0)))

    def _read_status_blocking(self) -> mm.Status:
        regs = self._read_regs(mm.STATUS_ADDR, self._status_len, "status")
        try:
            return mm.status_of(regs)
        except ValueError as exc:  # e.g. a state code this map does not know
            raise ModbusLinkError(f"{self.url}: {exc}") from None

    def _read_regs(self, address: int, count: int, what: str) -> list[int]:
        rr = self._handshake(
            lambda: self._client.read_input_registers(
                address, count=count, device_id=self.url.unit
            ),
            FC_READ_INPUT,
            f"no answer reading the {what}",
        )
        return self._registers(rr, count, what)

    def _handshake(self, request: Callable[[], Any], function: int, failed: str) -> Any:
        """An idempotent request, sent again when its answer is lost (``HANDSHAKE_ATTEMPTS``):
        no answer in time, or an earlier request's late answer in its place."""
        for _ in range(HANDSHAKE_ATTEMPTS):
            try:
                rr = request()
            except _IO_ERRORS as exc:
                self._io_failed(exc)  # a lost connection is raised at once
                continue
            if not rr.isError() and getattr(rr, "function_code", None) != function:
                self.stats.late_answers += 1
                continue
            return rr
        raise ModbusLinkError(f"{self.url}: {failed}")

    def _request_status(self) -> list[int]:
        n = self._status_len
        t0 = time.perf_counter()
        try:
            rr = self._client.read_input_registers(mm.STATUS_ADDR, count=n, device_id=self.url.unit)
        except _IO_ERRORS as exc:
            self._io_failed(exc)
            raise _NoAnswer from None
        if not rr.isError() and getattr(rr, "function_code", None) != FC_READ_INPUT:
            self.stats.late_answers += 1  # a command's late answer: this read's is lost
            raise _NoAnswer
        if self._record:
            self.stats.read_rtt_s.append(time.perf_counter() - t0)
        self.stats.reads += 1
        return self._registers(rr, n, "status")

    def _registers(self, rr: Any, count: int, what: str) -> list[int]:
        if rr.isError():
            raise TableExceptionError(f"reading the {what}", int(getattr(rr, "exception_code", 0)))
        regs = getattr(rr, "registers", None)
        fc = getattr(rr, "function_code", None)
        if fc != FC_READ_INPUT or regs is None or len(regs) != count:
            raise ModbusLinkError(f"{self.url}: malformed answer reading the {what}")
        return list(regs)

    def _io_failed(self, exc: BaseException) -> None:
        """A lost connection is raised; a timeout is left to the caller."""
        from pymodbus.exceptions import ConnectionException

        if isinstance(exc, ConnectionException):
            self.close()
            raise ModbusLinkError(f"{self.url}: connection lost ({exc})") from None


def _io_error_types() -> tuple[type[BaseException], ...]:
    from pymodbus.exceptions import ModbusException

    return (ModbusException, OSError)


_IO_ERRORS = _io_error_types()


def table_loaded(status: mm.Status) -> bool:
    """True while the table holds a force (SAF-18): its load cell, or the setpoint its drive
    tracks (held by its watchdog after an earlier session, SAF-9), above ``SLACK_N``."""
    return status.force_n > SLACK_N or status.drive_setpoint_n > SLACK_N


def table_limit_check(ident: mm.TableIdentity, required_force_n: float | None) -> None:
    """Refuse a table that cannot do what the session needs (raises ``TableLimitError``)."""
    if ident.watchdog_s <= 0.0 or ident.watchdog_s > COMMAND_TIMEOUT_S + 1e-9:
        raise TableLimitError(
            f"the table's command watchdog is {1000 * ident.watchdog_s:g} ms; the runtime "
            f"relies on one of at most {1000 * COMMAND_TIMEOUT_S:g} ms (SAF-9)"
        )
    if ident.emg and ident.emg_rate_hz != EMG_RATE_HZ:
        raise TableLimitError(
            f"the table samples EMG at {ident.emg_rate_hz} Hz; the detector needs {EMG_RATE_HZ}"
            f" Hz in blocks of {EMG_BLOCK}"
        )
    if required_force_n is not None and required_force_n > ident.max_force_n + 1e-6:
        raise TableLimitError(
            f"the table's force limit is {ident.max_force_n:g} N, below the "
            f"{required_force_n:g} N this session may command (lower the peak or set "
            "--clinician-max to the table's limit)"
        )


def table_probe(
    url: DeviceUrl | str, *, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> mm.TableIdentity:
    """Connect, read the identity block, disconnect: who is on the wire, before a session."""
    table = ModbusTable(url, time.monotonic, connect_timeout_s=connect_timeout_s)
    table._connect()
    try:
        return table._read_identity()
    finally:
        table.close()


def modbus_factory(url: DeviceUrl | str, **options: Any) -> Callable[[Callable[[], float]], Device]:
    """A device factory for ``services.sessions``: the table stamps readings with the session
    clock it is given. Unless ``expected`` is given, the factory probes the table's identity
    when it builds the driver (before the first tick), so the session knows from the start
    whether the table is a served simulator (SAF-16) and what its limits are."""
    parsed = url if isinstance(url, DeviceUrl) else device_url_parse(url)

    def make(now: Callable[[], float]) -> Device:
        opts = dict(options)
        if opts.get("expected") is None:
            opts["expected"] = table_probe(
                parsed, connect_timeout_s=opts.get("connect_timeout_s", CONNECT_TIMEOUT_S)
            )
        return ModbusTable(parsed, now, **opts)

    return make
