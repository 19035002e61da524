"""The simulated table's per-tick work as compiled functions, for a batch session loop.

A cohort session runs ``SimulatedTable`` (devices/simulated.py) through the per-tick Python
runtime. A batch loop that runs a whole session in one numba call needs the table's part of the
tick (catch the physics up to the loop's clock, sample the load cell and encoder, hand a command
to the drive) as njit functions on float64 arrays; this module provides them and the inputs they
need, built from the same seed streams as ``SimulatedTable`` (which builds its streams with the
same functions, ``table_streams``, ``load_cell_block`` and ``spontaneous_draw``), so that the two
produce identical readings and ground truth.

Scope: the fault-free, EMG-free table of a cohort session without ``--faults`` and ``--emg``.
The core has no injected faults, no sEMG, no stop button and no watchdog release: the batch loop
writes every tick (as the runtime does), so the table's 100 ms command watchdog never fires; if a
catch-up would pass it anyway the core flags ``TS_WD_MISSED`` instead of releasing. What it does
have: the physics with spontaneous contractions split at their on/off steps exactly as
``SimulatedTable.advance`` does, the travel/overload device fault (state FAULT and release), the
quantised readings and the drive's command handling.

The randomness is pre-drawn for the whole session plus a margin (load-cell noise in the same 4096
blocks, the spontaneous schedule in the same order of draws). A session that outruns the
pre-draw is flagged in ``TS_EXHAUSTED``: from then on readings have a NaN force (the caller's
safety policy faults on it) and no further spontaneous contraction starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

import spinecare.compiled  # noqa: F401  (numba cache keyed on every core's source)
from spinecare.quantities import DEVICE_MAX_FORCE_N, TRACTION_FORCE, WINCH_POSITION
from spinecare.sim import patient_model as pm
from spinecare.sim.patient_model import PatientParams
from spinecare.vocab import COMMAND_TIMEOUT_S, TableType

FloatArray = npt.NDArray[np.float64]

STEPS_PER_S = pm.STEPS_PER_S
# Spontaneous events: duration 0.3-2 s, 15-60% of max activation (engineering choice: a cough or
# a shift of position is a short and partial contraction, not a maximal one).
SPONT_DURATION_S = (0.3, 2.0)
SPONT_AMPLITUDE = (0.15, 0.60)
# Reflex latency 48-70 ms [miller2010] [radebold2000].
REFLEX_LATENCY_S = (0.048, 0.070)
LC_BLOCK = 4096  # load-cell noise drawn in blocks of this many samples
SEED_SALT = 0x5EED_7AB1
# Watchdog: fires when the last command is older than COMMAND_TIMEOUT_S (base.py).
WATCHDOG_STEPS = round(COMMAND_TIMEOUT_S * STEPS_PER_S)
# The table faults (and releases) at the end of cable travel or load-cell full scale.
TRAVEL_LIMIT_MM = WINCH_POSITION.absolute_max
OVERLOAD_N = TRACTION_FORCE.absolute_max
# Sensor resolution: load cell 0.1 N, encoder 0.01 mm (engineering choice: finer than the
# simulated load-cell noise, 0.3-2 N SD in sim/population.py, and than the millimetres of
# elongation that matter, so quantisation never hides a signal).
FORCE_LSB = 10.0  # counts per N
ENCODER_LSB = 100.0  # counts per mm
# Pre-draw margin beyond the session's length (the runtime's release ticks after the end).
MARGIN_S = 120.0

# Device states as codes (the order of vocab.DeviceState).
STATE_UNCONFIGURED = 0.0
STATE_INACTIVE = 1.0
STATE_ACTIVE = 2.0
STATE_RELEASING = 3.0
STATE_FAULT = 4.0

# Table state ``ts`` (float64; booleans 0/1, step counts as floats).
TS_K = 0  # device time in physics steps
TS_SEQ = 1  # readings taken
TS_TRACK = 2  # the drive tracks step targets (no ramp, no release mode)
TS_STATE = 3  # STATE_* code
TS_SP_IDX = 4  # row of the pending spontaneous event in ``spont``
TS_SP_ON = 5  # its on step (inf once on, or none left)
TS_SP_OFF = 6  # its off step (inf: none left)
TS_LC_I = 7  # next unused load-cell noise sample
TS_ORIGIN = 8  # loop-clock time of device time 0 (the caller sets it; stamps = origin + k/1000)
TS_LAST_WRITE_K = 9
TS_ELONG_MAX = 10  # running max of the true elongation at the end of each catch-up (-inf: none)
TS_EXHAUSTED = 11  # the pre-drawn noise or spontaneous schedule ran out
TS_WD_MISSED = 12  # a catch-up passed the watchdog step (no command for > 100 ms)
TS_FAULT_K = 13  # step of the device fault (NaN: none)
TS_BASE_N = 14  # base tension of the last command
TS_WRITE_ERR = 15  # last table_write: 0 taken, 1 table not active (refused), 2 not finite
TS_SIZE = 16

# Spontaneous schedule ``spont``: rows of (gap steps, duration steps, amplitude).
SP_COLS = 3

# Reading ``out``: force N, winch mm, device fault (0/1), stamp s, seq.
OUT_FORCE = 0
OUT_WINCH = 1
OUT_FAULT = 2
OUT_T = 3
OUT_SEQ = 4
OUT_SIZE = 5

# The true harness force (and the true elongation) for the caller: slots of the physics state.
S_TRUE_FORCE = pm.S_FH
S_TRUE_ELONGATION = pm.S_XB

_S_OUT = pm.S_OUT
_S_TGT = pm.S_TGT
_S_FSET = pm.S_FSET
_S_FRATE = pm.S_FRATE
_S_RELEASE = pm.S_RELEASE
_S_FH = pm.S_FH
_S_US = pm.S_US
_kernel = pm.advance_numba


@dataclass(frozen=True, slots=True)
class TableStreams:
    """A table's packed physics parameters and its random streams, as ``SimulatedTable`` draws
    them: independent streams, so that e.g. switching EMG on does not change the events."""

    params: FloatArray
    rng_lc: np.random.Generator
    rng_emg: np.random.Generator
    rng_spont: np.random.Generator


def table_streams(
    patient: PatientParams, *, table: TableType | str, emg: bool, seed: int | None
) -> TableStreams:
    """The session's randomness depends on the seed (default: the patient's) and on the session
    number, so every session of a course differs; one function, so that ``SimulatedTable`` and
    the batch core cannot drift apart."""
    base_seed = patient.seed if seed is None else seed
    entropy = [abs(int(base_seed)), int(patient.session_number), SEED_SALT]
    misc, lc, emg_ss, spont = np.random.SeedSequence(entropy).spawn(4)
    rng_misc = np.random.default_rng(misc)
    latencies = rng_misc.uniform(*REFLEX_LATENCY_S, size=pm.LATENCY_POOL)
    mains_phase = float(rng_misc.uniform(0.0, 2.0 * math.pi))
    params = pm.pack_params(
        patient,
        fixed_table=TableType(table) is TableType.FIXED,
        emg=bool(emg),
        latencies_s=latencies,
        mains_phase=mains_phase,
    )
    rng = np.random.default_rng
    return TableStreams(params, rng(lc), rng(emg_ss), rng(spont))


def load_cell_block(rng: np.random.Generator, sigma_n: float) -> FloatArray:
    """The next block of load-cell noise (N)."""
    noise: FloatArray = rng.standard_normal(LC_BLOCK) * sigma_n
    return noise


def spontaneous_draw(rng: np.random.Generator, per_min: float) -> tuple[int, int, float]:
    """The next spontaneous contraction: (steps from the previous one's end to its onset,
    its duration in steps, its amplitude), in the table's order of draws."""
    gap_s = rng.exponential(60.0 / per_min)
    dur_s = rng.uniform(*SPONT_DURATION_S)
    amp = rng.uniform(*SPONT_AMPLITUDE)
    return max(1, round(gap_s * STEPS_PER_S)), max(1, round(dur_s * STEPS_PER_S)), float(amp)


@dataclass(frozen=True, slots=True)
class TableInputs:
    """Everything the core needs for one session (all float64 1-D arrays; ``ts``, ``s`` and
    ``ev`` are mutated by the core)."""

    p: FloatArray
    s: FloatArray
    ev: FloatArray
    noise_lc: FloatArray
    spont: FloatArray
    ts: FloatArray


def table_inputs(
    patient: PatientParams,
    *,
    table: TableType | str = TableType.SPLIT,
    seed: int | None = None,
    session_s: float = 1800.0,
    margin_s: float = MARGIN_S,
    spontaneous: bool = True,
    emg: bool = False,
    faults: tuple[object, ...] = (),
) -> TableInputs:
    """The inputs of one session, drawn as ``SimulatedTable(patient, table=table, seed=seed)``
    draws them. Only the fault-free, EMG-free table is supported (cohort sessions without
    --faults and --emg): ``emg`` or ``faults`` raise ValueError rather than run a different table.
    Noise and the spontaneous schedule cover ``session_s + margin_s`` seconds of 50 Hz reads."""
    if emg:
        raise ValueError("table_core supports the EMG-free table only")
    if faults:
        raise ValueError("table_core supports the fault-free table only")
    if not (math.isfinite(session_s) and session_s >= 0.0 and margin_s >= 0.0):
        raise ValueError("session_s and margin_s must be finite and >= 0")
    streams = table_streams(patient, table=table, emg=False, seed=seed)
    horizon_s = session_s + margin_s
    # One read per 20 ms tick (50 Hz), plus one block's slack for the odd extra read.
    reads = math.ceil(horizon_s * 50.0) + 1
    sigma = float(patient.load_cell_sigma_n)
    blocks = [load_cell_block(streams.rng_lc, sigma)]
    while len(blocks) * LC_BLOCK < reads:
        blocks.append(load_cell_block(streams.rng_lc, sigma))
    noise_lc = np.concatenate(blocks)
    rows: list[tuple[int, int, float]] = []
    if spontaneous and patient.spontaneous_per_min > 0.0:
        horizon_k = horizon_s * STEPS_PER_S
        end = 0
        while end <= horizon_k:
            gap, dur, amp = spontaneous_draw(streams.rng_spont, patient.spontaneous_per_min)
            rows.append((gap, dur, amp))
            end += gap + dur
    spont = np.asarray(rows, dtype=np.float64).reshape(-1)
    ts = np.zeros(TS_SIZE)
    ts[TS_STATE] = STATE_UNCONFIGURED
    ts[TS_ELONG_MAX] = -math.inf
    ts[TS_FAULT_K] = math.nan
    ts[TS_SP_IDX] = 0.0
    if rows:
        ts[TS_SP_ON] = float(rows[0][0])
        ts[TS_SP_OFF] = float(rows[0][0] + rows[0][1])
    else:
        ts[TS_SP_ON] = math.inf
        ts[TS_SP_OFF] = math.inf
    return TableInputs(streams.params, pm.initial_state(), pm.new_event_log(), noise_lc, spont, ts)


# ------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _enter_release(ts: FloatArray, s: FloatArray) -> None:  # pragma: no cover - jitted
    ts[TS_TRACK] = 0.0
    s[_S_RELEASE] = 1.0
    s[_S_TGT] = 0.0
    s[_S_FSET] = 0.0
    s[_S_FRATE] = 0.0


@njit(cache=True, nogil=True)
def table_activate(ts: FloatArray, s: FloatArray) -> None:  # pragma: no cover - jitted
    """``configure()`` + ``activate()``: the drive holds the force the cable has now."""
    fh = s[_S_FH]
    hold = fh if fh > 0.0 else 0.0  # Python's max(0.0, fh)
    ts[TS_TRACK] = 1.0
    s[_S_RELEASE] = 0.0
    s[_S_FSET] = hold
    s[_S_TGT] = hold
    s[_S_FRATE] = 0.0
    ts[TS_LAST_WRITE_K] = ts[TS_K]
    ts[TS_STATE] = STATE_ACTIVE


@njit(cache=True, nogil=True)
def table_read(
    ts: FloatArray,
    p: FloatArray,
    s: FloatArray,
    ev: FloatArray,
    noise_lc: FloatArray,
    spont: FloatArray,
    now_k_target: float,
    out: FloatArray,
) -> None:  # pragma: no cover - jitted
    """``read()``: catch the physics up to step ``now_k_target`` (the loop clock's
    ``int((now - origin) * 1000 + 1e-6)``), then sample the sensors into ``out``.

    The EMG-free kernel never touches its noise and sEMG arrays: ``noise_lc`` and ``spont``
    stand in for them, so that nothing is allocated per tick.
    """
    k = ts[TS_K]
    if now_k_target > k:
        if ts[TS_STATE] == STATE_ACTIVE and now_k_target > ts[TS_LAST_WRITE_K] + WATCHDOG_STEPS:
            ts[TS_WD_MISSED] = 1.0
        while k < now_k_target:
            on = ts[TS_SP_ON]
            off = ts[TS_SP_OFF]
            nb = on if on < off else off
            stop = now_k_target if now_k_target < nb else nb
            if stop > k:
                _kernel(s, p, int(stop - k), noise_lc, ev, spont)
                k = stop
                ts[TS_K] = k
            if k >= nb:
                if k >= on:
                    s[_S_US] = spont[int(ts[TS_SP_IDX]) * SP_COLS + 2]
                    ts[TS_SP_ON] = math.inf
                else:
                    # sp_off: the contraction ends and the next one is scheduled from here.
                    s[_S_US] = 0.0
                    i = int(ts[TS_SP_IDX]) + 1
                    ts[TS_SP_IDX] = float(i)
                    if (i + 1) * SP_COLS <= spont.shape[0]:
                        nxt = k + spont[i * SP_COLS]
                        ts[TS_SP_ON] = nxt
                        ts[TS_SP_OFF] = nxt + spont[i * SP_COLS + 1]
                    else:
                        ts[TS_SP_ON] = math.inf
                        ts[TS_SP_OFF] = math.inf
                        ts[TS_EXHAUSTED] = 1.0
        xw = s[_S_OUT]
        xb = s[_S_OUT + 1]
        fh = s[_S_OUT + 2]
        if (xw > TRAVEL_LIMIT_MM or fh > OVERLOAD_N) and ts[TS_STATE] != STATE_FAULT:
            ts[TS_STATE] = STATE_FAULT
            _enter_release(ts, s)
            ts[TS_FAULT_K] = k
        if xb > ts[TS_ELONG_MAX]:
            ts[TS_ELONG_MAX] = xb
    i_lc = int(ts[TS_LC_I])
    if i_lc < noise_lc.shape[0]:
        noise = noise_lc[i_lc]
    else:
        noise = math.nan
        ts[TS_EXHAUSTED] = 1.0
    ts[TS_LC_I] = float(i_lc + 1)
    # round() is round-half-to-even in numba as in Python (and gives +0.0 where np.rint would
    # keep -0.0), so the compiled and the interpreted reading agree to the bit.
    fq = (s[_S_OUT + 2] + noise) * FORCE_LSB
    out[OUT_FORCE] = round(fq) / FORCE_LSB if fq == fq else math.nan
    out[OUT_WINCH] = round(s[_S_OUT] * ENCODER_LSB) / ENCODER_LSB
    out[OUT_FAULT] = 1.0 if ts[TS_STATE] == STATE_FAULT else 0.0
    seq = ts[TS_SEQ] + 1.0
    ts[TS_SEQ] = seq
    out[OUT_T] = ts[TS_ORIGIN] + k / 1000.0
    out[OUT_SEQ] = seq


@njit(cache=True, nogil=True)
def table_write(
    ts: FloatArray, s: FloatArray, force_n: float, base_n: float, release: float
) -> None:  # pragma: no cover - jitted
    """``write()`` for the drive: a refused command (table not active: ``SimulatedTable``
    raises DeviceNotActiveError) or a non-finite one (ValueError) changes nothing and is
    reported in ``TS_WRITE_ERR`` (1, 2) for the caller to treat as the runtime does."""
    if ts[TS_STATE] != STATE_ACTIVE:
        ts[TS_WRITE_ERR] = 1.0
        return
    if not (math.isfinite(force_n) and math.isfinite(base_n)):
        ts[TS_WRITE_ERR] = 2.0
        return
    ts[TS_WRITE_ERR] = 0.0
    ts[TS_BASE_N] = base_n
    ts[TS_LAST_WRITE_K] = ts[TS_K]
    if release != 0.0 and force_n <= 0.0:
        _enter_release(ts, s)  # as SimulatedTable.write: the controlled return reached zero
    else:
        if ts[TS_TRACK] == 0.0:
            s[_S_RELEASE] = 0.0
            s[_S_FRATE] = 0.0
            ts[TS_TRACK] = 1.0
        # min(max(f, 0.0), DEVICE_MAX_FORCE_N) with Python's tie rules (first argument kept).
        f = 0.0 if force_n < 0.0 else force_n
        s[_S_TGT] = DEVICE_MAX_FORCE_N if f > DEVICE_MAX_FORCE_N else f


def table_warm_up() -> None:
    """Compile (or load from the disk cache) every core before a session's first tick."""
    patient_free = pm.initial_state()
    p = np.zeros(pm.P_SIZE)
    ev = pm.new_event_log()
    noise = np.zeros(4)
    spont = np.array([1.0, 1.0, 0.2])
    ts = np.zeros(TS_SIZE)
    ts[TS_SP_ON] = math.inf
    ts[TS_SP_OFF] = math.inf
    out = np.zeros(OUT_SIZE)
    table_activate(ts, patient_free)
    table_write(ts, patient_free, 0.0, 0.0, 0.0)
    table_read(ts, p, patient_free, ev, noise, spont, 0.0, out)
