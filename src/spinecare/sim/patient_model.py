"""Physics of a traction table pulling on a virtual patient, integrated at 1 kHz.

One lumped chain per treated region (lumbar: the lower body on the table; cervical: the head):

    winch --[harness + soft tissue k_h, c_h]-- segment mass m --[spine: k1 + (k2 || c2)]-- fixed
                                                 |  friction (smooth Coulomb, tanh)
                                                 |  paraspinal counter-tension F_mus

The drive has its own inner force loop (P control on the load cell, first-order lag, velocity and
acceleration limits). Paraspinal activation has three sources (stretch reflex, pain guarding,
spontaneous events) with first-order rise/relax dynamics and an electromechanical delay; surface
EMG follows the activation *before* that delay, so EMG leads force.

A passive "shadow" body (same winch motion, no muscles) runs alongside: the muscles' contribution
to the harness force is the real harness force minus the shadow's, which is what a detector that
compares force against the passive response at the same winch position can at best see. The
shadow is re-synchronised to the real body whenever the muscles are quiet.

The model is written once, as ``step_python`` (one 1 ms step on flat float arrays). The same
source is compiled with numba (``advance_numba``) for speed and run by the interpreter
(``advance_python``) as the reference; a test checks that both agree. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

import spinecare.compiled  # noqa: F401  (numba cache keyed on every core's source)
from spinecare.quantities import WINCH_MAX_SPEED_MM_S
from spinecare.signals.filters import sos_step
from spinecare.vocab import G, Region

FloatArray = npt.NDArray[np.float64]

# Physics step: 1 kHz, the rate of the drive's inner loop and of the sEMG samples (surface EMG is
# sampled at about 1 kHz [hermens2000]).
DT_S = 0.001
STEPS_PER_S = 1000

# ---------------------------------------------------------------------------------------------
# Drive (table, not patient). Engineering choices, see module docstring of devices/simulated.py.
# Inner force loop bandwidth (rad/s): Kp = bandwidth / k_h, so the loop is ~15 rad/s when the body
# is held by friction and slower (k_eff/k_h x) when the spine yields. Tracks a 15 N/s lumbar ramp
# within ~2 N and settles a step within ~0.3 s.
DRIVE_BANDWIDTH_RAD_S = 15.0
# Winch speed limit (quantities.WINCH_SPEED): the safety policy treats more than 1.25 times that
# per tick (plus 0.5 mm) as an encoder jump.
DRIVE_VMAX_MM_S = WINCH_MAX_SPEED_MM_S  # stated once, in the quantities registry
# Velocity-loop lag (tau ~30 ms) and acceleration limit of the winch (engineering choices: a geared
# servo winch, quick against the 20 ms tick but not instant).
DRIVE_TAU_S = 0.030
DRIVE_AMAX_MM_S2 = 1000.0

# Smoothing velocity of the tanh friction law, mm/s: below it the body "sticks". Small enough
# that spinal creep (~0.01-0.05 mm/s, the time course of [bridger1990]) already meets full Coulomb
# friction, as a real sliding body would.
FRICTION_VEPS_MM_S = 0.0001
# Compressive stiffness of the spine relative to its tensile (distraction) stiffness: discs and
# facets resist compression far more than they yield to traction (engineering choice).
COMPRESSION_STIFFNESS_FACTOR = 5.0
# Damping ratios of the harness-body mode and of the body-spine mode (engineering choice).
HARNESS_DAMPING_RATIO = 0.2
TISSUE_DAMPING_RATIO = 0.3
# Low-pass time constant of the harness-force rate seen by the muscle spindles (engineering).
REFLEX_RATE_TAU_S = 0.010
# An event ends when its muscle force has fallen below this fraction of its peak.
EVENT_END_FRACTION = 0.05
# Reflexes are only triggered while the total activation is below this (a reflex cannot ride on
# an ongoing contraction; engineering choice, as is the refractory time after each event).
REFLEX_GATE_ACTIVATION = 0.05
# Activations below this are zero (1e-200 of full activation: a force of 1e-197 N or less, no bit
# of any force the model adds it to; it keeps the relaxing muscles off subnormal floats).
TINY_ACTIVATION = 1e-200
# Muscles are "quiet" (shadow re-synchronised) below this force, N.
QUIET_FORCE_N = 1e-3
# Contribution threshold for "measurable": 3 x load-cell noise SD (engineering choice: below that a
# contraction is within the noise band no detector can separate from it).
MEASURABLE_SIGMAS = 3.0
# Delay ring for the electromechanical delay (steps); EMD <= 30 ms fits.
DELAY_RING = 64
# Event log rows written by the kernel (ring; the table drains it after every call).
EVENT_CAP = 256
EVENT_COLS = 6  # kind, trigger_s, onset_s, measurable_s (-1 = never), end_s, peak_force_n
# Latency pool: reflex latencies drawn per table (48-70 ms [miller2010], [radebold2000]).
LATENCY_POOL = 64
# sEMG mains interference frequency, Hz (European mains).
MAINS_HZ = 50.0

# Event kinds (column 0 of the event log).
KIND_REFLEX = 0
KIND_PAIN = 1
KIND_SPONTANEOUS = 2
KIND_NAMES = ("reflex", "pain", "spontaneous")

# ---------------------------------------------------------------------------------------------
# Parameter vector layout (float64).
P_M = 0  # segment mass, kg
P_MUN = 1  # friction force limit mu * m * g, N
P_VEPS = 2
P_KH = 3  # harness stiffness, N/mm
P_CH = 4  # harness damping, N/(mm/s)
P_CB = 5  # tissue damping, N/(mm/s)
P_K1 = 6  # spine fast (elastic) stiffness, N/mm
P_K1C = 7  # spine compressive stiffness, N/mm
P_K2 = 8  # creep element stiffness, N/mm
P_C2 = 9  # creep element viscosity, N s/mm
P_KP = 10  # drive P gain, (mm/s)/N
P_VMAX = 11
P_ALPHA_DRV = 12  # 1 - exp(-dt/tau_drive)
P_AMAX = 13
P_FMAX = 14  # muscle max force, N
P_ALPHA_RISE = 15
P_ALPHA_RELAX = 16
P_EMD_STEPS = 17
P_RATE_THR = 18  # reflex rate threshold, N/s
P_ALPHA_RATE = 19
P_REF_AMP = 20
P_REF_DUR_STEPS = 21
P_REFRACT_STEPS = 22
P_TOL = 23  # pain tolerance, N
P_HYST = 24
P_PAIN_AMP = 25
P_PAIN_DELAY = 26  # s
P_MEAS_THR = 27  # N
P_EMG_ON = 28
P_EMG_GAIN = 29  # uV RMS at full activation
P_EMG_BASE = 30  # uV RMS baseline
P_MAINS = 31  # uV amplitude
P_MAINS_PHASE = 32
P_BP_NORM = 33  # RMS of the unit-white-noise band-pass output
P_SOS = 34  # 12 values: two biquads (b0 b1 b2 a0 a1 a2)
P_LAT = 46  # LATENCY_POOL latencies, in steps
P_SIZE = P_LAT + LATENCY_POOL

# State vector layout (float64).
S_K = 0  # step counter (time = K * DT_S)
S_XW = 1  # winch position, mm
S_VW = 2  # winch velocity, mm/s
S_VF = 3  # lagged velocity command, mm/s
S_XB = 4  # segment position = spine elongation, mm
S_VB = 5
S_E2 = 6  # creep element elongation, mm
S_FSET = 7  # drive's internal setpoint, N
S_TGT = 8  # commanded target, N
S_FRATE = 9  # setpoint slew rate, N/s (<= 0: step)
S_RELEASE = 10  # release mode: pay out at full speed until the cable is slack
S_STALL = 11  # actuator stall: winch cannot move
S_SLIP = 12  # harness slip offset, mm
S_FH = 13  # true harness force, N
S_RATE = 14  # filtered harness force rate, N/s
S_A = 15  # activations: reflex, pain, spontaneous (3 values)
S_US = 18  # spontaneous drive (0..1), set by the table's event schedule
S_REF_PEND = 19  # reflex scheduled or running
S_REF_TRIG = 20  # reflex trigger time, s
S_REF_ON = 21  # reflex drive on-step
S_REF_OFF = 22  # reflex drive off-step
S_REFRACT = 23  # no reflex before this step
S_PAIN_ON = 24
S_PAIN_T = 25  # time above tolerance, s
S_PAIN_TRIG = 26
S_PAIN_REFR = 27  # no new pain guarding before this step
S_LAT_IDX = 28
S_XBS = 29  # shadow body: position, velocity, creep, harness force
S_VBS = 30
S_E2S = 31
S_FHS = 32
S_FMUS = 33  # muscle force (after EMD), N
S_CONTRIB = 34  # muscle contribution to the harness force, N
S_EV = 35  # per-source open-event records, 3 x EV_W
EV_W = 6  # open, trigger_s, onset_s, measurable_s, peak_force_n, contribution at onset
S_EVN = S_EV + 3 * EV_W  # events written so far
S_SHADOW = S_EVN + 1  # the shadow body is integrated separately (muscles active)
S_BQ = S_SHADOW + 1  # biquad states: 2 sections x 2
S_NIDX = S_BQ + 4  # next unused noise sample
S_EMGW = S_NIDX + 1  # write index in the EMG ring
S_RING_I = S_EMGW + 1  # delay-ring write index
S_RING = S_RING_I + 1  # DELAY_RING activations
# Outputs copied together at the end of each step so that the table reads them in one go:
# winch mm, elongation mm, harness force N, muscle force N, events written.
S_OUT = S_RING + DELAY_RING
N_OUT = 5
S_SIZE = S_OUT + N_OUT


def step_python(
    s: Any, p: Any, noise: Any, ev: Any, emg: Any
) -> None:  # numba-compiled as well: keep to scalar float arithmetic
    """Advance the state ``s`` by one 1 ms step in place.

    ``noise`` holds standard-normal samples for the EMG (two per step), ``ev`` the flat event
    log ring (EVENT_CAP x EVENT_COLS) and ``emg`` the sEMG output ring.
    """
    dt = 0.001
    k = s[S_K]
    t = k / 1000.0  # exact for whole milliseconds (k * dt is not)

    # --- drive: inner force loop on the load cell (value of the previous step; the drive's own
    # analog-filtered channel, so without the acquisition noise of read()) -------------------
    tgt = s[S_TGT]
    fset = s[S_FSET]
    rate = s[S_FRATE]
    if rate <= 0.0:
        fset = tgt
    else:
        dmax = rate * dt
        if fset < tgt - dmax:
            fset = fset + dmax
        elif fset > tgt + dmax:
            fset = fset - dmax
        else:
            fset = tgt
    s[S_FSET] = fset
    fmeas = s[S_FH]
    vmax = p[P_VMAX]
    if s[S_RELEASE] > 0.5:
        vdes = -vmax if fmeas > 0.0 else 0.0
    else:
        vdes = p[P_KP] * (fset - fmeas)
        if vdes > vmax:
            vdes = vmax
        elif vdes < -vmax:
            vdes = -vmax
    vf = s[S_VF] + p[P_ALPHA_DRV] * (vdes - s[S_VF])
    vw = s[S_VW]
    dvmax = p[P_AMAX] * dt
    dv = vf - vw
    if dv > dvmax:
        dv = dvmax
    elif dv < -dvmax:
        dv = -dvmax
    vw = vw + dv
    if s[S_STALL] > 0.5:
        vw = 0.0
        vf = 0.0
    s[S_VF] = vf
    s[S_VW] = vw
    xw = s[S_XW] + vw * dt
    s[S_XW] = xw

    # --- muscle drives and activations -------------------------------------------------------
    ur = 0.0
    if s[S_REF_PEND] > 0.5 and k >= s[S_REF_ON]:
        if k < s[S_REF_OFF]:
            ur = p[P_REF_AMP]
        else:
            s[S_REF_PEND] = 0.0
    up = p[P_PAIN_AMP] if s[S_PAIN_ON] > 0.5 else 0.0
    us = s[S_US]
    a_tot = 0.0
    for src in range(3):
        u = ur if src == 0 else (up if src == 1 else us)
        a = s[S_A + src]
        alpha = p[P_ALPHA_RISE] if u > a else p[P_ALPHA_RELAX]
        a = a + alpha * (u - a)
        if a < TINY_ACTIVATION:
            # A relaxing activation decays toward zero but settles on a subnormal float, and
            # arithmetic on subnormals runs 10-100 times slower: the resting muscle cost more
            # than the rest of the model. Far below anything that can move a force by a bit.
            a = 0.0
        s[S_A + src] = a
        a_tot += a
    if a_tot > 1.0:
        a_tot = 1.0
    ri = int(s[S_RING_I])
    s[S_RING + ri] = a_tot
    di = ri - int(p[P_EMD_STEPS])
    if di < 0:
        di += DELAY_RING
    a_del = s[S_RING + di]
    ri += 1
    if ri >= DELAY_RING:
        ri = 0
    s[S_RING_I] = ri
    fmus = p[P_FMAX] * a_del
    s[S_FMUS] = fmus

    # --- bodies: real (with muscles) and passive shadow -------------------------------------
    m_eff = p[P_M] / (1000.0 * dt)  # N per (mm/s) of velocity change in one step
    kh = p[P_KH]
    ch = p[P_CH]
    cb = p[P_CB]
    k1 = p[P_K1]
    k1c = p[P_K1C]
    k2 = p[P_K2]
    c2 = p[P_C2]
    mun = p[P_MUN]
    veps = p[P_VEPS]
    slip = s[S_SLIP]
    fh_out = 0.0
    fhs_out = 0.0
    # The shadow only needs its own integration while the muscles act; otherwise it equals
    # the real body (re-synchronised below).
    nbody = 2 if (fmus >= QUIET_FORCE_N or s[S_SHADOW] > 0.5) else 1
    for body in range(nbody):
        if body == 0:
            xb = s[S_XB]
            vb = s[S_VB]
            e2 = s[S_E2]
            fm = fmus
        else:
            xb = s[S_XBS]
            vb = s[S_VBS]
            e2 = s[S_E2S]
            fm = 0.0
        stretch = xw - xb - slip
        ds = xb - e2
        fsp = k1 * ds if ds >= 0.0 else k1c * ds
        if stretch > 0.0:
            acoef = kh * stretch + ch * vw
            ccoef = m_eff + cb + ch
        else:
            acoef = 0.0
            ccoef = m_eff + cb
        bcoef = m_eff * vb + acoef - fsp - fm
        # Implicit velocity update: ccoef * v + mun * tanh(v / veps) = bcoef, monotone in v.
        # Sliding (|b| > mun): Newton in v; sticking: Newton in z = tanh(v / veps). Newton starts
        # from the previous velocity (1-3 iterations). Should an iterate leave the half-line
        # holding the root, it restarts from a guess on the side from which Newton converges
        # monotonically (the function is concave resp. convex on that half-line).
        if mun <= 0.0:
            v = bcoef / ccoef
        elif bcoef > mun or bcoef < -mun:
            sgn = 1.0 if bcoef > 0.0 else -1.0
            cold = (bcoef - sgn * mun) / ccoef  # Coulomb solution: below the root in |v|
            v = vb if vb * sgn > 0.0 else cold
            # Sliding well beyond the smoothing band: tanh is +-1 to double precision.
            nit = 0 if cold * sgn > 20.0 * veps else 60
            if nit == 0:
                v = cold
            for _ in range(nit):
                th = math.tanh(v / veps)
                dv = (ccoef * v + mun * th - bcoef) / (ccoef + mun / veps * (1.0 - th * th))
                vn = v - dv
                if vn * sgn <= 0.0:
                    vn = cold
                v = vn
                # Quadratic convergence: after a step this small the error is ~dv^2/veps.
                if abs(dv) <= 1e-6 * veps:
                    break
        else:
            ceps = ccoef * veps
            sgn = 1.0 if bcoef >= 0.0 else -1.0
            cold = bcoef / (mun + ceps)  # atanh(z) >= z for z >= 0: above the root in |z|
            z = math.tanh(vb / veps)
            if z * sgn < 0.0 or z >= 0.999999999 or z <= -0.999999999:
                z = cold
            for _ in range(60):
                dz = (ceps * math.atanh(z) + mun * z - bcoef) / (ceps / (1.0 - z * z) + mun)
                zn = z - dz
                if zn * sgn < 0.0 or zn >= 1.0 or zn <= -1.0:
                    zn = cold
                z = zn
                if abs(dz) <= 1e-7:
                    break
            # The root's velocity from the equation itself (ccoef v + mun z = bcoef): one atanh
            # less a step (a tenth of a session's time), and exact to the converged z.
            v = (bcoef - mun * z) / ccoef
        vb = v
        xb = xb + vb * dt
        stretch = xw - xb - slip
        fh = 0.0
        if stretch > 0.0:
            fh = kh * stretch + ch * (vw - vb)
            if fh < 0.0:
                fh = 0.0
        ds = xb - e2
        fsp = k1 * ds if ds >= 0.0 else k1c * ds
        e2 = e2 + dt * (fsp - k2 * e2) / c2
        if body == 0:
            s[S_XB] = xb
            s[S_VB] = vb
            s[S_E2] = e2
            fh_out = fh
        else:
            s[S_XBS] = xb
            s[S_VBS] = vb
            s[S_E2S] = e2
            fhs_out = fh
    if nbody == 1:
        fhs_out = fh_out
    contrib = fh_out - fhs_out
    s[S_CONTRIB] = contrib

    # --- stretch reflex: spindles see the harness force rate -------------------------------
    fh_prev = s[S_FH]
    s[S_FH] = fh_out
    s[S_FHS] = fhs_out
    r = s[S_RATE] + p[P_ALPHA_RATE] * ((fh_out - fh_prev) / dt - s[S_RATE])
    s[S_RATE] = r
    if (
        r > p[P_RATE_THR]
        and s[S_REF_PEND] < 0.5
        and s[S_EV] < 0.5
        and k >= s[S_REFRACT]
        and a_tot < REFLEX_GATE_ACTIVATION
    ):
        li = int(s[S_LAT_IDX])
        s[S_REF_PEND] = 1.0
        s[S_REF_TRIG] = t
        s[S_REF_ON] = k + p[P_LAT + li]
        s[S_REF_OFF] = k + p[P_LAT + li] + p[P_REF_DUR_STEPS]
        li += 1
        if li >= LATENCY_POOL:
            li = 0
        s[S_LAT_IDX] = li

    # --- pain guarding: force above tolerance for longer than the perception delay -----------
    if s[S_PAIN_ON] > 0.5:
        if fh_out < p[P_TOL] - p[P_HYST]:
            s[S_PAIN_ON] = 0.0
            s[S_PAIN_T] = 0.0
    elif fh_out > p[P_TOL]:
        if s[S_PAIN_T] <= 0.0:
            s[S_PAIN_TRIG] = t
        s[S_PAIN_T] = s[S_PAIN_T] + dt
        if s[S_PAIN_T] >= p[P_PAIN_DELAY] and k >= s[S_PAIN_REFR]:
            s[S_PAIN_ON] = 1.0
    else:
        s[S_PAIN_T] = 0.0

    # --- ground truth: per-source events --------------------------------------------------
    fmax = p[P_FMAX]
    any_open = False
    for src in range(3):
        u = ur if src == 0 else (up if src == 1 else us)
        base = S_EV + src * EV_W
        fsrc = s[S_A + src] * fmax
        if s[base] < 0.5:
            if u > 0.0:
                s[base] = 1.0
                if src == 0:
                    s[base + 1] = s[S_REF_TRIG]
                elif src == 1:
                    s[base + 1] = s[S_PAIN_TRIG]
                else:
                    s[base + 1] = t
                s[base + 2] = t
                s[base + 3] = -1.0
                s[base + 4] = fsrc
                s[base + 5] = contrib
                any_open = True
        else:
            if fsrc > s[base + 4]:
                s[base + 4] = fsrc
            # Measurable: this event's own share (above the contribution at its onset, which
            # is non-zero only when it starts on top of another event) exceeds 3 noise SDs.
            if s[base + 3] < 0.0 and contrib - s[base + 5] > p[P_MEAS_THR]:
                s[base + 3] = t
            if u <= 0.0 and fsrc < EVENT_END_FRACTION * s[base + 4]:
                n_ev = int(s[S_EVN])
                row = (n_ev % EVENT_CAP) * EVENT_COLS
                ev[row] = float(src)
                ev[row + 1] = s[base + 1]
                ev[row + 2] = s[base + 2]
                ev[row + 3] = s[base + 3]
                ev[row + 4] = t
                ev[row + 5] = s[base + 4]
                s[S_EVN] = float(n_ev + 1)
                s[base] = 0.0
                refr = k + p[P_REFRACT_STEPS]
                if refr > s[S_REFRACT]:
                    s[S_REFRACT] = refr
                if src == 1:
                    s[S_PAIN_REFR] = refr
            else:
                any_open = True
    if not any_open and fmus < QUIET_FORCE_N:
        s[S_XBS] = s[S_XB]
        s[S_VBS] = s[S_VB]
        s[S_E2S] = s[S_E2]
        s[S_FHS] = fh_out
        s[S_SHADOW] = 0.0
    else:
        s[S_SHADOW] = 1.0

    # --- surface EMG: 1 kHz, follows activation before the EMD, so it leads the force ------
    if p[P_EMG_ON] > 0.5:
        ni = int(s[S_NIDX])
        w1 = noise[ni]
        w2 = noise[ni + 1]
        s[S_NIDX] = ni + 2
        # The band-pass is the project's one biquad cascade (signals/filters.py), run on
        # views of the packed parameter and state arrays.
        x = sos_step(p[P_SOS : P_SOS + 12].reshape(2, 6), s[S_BQ : S_BQ + 4].reshape(2, 2), w1)
        val = (
            p[P_EMG_GAIN] * a_tot * x / p[P_BP_NORM]
            + p[P_EMG_BASE] * w2
            + p[P_MAINS] * math.sin(2.0 * math.pi * MAINS_HZ * t + p[P_MAINS_PHASE])
        )
        wi = int(s[S_EMGW])
        emg[wi] = val
        wi += 1
        if wi >= len(emg):
            wi = 0
        s[S_EMGW] = wi

    s[S_OUT] = xw
    s[S_OUT + 1] = s[S_XB]
    s[S_OUT + 2] = fh_out
    s[S_OUT + 3] = fmus
    s[S_OUT + 4] = s[S_EVN]
    s[S_K] = k + 1.0


def advance_python(s: Any, p: Any, n: int, noise: Any, ev: Any, emg: Any) -> None:
    """Reference integrator: ``n`` steps of ``step_python`` run by the interpreter."""
    for _ in range(n):
        step_python(s, p, noise, ev, emg)


# Inlined into the advance loop (numba IR level): the compiler then keeps the parameters and
# much of the state in registers across steps, 15-20% faster with bit-identical results.
_step_numba = njit(cache=True, inline="always")(step_python)


def _advance_impl(s: Any, p: Any, n: int, noise: Any, ev: Any, emg: Any) -> None:
    for _ in range(n):
        _step_numba(s, p, noise, ev, emg)


# The compiled kernel: the same model, state and parameters as float64 arrays.
advance_numba: Any = njit(cache=True)(_advance_impl)


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PatientParams:
    """Everything that makes one virtual patient (drawn by sim/population.py)."""

    seed: int
    region: Region
    weight_kg: float
    session_number: int
    segment_mass_kg: float  # lower body (lumbar) or head (cervical)
    harness_k_n_mm: float
    spine_fast_k_n_mm: float
    spine_creep_k_n_mm: float
    spine_creep_tau_s: float
    split_table_friction: float
    muscle_max_n: float
    muscle_rise_tau_s: float
    muscle_relax_tau_s: float
    emd_s: float
    reflex_rate_threshold_n_s: float
    reflex_amplitude: float
    reflex_duration_s: float
    refractory_s: float
    pain_tolerance_n: float
    pain_hysteresis_n: float
    pain_amplitude: float
    pain_delay_s: float
    spontaneous_per_min: float
    load_cell_sigma_n: float
    emg_baseline_uv: float
    emg_gain_uv: float
    emg_mains_uv: float

    @property
    def body_weight_n(self) -> float:
        return self.weight_kg * G


# Coulomb friction on a fixed table: coefficient 0.5 of the segment weight [lee-evans2001].
FIXED_TABLE_FRICTION = 0.5


@lru_cache(maxsize=1)
def emg_bandpass() -> tuple[tuple[float, ...], float]:
    """4th-order Butterworth 20-450 Hz at 1 kHz (sEMG band [hermens2000]) and its white-noise
    RMS gain, so that the band-limited noise can be scaled to unit RMS."""
    from scipy.signal import butter, sosfilt

    sos = butter(2, [20.0, 450.0], btype="bandpass", fs=STEPS_PER_S, output="sos")
    impulse = np.zeros(8192)
    impulse[0] = 1.0
    h = sosfilt(sos, impulse)
    return tuple(float(v) for v in np.asarray(sos).ravel()), float(np.sqrt(np.sum(h * h)))


def pack_params(
    patient: PatientParams,
    *,
    fixed_table: bool,
    emg: bool,
    latencies_s: FloatArray,
    mains_phase: float = 0.0,
) -> FloatArray:
    """Flatten a patient (+ table type, EMG switch, reflex latency pool) for the kernel."""
    p = np.zeros(P_SIZE)
    m = patient.segment_mass_kg
    mu = FIXED_TABLE_FRICTION if fixed_table else patient.split_table_friction
    kh = patient.harness_k_n_mm
    k1 = patient.spine_fast_k_n_mm
    p[P_M] = m
    p[P_MUN] = mu * m * G
    p[P_VEPS] = FRICTION_VEPS_MM_S
    p[P_KH] = kh
    # Damping from a damping ratio: c = 2 zeta sqrt(k m); k in N/m, result back to N/(mm/s).
    p[P_CH] = 2.0 * HARNESS_DAMPING_RATIO * math.sqrt(kh * 1000.0 * m) / 1000.0
    p[P_CB] = 2.0 * TISSUE_DAMPING_RATIO * math.sqrt(k1 * 1000.0 * m) / 1000.0
    p[P_K1] = k1
    p[P_K1C] = COMPRESSION_STIFFNESS_FACTOR * k1
    p[P_K2] = patient.spine_creep_k_n_mm
    p[P_C2] = patient.spine_creep_k_n_mm * patient.spine_creep_tau_s
    p[P_KP] = DRIVE_BANDWIDTH_RAD_S / kh
    p[P_VMAX] = DRIVE_VMAX_MM_S
    p[P_ALPHA_DRV] = 1.0 - math.exp(-DT_S / DRIVE_TAU_S)
    p[P_AMAX] = DRIVE_AMAX_MM_S2
    p[P_FMAX] = patient.muscle_max_n
    p[P_ALPHA_RISE] = 1.0 - math.exp(-DT_S / patient.muscle_rise_tau_s)
    p[P_ALPHA_RELAX] = 1.0 - math.exp(-DT_S / patient.muscle_relax_tau_s)
    p[P_EMD_STEPS] = float(min(DELAY_RING - 1, round(patient.emd_s * STEPS_PER_S)))
    p[P_RATE_THR] = patient.reflex_rate_threshold_n_s
    p[P_ALPHA_RATE] = 1.0 - math.exp(-DT_S / REFLEX_RATE_TAU_S)
    p[P_REF_AMP] = patient.reflex_amplitude
    p[P_REF_DUR_STEPS] = float(round(patient.reflex_duration_s * STEPS_PER_S))
    p[P_REFRACT_STEPS] = float(round(patient.refractory_s * STEPS_PER_S))
    p[P_TOL] = patient.pain_tolerance_n
    p[P_HYST] = patient.pain_hysteresis_n
    p[P_PAIN_AMP] = patient.pain_amplitude
    p[P_PAIN_DELAY] = patient.pain_delay_s
    p[P_MEAS_THR] = MEASURABLE_SIGMAS * patient.load_cell_sigma_n
    p[P_EMG_ON] = 1.0 if emg else 0.0
    p[P_EMG_GAIN] = patient.emg_gain_uv
    p[P_EMG_BASE] = patient.emg_baseline_uv
    p[P_MAINS] = patient.emg_mains_uv
    p[P_MAINS_PHASE] = mains_phase
    sos, norm = emg_bandpass()
    p[P_BP_NORM] = norm
    p[P_SOS : P_SOS + 12] = sos
    lat = np.asarray(latencies_s, dtype=np.float64)
    if lat.shape != (LATENCY_POOL,):
        raise ValueError(f"latencies_s must have {LATENCY_POOL} values")
    p[P_LAT : P_LAT + LATENCY_POOL] = np.round(lat * STEPS_PER_S)
    return p


def initial_state() -> FloatArray:
    """Slack cable, body at rest, muscles relaxed, no reflex pending."""
    s = np.zeros(S_SIZE)
    s[S_REF_ON] = -1.0
    s[S_REF_OFF] = -1.0
    for src in range(3):
        s[S_EV + src * EV_W + 3] = -1.0
    return s


def new_event_log() -> FloatArray:
    return np.zeros(EVENT_CAP * EVENT_COLS)
