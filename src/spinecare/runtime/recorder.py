"""Session telemetry on disk, written so that a crash loses at most about one second.

Layout of a session directory:

* ``telemetry.csv``: header ``t_s,<columns...>``, one row per tick. Rows are buffered in memory
  (``append`` only stores a tuple: it runs every 20 ms tick, and 90 000 times in a fast
  30-minute simulation) and written by a writer thread as one chunk, flushed and fsynced, each
  time ``flush_every_s`` of *session* time has passed since the last chunk.
* ``events.jsonl``: one JSON object per event, queued at once and written and flushed by the
  same thread (events are rare and matter: counter-tension, patient stops, faults).
* ``emg.txt`` (sessions with a surface-EMG channel): the raw sEMG in microvolts, one sample per
  line, every block the loop received (a tick without EMG is a block of ``nan``), written with
  the telemetry's chunks. ``spinecare emg detect emg.txt --rate 1000`` replays the detector the
  session used over it: a clinic reviews a session's counter-tension, an engineer the
  electrodes, from the record itself. Its comment lines give the rate and the session time of
  its first sample.
* ``summary.json``: written last, atomically (temporary file + ``os.replace``), so a reader
  either sees a complete summary or none; no summary means the session did not end cleanly.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO, cast

import numpy as np
import numpy.typing as npt

TELEMETRY = "telemetry.csv"
EVENTS = "events.jsonl"
EMG_SAMPLES = "emg.txt"
FIRST_SAMPLE_AT = "# first sample at session time "  # emg.txt's third comment line: "... 1.23 s"
SUMMARY = "summary.json"
# Every file a session's directory may hold (the faces add the chart and the simulated
# patient's ground truth): a directory holding any of them holds a record already.
RECORD_FILES = (TELEMETRY, EVENTS, EMG_SAMPLES, SUMMARY, "force.png", "truth.json")
TIME_COLUMN = "t_s"

Value = float | int | str
PRIVATE_DIR = 0o700  # a session directory: its owner only
PRIVATE_FILE = 0o600


def _private(path: str, flags: int) -> int:
    """``open``'s opener: new files readable and writable by their owner only."""
    return os.open(path, flags, PRIVATE_FILE)


class RecorderError(OSError):
    """Telemetry could not be written; the rows are still held in memory."""


def existing_record(out_dir: Path) -> list[str]:
    """The files of a session's record that ``out_dir`` holds already (none: it may be used)."""
    return [name for name in RECORD_FILES if (Path(out_dir) / name).exists()]


class Recorder:
    """Writes one session's telemetry, events and summary into ``out_dir``.

    The loop's tick only appends to a list and, once a second of session time, hands the chunk to
    a writer thread: disk writes and fsyncs, which can block for far longer than a tick on a busy
    or failing disk, never run inside the 50 Hz loop. A write that fails keeps its rows and sets
    ``error``; the session reads it (a cheap attribute check each tick) and releases the table.

    Refuses a directory that holds a record's file already (``existing_record``): a session's
    record is never overwritten, nor mixed with another one's. With ``fsync=False`` (fast
    simulations) a crash of the machine, not of the process, may lose more than
    ``flush_every_s``.
    """

    def __init__(
        self,
        out_dir: Path,
        columns: Sequence[str],
        *,
        flush_every_s: float = 1.0,
        fsync: bool = True,
        samples_hz: float | None = None,
    ) -> None:
        cols = list(columns)
        if TIME_COLUMN in cols:
            raise ValueError(f"column {TIME_COLUMN!r} is written by the recorder itself")
        if len(set(cols)) != len(cols):
            raise ValueError(f"duplicate column names: {cols}")
        if not flush_every_s > 0:
            raise ValueError(f"flush_every_s must be > 0, got {flush_every_s}")
        self.out_dir = Path(out_dir)
        self.columns = tuple(cols)
        self.flush_every_s = float(flush_every_s)
        self.fsync = fsync
        self.rows_written = 0
        self.closed = False
        self.error: OSError | None = None
        self._ncols = len(cols)
        self._rows: list[tuple[Value, ...]] = []
        self._next_flush_t: float | None = None  # session time at which the next chunk is due
        self._unwritten: list[tuple[Value, ...]] = []  # rows a failed write kept (writer only)
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self.samples_hz = samples_hz
        self.samples_written = 0
        self._samples: list[npt.NDArray[np.float64]] = []
        self._unwritten_samples: list[npt.NDArray[np.float64]] = []
        self._samples_t0: float | None = None  # session time of the first sample
        self._emg: TextIO | None = None

        # A session's record is patient data: its directory 0700, its files 0600 (any umask).
        self.out_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        held = existing_record(self.out_dir)
        if held:
            raise FileExistsError(
                errno.EEXIST, f"holds a session's record already ({', '.join(held)})", str(out_dir)
            )
        self._tel: TextIO = open(  # noqa: SIM115 - kept open for the session, closed in close()
            self.out_dir / TELEMETRY, "x", newline="", encoding="utf-8", opener=_private
        )
        try:
            self._ev: TextIO = open(  # noqa: SIM115 - never appended to another record's events
                self.out_dir / EVENTS, "x", encoding="utf-8", opener=_private
            )
        except OSError:
            self._tel.close()
            with contextlib.suppress(OSError):
                (self.out_dir / TELEMETRY).unlink()  # nothing of this session was written yet
            raise
        if samples_hz is not None:
            try:
                self._emg = open(  # noqa: SIM115 - its header comes with the first chunk
                    self.out_dir / EMG_SAMPLES, "x", encoding="utf-8", opener=_private
                )
            except OSError:
                # nothing of this session was written yet: leave the directory as it was
                self._tel.close()
                self._ev.close()
                for name in (TELEMETRY, EVENTS):
                    with contextlib.suppress(OSError):
                        if (self.out_dir / name).stat().st_size == 0:
                            (self.out_dir / name).unlink()
                raise
        self._tel.write(",".join((TIME_COLUMN, *cols)) + "\n")
        self._sync(self._tel)
        if fsync:
            _fsync_dir(self.out_dir)
        self._writer = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._writer.start()

    # -- hot path -------------------------------------------------------------------------
    def append(self, t_s: float, values: Sequence[Value]) -> None:
        """Buffer one row; hand a chunk to the writer when ``flush_every_s`` has passed."""
        if len(values) != self._ncols:
            raise ValueError(f"expected {self._ncols} values, got {len(values)}")
        self._rows.append((t_s, *values))
        nft = self._next_flush_t
        if nft is None:
            self._next_flush_t = t_s + self.flush_every_s
        elif t_s >= nft:
            self._next_flush_t = t_s + self.flush_every_s
            self.flush(wait=False)

    def append_samples(self, t_s: float, block: npt.ArrayLike | None, n: int) -> None:
        """Buffer one tick's raw samples (``n`` of them, ending at session time ``t_s``); a
        tick without them (None) is ``n`` NaN, so the file keeps one block per tick and its
        sample count stays the session's time. Written with the next chunk of rows."""
        if self.samples_hz is None:
            raise ValueError("this recorder keeps no samples (samples_hz is None)")
        v = np.full(n, np.nan) if block is None else np.array(block, dtype=np.float64)
        if self._samples_t0 is None:
            self._samples_t0 = t_s - v.size / self.samples_hz
        self._samples.append(v)

    # -- events and chunks ------------------------------------------------------------------
    def event(self, kind: str, t_s: float, **data: Any) -> None:
        """Queue one event line for ``events.jsonl`` (written and flushed by the writer)."""
        line = json.dumps({"kind": kind, "t_s": t_s, **data}, default=str, allow_nan=True)
        self._submit(("event", line))

    def flush(self, wait: bool = True) -> None:
        """Hand the buffered rows to the writer; with ``wait``, return once all is on disk."""
        rows = self._rows
        if rows:
            self._rows = []
            self._submit(("rows", rows))
        blocks = self._samples
        if blocks:
            self._samples = []
            self._submit(("samples", blocks))
        if wait:
            self.sync()

    def sync(self) -> None:
        """Wait until everything queued so far has been written (or has failed)."""
        self._idle.wait()

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Write what is buffered, close the files, write ``summary.json`` atomically.

        Raises ``RecorderError`` when telemetry could not be written (the summary is still
        attempted, with ``telemetry_complete: false``).
        """
        if self.closed:
            return
        self.flush(wait=False)
        self._submit(("stop", None))
        self._writer.join()
        self.closed = True
        if self._unwritten:  # one last try for rows a failed write kept
            self._write_rows([])
        if self._unwritten_samples:
            self._write_samples([])
        for f in (self._tel, self._ev, *((self._emg,) if self._emg else ())):
            try:
                f.close()
            except OSError as exc:
                self.error = self.error or exc
        out = dict(summary or {})
        out.setdefault("aborted", False)
        out["rows"] = self.rows_written
        if self.samples_hz is not None:
            out["emg_samples"] = self.samples_written
            out["emg_first_sample_t_s"] = self._samples_t0
        if self.error is not None:
            out["telemetry_complete"] = False
            out["telemetry_error"] = str(self.error)
        tmp = self.out_dir / (SUMMARY + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8", opener=_private) as f:
                json.dump(out, f, indent=2, default=str)
                f.write("\n")
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, self.out_dir / SUMMARY)
        except OSError:
            # a full or failing disk: no half-written summary is left behind to be read later
            tmp.unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_dir(self.out_dir)
        if self.error is not None:
            raise RecorderError(f"telemetry incomplete: {self.error}")

    def discard(self) -> None:
        """The session never started (its table refused, a compile failed before the first
        tick): close the files and remove them while they hold nothing of it, so the
        directory can be used for the next try. A recording with rows is closed as usual."""
        if self.closed:
            return
        if self.rows_written or self._rows or self.samples_written or self._samples:
            self.close({"aborted": True, "reason": "the session did not start"})
            return
        self._submit(("stop", None))
        self._writer.join()
        self.closed = True
        for f in (self._tel, self._ev, *((self._emg,) if self._emg else ())):
            with contextlib.suppress(OSError):
                f.close()
        for name in (TELEMETRY, EVENTS, EMG_SAMPLES):
            with contextlib.suppress(OSError):
                (self.out_dir / name).unlink()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.closed:
            return
        if exc is None:
            self.close({})
        else:
            self.close({"aborted": True, "reason": f"{type(exc).__name__}: {exc}"})

    # -- the writer thread ------------------------------------------------------------------
    def _submit(self, job: _Job) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put(job)

    def _write_loop(self) -> None:
        while True:
            kind, payload = self._queue.get()
            try:
                if kind == "rows":
                    self._write_rows(cast("list[tuple[Value, ...]]", payload))
                elif kind == "samples":
                    self._write_samples(cast("list[npt.NDArray[np.float64]]", payload))
                elif kind == "event":
                    assert isinstance(payload, str)
                    self._write_event(payload)
            finally:
                with self._lock:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.set()
            if kind == "stop":
                return

    def _write_rows(self, rows: list[tuple[Value, ...]]) -> None:
        todo = self._unwritten + rows
        if not todo:
            return
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(todo)
        if not self._put(self._tel, buf.getvalue()):
            # Keep the rows for the next try; whatever part reached the file may be torn and
            # is dropped by the loader.
            self._unwritten = todo
            return
        self._unwritten = []
        self.rows_written += len(todo)

    def _write_samples(self, blocks: list[npt.NDArray[np.float64]]) -> None:
        todo = self._unwritten_samples + blocks
        if not todo or self._emg is None:
            return
        v = np.concatenate(todo)
        buf = io.StringIO()
        if self.samples_written == 0:  # the first chunk: what it is, where its time 0 lies
            hz = self.samples_hz
            buf.write(
                f"# spinecare session: surface EMG, microvolts, {hz:g} samples/s\n"
                f"# replay: spinecare emg detect {EMG_SAMPLES} --rate {hz:g}\n"
                f"{FIRST_SAMPLE_AT}{self._samples_t0:.4f} s\n"
            )
        np.savetxt(buf, v, fmt="%.3f")
        if not self._put(self._emg, buf.getvalue()):
            self._unwritten_samples = todo
            return
        self._unwritten_samples = []
        self.samples_written += v.size

    def _write_event(self, line: str) -> None:
        self._put(self._ev, line + "\n")

    def _put(self, f: TextIO, text: str) -> bool:
        """Write and sync ``text``; a failure sets ``error`` (the session reads it and releases
        the table) and returns False, so the caller keeps what it could not write."""
        try:
            f.write(text)
            self._sync(f)
        except OSError as exc:
            self.error = exc
            return False
        return True

    def _sync(self, f: TextIO) -> None:
        f.flush()
        if self.fsync:
            os.fsync(f.fileno())


_Job = tuple[str, list[tuple[Value, ...]] | list[npt.NDArray[np.float64]] | str | None]


def _fsync_dir(path: Path) -> None:
    """Make a created/renamed directory entry durable (best effort: not on every OS)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- readers ------------------------------------------------------------------------------
def load_telemetry(out_dir: Path) -> dict[str, npt.NDArray[Any]]:
    """Read ``telemetry.csv`` into one array per column (``t_s`` first).

    A torn last line (a process killed in the middle of a write) is dropped. Columns that are
    all integers come back as int64, numeric ones as float64, anything else as str.
    """
    text = (Path(out_dir) / TELEMETRY).read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = lines[:-1]  # whatever follows the last newline is torn or empty
    if not complete:
        raise ValueError(f"{out_dir / TELEMETRY}: no header")
    rows = list(csv.reader(complete))
    header = rows[0]
    body = [r for r in rows[1:] if len(r) == len(header)]
    return {name: _column([r[i] for r in body]) for i, name in enumerate(header)}


def _column(cells: list[str]) -> npt.NDArray[Any]:
    for dtype in (np.int64, np.float64):
        try:
            return np.array(cells, dtype=dtype)
        except ValueError:
            continue
    return np.array(cells, dtype=str)


def load_events(out_dir: Path) -> list[dict[str, Any]]:
    """Read ``events.jsonl``; a torn last line is dropped."""
    path = Path(out_dir) / EVENTS
    if not path.exists():
        return []
    events: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line:
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def load_summary(out_dir: Path) -> dict[str, Any] | None:
    """Read ``summary.json``, or None when the session never closed (crash)."""
    path = Path(out_dir) / SUMMARY
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
