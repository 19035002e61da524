"""Running sessions of this server: one process each (``worker.py``), telemetry out one way.

A relay thread per session takes the ticks the session's process sends and stores each in a
preallocated ring (one list item assignment). The SSE handlers in the event loop poll the ring
and send what is new; a browser that disconnects loses nothing the ring still holds, and the
session neither notices nor waits. Commands go the other way (stop, pause) over the process's
command pipe into the runner's thread-safe requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spinecare.runtime.session import TickView
from spinecare.vocab import TICK_S
from spinecare.web.worker import ProcessSession

# Ring capacity: two minutes of ticks at 50 Hz, enough for a monitor that reconnects after a
# network hiccup to catch up without a gap (engineering choice).
RING_TICKS = int(120 / TICK_S)
# How long a finished session stays listed (its monitor shows the end) before it is dropped.
KEEP_FINISHED_S = 600.0


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    wall_ms: float  # when the loop published it (for the latency figure)
    view: TickView

    def row(self) -> list[Any]:
        v = self.view
        return [
            self.seq,
            round(self.wall_ms, 1),
            round(v.t_s, 3),
            v.phase,
            round(v.target_n, 1),
            round(v.commanded_n, 1),
            round(v.measured_n, 1),
            round(v.muscle_tension_n, 2),
            round(v.emg_envelope_uv, 1),
            round(v.segment_force_n, 1),
            round(v.time_left_s, 1),
            v.guarding_events,
            round(v.peak_n, 1),
            list(v.flags),
            v.ended,
            v.end_reason,
            v.stop_pressed,
            list(v.faults),
            v.emg_status,
        ]


FRAME_FIELDS = (
    "seq",
    "wall_ms",
    "t_s",
    "phase",
    "target_n",
    "commanded_n",
    "measured_n",
    "muscle_tension_n",
    "emg_envelope_uv",
    "segment_force_n",
    "time_left_s",
    "guarding_events",
    "peak_n",
    "flags",
    "ended",
    "end_reason",
    "stop_pressed",
    "faults",
    "emg_status",
)

# What the monitor's messages panel shows and how loud (display only; the safety policy acts on
# every fault the same way: latch and release). "error": a latched fault, the table releases to
# zero and the session ends. "warning": the session goes on, limited: the EMG channel not ready
# (counter-tension watched on the force path alone) or the force cut by a limit (a clamp other
# than the routine rise limit and the protocol's own peak). "info": the routine shaping.
SEVERITY_ERROR, SEVERITY_WARNING, SEVERITY_INFO = "error", "warning", "info"
CLAMP_SEVERITY: dict[str, str] = {
    "clinician": SEVERITY_WARNING,
    "body_weight_cap": SEVERITY_WARNING,
    "device_limit": SEVERITY_WARNING,
    "invalid": SEVERITY_WARNING,
    "base_invalid": SEVERITY_WARNING,
    "protocol": SEVERITY_INFO,
    "rate_rise": SEVERITY_INFO,
    "base_above_setpoint": SEVERITY_INFO,
}
# EMG states in which the reaction to counter-tension has its EMG path (controller.EMG_*).
EMG_FINE = ("", "none", "active")


def severities(view: TickView) -> list[tuple[str, str]]:
    """(severity, what) for one tick: faults first, then warnings, then notes; what is a key the
    monitor translates (``fault:KIND``, ``emg:STATUS``, ``clamp:STAGE``)."""
    out = [(SEVERITY_ERROR, f"fault:{k}") for k in view.faults]
    if view.emg_status not in EMG_FINE:
        out.append((SEVERITY_WARNING, f"emg:{view.emg_status}"))
    for flag in view.flags:
        if flag.startswith("clamp:"):
            stage = flag.removeprefix("clamp:")
            out.append((CLAMP_SEVERITY.get(stage, SEVERITY_WARNING), flag))
    return out


@dataclass
class LiveEntry:
    """One session running (or just finished) on this server."""

    session_id: int
    patient_id: int
    patient_name: str
    started_by: str
    live: ProcessSession
    ring: list[Frame | None] = field(default_factory=lambda: [None] * RING_TICKS)
    seq: int = 0  # written only by the relay thread
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: float | None = None
    outcome: str | None = None
    error: str | None = None
    paused: bool = False
    thread: threading.Thread | None = None
    # The clinician's limit the session runs with (the controller plans within it).
    clinician_max_force_n: float | None = None
    # Monitors waiting for the next tick: (their event loop, their event). The relay thread
    # wakes each once per tick it stores, so a tick goes out as soon as it arrives (no polling).
    _waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=list)
    _waiting_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- relay thread ------------------------------------------------------------------------
    def put(self, seq: int, wall_ms: float, view: TickView) -> None:
        """A tick from the session's process (``seq`` counts from 1 there)."""
        self.ring[seq % RING_TICKS] = Frame(seq, wall_ms, view)
        self.seq = seq  # published after the frame is in place
        self._wake()

    def _wake(self) -> None:
        with self._waiting_lock:
            waiting = list(self._waiting)
        for loop, event in waiting:
            if not event.is_set():  # one wake-up per wait, however many ticks arrive
                with contextlib.suppress(RuntimeError):  # that loop has closed
                    loop.call_soon_threadsafe(event.set)

    def _run(self) -> None:
        try:
            self.outcome = self.live.run(self.put)
            if self.outcome.startswith("error"):
                self.error = self.outcome
        except BaseException as exc:  # recorded for the monitor
            self.error = repr(exc)
        finally:
            # A session that has ended is not paused, whatever the last command was.
            self.paused = False
            self.finished_at = time.monotonic()
            self._wake()

    @property
    def end_reason(self) -> str | None:
        """Why the session ended (None while it runs): the child's summary, else the last
        tick's."""
        if self.running:
            return None
        told = getattr(self.live, "end_reason", None)
        if told:
            return str(told)
        f = self.latest()
        return (f.view.end_reason or None) if f is not None else None

    # -- any thread --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.finished_at is None

    def frames_since(self, last: int) -> tuple[list[Frame], int]:
        """Frames after ``last`` still in the ring, and how many were overwritten (lost)."""
        newest = self.seq
        first = max(last + 1, newest - RING_TICKS + 1)
        lost = max(0, first - (last + 1))
        out: list[Frame] = []
        for s in range(first, newest + 1):
            f = self.ring[s % RING_TICKS]
            if f is not None and f.seq == s:
                out.append(f)
            else:
                lost += 1
        return out, lost

    async def wait_after(self, last: int, timeout_s: float) -> None:
        """Until a tick after ``last`` is stored or the session ends (or ``timeout_s``)."""
        event = asyncio.Event()
        item = (asyncio.get_running_loop(), event)
        with self._waiting_lock:
            self._waiting.append(item)
        try:
            if self.seq <= last and self.running:  # checked after registering: no lost wake-up
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout_s)
        finally:
            with self._waiting_lock:
                self._waiting.remove(item)

    def latest(self) -> Frame | None:
        s = self.seq
        return self.ring[s % RING_TICKS] if s else None

    def stop(self, reason: str) -> None:
        self.live.request_stop(reason)
        self.paused = False  # the stop releases the force: a pause does not outlast it

    def pause(self, paused: bool) -> None:
        if not self.running:
            return  # an ended session neither pauses nor resumes
        self.paused = paused
        self.live.request_pause(paused)


class LiveRegistry:
    """The sessions this server runs; started, listed, stopped, and all stopped on shutdown."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._entries: dict[int, LiveEntry] = {}
        self._lock = threading.Lock()

    def reserve(self) -> None:
        with self._lock:
            self._prune()
            if sum(1 for e in self._entries.values() if e.running) >= self.max_sessions:
                from spinecare.errors import InputError

                raise InputError("session", "this server runs as many sessions as it may")

    def start(
        self,
        session_id: int,
        prepare: Callable[[], ProcessSession],
        *,
        patient_id: int,
        patient_name: str,
        started_by: str,
        clinician_max_force_n: float | None = None,
    ) -> LiveEntry:
        """``prepare()`` starts the session's process, which checks and records the session
        (the table has not moved); a thread of the server relays its ticks into the ring."""
        live = prepare()
        entry = LiveEntry(
            session_id,
            patient_id,
            patient_name,
            started_by,
            live,
            clinician_max_force_n=clinician_max_force_n,
        )
        thread = threading.Thread(target=entry._run, name=f"relay-{session_id}", daemon=True)
        entry.thread = thread
        with self._lock:
            self._entries[session_id] = entry
        thread.start()
        return entry

    def get(self, session_id: int) -> LiveEntry | None:
        with self._lock:
            return self._entries.get(session_id)

    def entries(self) -> list[LiveEntry]:
        with self._lock:
            self._prune()
            return list(self._entries.values())

    def _prune(self) -> None:
        now = time.monotonic()
        for sid, e in list(self._entries.items()):
            if e.finished_at is not None and now - e.finished_at > KEEP_FINISHED_S:
                del self._entries[sid]

    def stop_all(self, reason: str, timeout_s: float = 15.0) -> None:
        """Shutdown: every running session gets the stop (controlled release) and is joined."""
        entries = self.entries()
        for e in entries:
            if e.running:
                e.stop(reason)
        deadline = time.monotonic() + timeout_s
        for e in entries:
            if e.thread is not None:
                with contextlib.suppress(RuntimeError):
                    e.thread.join(max(0.0, deadline - time.monotonic()))

    def __iter__(self) -> Iterator[LiveEntry]:
        return iter(self.entries())
