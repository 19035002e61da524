"""A simulated traction table: the ``Device`` protocol over the virtual-patient physics.

The table advances the 1 kHz physics of ``sim/patient_model.py`` in device time. Given the loop's
clock (``time_source``), each ``read`` first catches the physics up to that clock, so the same
table runs under the simulated clock (as fast as the CPU allows) and the monotonic one (real
time) without the loop knowing it is simulated; tests without a clock move it with ``advance``.
It samples its sensors on ``read`` (load cell with Gaussian noise quantised to 0.1 N, encoder
quantised to 0.01 mm, optional 1 kHz surface EMG, patient stop button) and hands each ``write``
to the drive's inner force loop. Like a real table it has its own watchdog: when no command
arrives for more than ``COMMAND_TIMEOUT_S`` it releases to the last base tension within 1 s,
holds it for 1 s and then releases to zero within 2 s, refusing commands until re-activated.

Ground truth (true spine elongation, muscle force, harness force, contractions, fault onsets)
lives in ``table.truth``; the controller only ever sees ``Reading`` objects. ``configure``
compiles the physics kernel, so nothing compiles inside the 50 Hz loop.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spinecare.devices.base import DeviceNotActiveError
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.sim import patient_model as pm
from spinecare.sim import table_core
from spinecare.sim.faults import PHYSICAL, Fault, InjectedFault
from spinecare.sim.patient_model import PatientParams
from spinecare.vocab import EMG_BLOCK, Command, DeviceState, Reading, TableType

FloatArray = npt.NDArray[np.float64]

STEPS_PER_S = pm.STEPS_PER_S
# The watchdog's timeout, the device-fault limits, the sensor resolution, the spontaneous events,
# the reflex latencies, the load-cell noise blocks and the seed streams are stated once, in
# sim/table_core.py, which the batch session core shares.
_WATCHDOG_STEPS = table_core.WATCHDOG_STEPS
# Watchdog release profile (engineering choice for the simulated table): setpoint back to the base
# tension in 0.5 s (the force follows within 1 s), so a lost command returns the patient to the
# tension the table holds between pulls [seed-spinemed] [vaxd-patent] instead of dropping them;
# hold until 2 s, setpoint to zero over 1.5 s, then pay out until slack (done within 4 s).
_WD_TO_BASE_S = 0.5
_WD_ZERO_AT_S = 2.0
_WD_ZERO_RAMP_S = 1.5
_TRAVEL_LIMIT_MM = table_core.TRAVEL_LIMIT_MM
_OVERLOAD_N = table_core.OVERLOAD_N
_FORCE_LSB = table_core.FORCE_LSB
_ENCODER_LSB = table_core.ENCODER_LSB
SPONT_DURATION_S = table_core.SPONT_DURATION_S
SPONT_AMPLITUDE = table_core.SPONT_AMPLITUDE
REFLEX_LATENCY_S = table_core.REFLEX_LATENCY_S
_LC_BLOCK = table_core.LC_BLOCK
_EMG_NOISE_BLOCK = 1 << 16
_EMG_RING = 1000  # a multiple of EMG_BLOCK so that tick-sized reads never wrap
# Hot-path constants bound once (module attribute lookups cost per tick).
_kernel = pm.advance_numba
_S_OUT = pm.S_OUT
_S_OUT_END = pm.S_OUT + pm.N_OUT
_S_TGT = pm.S_TGT
_S_RELEASE = pm.S_RELEASE
_S_FRATE = pm.S_FRATE


@dataclass(frozen=True, slots=True)
class TrueContraction:
    """One paraspinal contraction, as it truly happened (never shown to the controller).

    ``trigger_s``: the stimulus (rate threshold crossed, tolerance first exceeded, or = onset for
    a spontaneous event); ``onset_s``: activation starts; ``measurable_s``: the muscles' share of
    the harness force first exceeds 3 load-cell SDs (None: never); ``end_s``: the muscle force of
    this source has fallen below 5% of its peak (None: still going).
    """

    kind: str  # "reflex" | "pain" | "spontaneous"
    trigger_s: float
    onset_s: float
    measurable_s: float | None
    end_s: float | None
    peak_force_n: float


@dataclass(frozen=True, slots=True)
class FaultOnset:
    kind: InjectedFault
    began_s: float
    magnitude: float


@dataclass(slots=True)
class SessionTruth:
    """Ground truth of one simulated session; per-tick lists are sampled at the end of each
    ``advance`` call (every 20 ms in the runner)."""

    closed_events: list[TrueContraction] = field(default_factory=list)
    open_events: list[TrueContraction] = field(default_factory=list)
    faults: list[FaultOnset] = field(default_factory=list)
    watchdog_s: list[float] = field(default_factory=list)
    device_fault_s: list[float] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)
    elongation_mm: list[float] = field(default_factory=list)
    muscle_force_n: list[float] = field(default_factory=list)
    harness_force_n: list[float] = field(default_factory=list)
    # The muscles' share of the harness force (harness force minus the passive body's).
    muscle_contribution_n: list[float] = field(default_factory=list)

    @property
    def events(self) -> list[TrueContraction]:
        """All events (finished and ongoing), by onset."""
        return sorted(self.closed_events + self.open_events, key=lambda e: e.onset_s)

    def events_of(self, kind: str) -> list[TrueContraction]:
        return [e for e in self.events if e.kind == kind]

    def as_arrays(self) -> dict[str, FloatArray]:
        return {
            "t_s": np.asarray(self.t_s, dtype=np.float64),
            "elongation_mm": np.asarray(self.elongation_mm, dtype=np.float64),
            "muscle_force_n": np.asarray(self.muscle_force_n, dtype=np.float64),
            "harness_force_n": np.asarray(self.harness_force_n, dtype=np.float64),
            "muscle_contribution_n": np.asarray(self.muscle_contribution_n, dtype=np.float64),
        }


class SimulatedTable:
    """A traction table with a virtual patient on it. Implements ``devices.base.Device``."""

    def __init__(
        self,
        patient: PatientParams,
        *,
        table: TableType | str = TableType.SPLIT,
        emg: bool = False,
        faults: Sequence[Fault] = (),
        seed: int | None = None,
        spontaneous: bool = True,
        record: bool = True,
        time_source: Callable[[], float] | None = None,
    ) -> None:
        self.patient = patient
        # The loop's clock (seconds); readings are stamped on it and the physics follows it.
        self._time_source = time_source
        self._origin: float | None = None  # clock time of device time 0 (set at first read)
        self.table_type = TableType(table)
        self.emg_enabled = bool(emg)
        self.record = record
        # The session's randomness (events, noise, latencies) depends on the seed (default: the
        # patient's) and on the session number; drawn as the batch core draws it (table_core).
        streams = table_core.table_streams(
            patient, table=self.table_type, emg=self.emg_enabled, seed=seed
        )
        self._p = streams.params
        self._s = pm.initial_state()
        self._ev = pm.new_event_log()
        self._ev_read = 0
        self._rng_lc = streams.rng_lc
        self._sigma = float(patient.load_cell_sigma_n)
        self._lc = table_core.load_cell_block(self._rng_lc, self._sigma).tolist()
        self._lc_i = 0
        self._rng_emg = streams.rng_emg
        if self.emg_enabled:
            self._noise = self._rng_emg.standard_normal(_EMG_NOISE_BLOCK)
            self._emg_ring = np.zeros(_EMG_RING)
        else:
            self._noise = np.zeros(2)
            self._emg_ring = np.zeros(1)
        self._rng_spont = streams.rng_spont

        self._state = DeviceState.UNCONFIGURED
        # True while the drive is known to track step targets (no ramp, no release mode), so
        # write() need only set the target.
        self._tracking_step = False
        self._out: list[float] = [0.0] * pm.N_OUT
        self._k = 0  # device time in physics steps
        self._frac = 0.0  # sub-step remainder of advance() calls
        self._seq = 0
        self._last: Reading | None = None
        self._last_cmd: Command | None = None
        self._last_write_k = 0
        self._stop_at_k: float = math.inf
        self._gen = 0  # watchdog generation: stale scheduled phases are ignored
        self._truth = SessionTruth()

        # Timed physical actions: (step, order, action, value, generation).
        self._sched: list[tuple[int, int, str, float, int]] = []
        self._order = 0
        self._faults = tuple(faults)
        self._sensor_faults = [f for f in self._faults if f.kind not in PHYSICAL]
        self._spike_done: set[int] = set()
        self._stuck_value: dict[int, float] = {}
        for f in self._faults:
            at = self._steps(f.at_s)
            self._push(at, "fault", float(self._faults.index(f)))
            if f.kind is InjectedFault.ACTUATOR_STALL:
                self._push(at, "stall_on", 1.0)
                if math.isfinite(f.end_s):
                    self._push(self._steps(f.end_s), "stall_off", 0.0)
            elif f.kind is InjectedFault.HARNESS_SLIP:
                self._push(at, "slip", f.size)
        self._spont_on = bool(spontaneous) and patient.spontaneous_per_min > 0.0
        if self._spont_on:
            self._schedule_spontaneous(0)
        self._next_b = self._boundary()

    def bind_clock(self, time_source: Callable[[], float]) -> None:
        """Follow the loop's clock from now on (the runtime binds it; a real table has its
        own time and no such method)."""
        if self._time_source is None:
            self._time_source = time_source

    # ---------------------------------------------------------------- Device protocol ------
    @property
    def state(self) -> DeviceState:
        return self._state

    @property
    def simulated(self) -> bool:
        return True

    def configure(self) -> None:
        if self._state not in (DeviceState.UNCONFIGURED, DeviceState.INACTIVE):
            raise RuntimeError(f"configure() in state {self._state.value}")
        self._warm_up()
        self._state = DeviceState.INACTIVE

    def activate(self) -> None:
        """Accept commands again; the drive holds the force the cable has now."""
        if self._state is DeviceState.UNCONFIGURED:
            raise DeviceNotActiveError("configure() the table before activate()")
        self._gen += 1
        hold = max(0.0, self._s.item(pm.S_FH))
        s = self._s
        self._tracking_step = True
        s[pm.S_RELEASE] = 0.0
        s[pm.S_FSET] = hold
        s[pm.S_TGT] = hold
        s[pm.S_FRATE] = 0.0
        self._last_write_k = self._k
        self._state = DeviceState.ACTIVE
        self._next_b = self._boundary()

    def deactivate(self) -> None:
        """Release to zero and stop accepting commands."""
        if self._state is DeviceState.UNCONFIGURED:
            return
        self._gen += 1
        self._enter_release()
        self._state = DeviceState.INACTIVE
        self._next_b = self._boundary()

    def write(self, command: Command) -> None:
        if self._state is not DeviceState.ACTIVE:
            raise DeviceNotActiveError(f"table is {self._state.value}, not active")
        f = command.force_n
        b = command.base_n
        if not (math.isfinite(f) and math.isfinite(b)):
            raise ValueError("command force_n and base_n must be finite")
        self._last_cmd = command
        self._last_write_k = k = self._k
        s = self._s
        if command.release and f <= 0.0:
            self._enter_release()  # the controlled return has reached zero: pay out until slack
        else:
            # A release command above zero is the policy's controlled return (SAF-6: from the
            # last command at 100 N/s or faster, [spinemed-s200e]): the drive follows it like
            # any target, so the patient gets the ramp the record shows, not a drop at the
            # winch's top speed.
            if self._tracking_step is False:
                s[_S_RELEASE] = 0.0
                s[_S_FRATE] = 0.0
                self._tracking_step = True
            s[_S_TGT] = min(max(f, 0.0), DEVICE_MAX_FORCE_N)
        wd = k + _WATCHDOG_STEPS + 1
        self._next_b = wd if not self._sched or self._sched[0][0] > wd else self._sched[0][0]

    def advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds of device time pass (1 ms physics steps)."""
        if not dt_s >= 0.0 or not math.isfinite(dt_s):
            raise ValueError(f"dt_s must be finite and >= 0, got {dt_s}")
        x = self._frac + dt_s * STEPS_PER_S
        n = int(x + 1e-6)
        self._frac = x - n if x - n > 0.0 else 0.0
        if not n:
            return
        k = self._k
        end = k + n
        s = self._s
        while k < end:
            nb = self._next_b
            stop = end if end < nb else nb
            if stop > k:
                if self.emg_enabled:
                    self._ensure_noise(stop - k)
                _kernel(s, self._p, stop - k, self._noise, self._ev, self._emg_ring)
                self._k = k = stop
            if k >= nb:
                self._on_boundary()
        out = s[_S_OUT:_S_OUT_END].tolist()
        self._out = out
        xw, xb, fh, fmus, evn = out
        if evn > self._ev_read:
            self._drain_events()
        if xw > _TRAVEL_LIMIT_MM or fh > _OVERLOAD_N:
            self._device_fault()
        if self.record:
            tr = self._truth
            tr.t_s.append(k / STEPS_PER_S)
            tr.elongation_mm.append(xb)
            tr.muscle_force_n.append(fmus)
            tr.harness_force_n.append(fh)
            tr.muscle_contribution_n.append(s.item(pm.S_CONTRIB))

    def read(self) -> Reading:
        ts = self._time_source
        origin = 0.0
        if ts is not None:
            now = ts()
            if self._origin is None:
                self._origin = now - self._k / STEPS_PER_S
            origin = self._origin
            target_k = int((now - origin) * STEPS_PER_S + 1e-6)
            if target_k > self._k:
                self._frac = 0.0
                self.advance((target_k - self._k) / STEPS_PER_S)
        k = self._k
        t = k / STEPS_PER_S
        i = self._lc_i
        if i >= _LC_BLOCK:
            self._lc = table_core.load_cell_block(self._rng_lc, self._sigma).tolist()
            i = 0
        self._lc_i = i + 1
        out = self._out
        force = round((out[2] + self._lc[i]) * _FORCE_LSB) / _FORCE_LSB
        winch = out[0]
        if self._sensor_faults:
            fault_view = self._apply_sensor_faults(t, force, winch)
            if fault_view is None:
                assert self._last is not None
                return self._last
            force, winch = fault_view
        winch = round(winch * _ENCODER_LSB) / _ENCODER_LSB
        emg = self._emg_block() if self.emg_enabled else None
        self._seq += 1
        stamp = origin + t
        rd = Reading(stamp, self._seq, force, winch, k >= self._stop_at_k, self._state, emg)
        self._last = rd
        return rd

    # ---------------------------------------------------------------- test/sim helpers -----
    def press_stop(self, at_s: float | None = None) -> None:
        """Press the patient's stop button now or at device time ``at_s``; it stays pressed."""
        self._stop_at_k = self._k if at_s is None else self._steps(at_s)

    def clear_stop(self) -> None:
        self._stop_at_k = math.inf

    @property
    def time_s(self) -> float:
        return self._k / STEPS_PER_S

    @property
    def true_harness_force_n(self) -> float:
        return self._s.item(pm.S_FH)

    @property
    def true_elongation_mm(self) -> float:
        return self._s.item(pm.S_XB)

    @property
    def true_muscle_force_n(self) -> float:
        return self._s.item(pm.S_FMUS)

    @property
    def true_muscle_contribution_n(self) -> float:
        """Harness force minus what the passive body would carry at the same winch motion."""
        return self._s.item(pm.S_CONTRIB)

    @property
    def true_activation(self) -> float:
        return min(1.0, float(sum(self._s[pm.S_A : pm.S_A + 3])))

    @property
    def true_winch_mm(self) -> float:
        return self._s.item(pm.S_XW)

    @property
    def drive_setpoint_n(self) -> float:
        return self._s.item(pm.S_FSET)

    @property
    def load_cell_sigma_n(self) -> float:
        return self._sigma

    @property
    def truth(self) -> SessionTruth:
        """Ground truth so far, including the events that are still going on."""
        self._truth.open_events = self._open_events()
        return self._truth

    # ---------------------------------------------------------------- internals ------------
    def _warm_up(self) -> None:
        """Run the physics kernel once on scratch copies: numba compiles (or loads its cache)
        here, before the first tick, instead of inside the 20 ms loop."""
        noise = self._noise.copy() if self._noise.shape[0] >= 2 else np.zeros(2)
        _kernel(self._s.copy(), self._p, 1, noise, self._ev.copy(), self._emg_ring.copy())

    def _steps(self, t_s: float) -> int:
        return round(t_s * STEPS_PER_S)

    def _push(self, k: int, action: str, value: float, gen: int = -1) -> None:
        self._order += 1
        heapq.heappush(self._sched, (k, self._order, action, value, gen))

    def _boundary(self) -> int:
        nb = self._sched[0][0] if self._sched else 1 << 62
        if self._state is DeviceState.ACTIVE:
            nb = min(nb, self._last_write_k + _WATCHDOG_STEPS + 1)
        return nb

    def _ensure_noise(self, n: int) -> None:
        """Enough pre-drawn EMG noise for ``n`` steps (two samples per step)."""
        s = self._s
        if int(s[pm.S_NIDX]) + 2 * n > self._noise.shape[0]:
            self._noise = self._rng_emg.standard_normal(max(_EMG_NOISE_BLOCK, 2 * n))
            s[pm.S_NIDX] = 0.0

    def _on_boundary(self) -> None:
        k = self._k
        s = self._s
        while self._sched and self._sched[0][0] <= k:
            _, _, action, value, gen = heapq.heappop(self._sched)
            if gen >= 0 and gen != self._gen:
                continue  # a watchdog phase cancelled by activate()/deactivate()
            if action == "sp_on":
                s[pm.S_US] = value
            elif action == "sp_off":
                s[pm.S_US] = 0.0
                self._schedule_spontaneous(k)
            elif action == "stall_on":
                s[pm.S_STALL] = 1.0
            elif action == "stall_off":
                s[pm.S_STALL] = 0.0
            elif action == "slip":
                s[pm.S_SLIP] = s[pm.S_SLIP] + value
            elif action == "fault":
                f = self._faults[int(value)]
                self._truth.faults.append(FaultOnset(f.kind, k / STEPS_PER_S, f.size))
            elif action == "wd_zero":
                self._tracking_step = False
                s[pm.S_TGT] = 0.0
                s[pm.S_FRATE] = max(s.item(pm.S_FSET) / _WD_ZERO_RAMP_S, 1.0)
            elif action == "wd_release":
                self._enter_release()
        if self._state is DeviceState.ACTIVE and k > self._last_write_k + _WATCHDOG_STEPS:
            self._start_watchdog_release()
        self._next_b = self._boundary()

    def _start_watchdog_release(self) -> None:
        k = self._k
        s = self._s
        self._state = DeviceState.RELEASING
        self._tracking_step = False
        self._gen += 1
        self._truth.watchdog_s.append(k / STEPS_PER_S)
        if s.item(pm.S_RELEASE) < 0.5:
            fset = s.item(pm.S_FSET)
            base = self._last_cmd.base_n if self._last_cmd is not None else 0.0
            # Never pull harder on the way out: the base is capped at the current setpoint.
            base = min(max(base, 0.0), fset)
            s[pm.S_TGT] = base
            s[pm.S_FRATE] = max(abs(fset - base) / _WD_TO_BASE_S, 1.0)
            self._push(k + self._steps(_WD_ZERO_AT_S), "wd_zero", 0.0, self._gen)
            self._push(
                k + self._steps(_WD_ZERO_AT_S + _WD_ZERO_RAMP_S), "wd_release", 0.0, self._gen
            )

    def _enter_release(self) -> None:
        self._tracking_step = False
        s = self._s
        s[pm.S_RELEASE] = 1.0
        s[pm.S_TGT] = 0.0
        s[pm.S_FSET] = 0.0
        s[pm.S_FRATE] = 0.0

    def _device_fault(self) -> None:
        if self._state is DeviceState.FAULT:
            return
        self._state = DeviceState.FAULT
        self._gen += 1
        self._enter_release()
        self._truth.device_fault_s.append(self._k / STEPS_PER_S)
        self._next_b = self._boundary()

    def _schedule_spontaneous(self, after_k: int) -> None:
        gap, dur, amp = table_core.spontaneous_draw(
            self._rng_spont, self.patient.spontaneous_per_min
        )
        on = after_k + gap
        self._push(on, "sp_on", amp)
        self._push(on + dur, "sp_off", 0.0)

    def _drain_events(self) -> None:
        n = int(self._s[pm.S_EVN])
        self._truth.closed_events.extend(closed_events(self._ev, self._ev_read, n))
        self._ev_read = n

    def _open_events(self) -> list[TrueContraction]:
        return open_events(self._s)

    def _apply_sensor_faults(
        self, t: float, force: float, winch: float
    ) -> tuple[float, float] | None:
        for idx, f in enumerate(self._sensor_faults):
            if t < f.at_s - 1e-9:
                continue
            active = t < f.end_s - 1e-9
            kind = f.kind
            if kind is InjectedFault.DROPOUT:
                if active and self._last is not None:
                    return None
            elif kind is InjectedFault.STUCK_LOAD_CELL:
                if active:
                    if idx not in self._stuck_value:
                        self._stuck_value[idx] = (
                            self._last.force_n if self._last is not None else force
                        )
                    force = self._stuck_value[idx]
            elif kind is InjectedFault.FORCE_SPIKE:
                if idx not in self._spike_done:
                    self._spike_done.add(idx)
                    force = force + f.size
            elif kind is InjectedFault.ENCODER_JUMP and active:
                winch = winch + f.size
        return force, winch

    def _emg_block(self) -> FloatArray:
        w = int(self._s[pm.S_EMGW])
        ring = self._emg_ring
        if w >= EMG_BLOCK:
            return ring[w - EMG_BLOCK : w].copy()
        return np.concatenate((ring[w - EMG_BLOCK :], ring[:w]))


def closed_events(
    ev: FloatArray, start: int, n: int, cap: int = pm.EVENT_CAP
) -> list[TrueContraction]:
    """Contractions ``start`` to ``n`` of an event ring of ``cap`` rows (the physics' own ring,
    or a longer copy of it): finished ones, as the physics logged them."""
    out = []
    for i in range(max(start, n - cap), n):
        row = (i % cap) * pm.EVENT_COLS
        r = ev[row : row + pm.EVENT_COLS]
        out.append(
            TrueContraction(
                kind=pm.KIND_NAMES[int(r[0])],
                trigger_s=float(r[1]),
                onset_s=float(r[2]),
                measurable_s=float(r[3]) if r[3] >= 0.0 else None,
                end_s=float(r[4]),
                peak_force_n=float(r[5]),
            )
        )
    return out


def open_events(s: FloatArray) -> list[TrueContraction]:
    """The contractions still going on, one per source at most."""
    out = []
    for src in range(3):
        b = pm.S_EV + src * pm.EV_W
        if s[b] > 0.5:
            out.append(
                TrueContraction(
                    kind=pm.KIND_NAMES[src],
                    trigger_s=float(s[b + 1]),
                    onset_s=float(s[b + 2]),
                    measurable_s=float(s[b + 3]) if s[b + 3] >= 0.0 else None,
                    end_s=None,
                    peak_force_n=float(s[b + 4]),
                )
            )
    return out
