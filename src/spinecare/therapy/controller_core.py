"""The controller's decisions as compiled functions over one state array.

``DecompressionController`` (therapy/controller.py) keeps its state here and calls
``controller_update`` every tick; the cohort's batch loop (cohort/batch.py) calls the very same
functions from compiled code, many sessions without returning to Python. One implementation of
the state machine, two callers: what the cohort verifies is what runs on the table.

Everything is a float64 array: ``cs`` the state (slots ``S_*``), ``cp`` the parameters (slots
``P_*``, from the protocol and ``ControllerSettings``), ``gs``/``gp`` the force-path detector's
(therapy/guarding.py), ``ev`` the log of guarding events (rows of ``EV_COLS``: ``E_*``) and the
winch history kept while guarding, a ring at the end of ``cs``. Booleans are 0/1, an absent time
is NaN. The functions are written in plain Python (they run uncompiled under
NUMBA_DISABLE_JIT=1, which mutation testing uses) and compiled with numba's disk cache.

[seed-spinemed]: "The tension is automatically adjusted every 20 milliseconds. As soon as the
computer registers a counter-tension, the distraction is stopped and then slowly rebuilt" and "a
basic tension is always maintained".
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

from spinecare.compiled import jit_core  # numba cache keyed on every core's source
from spinecare.therapy.guarding import (
    G_SCORE,
    guarding_clear,
    guarding_learn_stiffness,
    guarding_learn_unloading,
    guarding_observe_noise,
    guarding_quiet,
    guarding_reset_learning_window,
    guarding_update,
)
from spinecare.therapy.profile import (
    fall_seconds,
    hold_level,
    log_ramp,
    oscillation_dip,
    oscillation_room_n,
    ramp_toward,
    regressive_seconds,
    rise_seconds,
    step_fraction,
)
from spinecare.vocab import TICK_S

FloatArray = npt.NDArray[np.float64]


# Phase codes, in the order of ``profile.Phase`` (PHASES maps them back).
PRETENSION, RAMP_UP, HOLD, RAMP_DOWN, REST = 0, 1, 2, 3, 4
GUARD_RELEASE, GUARD_WAIT, REBUILD, FINAL_RELEASE, DONE = 5, 6, 7, 8, 9
# Stage and mode codes (``profile.Stage``, ``profile.TractionMode``).
PROGRESSIVE, MAIN, REGRESSIVE = 0, 1, 2
STATIC, INTERMITTENT, CYCLIC = 0, 1, 2
# Event sources (bit 1: the force path, bit 2: EMG).
SRC_FORCE, SRC_EMG = 1, 2
# Command flags returned by ``controller_update``.
FLAG_PAUSED, FLAG_GUARDING, FLAG_RELEASE = 1, 2, 4
# Planning slack per cycle for the regressive steps: each phase change lands on a tick, so a
# cycle on the table takes up to a few ticks longer than its nominal length (engineering
# choice: 10 ticks).
CYCLE_MARGIN_S = 10 * TICK_S

# -- parameters ---------------------------------------------------------------------------------
(
    P_GUARD_RELEASE_FACTOR,
    P_REBUILD_RAMP_FACTOR,
    P_RELAX_MIN,
    P_RELAX_MAX,
    P_RELAX_STILL,
    P_RELAX_WINDOW,
    P_NEAR_PEAK,
    P_PEAK_BACKOFF,
    P_STRIKES,
    P_MIN_RESUMED_HOLD,
    P_UNLOADING_SCALE,
    P_RECOIL,
    P_SETTLE,
) = range(13)
(P_TRACTION_S, P_RAMP_UP, P_RAMP_DOWN, P_PROTO_HOLD, P_PROTO_REST) = range(13, 18)
(P_MODE, P_PROG_STEPS, P_REG_STEPS, P_HOLD, P_REST, P_LOG_K, P_OSC_N, P_OSC_HZ) = range(18, 26)
P_HIST_CAP = 26  # capacity of the winch-history ring
P_SIZE = 27

# -- state --------------------------------------------------------------------------------------
(S_PHASE, S_TARGET, S_PEAK, S_BASE, S_MUSCLE, S_START, S_PHASE_END, S_RESUME_HOLD) = range(8)
(S_RAMP_N_S, S_INTERRUPTED, S_REST_LEFT, S_STRIKES, S_ALARM_BEFORE, S_WAIT_START) = range(8, 14)
(S_SETTLE_START, S_PAUSED_AT, S_PAUSED_S, S_STAGE, S_STAGE_CYCLES, S_REG_DONE) = range(14, 20)
# The current cycle and the one ``_fits`` chose next: stage, fraction, hold, rest, static.
S_CYCLE = 20
S_NEXT = 25
(S_RAMP_FROM, S_RAMP_T0, S_HOLD_T0, S_NEV, S_HIST_HEAD, S_HIST_LEN, S_CMD_BASE) = range(30, 37)
S_HIST = 37  # the ring: HIST_CAP pairs (time, winch)
# Guarding event rows.
(E_ONSET, E_PHASE, E_SOURCE, E_FORCE, E_TARGET, E_PEAK, E_RELAXED, E_RAMP_AFTER) = range(8)
E_PEAK_AFTER = 8
EV_COLS = 9

NAN = math.nan

# The profile's arithmetic (therapy/profile.py, plain Python there) compiled where it is
# called: numba uses these very functions inside the core.
for _fn in (
    ramp_toward,
    step_fraction,
    rise_seconds,
    fall_seconds,
    log_ramp,
    oscillation_dip,
    oscillation_room_n,
    hold_level,
    regressive_seconds,
):
    register_jitable(_fn)


def hist_capacity(relax_window_s: float) -> int:
    """Ring size for the winch history: the relaxation window at one entry per tick, doubled,
    plus slack (updates closer together than a tick drop the oldest entries first)."""
    return 2 * int(relax_window_s / TICK_S) + 16


def event_capacity(traction_s: float, recoil_s: float) -> int:
    """Rows for the event log: a new event needs the alarm to have been off for ``recoil_s``
    (or a tick), so a session of ``traction_s`` cannot log more than this."""
    return int(traction_s / max(recoil_s, TICK_S)) + 64


def state_new(cp: FloatArray, peak_n: float, base_n: float) -> FloatArray:
    cap = int(cp[P_HIST_CAP])
    cs = np.zeros(S_HIST + 2 * cap)
    cs[S_PHASE] = PRETENSION
    cs[S_PEAK] = peak_n
    cs[S_BASE] = base_n
    cs[S_START] = NAN
    cs[S_RESUME_HOLD] = cp[P_PROTO_HOLD]
    cs[S_RAMP_N_S] = cp[P_RAMP_UP]
    cs[S_INTERRUPTED] = PRETENSION
    cs[S_SETTLE_START] = NAN
    cs[S_PAUSED_AT] = NAN
    cs[S_STAGE] = PROGRESSIVE if cp[P_PROG_STEPS] > 0 else MAIN
    _set_cycle(cs, S_CYCLE, MAIN, 1.0, cp[P_PROTO_HOLD], cp[P_PROTO_REST], 0.0)
    _set_cycle(cs, S_NEXT, MAIN, 1.0, cp[P_PROTO_HOLD], cp[P_PROTO_REST], 0.0)
    return cs


def _set_cycle(
    cs: FloatArray, at: int, stage: float, frac: float, hold: float, rest: float, static: float
) -> None:
    cs[at] = stage
    cs[at + 1] = frac
    cs[at + 2] = hold
    cs[at + 3] = rest
    cs[at + 4] = static


_set_cycle_c = jit_core(_set_cycle)


# -- public queries -----------------------------------------------------------------------------
def _controller_elapsed_s_impl(cs: FloatArray, now: float) -> float:  # pragma: no cover - jitted
    """Traction time so far: a pause stops this clock."""
    start = cs[S_START]
    if start != start:
        return 0.0
    paused_at = cs[S_PAUSED_AT]
    return float((now if paused_at != paused_at else paused_at) - start)


controller_elapsed_s = jit_core(_controller_elapsed_s_impl)


def _controller_level_n_impl(cs: FloatArray) -> float:  # pragma: no cover - jitted
    """The level the current cycle pulls to: its share of the span from base to the (possibly
    lowered) peak."""
    frac = cs[S_CYCLE + 1]
    if frac >= 1.0:
        return float(cs[S_PEAK])
    return float(cs[S_BASE] + frac * (cs[S_PEAK] - cs[S_BASE]))


controller_level_n = jit_core(_controller_level_n_impl)


def _controller_pause_impl(cs: FloatArray, now: float) -> None:  # pragma: no cover - jitted
    """Hold the current force and stop the session clock (not during the final release)."""
    if (
        cs[S_PAUSED_AT] != cs[S_PAUSED_AT]
        and cs[S_PHASE] != FINAL_RELEASE
        and cs[S_PHASE] != DONE
        and cs[S_START] == cs[S_START]
    ):
        cs[S_PAUSED_AT] = now


controller_pause = jit_core(_controller_pause_impl)


def _controller_resume_impl(cs: FloatArray, now: float) -> None:  # pragma: no cover - jitted
    """Continue where PAUSE stopped: every phase timer moves on by the time paused."""
    paused_at = cs[S_PAUSED_AT]
    if paused_at != paused_at:
        return
    held = max(0.0, now - paused_at)
    cs[S_PAUSED_AT] = NAN
    cs[S_PAUSED_S] += held
    if cs[S_START] == cs[S_START]:
        cs[S_START] += held
    cs[S_PHASE_END] += held
    cs[S_WAIT_START] += held
    cs[S_RAMP_T0] += held
    cs[S_HOLD_T0] += held
    if cs[S_SETTLE_START] == cs[S_SETTLE_START]:
        cs[S_SETTLE_START] += held
    cs[S_HIST_LEN] = 0.0


# -- the tick -----------------------------------------------------------------------------------


controller_resume = jit_core(_controller_resume_impl)


def _controller_update_impl(  # pragma: no cover - jitted
    cs: FloatArray,
    cp: FloatArray,
    gs: FloatArray,
    gp: FloatArray,
    ev: FloatArray,
    force: float,
    winch: float,
    now: float,
    dt: float,
    emg_alarm: bool,
    force_verdict: int,
    force_score: float,
) -> int:
    """One tick: the new target in ``cs[S_TARGET]``, the watchdog's base in ``cs[S_CMD_BASE]``;
    returns the command's flags (``FLAG_*``).

    ``force_verdict`` -1: the force path is the compiled detector on ``gs``/``gp`` (always, on a
    table); 0 or 1: its verdict comes from the caller with ``force_score`` (the target curve's
    never-tense patient, tests that script the muscles)."""
    if cs[S_START] != cs[S_START]:
        cs[S_START] = now
    phase = cs[S_PHASE]
    # While the pull falls the drive moves and the residual is noisier; counter-tension then
    # matters less (the force is going down anyway), so the force path is less sensitive.
    if force_verdict < 0:
        force_alarm = guarding_update(
            gs, gp, force, winch, phase == RAMP_DOWN, cp[P_UNLOADING_SCALE]
        )
        cs[S_MUSCLE] = gs[G_SCORE]
    else:
        force_alarm = force_verdict > 0
        cs[S_MUSCLE] = force_score
    alarm = force_alarm or emg_alarm
    if phase == GUARD_WAIT or alarm:
        _remember_winch(cs, cp, now, winch)
    rising = alarm and cs[S_ALARM_BEFORE] < 0.5
    cs[S_ALARM_BEFORE] = 1.0 if alarm else 0.0
    if cs[S_PAUSED_AT] == cs[S_PAUSED_AT]:
        if not alarm:
            target = cs[S_TARGET]
            cs[S_CMD_BASE] = min(cs[S_BASE], target)
            return FLAG_PAUSED
        controller_resume(cs, now)  # counter-tension: the distraction stops, paused or not
    source = (SRC_FORCE if force_alarm else 0) + (SRC_EMG if emg_alarm else 0)
    phase = cs[S_PHASE]
    if phase != FINAL_RELEASE and phase != DONE:
        if controller_elapsed_s(cs, now) >= cp[P_TRACTION_S]:
            cs[S_PHASE] = FINAL_RELEASE
        elif alarm and phase != GUARD_RELEASE and phase != GUARD_WAIT:
            _start_guarding(cs, cp, ev, now, force, source)
        elif alarm:
            if rising and phase == GUARD_WAIT and now - cs[S_WAIT_START] >= cp[P_RECOIL]:
                # A new contraction while waiting at base: logged, and the wait restarts.
                _log_event(cs, ev, now, force, source)
            row = (int(cs[S_NEV]) - 1) * EV_COLS
            ev[row + E_PEAK] = max(ev[row + E_PEAK], force)
            cs[S_WAIT_START] = now  # still tense: the wait starts again

    _step_phase(cs, cp, gs, gp, ev, now, max(0.0, dt), force, winch, alarm)
    phase = cs[S_PHASE]
    released = phase in (FINAL_RELEASE, DONE)
    # What the table's watchdog may fall back to: never above the setpoint, and nothing once the
    # final release has begun.
    cs[S_CMD_BASE] = 0.0 if released else min(cs[S_BASE], cs[S_TARGET])
    if phase == DONE:
        return FLAG_RELEASE
    if phase in (GUARD_RELEASE, GUARD_WAIT):
        return FLAG_GUARDING
    return 0


controller_update = jit_core(_controller_update_impl)


def _step_phase_impl(  # pragma: no cover - jitted
    cs: FloatArray,
    cp: FloatArray,
    gs: FloatArray,
    gp: FloatArray,
    ev: FloatArray,
    now: float,
    dt: float,
    force: float,
    winch: float,
    alarm: bool,
) -> None:
    phase = cs[S_PHASE]
    base = cs[S_BASE]
    if phase == PRETENSION:
        cs[S_TARGET] = ramp_toward(cs[S_TARGET], base, cp[P_RAMP_UP], dt)
        if not alarm:
            guarding_learn_stiffness(gs, gp, force, winch)
            guarding_observe_noise(gs, gp)
        if cs[S_TARGET] >= base:
            if cs[S_SETTLE_START] != cs[S_SETTLE_START]:
                cs[S_SETTLE_START] = now
            if now - cs[S_SETTLE_START] >= cp[P_SETTLE] and _cycle_fits(cs, cp, now):
                _begin_ramp(cs, cp, gs, now)
    elif phase in (RAMP_UP, REBUILD):
        level = controller_level_n(cs)
        if phase == RAMP_UP and cp[P_LOG_K] > 0.0:
            start = cs[S_RAMP_FROM]
            duration = rise_seconds(start, level, cp[P_RAMP_UP])
            shaped = log_ramp(start, level, now - cs[S_RAMP_T0], duration, cp[P_LOG_K])
            cs[S_TARGET] = min(level, max(cs[S_TARGET], shaped))
        else:
            cs[S_TARGET] = ramp_toward(cs[S_TARGET], level, cs[S_RAMP_N_S], dt)
        if not alarm and guarding_quiet(gs, gp):
            guarding_learn_stiffness(gs, gp, force, winch)
        if cs[S_TARGET] >= level:
            cs[S_PHASE] = HOLD
            cs[S_PHASE_END] = now + cs[S_RESUME_HOLD]
            cs[S_HOLD_T0] = now
    elif phase == HOLD:
        cs[S_TARGET] = hold_level(
            controller_level_n(cs), base, now - cs[S_HOLD_T0], cp[P_OSC_N], cp[P_OSC_HZ]
        )
        if _hold_over(cs, cp, now):
            cs[S_PHASE] = RAMP_DOWN
            guarding_reset_learning_window(gs)
            cs[S_STRIKES] = 0.0  # a whole hold was tolerated
    elif phase == RAMP_DOWN:
        cs[S_TARGET] = ramp_toward(cs[S_TARGET], base, cp[P_RAMP_DOWN], dt)
        if not alarm:
            guarding_learn_unloading(gs, gp, force, winch)
        if cs[S_TARGET] <= base:
            cs[S_PHASE] = REST
            cs[S_PHASE_END] = now + cs[S_CYCLE + 3]
    elif phase == REST:
        cs[S_TARGET] = base
        if now >= cs[S_PHASE_END] and _cycle_fits(cs, cp, now):
            _begin_ramp(cs, cp, gs, now)
    elif phase == GUARD_RELEASE:
        rate = cp[P_RAMP_DOWN] * cp[P_GUARD_RELEASE_FACTOR]
        cs[S_TARGET] = ramp_toward(cs[S_TARGET], min(cs[S_TARGET], base), rate, dt)
        if cs[S_TARGET] <= base:
            cs[S_PHASE] = GUARD_WAIT
            cs[S_WAIT_START] = now
            # Unloading stiffness differs from loading (viscoelastic hysteresis): after a fast
            # release the passive model is re-referenced at base tension.
            guarding_clear(gs, gp)
    elif phase == GUARD_WAIT:
        if _relaxed(cs, cp, ev, now, alarm):
            _end_guarding(cs, cp, gs, gp, ev, now)
    elif phase == FINAL_RELEASE:
        cs[S_TARGET] = ramp_toward(cs[S_TARGET], 0.0, cp[P_RAMP_DOWN], dt)
        if cs[S_TARGET] <= 0.0:
            cs[S_PHASE] = DONE
    # DONE: the target stays at zero.


# -- the programme ------------------------------------------------------------------------------


_step_phase = jit_core(_step_phase_impl)


def _cycle_fits_impl(
    cs: FloatArray, cp: FloatArray, now: float
) -> bool:  # pragma: no cover - jitted
    """Choose the programme's next cycle and start it only if its ramp and whole hold end before
    the traction time does: a pull that would be cut short by the final release is no treatment,
    only a load. Before regressive steps, a cycle must also leave them their time; a stage with
    no cycle left that fits hands over to the next."""
    hold, rest = cp[P_HOLD], cp[P_REST]
    if cs[S_STAGE] == PROGRESSIVE:
        n = int(cp[P_PROG_STEPS])
        if cs[S_STAGE_CYCLES] < n:
            frac = step_fraction(int(cs[S_STAGE_CYCLES]) + 1, n)
            if _fits(cs, cp, now, PROGRESSIVE, frac, hold, rest, 0.0):
                return True
        _enter(cs, MAIN)
    if cs[S_STAGE] == MAIN:
        if cp[P_MODE] == STATIC:
            # One sustained pull: it needs at least one hold's time before it must end.
            if cs[S_STAGE_CYCLES] == 0 and _fits(cs, cp, now, MAIN, 1.0, hold, 0.0, 1.0):
                return True
        elif _fits(cs, cp, now, MAIN, 1.0, hold, rest, 0.0):
            return True
        if cp[P_REG_STEPS] > 0:
            _enter(cs, REGRESSIVE)
    n = int(cp[P_REG_STEPS])
    while cs[S_REG_DONE] < n:
        frac = step_fraction(n - int(cs[S_REG_DONE]), n)
        if _fits(cs, cp, now, REGRESSIVE, frac, hold, rest, 0.0):
            return True
        cs[S_REG_DONE] += 1.0  # no time left for this step: the lower ones are shorter
    return False


_cycle_fits = jit_core(_cycle_fits_impl)


def _fits_impl(  # pragma: no cover - jitted
    cs: FloatArray,
    cp: FloatArray,
    now: float,
    stage: int,
    frac: float,
    hold: float,
    rest: float,
    static: float,
) -> bool:
    """Whether the cycle fits in the traction time left; remembered for ``_begin_ramp``."""
    base, peak = cs[S_BASE], cs[S_PEAK]
    level = peak if frac >= 1.0 else base + frac * (peak - base)
    ramp_s = rise_seconds(cs[S_TARGET], level, cp[P_RAMP_UP])
    tail = 0.0  # what must still fit after the hold
    if stage != REGRESSIVE and cp[P_REG_STEPS] > 0:
        tail = _regressive_left_s(cs, cp) + fall_seconds(level, base, cp[P_RAMP_DOWN]) + rest
    elif static > 0.5:
        tail = fall_seconds(level, base, cp[P_RAMP_DOWN])
    if controller_elapsed_s(cs, now) + ramp_s + hold + tail <= cp[P_TRACTION_S]:
        _set_cycle_c(cs, S_NEXT, stage, frac, hold, rest, static)
        return True
    return False


_fits = jit_core(_fits_impl)


def _regressive_left_s_impl(cs: FloatArray, cp: FloatArray) -> float:  # pragma: no cover - jitted
    """Nominal time the regressive steps not yet begun need (with a margin per cycle)."""
    return regressive_seconds(
        int(cp[P_REG_STEPS]),
        int(cs[S_REG_DONE]),
        cs[S_BASE],
        cs[S_PEAK],
        CYCLE_MARGIN_S,
        cp[P_HOLD],
        cp[P_REST],
        cp[P_RAMP_UP],
        cp[P_RAMP_DOWN],
    )


_regressive_left_s = jit_core(_regressive_left_s_impl)


def _enter_impl(cs: FloatArray, stage: int) -> None:  # pragma: no cover - jitted
    if cs[S_STAGE] != stage:
        cs[S_STAGE] = stage
        cs[S_STAGE_CYCLES] = 0.0


_enter = jit_core(_enter_impl)


def _hold_over_impl(
    cs: FloatArray, cp: FloatArray, now: float
) -> bool:  # pragma: no cover - jitted
    """A hold ends after its time; static mode's pull when the rest of the programme (the ramp
    down to base and any regressive steps) needs the time left; a cyclic peak at once."""
    if cs[S_CYCLE + 4] > 0.5:
        left = cp[P_TRACTION_S] - controller_elapsed_s(cs, now)
        tail = fall_seconds(controller_level_n(cs), cs[S_BASE], cp[P_RAMP_DOWN]) + CYCLE_MARGIN_S
        if cp[P_REG_STEPS] > 0:
            tail += _regressive_left_s(cs, cp)
        return bool(left <= tail)
    if cs[S_CYCLE + 2] <= 0.0:
        return True
    return bool(now >= cs[S_PHASE_END])


_hold_over = jit_core(_hold_over_impl)


def _begin_ramp_impl(  # pragma: no cover - jitted
    cs: FloatArray, cp: FloatArray, gs: FloatArray, now: float
) -> None:
    for i in range(5):
        cs[S_CYCLE + i] = cs[S_NEXT + i]
    cs[S_STAGE_CYCLES] += 1.0
    if cs[S_CYCLE] == REGRESSIVE:
        cs[S_REG_DONE] += 1.0
    cs[S_PHASE] = RAMP_UP
    cs[S_RAMP_N_S] = cp[P_RAMP_UP]
    cs[S_RESUME_HOLD] = cs[S_CYCLE + 2]
    cs[S_RAMP_FROM] = cs[S_TARGET]
    cs[S_RAMP_T0] = now
    guarding_reset_learning_window(gs)


# -- guarding -----------------------------------------------------------------------------------


_begin_ramp = jit_core(_begin_ramp_impl)


def _log_event_impl(  # pragma: no cover - jitted
    cs: FloatArray, ev: FloatArray, now: float, force: float, source: int
) -> None:
    """A new row; a full log (see ``event_capacity``) overwrites its last row."""
    n = int(cs[S_NEV])
    if (n + 1) * EV_COLS > ev.shape[0]:
        n -= 1
    row = n * EV_COLS
    ev[row + E_ONSET] = now
    ev[row + E_PHASE] = cs[S_PHASE]
    ev[row + E_SOURCE] = source
    ev[row + E_FORCE] = force
    ev[row + E_TARGET] = cs[S_TARGET]
    ev[row + E_PEAK] = force
    ev[row + E_RELAXED] = NAN
    ev[row + E_RAMP_AFTER] = NAN
    ev[row + E_PEAK_AFTER] = NAN
    cs[S_NEV] = n + 1


_log_event = jit_core(_log_event_impl)


def _start_guarding_impl(  # pragma: no cover - jitted
    cs: FloatArray, cp: FloatArray, ev: FloatArray, now: float, force: float, source: int
) -> None:
    phase = cs[S_PHASE]
    cs[S_INTERRUPTED] = phase
    if phase == HOLD:
        cs[S_RESUME_HOLD] = max(cp[P_MIN_RESUMED_HOLD], cs[S_PHASE_END] - now)
    elif phase == REST:
        cs[S_REST_LEFT] = max(0.0, cs[S_PHASE_END] - now)
    elif phase == RAMP_DOWN:
        cs[S_REST_LEFT] = cs[S_CYCLE + 3]
    _log_event(cs, ev, now, force, source)
    cs[S_HIST_LEN] = 0.0
    # Stop the distraction in this very tick: the target may only fall from here.
    cs[S_PHASE] = GUARD_RELEASE if cs[S_TARGET] > cs[S_BASE] else GUARD_WAIT
    cs[S_WAIT_START] = now


_start_guarding = jit_core(_start_guarding_impl)


def _remember_winch_impl(  # pragma: no cover - jitted
    cs: FloatArray, cp: FloatArray, now: float, winch: float
) -> None:
    """Winch positions over the last ``relax_window_s`` (only needed while guarding)."""
    cap = int(cp[P_HIST_CAP])
    head = int(cs[S_HIST_HEAD])
    n = int(cs[S_HIST_LEN])
    if n == cap:  # full: drop the oldest
        head = (head + 1) % cap
        n -= 1
    slot = (head + n) % cap
    cs[S_HIST + 2 * slot] = now
    cs[S_HIST + 2 * slot + 1] = winch
    n += 1
    horizon = now - cp[P_RELAX_WINDOW]
    while n > 2 and cs[S_HIST + 2 * ((head + 1) % cap)] <= horizon:
        head = (head + 1) % cap
        n -= 1
    cs[S_HIST_HEAD] = head
    cs[S_HIST_LEN] = n


_remember_winch = jit_core(_remember_winch_impl)


def _relaxed_impl(  # pragma: no cover - jitted
    cs: FloatArray, cp: FloatArray, ev: FloatArray, now: float, alarm: bool
) -> bool:
    row = (int(cs[S_NEV]) - 1) * EV_COLS
    if now - ev[row + E_ONSET] >= cp[P_RELAX_MAX]:
        return True
    if now - cs[S_WAIT_START] < cp[P_RELAX_MIN] or alarm:
        return False
    cap = int(cp[P_HIST_CAP])
    head = int(cs[S_HIST_HEAD])
    last = (head + int(cs[S_HIST_LEN]) - 1) % cap
    t0, x0 = cs[S_HIST + 2 * head], cs[S_HIST + 2 * head + 1]
    t1, x1 = cs[S_HIST + 2 * last], cs[S_HIST + 2 * last + 1]
    speed = abs(x1 - x0) / max(t1 - t0, TICK_S)
    return bool(speed <= cp[P_RELAX_STILL])


_relaxed = jit_core(_relaxed_impl)


def _end_guarding_impl(  # pragma: no cover - jitted
    cs: FloatArray, cp: FloatArray, gs: FloatArray, gp: FloatArray, ev: FloatArray, now: float
) -> None:
    row = (int(cs[S_NEV]) - 1) * EV_COLS
    ev[row + E_RELAXED] = now
    guarding_clear(gs, gp)
    guarding_reset_learning_window(gs)
    target_at_onset = ev[row + E_TARGET]
    near_peak = target_at_onset >= cp[P_NEAR_PEAK] * cs[S_PEAK]
    onset_phase = ev[row + E_PHASE]
    if near_peak and (onset_phase in (RAMP_UP, HOLD, REBUILD)):
        cs[S_STRIKES] += 1.0
    if cs[S_STRIKES] >= cp[P_STRIKES]:
        # Counter-tension near the peak again before a hold was tolerated: the peak is above
        # what the patient tolerates today. A single event (a cough) does not count.
        lowered = cp[P_PEAK_BACKOFF] * min(target_at_onset, cs[S_PEAK])
        cs[S_PEAK] = max(cs[S_BASE] * 1.1, lowered)
        cs[S_STRIKES] = 0.0
    ev[row + E_PEAK_AFTER] = cs[S_PEAK]
    interrupted = cs[S_INTERRUPTED]
    if interrupted in (RAMP_UP, HOLD, REBUILD):
        cs[S_PHASE] = REBUILD
        cs[S_RAMP_N_S] = cp[P_RAMP_UP] * cp[P_REBUILD_RAMP_FACTOR]
        ev[row + E_RAMP_AFTER] = cs[S_RAMP_N_S]
    elif interrupted == PRETENSION:
        cs[S_PHASE] = PRETENSION
        ev[row + E_RAMP_AFTER] = cp[P_RAMP_UP]
    else:
        # Counter-tension while releasing or resting: finish the rest, then ramp as usual.
        cs[S_PHASE] = REST
        cs[S_PHASE_END] = now + cs[S_REST_LEFT]
        ev[row + E_RAMP_AFTER] = cp[P_RAMP_UP]


_end_guarding = jit_core(_end_guarding_impl)
