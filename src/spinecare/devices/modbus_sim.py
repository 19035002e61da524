"""The simulated table behind the Modbus register map: a pymodbus server (TCP or RTU) whose
device's registers the simulator updates (docs/modbus.md).

The server is the table's firmware: every status read samples the ``SimulatedTable`` (which
first catches its 1 kHz physics up to its clock), every command write goes to the table's
drive, and the table's own watchdog releases when commands stop. It uses pymodbus's
``SimDevice``/``SimData`` datastore with an action callback (the older datastore contexts are
deprecated in pymodbus 3.x).

Clock: the table follows the clock it was built with. A server in the same process as a fast
session shares the session's ``SimulatedClock`` (the table then moves only as the loop's time
does, and only requests move it: ``tick_s=None``); a real-time server uses the monotonic clock
and a ticker that keeps the physics (and so the watchdog) running when no request comes.

Faults on the wire, for tests and demonstrations (each can be switched on from another thread):
``mute`` (requests are dropped unanswered and the commands in them never reach the table),
``delay`` (every answer leaves late; the request itself is served on arrival),
``lose_answers`` (the next N answers are lost on the line; their requests are served),
``read_exception`` (status reads answer with a Modbus exception code), ``fault_code`` (the table
reports a fault and releases itself), ``corrupt`` (one status register holds a fixed value).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from pymodbus.constants import ExcCodes

from spinecare.devices import modbus_map as mm
from spinecare.devices.base import DeviceNotActiveError
from spinecare.devices.simulated import SimulatedTable
from spinecare.quantities import (
    DEVICE_MAX_FORCE_N,
    TRACTION_FORCE,
    WINCH_MAX_SPEED_MM_S,
    WINCH_POSITION,
)
from spinecare.vocab import COMMAND_TIMEOUT_S, EMG_RATE_HZ, Command, DeviceState

# pymodbus logs a failed bind as a bare line of its own; the server raises it as an OSError
# (the CLI words it), so the library stays quiet unless an application configures logging.
logging.getLogger("pymodbus").addHandler(logging.NullHandler())

# The real-time server advances the physics at least this often when no request comes, so the
# table's watchdog acts within a fifth of its 100 ms (engineering choice).
SERVER_TICK_S = 0.020
FIRMWARE = 0x0100  # 1.0


def sim_identity(
    *, emg: bool, serial: str, max_force_n: float = DEVICE_MAX_FORCE_N
) -> mm.TableIdentity:
    """The identity the simulated table reports: its limits are the simulator's own."""
    return mm.TableIdentity(
        vendor="spinecare",
        model="simulated table",
        serial=serial,
        firmware=FIRMWARE,
        simulated=True,
        emg=emg,
        patient_switch=True,
        max_force_n=max_force_n,
        full_scale_n=TRACTION_FORCE.absolute_max,
        travel_mm=WINCH_POSITION.absolute_max,
        max_speed_mm_s=WINCH_MAX_SPEED_MM_S,
        watchdog_s=COMMAND_TIMEOUT_S,
        emg_rate_hz=EMG_RATE_HZ,
    )


class SimTableServer:
    """A ``SimulatedTable`` served on Modbus TCP (``port``) or RTU (``serial_port``).

    ``start()`` serves from a background thread (tests, benchmarks); ``serve_forever()`` in the
    calling thread (``spinecare table serve-sim``). ``port=0`` picks a free port (see ``port``).
    """

    def __init__(
        self,
        table: SimulatedTable,
        clock: Callable[[], float],
        *,
        host: str = "127.0.0.1",
        port: int = 5020,
        serial_port: str | None = None,
        baudrate: int = 115200,
        unit: int = 1,
        identity: mm.TableIdentity | None = None,
        tick_s: float | None = SERVER_TICK_S,
        fifo_priority: int | None = None,
    ) -> None:
        self.table = table
        self.clock = clock
        self.host = host
        self._port = port
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.unit = unit
        self.identity = identity or sim_identity(
            emg=table.emg_enabled, serial=f"SIM-{table.patient.seed}"
        )
        self.tick_s = tick_s
        self.fifo_priority = fifo_priority
        self.realtime = "not asked"
        # Wire faults (plain attributes: set from any thread, read on the server's loop).
        self.mute = False
        self.delay_s = 0.0
        self.lose_answers = 0
        self.read_exception: int | None = None
        self.fault_code = mm.FaultCode.NONE
        self.corrupt: dict[int, int] = {}
        self.ignore_commands = False  # answered, but never reach the drive (lost inside)
        self._scheduled: list[tuple[float, Callable[[SimTableServer], None]]] = []
        # What the table has been told and has served.
        self.requests = 0
        self.commands = 0
        self._sample = 0
        self._cmd_seq = 0
        self._wd_seen = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: Any = None
        self._regs: list[int] | None = None
        self._origin: float | None = None

    # ---------------------------------------------------------------- running --------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        if self.serial_port is not None:
            return f"rtu://{self.serial_port}?baud={self.baudrate}&unit={self.unit}"
        return f"modbus://{self.host}:{self._port}?unit={self.unit}"

    def start(self, timeout_s: float = 10.0) -> SimTableServer:
        """Serve from a daemon thread; returns once the server listens."""
        self.table.configure()  # compiles (or loads) the physics kernel before serving
        self._thread = threading.Thread(target=self._run, name="modbus-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("the Modbus simulator did not start")
        if self._error is not None:
            raise RuntimeError(f"the Modbus simulator did not start: {self._error}")
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def __enter__(self) -> SimTableServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self, on_ready: Callable[[SimTableServer], None] | None = None) -> None:
        """Serve in this thread until interrupted (Ctrl-C) or ``stop()``."""
        self.table.configure()
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self._main(on_ready))

    def _run(self) -> None:
        try:
            asyncio.run(self._main(None))
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _main(self, on_ready: Callable[[SimTableServer], None] | None) -> None:
        from pymodbus.server import ModbusSerialServer, ModbusTcpServer
        from pymodbus.server.requesthandler import ServerRequestHandler
        from pymodbus.simulator import DataType, SimData, SimDevice

        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ask_fifo()
        regs = DataType.REGISTERS
        device = SimDevice(
            id=self.unit,
            simdata=[
                SimData(mm.STATUS_ADDR, count=mm.STATUS_LEN, datatype=regs, readonly=True),
                SimData(
                    mm.IDENTITY_ADDR,
                    values=mm.identity_regs(self.identity),
                    datatype=regs,
                    readonly=True,
                ),
                SimData(mm.COMMAND_ADDR, count=mm.COMMAND_LEN, datatype=regs),
                SimData(mm.CONTROL_ADDR, datatype=regs),
            ],
            action=self._action,
        )
        kwargs: dict[str, Any] = {"trace_pdu": self._trace_pdu}
        if self.serial_port is not None:
            server: Any = ModbusSerialServer(
                device, port=self.serial_port, baudrate=self.baudrate, **kwargs
            )
        else:
            server = ModbusTcpServer(device, address=(self.host, self._port), **kwargs)

        def new_connection() -> Any:
            handler = ServerRequestHandler(  # type: ignore[no-untyped-call]
                server, server.trace_packet, server.trace_pdu, server.trace_connect
            )
            send = handler.low_level_send

            def late_send(data: bytes, addr: Any = None) -> Any:
                if self.lose_answers > 0:
                    self.lose_answers -= 1
                    return None
                delay = self.delay_s
                if delay > 0.0:
                    self._loop.call_later(delay, send, data, addr)  # type: ignore[union-attr]
                    return None
                return send(data, addr=addr)

            handler.low_level_send = late_send
            return handler

        server.callback_new_connection = new_connection
        try:
            await server.serve_forever(background=True)
        except RuntimeError:  # pymodbus logs the OSError of its bind or open, then raises this
            where = self.serial_port or f"{self.host}:{self._port}"
            raise OSError(
                f"cannot serve on {where}: in use by another process, or not available"
            ) from None
        self._server = server
        if self.serial_port is None and self._port == 0:
            sockets = getattr(server.transport, "sockets", None) or ()
            if sockets:
                self._port = int(sockets[0].getsockname()[1])
        ticker = asyncio.create_task(self._ticker()) if self.tick_s else None
        if self.fifo_priority is not None:
            # Real-time serving, as the session's loop does (runtime/loop.py): a full collection
            # over the start-up heap (numba, scipy, pymodbus) takes about 90 ms, long enough
            # for the session to see stale readings and the table's watchdog to expire. After
            # the freeze the collector only looks at objects made while serving.
            gc.collect()
            gc.freeze()
            self.realtime += ", start-up heap frozen"
        self._ready.set()
        if on_ready is not None:  # serving in the main thread: SIGTERM stops it like Ctrl-C
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(signal.SIGTERM, self._stopping.set)
            on_ready(self)
        try:
            await self._stopping.wait()
        finally:
            if ticker is not None:
                ticker.cancel()
            await server.shutdown()

    def _ask_fifo(self) -> None:
        """A real table's firmware runs on its own processor; on a shared host the serving
        thread asks for SCHED_FIFO (best effort, as the session's loop does)."""
        prio = self.fifo_priority
        if prio is None:
            return
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(prio))
            self.realtime = f"SCHED_FIFO {prio}"
        except (OSError, AttributeError, ValueError) as exc:
            self.realtime = f"SCHED_FIFO not granted: {exc}"

    async def _ticker(self) -> None:
        assert self.tick_s is not None
        while True:
            await asyncio.sleep(self.tick_s)
            if self._scheduled:
                self._due()
            self._catch_up()

    def at(self, t_s: float, change: Callable[[SimTableServer], None]) -> None:
        """Apply ``change`` on the server's thread once the table's clock reaches ``t_s`` (at
        the first request or tick after it): wire faults at a given session time."""
        self._scheduled.append((t_s, change))
        self._scheduled.sort(key=lambda x: x[0])

    def _due(self) -> None:
        while self._scheduled and self.clock() >= self._scheduled[0][0]:
            _, change = self._scheduled.pop(0)
            change(self)

    # ---------------------------------------------------------------- the firmware ---------
    def _catch_up(self) -> None:
        """Let the table's physics (and its watchdog) run up to its clock."""
        if self.table.state is not DeviceState.UNCONFIGURED:
            self.table.read()

    def _advance_to_clock(self) -> None:
        origin = self._origin
        if origin is None:
            return
        due = self.clock() - origin - self.table.time_s
        if due >= 0.001:
            self.table.advance(math.floor(due * 1000.0 + 1e-6) / 1000.0)

    def _trace_pdu(self, sending: bool, pdu: Any) -> Any:
        if not sending and self._scheduled:
            self._due()
        if not sending and self.mute:
            self._catch_up()  # the table runs on; the request never reaches it
            return None
        return pdu

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        code = self._serve(address, count, start_address, registers, values)
        return None if code is None else ExcCodes(code)

    def _serve(
        self,
        address: int,
        count: int,
        start_address: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> int | None:
        self.requests += 1
        self._regs = registers
        end = address + count
        if values is None:
            if address < mm.STATUS_ADDR + mm.STATUS_LEN and end > mm.STATUS_ADDR:
                if self.read_exception is not None:
                    return self.read_exception
                self._sample_into(registers, start_address)
            return None
        if address == mm.CONTROL_ADDR:
            return self._control(int(values[0]))
        if mm.COMMAND_ADDR <= address < mm.COMMAND_ADDR + mm.COMMAND_LEN:
            off = mm.COMMAND_ADDR - start_address
            block = list(registers[off : off + mm.COMMAND_LEN])
            for i, v in enumerate(values):
                block[address - mm.COMMAND_ADDR + i] = int(v)
            return self._command(block)
        return mm.EXC_ILLEGAL_ADDRESS

    def _control(self, value: int) -> int | None:
        table = self.table
        if value == mm.Control.ACTIVATE:
            table.activate()
            self.fault_code = mm.FaultCode.NONE
            self._wd_seen = len(table.truth.watchdog_s)
            return None
        if value == mm.Control.DEACTIVATE:
            table.deactivate()
            return None
        return mm.EXC_ILLEGAL_VALUE

    def _command(self, block: list[int]) -> int | None:
        try:
            cmd = mm.command_of(block)
        except ValueError:
            return mm.EXC_ILLEGAL_VALUE
        table = self.table
        # The drive takes the command at the present time: catch the physics (and so the
        # watchdog) up first, without sampling the sensors (that would draw their noise).
        self._advance_to_clock()
        if table.state is not DeviceState.ACTIVE:
            return mm.EXC_DEVICE_BUSY
        if cmd.force_n > self.identity.max_force_n or cmd.base_n > cmd.force_n + 1e-9:
            return mm.EXC_ILLEGAL_VALUE
        if cmd.seq == self._cmd_seq or self.ignore_commands:
            return None  # a repeated (or lost) frame: answered, but it does not feed the watchdog
        try:
            table.write(Command(self.clock(), cmd.force_n, cmd.base_n, cmd.release))
        except DeviceNotActiveError:
            return mm.EXC_DEVICE_BUSY
        self._cmd_seq = cmd.seq
        self.commands += 1
        return None

    def _table_fault(self) -> int:
        """The fault register from what the simulated table did (or an injected code)."""
        if self.fault_code:
            return int(self.fault_code)
        table = self.table
        if table.state is DeviceState.FAULT:
            travel = table.true_winch_mm > WINCH_POSITION.absolute_max
            return int(mm.FaultCode.TRAVEL if travel else mm.FaultCode.OVERLOAD)
        if len(table.truth.watchdog_s) > self._wd_seen:
            return int(mm.FaultCode.WATCHDOG)
        return 0

    def _sample_into(self, registers: list[int], start_address: int) -> None:
        table = self.table
        if self.fault_code and table.state is DeviceState.ACTIVE:
            table.deactivate()  # an injected fault: the table releases itself
        rd = table.read()
        if self._origin is None:  # the clock time of the table's time zero
            self._origin = self.clock() - table.time_s
        self._sample += 1
        emg = rd.emg_uv
        env = 0.0
        if emg is not None and len(emg):
            env = math.sqrt(float((emg * emg).mean()))
        fault = self._table_fault()
        state = rd.state
        if self.fault_code:
            state = DeviceState.FAULT
        regs = mm.status_regs(
            seq=self._sample,
            state=state,
            fault_code=fault,
            stop_pressed=rd.stop_pressed,
            watchdog_expired=len(table.truth.watchdog_s) > self._wd_seen,
            force_n=rd.force_n,
            winch_mm=rd.winch_mm,
            emg_envelope_uv=env,
            cmd_ack=self._cmd_seq,
            drive_setpoint_n=table.drive_setpoint_n,
            emg_uv=emg,
        )
        for off, value in self.corrupt.items():
            regs[off] = value & mm.U16
        off = mm.STATUS_ADDR - start_address
        registers[off : off + mm.STATUS_LEN] = regs


def wait_port(host: str, port: int, timeout_s: float = 5.0) -> None:
    """Wait until something accepts TCP connections on ``host:port`` (scripts and tests)."""
    import socket

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
