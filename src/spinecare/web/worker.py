"""A session in a process of its own: the 50 Hz loop with its own interpreter.

Threads of one server share one interpreter lock: ten loops and the request handlers in one
process made loops late (``bench/b6_web.py``: every session of ten ended in the policy's
loop-overrun fault). So the server starts each session in a child process (spawned, not
forked: the server has threads). The child checks and records the session through the session
service (before the table moves), runs it, and sends each tick one way over a bounded queue
(``put_nowait``: the loop never waits; a full queue drops the frame and the monitor sees the
gap). Commands come in over a pipe: STOP, PAUSE. If the server goes away, the pipe closes and
the child stops the session itself (controlled release).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from spinecare.errors import InputError
from spinecare.runtime.session import TickView
from spinecare.services.auth import Actor
from spinecare.services.errors import NotFoundError, PermissionDeniedError
from spinecare.store.enums import Role
from spinecare.therapy.protocol import Protocol

# Frames in flight between the child and the server: one minute at 50 Hz.
QUEUE_FRAMES = 3000
READY_TIMEOUT_S = 120.0
# SCHED_FIFO priority of a real-time loop thread, as `spinecare session run` asks for it:
# above every normal process, below the kernel's threaded interrupts (50).
REALTIME_PRIORITY = 40
# The session's helper threads (telemetry writer, tick queue, commands) run just below the loop:
# the loop needs the interpreter lock each tick, and a helper holding it must not be preempted
# by the server or another session's start-up (priority inversion; engineering choice).
HELPER_PRIORITY = 30


@dataclass(frozen=True, slots=True)
class WorkerJob:
    database_url: str
    session_id: int
    actor_id: int
    actor_username: str
    actor_role: str
    out_dir: str
    minutes: float | None
    speed: float
    emg: bool
    clinician_max_force_n: float | None
    protocol: dict[str, Any]
    # The probed table on the wire (web/device.py), or None for the simulated table.
    table: Any = None
    # The clinic's screening settings (JSON), checked again before the table moves.
    screening: dict[str, Any] | None = None


def worker_main(job: WorkerJob, commands: Connection, out: Any) -> None:
    """The child process: prepare (checks, ``running``), run, report."""
    from spinecare.clinical.screening_settings import ScreeningSettings
    from spinecare.runtime.clock import Clock, MonotonicClock, PacedClock
    from spinecare.runtime.loop import RealtimeOptions
    from spinecare.services.sessions import SessionOptions, course_session_prepare
    from spinecare.store import open_store

    seq = 0

    def on_tick(view: TickView) -> None:
        nonlocal seq
        seq += 1
        with contextlib.suppress(queue.Full):
            out.put_nowait(("tick", seq, time.time() * 1000.0, view))

    store = open_store(url=job.database_url, auto_migrate=False)
    try:
        actor = Actor(job.actor_id, job.actor_username, Role(job.actor_role))
        real_time = job.speed == 1.0
        # A plain sleep (no spinning): ten loop processes spinning 1.5 ms a tick would take most
        # of a core; the sleep's wake-up error (about 1 ms, runtime/clock.py) is far inside
        # the 20 ms period.
        clock: Clock = MonotonicClock(spin_s=0.0) if real_time else PacedClock(job.speed)
        options = SessionOptions(
            clock=clock,
            realtime=RealtimeOptions(fifo_priority=REALTIME_PRIORITY) if real_time else None,
            emg=job.emg,
            clinician_max_force_n=job.clinician_max_force_n,
            subscribers=(on_tick,),
            tick_view_every=1,
        )
        proto = Protocol.model_validate(job.protocol)
        warm_up(proto, job.session_id, job.emg, simulated=job.table is None)
        if real_time:  # threads inherit it: everything the session starts from here on
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(HELPER_PRIORITY))
        try:
            live = course_session_prepare(
                store.unit_of_work,
                actor,
                job.session_id,
                device_factory(
                    proto,
                    job.session_id,
                    job.emg,
                    table=job.table,
                    clinician_max_force_n=job.clinician_max_force_n,
                ),
                out_dir=Path(job.out_dir),
                minutes=job.minutes,
                options=options,
                screening=None
                if job.screening is None
                else ScreeningSettings.model_validate(job.screening),
            )
        except InputError as exc:
            out.put(("error", "input", exc.field, exc.reason, str(exc.value)))
            return
        except PermissionDeniedError as exc:
            out.put(("error", "denied", exc.username, exc.role, exc.action))
            return
        except NotFoundError as exc:
            out.put(("error", "notfound", exc.entity, str(exc.ident), ""))
            return
        out.put(("ready", live.protocol.model_dump(mode="json"), list(live.warnings)))

        def listen() -> None:
            while True:
                try:
                    cmd, arg = commands.recv()
                except (EOFError, OSError):
                    live.request_stop("server gone")  # the server died: release
                    return
                if cmd == "stop":
                    live.request_stop(str(arg))
                elif cmd == "pause":
                    live.request_pause(bool(arg))

        threading.Thread(target=listen, name="commands", daemon=True).start()
        try:
            done = live.run()
            out.put(("done", done.outcome, done.summary.end_reason))
        except BaseException as exc:
            out.put(("done", "error", repr(exc)))
    finally:
        store.dispose()


def warm_up(proto: Protocol, seed: int, emg: bool, *, simulated: bool = True) -> None:
    """Compile (or load from the cache) the simulated table's physics and the EMG detector at
    normal priority, on a scratch table: the session's own preparation then finds them ready and
    does not hold a CPU at real-time priority while other sessions run. A table on the wire is
    never touched here (it is brought up once, by the session)."""
    if simulated:
        scratch = device_factory(proto, seed, emg)(lambda: 0.0)
        scratch.configure()
    if emg:
        from spinecare.signals.emg import EmgGuardingDetector

        warm = getattr(EmgGuardingDetector(), "warm_up", None)
        if callable(warm):
            warm()


def device_factory(
    proto: Protocol,
    seed: int,
    emg: bool,
    *,
    table: Any = None,
    clinician_max_force_n: float | None = None,
) -> Any:
    """The table on the wire's driver, or the simulated table with a virtual patient of the
    protocol's weight and region."""
    if table is not None:
        return table.factory(proto, clinician_max_force_n=clinician_max_force_n, emg=emg)
    from spinecare.cohort.run import simulated_table_factory

    return simulated_table_factory(proto, seed, emg)


class ProcessSession:
    """The server's handle on a session running in a child process."""

    def __init__(self, job: WorkerJob) -> None:
        ctx = mp.get_context("spawn")
        self._commands, child_end = ctx.Pipe()
        self._out: Any = ctx.Queue(maxsize=QUEUE_FRAMES)
        self._lock = threading.Lock()
        self.process = ctx.Process(
            target=worker_main,
            args=(job, child_end, self._out),
            daemon=True,
            name=f"session-{job.session_id}",
        )
        self.process.start()
        child_end.close()
        # What the service said at the start (e.g. a session run days before its booked day).
        self.warnings: list[str] = []
        # Why the session ended, as its summary records it (set when the child reports the end;
        # the last tick relayed may have been sent before the reason was known).
        self.end_reason: str | None = None
        self.protocol = self._ready()

    def _ready(self) -> Protocol:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                msg = self._out.get(timeout=0.5)
            except queue.Empty:
                if not self.process.is_alive():
                    raise InputError(
                        "session", "the session process ended before the start"
                    ) from None
                continue
            if msg[0] == "ready":
                self.warnings = [str(x) for x in msg[2]] if len(msg) > 2 else []
                return Protocol.model_validate(msg[1])
            if msg[0] == "error":
                self.process.join(5)
                kind, a, b, c = msg[1], msg[2], msg[3], msg[4]
                if kind == "denied":
                    raise PermissionDeniedError(a, b, c)
                if kind == "notfound":
                    raise NotFoundError(a, b)
                raise InputError(a, b, c or None)
        self.request_stop("the session did not get ready in time")
        raise InputError("session", "did not get ready in time")

    def _send(self, cmd: str, arg: object) -> None:
        with self._lock, contextlib.suppress(OSError, BrokenPipeError):
            self._commands.send((cmd, arg))

    def request_stop(self, reason: str = "patient stop") -> None:
        self._send("stop", reason)

    def request_pause(self, paused: bool = True) -> None:
        self._send("pause", paused)

    def run(self, sink: Callable[[int, float, TickView], None]) -> str:
        """Relay the child's ticks to ``sink`` until it reports the end; the outcome."""
        while True:
            try:
                msg = self._out.get(timeout=1.0)
            except queue.Empty:
                if not self.process.is_alive():
                    return "error: the session process died"
                continue
            if msg[0] == "tick":
                sink(msg[1], msg[2], msg[3])
            elif msg[0] == "done":
                self.process.join(10)
                self._out.close()
                self._commands.close()
                if msg[1] == "error":
                    return f"error: {msg[2]}"
                self.end_reason = str(msg[2]) or None
                return str(msg[1])
