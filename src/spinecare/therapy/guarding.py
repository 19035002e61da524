"""Counter-tension (muscle guarding) detection from the force signal.

With the table's drive holding the cable force, paraspinal counter-tension pulls the patient
back: at a given winch position the harness force rises, and the drive pays cable out to hold
it. Either way the force rises *more than the passive response to the winch motion predicts*.
The detector integrates the per-tick residual ``dF - k * dx``, where ``k`` (N/mm) is the
passive stiffness learned while the pull rises (and, separately, while it falls: unloading is
softer, viscoelastic hysteresis; and over the first millimetre of each rise, while static
friction still holds the body and only the harness stretches), into an "unexplained force"
level and compares it with a reference that tracks slow drift (creep, the remaining stiffness
error) while a contraction, a step within 20-40 ms, stands out. The alarm rises when the level
stands a few noise SDs above the reference, or, while the pull is not being lowered, when the
drive starts paying out cable from a still winch and the level stands high: the patient pulling
back against a steady target.

All decisions run in module-level numba functions over two float64 arrays: the settings
(``guarding_params``) and the detector's state (``guarding_state_new``, slots ``G_*``). The
class below is a thin wrapper for the real-time path (one call per 20 ms tick); a compiled
session kernel calls the same functions on its own arrays. One implementation, two callers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

import spinecare.compiled  # noqa: F401  (numba cache keyed on every core's source)
from spinecare.errors import InputError

FloatArray = npt.NDArray[np.float64]

# Longest window of the mean test the state array holds (mean_ticks <= this).
MAX_MEAN_TICKS = 64

# Parameter slots (guarding_params): the settings as float64, integers as whole floats.
(P_PRIOR_STIFFNESS, P_LEARN_MIN_TRAVEL, P_LEARN_RATE, P_LEVEL_RATE, P_HELD_FACTOR) = range(5)
(P_THRESHOLD_SD, P_PERSIST_SD, P_PERSIST_TICKS, P_MEAN_SD, P_MEAN_TICKS) = range(5, 10)
(P_PAYOUT_MM, P_PAYOUT_SD, P_STILL_TICKS, P_PRIOR_NOISE, P_NOISE_LEARN_TICKS) = range(10, 15)
(P_NOISE_TRACK_RATE, P_MIN_NOISE, P_BREAKAWAY_TRAVEL) = range(15, 18)
(P_UNLOAD_NOISE_RATE, P_UNLOAD_SCALE_MIN, P_UNLOAD_SCALE_MAX) = range(18, 21)
N_PARAMS = 21

# State slots (guarding_state_new). Booleans are 0.0/1.0, counters whole floats; "None" is a
# flag slot (G_HAS_PREV, G_HAS_WIN: a NaN force must not read as "no previous tick") or NaN
# (G_UNLOAD_STIFFNESS: only ever set to an accepted, finite estimate).
(G_STIFFNESS, G_STIFFNESS_LEARNED, G_UNLOAD_STIFFNESS, G_SCORE, G_DEV) = range(5)
(G_HAS_PREV, G_PREV_F, G_PREV_X, G_LEVEL, G_REF, G_ABOVE) = range(5, 11)
(G_RECENT_I, G_RECENT_SUM, G_PAYOUT, G_STILL) = range(11, 15)
(G_N, G_MEAN, G_M2, G_VAR, G_SINCE_NOISE) = range(15, 20)
(G_NOISE_SD, G_THRESHOLD, G_PERSIST, G_MEAN_N) = range(20, 24)
(G_HAS_WIN, G_WIN_F0, G_WIN_X0) = range(24, 27)
(G_BREAKAWAY_STIFFNESS, G_BREAKAWAY_LEFT, G_FIRST_WINDOW, G_BREAKAWAY_TRAVEL) = range(27, 31)
G_UNLOAD_VAR = 31  # the level's variance while the pull is lowered (NaN: none seen yet)
G_RECENT = 32  # ring of the last mean_ticks deviations: G_RECENT .. G_RECENT + mean_ticks - 1


@dataclass(frozen=True, slots=True)
class ForceGuardingSettings:
    # Prior for the passive stiffness seen at the winch, N/mm; replaced within the first ramp.
    # Harness and soft tissue in series with the spine: 5-40 N/mm (sim/population.py ranges).
    prior_stiffness_n_mm: float = 15.0
    # Winch travel (mm) a stiffness estimate needs before it is trusted.
    learn_min_travel_mm: float = 0.4
    # Smoothing of the learned stiffness (per accepted estimate).
    learn_rate: float = 0.2
    # Reference tracking per tick (time constant 5 ticks = 0.1 s), slower than a contraction's
    # 20-40 ms rise (sim/population.py), fast enough that a stiffness error during a ramp
    # leaves little lag.
    level_rate: float = 0.2
    # While the level stands high the reference follows ten times slower: a contraction
    # (seconds) stays visible, a slow recoil after unloading (minutes) is still absorbed.
    held_factor: float = 0.1
    # Alarm thresholds in SDs of the level's noise. Engineering choice from the simulated cohort
    # (bench/b2_guarding_response.py): above 5 SD at once (Gaussian tail 3e-7 per tick, < 0.05
    # false stops in a 30-minute session), or above 3.5 SD on 2 ticks in a row ((2.3e-4)^2 =
    # 5e-8 per tick) so that contractions that barely become measurable are caught too.
    threshold_sd: float = 5.0
    persist_sd: float = 3.5
    persist_ticks: int = 2
    # ... or whose mean over the last 5 ticks exceeds 2.7 SD (6 SD of a 5-sample mean, about
    # 1e-9 per tick): small sustained contractions, just measurable, are caught within 100 ms.
    mean_sd: float = 2.7
    # (The last ``mean_ticks`` levels live in the state array: at most MAX_MEAN_TICKS of them.)
    mean_ticks: int = 5
    # ... or the drive has paid out 0.03 mm of cable since the winch was last still or drawing
    # in (0.2 s), while the pull is not being lowered and the level stands 2 SD high. With the
    # target steady the drive pays out only when the patient pulls back; the force it gives way
    # to never shows in full. Engineering choice from the simulated cohort
    # (bench/b2_guarding_response.py): it took the 95th percentile from measurable from 53 to
    # 35 ms at the same false stops.
    payout_mm: float = 0.03
    payout_sd: float = 2.0
    still_ticks: int = 10
    # Noise assumed before it has been measured, N (load-cell SD); samples measured before the
    # estimate is trusted; afterwards it keeps tracking slowly (time constant 1500 ticks = 30 s).
    prior_noise_n: float = 1.5
    noise_learn_ticks: int = 200
    noise_track_rate: float = 1.0 / 1500.0
    # Never trust a measured noise below this, N: a quiet load cell must not hair-trigger.
    min_noise_n: float = 0.25
    # At the start of every rise the body lies still on the table, held by static friction
    # (sim/patient_model.py's friction law; a split table keeps a residual friction
    # [lee-evans2001]): until it breaks away only the harness stretches, and the force rises
    # faster per mm of winch travel (up to twice as fast in the cohort) than once the body
    # slides (the series stiffness of harness and spine that the loading stiffness learns).
    # With one stiffness the excess, up to twice the friction force, built up in the level at
    # every ramp's start: the cohort's main false stop (docs/controller.md). So the first
    # ``breakaway_travel_mm`` of each rise are learned as a window of their own (the breakaway
    # stiffness) and predicted with it. Engineering choice from the simulated cohort (replayed
    # open-loop recordings, 190 sessions): 1 mm removed five sixths of the ramp-start false
    # alarms; 0.4 mm removed two fifths, 2 mm three fifths.
    breakaway_travel_mm: float = 1.0
    # While the pull is lowered the level is noisier (the drive pays out, the stiffness changes
    # along the ramp) by a factor that differs between patients: the controller's fixed scale
    # (ControllerSettings.unloading_threshold_scale, 1.6) is where each patient starts, and the
    # level's own SD over the ramps down then sets it, within ``unload_scale_min``-``_max`` x
    # the hold's noise (tracked like the noise, clipped at 3 SD; time constant 300 ticks, about
    # two ramps down). A quiet patient's contraction while the pull is lowered stands out
    # sooner, a noisy one's ramp down no longer stops the distraction for nothing. Engineering
    # choice from the simulated cohort (bench/b2_guarding_response.py, docs/controller.md).
    unload_noise_rate: float = 1.0 / 300.0
    unload_scale_min: float = 1.0
    unload_scale_max: float = 2.5

    def __post_init__(self) -> None:
        # The compiled core sizes its ring buffer from mean_ticks and divides by the winch travel
        # of a learning window: refuse what it cannot hold here, never inside a tick.
        if not (isinstance(self.mean_ticks, int) and 1 <= self.mean_ticks <= MAX_MEAN_TICKS):
            raise InputError(
                "mean_ticks", f"must be a whole number from 1 to {MAX_MEAN_TICKS}", self.mean_ticks
            )
        if not self.learn_min_travel_mm > 0.0:
            raise InputError("learn_min_travel_mm", "must be above 0 mm", self.learn_min_travel_mm)
        if not self.breakaway_travel_mm > 0.0:
            raise InputError("breakaway_travel_mm", "must be above 0 mm", self.breakaway_travel_mm)
        if not 1.0 <= self.unload_scale_min <= self.unload_scale_max:
            raise InputError(
                "unload_scale_min",
                "need 1 <= min <= max",
                (self.unload_scale_min, self.unload_scale_max),
            )
        if not 0.0 < self.unload_noise_rate <= 1.0:
            raise InputError("unload_noise_rate", "need 0 < rate <= 1", self.unload_noise_rate)


@dataclass(slots=True)
class ForceGuardingUpdate:
    alarm: bool
    score: float  # unexplained force above the prediction, N (the "muscle tension" shown)


def guarding_params(settings: ForceGuardingSettings) -> FloatArray:
    """The settings as the compiled core reads them (built once, never per tick)."""
    s = settings
    pa = np.zeros(N_PARAMS)
    pa[P_PRIOR_STIFFNESS] = s.prior_stiffness_n_mm
    pa[P_LEARN_MIN_TRAVEL] = s.learn_min_travel_mm
    pa[P_LEARN_RATE] = s.learn_rate
    pa[P_LEVEL_RATE] = s.level_rate
    pa[P_HELD_FACTOR] = s.held_factor
    pa[P_THRESHOLD_SD] = s.threshold_sd
    pa[P_PERSIST_SD] = s.persist_sd
    pa[P_PERSIST_TICKS] = s.persist_ticks
    pa[P_MEAN_SD] = s.mean_sd
    pa[P_MEAN_TICKS] = s.mean_ticks
    pa[P_PAYOUT_MM] = s.payout_mm
    pa[P_PAYOUT_SD] = s.payout_sd
    pa[P_STILL_TICKS] = s.still_ticks
    pa[P_PRIOR_NOISE] = s.prior_noise_n
    pa[P_NOISE_LEARN_TICKS] = s.noise_learn_ticks
    pa[P_NOISE_TRACK_RATE] = s.noise_track_rate
    pa[P_MIN_NOISE] = s.min_noise_n
    pa[P_BREAKAWAY_TRAVEL] = s.breakaway_travel_mm
    pa[P_UNLOAD_NOISE_RATE] = s.unload_noise_rate
    pa[P_UNLOAD_SCALE_MIN] = s.unload_scale_min
    pa[P_UNLOAD_SCALE_MAX] = s.unload_scale_max
    return pa


@njit(cache=True)
def _set_noise(st: FloatArray, pa: FloatArray, sd: float) -> None:  # pragma: no cover - jitted
    # Python's max(sd, min_noise): the first argument unless the second is larger.
    lo = pa[P_MIN_NOISE]
    noise = lo if lo > sd else sd
    st[G_NOISE_SD] = noise
    st[G_THRESHOLD] = pa[P_THRESHOLD_SD] * noise
    st[G_PERSIST] = pa[P_PERSIST_SD] * noise
    st[G_MEAN_N] = pa[P_MEAN_SD] * noise


def guarding_state_new(params: FloatArray) -> FloatArray:
    """A fresh detector: prior stiffness, nothing learned, thresholds on twice the prior noise
    (an unusually noisy load cell must not cause a false stop before the noise is measured)."""
    st = np.zeros(G_RECENT + int(params[P_MEAN_TICKS]))
    st[G_STIFFNESS] = params[P_PRIOR_STIFFNESS]
    st[G_UNLOAD_STIFFNESS] = np.nan
    st[G_BREAKAWAY_STIFFNESS] = np.nan
    # The pretension is the first rise: its first window is the breakaway's too.
    st[G_BREAKAWAY_TRAVEL] = params[P_BREAKAWAY_TRAVEL]
    st[G_BREAKAWAY_LEFT] = params[P_BREAKAWAY_TRAVEL]
    st[G_FIRST_WINDOW] = 1.0
    st[G_UNLOAD_VAR] = np.nan
    _set_noise(st, params, 2.0 * params[P_PRIOR_NOISE])
    return st


@njit(cache=True)
def guarding_unloading_scale(st: FloatArray, pa: FloatArray) -> float:  # pragma: no cover - jitted
    """The thresholds' factor while the pull is lowered: the level's spread over this patient's
    ramps down in multiples of the noise, within the bounds (NaN until a ramp down was seen)."""
    ratio = math.sqrt(st[G_UNLOAD_VAR]) / st[G_NOISE_SD]
    lo = pa[P_UNLOAD_SCALE_MIN]
    hi = pa[P_UNLOAD_SCALE_MAX]
    return float(lo if ratio < lo else (hi if ratio > hi else ratio))


@njit(cache=True)
def _noise_learned(st: FloatArray, pa: FloatArray) -> bool:  # pragma: no cover - jitted
    return bool(st[G_N] >= pa[P_NOISE_LEARN_TICKS])


@njit(cache=True)
def guarding_quiet(st: FloatArray, pa: FloatArray) -> bool:  # pragma: no cover - jitted
    """No unexplained force to speak of: safe to learn the passive stiffness from."""
    return bool(st[G_DEV] < 0.5 * st[G_PERSIST])


@njit(cache=True)
def guarding_observe_noise(st: FloatArray, pa: FloatArray) -> None:  # pragma: no cover - jitted
    """Learn the noise from the last tick (pretension, before any distraction).

    Until ``noise_learn_ticks`` samples are in, the thresholds use twice the larger of the
    prior and the running estimate, so an unusually noisy load cell cannot cause a false
    stop in the first seconds.
    """
    if st[G_HAS_PREV] == 0.0 or _noise_learned(st, pa):
        return
    d = st[G_DEV]
    st[G_N] += 1.0
    n = st[G_N]
    delta = d - st[G_MEAN]
    st[G_MEAN] += delta / n
    st[G_M2] += delta * (d - st[G_MEAN])
    if n < 5.0:
        return
    var = st[G_M2] / (n - 1.0)
    if _noise_learned(st, pa):
        st[G_VAR] = var
        _set_noise(st, pa, math.sqrt(var))
    else:
        sd = math.sqrt(var)
        prior = pa[P_PRIOR_NOISE]
        _set_noise(st, pa, 2.0 * (prior if prior > sd else sd))  # max(sd, prior)


@njit(cache=True)
def _window_stiffness(  # pragma: no cover - jitted
    st: FloatArray,
    pa: FloatArray,
    force_n: float,
    winch_mm: float,
    direction: float,
    travel_mm: float,
) -> float:
    """The stiffness over the learning window once the winch has moved ``travel_mm`` in
    ``direction`` (+1 the pull rising, -1 falling), and a new window from here; NaN before
    that, or for an implausible value."""
    if st[G_HAS_WIN] == 0.0:
        st[G_HAS_WIN] = 1.0
        st[G_WIN_F0] = force_n
        st[G_WIN_X0] = winch_mm
        return math.nan
    dx = winch_mm - st[G_WIN_X0]
    if not dx * direction >= travel_mm:
        return math.nan
    k = (force_n - st[G_WIN_F0]) / dx
    st[G_WIN_F0] = force_n
    st[G_WIN_X0] = winch_mm
    return k if 1.0 < k < 500.0 else math.nan


@njit(cache=True)
def guarding_learn_stiffness(  # pragma: no cover - jitted
    st: FloatArray, pa: FloatArray, force_n: float, winch_mm: float
) -> None:
    """Update the passive stiffness while the pull rises and no guarding is present.

    The first window of a rise spans the breakaway travel and teaches the breakaway stiffness
    (static friction still holds the body); the later ones, the sliding body's stiffness."""
    if st[G_FIRST_WINDOW] != 0.0:
        started = st[G_HAS_WIN] != 0.0
        x0 = st[G_WIN_X0]
        k = _window_stiffness(st, pa, force_n, winch_mm, 1.0, st[G_BREAKAWAY_TRAVEL])
        # The window closed (a new one starts here, at least the travel away), with or without
        # a plausible value.
        if started and st[G_WIN_X0] != x0:
            st[G_FIRST_WINDOW] = 0.0
            if k == k:
                k0 = st[G_BREAKAWAY_STIFFNESS]
                st[G_BREAKAWAY_STIFFNESS] = k if k0 != k0 else k0 + pa[P_LEARN_RATE] * (k - k0)
        return
    k = _window_stiffness(st, pa, force_n, winch_mm, 1.0, pa[P_LEARN_MIN_TRAVEL])
    if k == k:
        if st[G_STIFFNESS_LEARNED] != 0.0:
            st[G_STIFFNESS] += pa[P_LEARN_RATE] * (k - st[G_STIFFNESS])
        else:
            st[G_STIFFNESS] = k
            st[G_STIFFNESS_LEARNED] = 1.0


@njit(cache=True)
def guarding_learn_unloading(  # pragma: no cover - jitted
    st: FloatArray, pa: FloatArray, force_n: float, winch_mm: float
) -> None:
    """Learn the (softer) stiffness while the pull falls and no guarding is present."""
    k = _window_stiffness(st, pa, force_n, winch_mm, -1.0, pa[P_LEARN_MIN_TRAVEL])
    if k == k:
        k0 = st[G_UNLOAD_STIFFNESS]
        st[G_UNLOAD_STIFFNESS] = k if k0 != k0 else k0 + pa[P_LEARN_RATE] * (k - k0)


@njit(cache=True)
def guarding_reset_learning_window(st: FloatArray) -> None:  # pragma: no cover - jitted
    """A rise (or fall) begins: a new learning window, and a rise starts from a still body, so
    its first ``breakaway_travel_mm`` are predicted with the breakaway stiffness."""
    st[G_HAS_WIN] = 0.0
    st[G_FIRST_WINDOW] = 1.0
    st[G_BREAKAWAY_LEFT] = st[G_BREAKAWAY_TRAVEL]


@njit(cache=True)
def guarding_update(  # pragma: no cover - jitted
    st: FloatArray, pa: FloatArray, force_n: float, winch_mm: float, unloading: bool, scale: float
) -> bool:
    """One tick; returns the alarm and leaves the score (unexplained force above the
    prediction, N, clipped at 0) in ``st[G_SCORE]``.

    While the pull is being lowered (``unloading``), the stiffness changes along the ramp and
    the residual drifts: the reference then always follows at full rate and all thresholds are
    multiplied by ``scale`` (ignored otherwise). Contractions still stand out; slow drift
    cannot cause a stop.
    """
    if not unloading:
        scale = 1.0
    elif st[G_UNLOAD_VAR] == st[G_UNLOAD_VAR]:  # measured on earlier ramps down: the patient's
        scale = guarding_unloading_scale(st, pa)
    if st[G_HAS_PREV] == 0.0:
        st[G_HAS_PREV] = 1.0
        st[G_PREV_F] = force_n
        st[G_PREV_X] = winch_mm
        st[G_SCORE] = 0.0
        return False
    dx = winch_mm - st[G_PREV_X]
    k = st[G_STIFFNESS]
    ku = st[G_UNLOAD_STIFFNESS]
    if dx < 0.0 and ku == ku:
        k = ku
    predicted = k * dx
    if unloading:
        st[G_BREAKAWAY_LEFT] = 0.0  # a falling pull: the next rise re-arms the breakaway
    elif dx > 0.0 and st[G_BREAKAWAY_LEFT] > 0.0:
        # The body may still be held by static friction: over the breakaway travel the force
        # rises by the (stiffer) breakaway stiffness. A contraction still shows: it raises the
        # force while the drive draws in less cable, or pays it out.
        kb = st[G_BREAKAWAY_STIFFNESS]
        left = st[G_BREAKAWAY_LEFT]
        st[G_BREAKAWAY_LEFT] = left - dx
        if kb > k:  # False for NaN (not learned yet)
            predicted += (kb - k) * (dx if dx < left else left)
    st[G_LEVEL] += (force_n - st[G_PREV_F]) - predicted
    st[G_PREV_F] = force_n
    st[G_PREV_X] = winch_mm
    dev = st[G_LEVEL] - st[G_REF]
    st[G_DEV] = dev
    st[G_ABOVE] = st[G_ABOVE] + 1.0 if dev > st[G_PERSIST] * scale else 0.0
    mean_ticks = pa[P_MEAN_TICKS]
    i = st[G_RECENT_I]
    slot = G_RECENT + int(i)
    st[G_RECENT_SUM] += dev - st[slot]
    st[slot] = dev
    st[G_RECENT_I] = (i + 1.0) % mean_ticks
    # The drive paying cable out while the pull is not being lowered: the patient pulls back.
    # Only a payout that starts from a still or inward-moving winch counts (after a ramp down
    # the drive may still be paying out for a moment).
    if dx < 0.0 and not unloading:
        if st[G_PAYOUT] < 0.0 or st[G_STILL] >= pa[P_STILL_TICKS]:
            st[G_PAYOUT] += dx
        st[G_STILL] = 0.0
    else:
        st[G_PAYOUT] = 0.0
        st[G_STILL] = 0.0 if unloading else st[G_STILL] + 1.0
    alarm = bool(
        dev > st[G_THRESHOLD] * scale
        or st[G_ABOVE] >= pa[P_PERSIST_TICKS]
        or st[G_RECENT_SUM] > mean_ticks * st[G_MEAN_N] * scale
        or (-st[G_PAYOUT] >= pa[P_PAYOUT_MM] and dev > pa[P_PAYOUT_SD] * st[G_NOISE_SD])
    )
    quiet = unloading or dev < 0.5 * st[G_PERSIST]
    st[G_REF] += pa[P_LEVEL_RATE] * (1.0 if quiet else pa[P_HELD_FACTOR]) * dev
    if not alarm and st[G_ABOVE] == 0.0 and _noise_learned(st, pa):
        # Keep tracking the noise (it grows with force: drive and harness dynamics),
        # clipped at 3 SD so that events cannot inflate it.
        d2 = dev * dev
        cap = 9.0 * st[G_VAR]
        if cap < d2:  # min(dev * dev, 9 * var)
            d2 = cap
        st[G_VAR] += pa[P_NOISE_TRACK_RATE] * (d2 - st[G_VAR])
        st[G_SINCE_NOISE] += 1.0
        if st[G_SINCE_NOISE] >= 25.0:  # thresholds follow twice a second: plenty for 30 s
            st[G_SINCE_NOISE] = 0.0
            _set_noise(st, pa, math.sqrt(st[G_VAR]))
    if unloading and not alarm and st[G_ABOVE] == 0.0 and _noise_learned(st, pa):
        # the level's spread while the pull is lowered, from the controller's scale on
        # (clipped at 3 SD like the noise, so that a contraction cannot inflate it)
        uvar = st[G_UNLOAD_VAR]
        if uvar != uvar:
            uvar = (scale * st[G_NOISE_SD]) ** 2
        d2 = dev * dev
        cap = 9.0 * uvar
        if cap < d2:
            d2 = cap
        st[G_UNLOAD_VAR] = uvar + pa[P_UNLOAD_NOISE_RATE] * (d2 - uvar)
    st[G_SCORE] = dev if dev > 0.0 else 0.0
    return alarm


@njit(cache=True)
def guarding_clear(st: FloatArray, pa: FloatArray) -> None:  # pragma: no cover - jitted
    """Take the present level as the new passive reference once the muscles have relaxed."""
    st[G_REF] = st[G_LEVEL]
    st[G_DEV] = 0.0
    st[G_ABOVE] = 0.0
    for j in range(int(pa[P_MEAN_TICKS])):
        st[G_RECENT + j] = 0.0
    st[G_RECENT_SUM] = 0.0
    st[G_PAYOUT] = 0.0


def guarding_warm_up() -> None:
    """Compile (or load from numba's disk cache) every core before a session's first tick."""
    pa = guarding_params(ForceGuardingSettings())
    st = guarding_state_new(pa)
    guarding_update(st, pa, 0.0, 0.0, False, 1.0)
    guarding_update(st, pa, 0.0, 0.0, True, 1.5)
    guarding_observe_noise(st, pa)
    guarding_learn_stiffness(st, pa, 0.0, 0.0)
    guarding_learn_unloading(st, pa, 0.0, 0.0)
    guarding_reset_learning_window(st)
    guarding_quiet(st, pa)
    guarding_unloading_scale(st, pa)
    guarding_clear(st, pa)


class ForceGuardingDetector:
    """Streaming detector; feed one (force, winch) pair per 20 ms tick.

    A thin wrapper: its state is the float64 array ``state`` (slots ``G_*``), its settings
    ``params`` (``P_*``), every decision one of the compiled functions above. A compiled
    controller takes both arrays and calls the same functions on them. (``_st`` and ``_pa``
    are the same two arrays.)
    """

    def __init__(self, settings: ForceGuardingSettings | None = None) -> None:
        self.s = settings or ForceGuardingSettings()
        self._pa: FloatArray = guarding_params(self.s)
        self._st: FloatArray = guarding_state_new(self._pa)

    @property
    def state(self) -> FloatArray:
        """The state array itself (slots ``G_*``): what a compiled caller updates in place."""
        return self._st

    @property
    def params(self) -> FloatArray:
        """The settings array itself (slots ``P_*``)."""
        return self._pa

    # --- state, as attributes (views of the state array; the learned stiffness can be set) -----
    @property
    def stiffness_n_mm(self) -> float:
        return float(self._st[G_STIFFNESS])

    @stiffness_n_mm.setter
    def stiffness_n_mm(self, value: float) -> None:
        self._st[G_STIFFNESS] = value

    @property
    def stiffness_learned(self) -> bool:
        return bool(self._st[G_STIFFNESS_LEARNED] != 0.0)

    @stiffness_learned.setter
    def stiffness_learned(self, value: bool) -> None:
        self._st[G_STIFFNESS_LEARNED] = 1.0 if value else 0.0

    @property
    def unloading_stiffness_n_mm(self) -> float | None:
        k = float(self._st[G_UNLOAD_STIFFNESS])
        return None if k != k else k

    @unloading_stiffness_n_mm.setter
    def unloading_stiffness_n_mm(self, value: float | None) -> None:
        self._st[G_UNLOAD_STIFFNESS] = np.nan if value is None else value

    @property
    def breakaway_stiffness_n_mm(self) -> float | None:
        """Stiffness over a rise's first ``breakaway_travel_mm`` (None until learned)."""
        k = float(self._st[G_BREAKAWAY_STIFFNESS])
        return None if k != k else k

    @property
    def noise_sd_n(self) -> float:
        return float(self._st[G_NOISE_SD])

    @property
    def threshold_n(self) -> float:
        return float(self._st[G_THRESHOLD])

    @property
    def persist_n(self) -> float:
        return float(self._st[G_PERSIST])

    @property
    def mean_n(self) -> float:
        return float(self._st[G_MEAN_N])

    @property
    def unloading_scale(self) -> float | None:
        """The thresholds' factor while the pull is lowered, learned from this patient's ramps
        down (None until one has been seen: the controller's fixed scale applies)."""
        scale = float(guarding_unloading_scale(self._st, self._pa))
        return None if scale != scale else scale

    @property
    def quiet(self) -> bool:
        """No unexplained force to speak of: safe to learn the passive stiffness from."""
        return bool(guarding_quiet(self._st, self._pa))

    @property
    def noise_learned(self) -> bool:
        return bool(_noise_learned(self._st, self._pa))

    # --- one call per tick ------------------------------------------------------------------
    def observe_noise(self) -> None:
        """Learn the noise from the last tick (pretension, before any distraction); see
        ``guarding_observe_noise``."""
        guarding_observe_noise(self._st, self._pa)

    def learn_stiffness(self, force_n: float, winch_mm: float) -> None:
        """Update the passive stiffness while the pull rises and no guarding is present."""
        guarding_learn_stiffness(self._st, self._pa, float(force_n), float(winch_mm))

    def learn_unloading(self, force_n: float, winch_mm: float) -> None:
        """Learn the (softer) stiffness while the pull falls and no guarding is present."""
        guarding_learn_unloading(self._st, self._pa, float(force_n), float(winch_mm))

    def reset_learning_window(self) -> None:
        guarding_reset_learning_window(self._st)

    def update(
        self, force_n: float, winch_mm: float, unloading_scale: float | None = None
    ) -> ForceGuardingUpdate:
        """One tick; ``unloading_scale`` given while the pull is being lowered (see
        ``guarding_update``)."""
        # float(): one compiled signature (an int force must not compile a second one mid-run).
        if unloading_scale is None:
            alarm = guarding_update(self._st, self._pa, float(force_n), float(winch_mm), False, 1.0)
        else:
            alarm = guarding_update(
                self._st,
                self._pa,
                float(force_n),
                float(winch_mm),
                True,
                float(unloading_scale),
            )
        return ForceGuardingUpdate(bool(alarm), float(self._st[G_SCORE]))

    def clear(self) -> None:
        """Take the present level as the new passive reference once the muscles have relaxed."""
        guarding_clear(self._st, self._pa)
